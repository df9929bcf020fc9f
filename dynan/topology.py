"""Where the saddles lead: their unstable manifolds, traced, and the fixed-point graph.

From each saddle, the dynamics under the saddle's own input are run forward from
``xstar ± eps·v`` along each unstable eigenvector ``v`` (for a complex pair, along its
real part), as Sussillo & Barak (2013) do by hand for the flip-flop. A branch ends when
it comes within ``capture`` of a stable or marginal fixed point of the same input
(``end = "fixed_point"``) or of a periodic orbit or invariant circle under that input (the
cycles stage's, where it ran first; ``"cycle"``), when it settles where no fixed point is known
(``"unresolved"``), when it leaves the visited region (``"outside"``), or after
``max_steps`` steps (``"unresolved"``). Distances are in units of the recording's
spread (:func:`dynan.fixed_points.visited_region`).

The result is a directed graph from each saddle to what its branches reach
(Maheswaranathan et al. 2019), stored as node and edge tables that plain h5py reads;
:meth:`Topology.graph` gives it as a :class:`networkx.DiGraph`.
"""

from dataclasses import dataclass

import numpy as np

from . import h5, stability
from .fixed_points import visited_region

#: What a branch can end at.
ENDS = ("fixed_point", "cycle", "unresolved", "outside")


@dataclass(eq=False)
class Topology:
    """The saddles' unstable manifolds and the graph they make over the fixed points.

    Attributes
    ----------
    source : ndarray (E,) of int
        The saddle each branch starts from (its row in the fixed points).
    target : ndarray (E,) of int
        The fixed point it reaches (its row), or the cycle (its row in the cycles stage's
        result) where ``end`` is ``"cycle"``; -1 otherwise.
    end : ndarray (E,) of str
        One of :data:`ENDS`.
    mode : ndarray (E,) of int
        The unstable mode followed (its index in the saddle's eigenvalues).
    sign : ndarray (E,) of int
        +1 or -1: which side of the saddle.
    eigval : ndarray (E,), complex
        The mode's eigenvalue.
    length : ndarray (E,)
        Length of the branch's path, in state units.
    steps : ndarray (E,) of int
        Its duration in steps (``duration`` is in seconds).
    offsets : ndarray (E + 1,) of int
        Branch ``e`` is ``states[offsets[e]:offsets[e + 1]]``.
    states : ndarray (S, N)
        The branches' states, one after another, saddle end first (float64 as
        computed; stored as float32, as the recording's states are).
    labels, stability : ndarray (K,) of str
        Every fixed point's input condition and class: the graph's nodes.
    outside : ndarray (K,) of bool
        Whether each fixed point lies outside the visited region
        (:attr:`dynan.FixedPoints.outside`).
    dt : float
    scale : float
        The recording's spread (distances are in its units).

    Examples
    --------
    >>> import dynan
    >>> an = dynan.load(dynan.example_model("flipflop_leaky"))
    >>> res = an.record(dynan.tasks.flipflop(16, seed=0))
    >>> fps = an.fixed_points(n_inits=64)
    >>> topo = an.topology()
    >>> sorted(set(topo.end.tolist()))
    ['fixed_point']
    >>> g = topo.graph()
    >>> all(g.nodes[t]["stability"] == "stable" for _, t in g.edges)
    True
    """

    source: np.ndarray
    target: np.ndarray
    end: np.ndarray
    mode: np.ndarray
    sign: np.ndarray
    eigval: np.ndarray
    length: np.ndarray
    steps: np.ndarray
    offsets: np.ndarray
    states: np.ndarray
    labels: np.ndarray
    stability: np.ndarray
    outside: np.ndarray = None
    dt: float = 1.0
    scale: float = 1.0

    def __post_init__(self):
        if self.outside is None:
            self.outside = np.zeros(len(self.labels), dtype=bool)

    def __len__(self):
        return len(self.source)

    def __repr__(self):
        ends = ", ".join(f"{int((self.end == e).sum())} to {e.replace('_', ' ')}s"
                         if e in ("fixed_point", "cycle") else f"{int((self.end == e).sum())} {e}"
                         for e in ENDS if (self.end == e).any())
        return (f"<Topology: {len(set(self.source.tolist()))} saddles, {len(self)} branches"
                f"{': ' + ends if ends else ''}>")

    @property
    def duration(self):
        """Each branch's duration in seconds (in steps when ``dt`` is 1)."""
        return self.steps * self.dt

    def counts(self):
        """Saddles inside the visited region, their branches and where those end (one
        count for each of :data:`ENDS`), and the saddles outside it, as a dict."""
        inside = ~self.outside[self.source]
        return {"saddles": len(set(self.source[inside].tolist())), "branches": int(inside.sum()),
                **{end: int((self.end[inside] == end).sum()) for end in ENDS},
                "outside_saddles": len(set(self.source[~inside].tolist()))}

    def branch(self, e):
        """The states of branch ``e``, (steps + 1, N), from the saddle on."""
        return self.states[self.offsets[e]:self.offsets[e + 1]]

    def graph(self, outside=False):
        """The fixed-point graph as a :class:`networkx.DiGraph`.

        Nodes are the fixed points' rows (attributes ``label``, ``stability`` and
        ``outside``), ``"cycle <row>"`` for the cycles branches reach, and ``"outside"``
        and ``"unresolved"`` where branches end there;
        one edge per branch (several branches between two nodes become one edge with a
        ``branches`` list), with ``mode``, ``eigval``, ``sign``, ``length``, ``steps``
        and ``duration``.

        Parameters
        ----------
        outside : bool, default False
            Keep the fixed points outside the visited region, and their branches. They
            are left out by default: the network never goes there, and a far saddle or
            saturated point would only split the graph of the states it does visit.
        """
        import networkx as nx

        g = nx.DiGraph()
        for k, (label, kind, far) in enumerate(zip(self.labels, self.stability, self.outside)):
            if outside or not far:
                g.add_node(k, label=str(label), stability=str(kind), outside=bool(far))
        for e in range(len(self)):
            if self.source[e] not in g or (self.end[e] == "fixed_point" and self.target[e] not in g):
                continue
            node = {"fixed_point": int(self.target[e]),
                    "cycle": f"cycle {self.target[e]}"}.get(self.end[e], str(self.end[e]))
            attrs = {"mode": int(self.mode[e]), "eigval": complex(self.eigval[e]),
                     "sign": int(self.sign[e]), "length": float(self.length[e]),
                     "steps": int(self.steps[e]), "duration": float(self.duration[e])}
            source = int(self.source[e])
            if g.has_edge(source, node):
                g.edges[source, node]["branches"].append(attrs)
            else:
                g.add_edge(source, node, **attrs, branches=[attrs])
        return g

    def write(self, group):
        """Write the edge table, node table and branches (plain datasets; no pickle)."""
        edges = group.create_group("edges")
        for name in ("source", "target", "end", "mode", "sign", "eigval", "length", "steps"):
            h5.write_column(edges, name, getattr(self, name))
        nodes = group.create_group("nodes")
        h5.write_column(nodes, "label", self.labels)
        h5.write_column(nodes, "stability", self.stability)
        h5.write_column(nodes, "outside", self.outside)
        group.create_dataset("offsets", data=self.offsets)
        group.create_dataset("states", data=self.states.astype(np.float32))  # as the recording
        group.attrs.update({"dt": self.dt, "scale": self.scale, "description": DESCRIPTION})

    @classmethod
    def read(cls, group):
        """Read what :meth:`write` wrote."""
        edges = {name: h5.read_column(group["edges"][name]) for name in group["edges"]}
        return cls(**edges, offsets=group["offsets"][()], states=group["states"][()],
                   labels=h5.read_column(group["nodes/label"]),
                   stability=h5.read_column(group["nodes/stability"]),
                   outside=h5.read_column(group["nodes/outside"]) if "outside" in group["nodes"]
                   else None,  # files written before the column
                   dt=float(group.attrs["dt"]), scale=float(group.attrs["scale"]))


DESCRIPTION = ("unstable manifolds of the saddles: edges source -> target (fixed-point rows; "
               "-1 when end is not fixed_point), branch e is states[offsets[e]:offsets[e+1]]")


def topology(dynamics, results, *, eps=1e-3, capture=0.05, outside=3.0, max_steps=1000):
    """The topology stage: trace every saddle's unstable manifold to where it leads.

    Parameters
    ----------
    dynamics : Dynamics
    results : Results
        A recording with fixed points (the ``fixed_points`` stage).
    eps : float, default 1e-3
        Distance of each branch's start from its saddle, in units of the spread.
    capture : float, default 0.05
        A branch within this distance (in units of the spread) of a stable or marginal
        fixed point of the same input ends there.
    outside : float, default 3.0
        A branch farther than this many spreads from every recorded state's mean,
        beyond the farthest recorded state, has left the visited region.
    max_steps : int, default 1000

    Returns
    -------
    Topology
    """
    fps = results.fixed_points()
    curves = _cycle_curves(results.get("cycles")) if "cycles" in results else []
    visited, center, scale = visited_region(results.hidden)
    reach = np.max(np.linalg.norm(visited - center, axis=1)) + outside * scale
    starts, meta = _branch_starts(fps, eps * scale)
    n_branches = len(starts)
    trails = [[x] for x in starts]
    target = np.full(n_branches, -1)
    end = np.full(n_branches, "unresolved", dtype=object)
    steps = np.zeros(n_branches, dtype=int)
    settled = np.isin(fps.stability, ("stable", "marginal"))
    active = np.arange(n_branches)
    x = starts.copy()
    u = fps.inputs[meta["source"]] if n_branches else np.zeros((0, dynamics.n_inputs))
    for step in range(1, max_steps + 1):
        if not len(active):
            break
        x_next = dynamics.step(x, u[active])
        for i, e in enumerate(active):
            trails[e].append(x_next[i])
        steps[active] = step
        done = np.zeros(len(active), dtype=bool)
        same = fps.labels[None, :] == fps.labels[meta["source"][active]][:, None]
        distance = np.linalg.norm(x_next[:, None, :] - fps.xstar[None], axis=2)
        distance = np.where(same & settled[None], distance, np.inf)
        nearest = distance.argmin(axis=1)
        caught = distance[np.arange(len(active)), nearest] <= capture * scale
        target[active[caught]] = nearest[caught]
        end[active[caught]] = "fixed_point"
        done |= caught
        for k, x_cycle, a, d in curves:
            near = ~done & np.all(np.isclose(u[active], x_cycle), axis=1)  # same input
            near[near] = _distance_to_curve(x_next[near], a, d) <= capture * scale
            target[active[near]], end[active[near]] = k, "cycle"
            done |= near
        gone = ~done & (np.linalg.norm(x_next - center, axis=1) > reach)
        end[active[gone]] = "outside"
        done |= gone
        still = ~done & (np.linalg.norm(x_next - x, axis=1) <= 1e-9 * scale)
        done |= still  # settled where no known fixed point is: "unresolved"
        x, active = x_next[~done], active[~done]
    paths = [np.array(trail) for trail in trails]
    offsets = np.concatenate([[0], np.cumsum([len(p) for p in paths])]).astype(int)
    states = np.concatenate(paths) if paths else np.zeros((0, fps.xstar.shape[1]))
    length = np.array([np.linalg.norm(np.diff(p, axis=0), axis=1).sum() for p in paths])
    return Topology(meta["source"], target, end.astype(str), meta["mode"], meta["sign"],
                    meta["eigval"], length, steps, offsets, states, fps.labels,
                    fps.stability, fps.outside, dt=float(results.attrs["dt"]), scale=scale)


def _cycle_curves(cycles):
    """(row, input, segment starts, segment vectors) of each closed cycle (not chaos)."""
    curves = []
    for k in np.flatnonzero(cycles.kind != "chaos"):
        a = cycles.cycle(k)
        curves.append((k, cycles.inputs[k], a, np.roll(a, -1, axis=0) - a))
    return curves


def _distance_to_curve(x, a, d):
    """Distance of each state (m, N) to the closed polygon of segments ``a + t d``."""
    t = np.einsum("mkn,kn->mk", x[:, None] - a[None], d) / np.maximum(np.sum(d * d, axis=1), 1e-300)
    closest = a[None] + np.clip(t, 0, 1)[..., None] * d[None]
    return np.min(np.linalg.norm(x[:, None] - closest, axis=2), axis=1)


def _branch_starts(fps, eps):
    """The starts of every saddle's branches, and what each follows."""
    unstable = stability.unstable_modes(fps.eigval_J_xstar, fps.marginal_tol)
    starts, meta = [], {"source": [], "mode": [], "sign": [], "eigval": []}
    for k in np.flatnonzero(fps.stability == "saddle"):
        for i in np.flatnonzero(unstable[k]):
            value = fps.eigval_J_xstar[k, i]
            if value.imag < 0:
                continue  # the conjugate of a mode already followed
            v = fps.eigvec_J_xstar[k, :, i].real
            v = v / np.linalg.norm(v)
            for sign in (1, -1):
                starts.append(fps.xstar[k] + sign * eps * v)
                for name, item in zip(meta, (k, i, sign, value)):
                    meta[name].append(item)
    meta = {"source": np.array(meta["source"], dtype=int), "mode": np.array(meta["mode"], dtype=int),
            "sign": np.array(meta["sign"], dtype=int),
            "eigval": np.array(meta["eigval"], dtype=complex)}
    return np.array(starts).reshape(-1, fps.xstar.shape[1]), meta
