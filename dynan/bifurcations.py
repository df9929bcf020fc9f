"""Fixed points followed as the input changes, and the bifurcations they meet on the way.

Along a straight path of inputs ``x(s) = x_from + s (x_to - x_from)``, ``0 <= s <= 1``,
the fixed points of ``h -> F(h, x(s))`` form curves ``G(h, s) = F(h, x(s)) - h = 0`` in
(h, s) space. Each curve is followed by pseudo-arclength continuation (Keller 1977): a
step of length ``ds`` along the curve's unit tangent, then Newton's method on ``G = 0``
together with the constraint that the point lies on the hyperplane through the
predicted point orthogonal to the tangent. The curve is parametrised by its length,
not by ``s``, so folds are passed: ``s`` turns back and the curve goes on along the
other branch. Steps grow by half when Newton converges within three iterations and
halve when it fails, when the tangent turns by more than ``MAX_TURN``, or when the
number of unstable eigenvalues changes by more than the test functions below account
for (two bifurcations within one step). A branch ends where ``s`` leaves [0, 1] (its
last point is placed on the boundary exactly), where it leaves a given ball (the stage:
around the visited states), after ``max_steps`` steps, or where its step falls below
``DS_MIN``. A start that lies on a branch already followed (where it came back to
``s = 0``) starts none.

A bifurcation is where an eigenvalue of the Jacobian ``dF/dh`` crosses the unit
circle. Between consecutive points, the sign of one of four test functions changes:

- **fold** (saddle-node): the tangent's ``s`` component (the curve turns in ``s``);
- **pitchfork** (any branch point): ``det(J - I)``, where ``s`` does not turn;
- **period doubling**: ``det(J + I)``;
- **Neimark-Sacker**: the bialternate product ``prod_{i<j} (lambda_i lambda_j - 1)``,
  whose factor ``|lambda|^2 - 1`` changes sign as a complex pair crosses the circle,
  where the number of complex eigenvalues outside the circle changes too (a real pair
  whose product crosses 1, a neutral saddle, is no bifurcation).

Each is located by bisection along the arclength, every trial point corrected onto the
curve, to ``LOCATE_TOL``. Branch points are recorded; the branches that cross there
are not followed.

:func:`continue_family` follows fixed points as a parameter of the network changes
(the recurrent weights, say) in the same way.
"""

from dataclasses import dataclass, fields

import numpy as np
from tqdm.auto import tqdm

from . import h5, stability
from .fixed_points import epoch_inputs, visited_region
from .stability import FIXED_TOL, MARGINAL_TOL
from .threads import one_blas_thread

#: Bifurcation kinds, in the order of their test functions.
KINDS = ("fold", "pitchfork", "period_doubling", "neimark_sacker")
#: How :class:`Continuation` counts them: one, several.
NAMES = {"fold": ("fold", "folds"), "pitchfork": ("pitchfork", "pitchforks"),
         "period_doubling": ("period doubling", "period doublings"),
         "neimark_sacker": ("Neimark-Sacker bifurcation", "Neimark-Sacker bifurcations")}
#: Why a branch ended.
ENDS = ("boundary", "outside", "max_steps", "stalled")
#: Newton iterations per corrector.
MAX_ITERS = 8
#: A step whose tangent turns by more than this (radians) is retried with half the length.
MAX_TURN = 0.2
#: A branch whose step falls below this has stalled.
DS_MIN = 1e-9
#: Bisection locates a bifurcation to this arclength.
LOCATE_TOL = 1e-10
#: Steps of the network from its initial state to the start point, when none is given.
SETTLE_STEPS = 1000
#: A start within this relative distance of an earlier start, or of where an earlier
#: branch came back to s = 0, lies on that branch and is not followed again.
SAME_TOL = 1e-6


@dataclass(eq=False)
class Bifurcations:
    """The bifurcations found along the branches, one row each, in order along each branch.

    Attributes
    ----------
    kind : ndarray (F,) of str
        One of :data:`KINDS`.
    s : ndarray (F,)
        Where on the path.
    inputs : ndarray (F, n_in)
        The input there, ``x(s)`` (the parameter, for :func:`continue_family`).
    states : ndarray (F, N)
        The fixed point there.
    eigval : ndarray (F,), complex
        The critical eigenvalue (on the unit circle; the one with positive imaginary
        part of a Neimark-Sacker pair).
    branch : ndarray (F,) of int
        The branch it lies on.
    """

    kind: np.ndarray
    s: np.ndarray
    inputs: np.ndarray
    states: np.ndarray
    eigval: np.ndarray
    branch: np.ndarray

    def __len__(self):
        return len(self.kind)


#: Per-point and per-branch columns of a :class:`Continuation`.
POINT_COLUMNS = ("s", "inputs", "states", "eigvals", "stability")
BRANCH_COLUMNS = ("path", "x_from", "x_to", "end")


@dataclass(eq=False)
class Continuation:
    """Branches of fixed points along paths of inputs, and their bifurcations.

    Points of all branches are concatenated: branch ``b`` is rows
    ``offsets[b]:offsets[b + 1]`` of the per-point arrays, in order along the curve.

    Attributes
    ----------
    s : ndarray (M,)
        Position on the branch's path, in [0, 1]; it goes back at folds.
    inputs : ndarray (M, n_in)
        The input ``x(s) = x_from + s (x_to - x_from)`` (the parameter, for
        :func:`continue_family`).
    states : ndarray (M, N)
        The fixed points, ``max|F(h, x) - h| <= tol``.
    eigvals : ndarray (M, k), complex
        The ``k`` eigenvalues of ``dF/dh`` of largest modulus, by decreasing modulus.
    stability : ndarray (M,) of str
        Each point's class (:func:`dynan.stability.classify`, on all eigenvalues).
    offsets : ndarray (B + 1,) of int
    path : ndarray (B,) of str
        The name of each branch's path.
    x_from, x_to : ndarray (B, n_in)
        Its ends.
    end : ndarray (B,) of str
        Why it ended, one of :data:`ENDS`.
    bifurcations : Bifurcations
    marginal_tol : float
        The tolerance of the classes.

    Examples
    --------
    A unit with self-excitation ``w = 2`` is bistable between two folds:

    >>> import numpy as np, dynan
    >>> an = dynan.from_weights([[1.0]], [[2.0]], [0.0], gamma=0.5)
    >>> c = continuation(an.dynamics, [-1.5], [1.5], label="drive")
    >>> c
    <Continuation: 1 branch, ... points; 2 folds>
    >>> c.bifurcations.inputs.ravel().round(4)
    array([ 0.5328, -0.5328])
    >>> c.end.tolist(), c.branch(0).s[[0, -1]].tolist()
    (['boundary'], [0.0, 1.0])
    """

    s: np.ndarray
    inputs: np.ndarray
    states: np.ndarray
    eigvals: np.ndarray
    stability: np.ndarray
    offsets: np.ndarray
    path: np.ndarray
    x_from: np.ndarray
    x_to: np.ndarray
    end: np.ndarray
    bifurcations: Bifurcations
    marginal_tol: float = MARGINAL_TOL

    def __len__(self):
        return len(self.path)

    def __repr__(self):
        n = len(self)
        found = ", ".join(f"{k} {NAMES[kind][k > 1]}" for kind in KINDS
                          if (k := int(np.sum(self.bifurcations.kind == kind))))
        return (f"<Continuation: {n} branch{'es' if n != 1 else ''}, {len(self.s)} points"
                f"{'; ' + found if found else ''}>")

    def rows(self):
        """One dict per path: its name, end input, branches, and for each bifurcation
        kind met on it the count and the smallest ``s`` where one lies (how far along the
        path the fixed-point structure first changes that way), for summaries."""
        bif = self.bifurcations
        found = []
        for path in dict.fromkeys(self.path.tolist()):
            on = np.isin(bif.branch, np.flatnonzero(self.path == path))
            first = {kind: float(bif.s[on & (bif.kind == kind)].min()) for kind in KINDS
                     if (on & (bif.kind == kind)).any()}
            found.append({"path": path, "x_to": self.x_to[self.path == path][0].tolist(),
                          "branches": int((self.path == path).sum()),
                          **{kind: int((on & (bif.kind == kind)).sum()) for kind in KINDS},
                          "first_s": first})
        return found

    def branch(self, b):
        """Branch ``b`` alone, as a :class:`Continuation` of one branch."""
        rows = slice(*self.offsets[b:b + 2])
        bif = self.bifurcations
        mine = bif.branch == b
        return Continuation(
            **{name: getattr(self, name)[rows] for name in POINT_COLUMNS},
            **{name: getattr(self, name)[b:b + 1] for name in BRANCH_COLUMNS},
            offsets=np.array([0, rows.stop - rows.start]),
            bifurcations=Bifurcations(**{f.name: getattr(bif, f.name)[mine] for f in fields(bif)
                                         if f.name != "branch"},
                                      branch=np.zeros(mine.sum(), dtype=int)),
            marginal_tol=self.marginal_tol)

    def write(self, group):
        """Write as plain datasets (no pickle): the per-point and per-branch columns, and
        the bifurcation table in the subgroup ``bifurcations``; states in float64, as
        located."""
        for name in POINT_COLUMNS + BRANCH_COLUMNS + ("offsets",):
            h5.write_column(group, name, getattr(self, name))
        table = group.create_group("bifurcations")
        for f in fields(self.bifurcations):
            h5.write_column(table, f.name, getattr(self.bifurcations, f.name))
        group.attrs.update({"marginal_tol": self.marginal_tol, "description": DESCRIPTION})

    @classmethod
    def read(cls, group):
        """Read what :meth:`write` wrote."""
        table = group["bifurcations"]
        return cls(**{name: h5.read_column(group[name]) for name in POINT_COLUMNS
                      + BRANCH_COLUMNS + ("offsets",)},
                   bifurcations=Bifurcations(**{name: h5.read_column(table[name])
                                                for name in table}),
                   marginal_tol=float(group.attrs["marginal_tol"]))


DESCRIPTION = ("fixed points followed along input paths x(s) = x_from + s (x_to - x_from); branch "
               "b is rows offsets[b]:offsets[b+1] of s, inputs, states, eigvals, stability; "
               "bifurcations/ lists the folds, pitchforks, period doublings and Neimark-Sacker "
               "bifurcations found, with the branch they lie on")


def continuation(dynamics, x_from, x_to, *, h0=None, label="", **options):
    """Follow fixed points from input ``x_from`` to ``x_to`` and find their bifurcations.

    Parameters
    ----------
    dynamics : Dynamics
    x_from, x_to : array_like (n_in,)
        The ends of the path ``x(s) = x_from + s (x_to - x_from)``.
    h0 : array_like (K, N) or (N,), optional
        Fixed points under ``x_from`` (or points near them, refined by Newton's
        method), one branch from each, followed towards increasing ``s``; starts on a
        branch already followed are skipped. By default, the state the network settles
        to from its initial state under ``x_from``.
    label : str, default ""
        The name of the path.
    **options
        ``ds_max`` (0.25): the longest step along the curve in (h, s) space;
        ``max_steps`` (1000) per branch; ``tol`` (1e-10): ``max|F(h, x) - h|`` of every
        point; ``center`` and ``radius`` (none): a branch ends once farther than
        ``radius`` from ``center``; ``marginal_tol`` (1e-2) for the classes;
        ``n_eigvals`` (6) eigenvalues kept per point; ``progress`` (False): a
        progress bar over the branches.

    Returns
    -------
    Continuation

    Raises
    ------
    ValueError
        When Newton's method does not take a start to a fixed point.

    Examples
    --------
    A unit with strong self-inhibition oscillates once its drive is weak:

    >>> import dynan
    >>> an = dynan.from_weights([[1.0]], [[-3.0]], [0.0])
    >>> c = continuation(an.dynamics, [5.0], [0.0])
    >>> c.bifurcations.kind.tolist(), c.bifurcations.eigval.real.round(9).tolist()
    (['period_doubling'], [-1.0])
    >>> c.stability[[0, -1]].tolist()
    ['stable', 'unstable']
    """
    x_from = _vector(x_from, dynamics.n_inputs, "x_from")
    x_to = _vector(x_to, dynamics.n_inputs, "x_to")
    tracer = _Tracer(dynamics.n_units, dynamics.n_inputs, **options)
    h0 = _settle(dynamics, x_from) if h0 is None else h0
    path = _input_path(dynamics, x_from, x_to)
    return tracer.result(tracer.follow(path, h0, x_from, x_to, label))


def continue_family(family, p_from, p_to, *, h0=None, x=None, eps=1e-6, label="", **options):
    """Follow fixed points as a parameter of the network goes from ``p_from`` to ``p_to``.

    The same continuation as :func:`continuation`, along ``p(s) = p_from + s (p_to -
    p_from)`` under a constant input, with ``dF/dp`` by central differences.

    Parameters
    ----------
    family : callable
        ``family(p) -> Dynamics``: the network at parameter ``p`` (a float, or an
        array shaped as ``p_from``).
    p_from, p_to : float or array_like
    h0 : array_like (K, N) or (N,), optional
        Fixed points at ``p_from``, as in :func:`continuation`.
    x : array_like (n_in,), optional
        The constant input; zeros by default.
    eps : float, default 1e-6
        Step in ``s`` of the central differences.
    label : str, default ""
    **options
        As in :func:`continuation`.

    Returns
    -------
    Continuation
        Its ``inputs``, ``x_from`` and ``x_to`` hold the parameter (flattened).

    Examples
    --------
    A self-coupled unit turns bistable at coupling 1, in a pitchfork:

    >>> import dynan
    >>> c = continue_family(lambda w: dynan.from_weights([[1.0]], [[w]], [0.0]).dynamics,
    ...                     0.5, 1.5, h0=[0.0], label="coupling")
    >>> c.bifurcations.kind.tolist(), c.bifurcations.inputs.ravel().round(9).tolist()
    (['pitchfork'], [1.0])
    """
    shape = np.shape(p_from)
    p_from, p_to = (np.array(p, dtype=float).ravel() for p in (p_from, p_to))
    if p_from.shape != p_to.shape:
        raise ValueError(f"p_from and p_to must have the same shape; got {shape} and "
                         f"{np.shape(p_to)}")

    def network(s):
        p = (p_from + s * (p_to - p_from)).reshape(shape)
        return family(p.item() if p.ndim == 0 else p)

    start = network(0.0)
    x = np.zeros(start.n_inputs) if x is None else _vector(x, start.n_inputs, "x")

    def linearize(h, s):
        d = network(s)
        F_s = (network(s + eps).step(h, x) - network(s - eps).step(h, x)) / (2 * eps)
        return d.step(h, x), d.jacobian(h, x), F_s

    tracer = _Tracer(start.n_units, len(p_from), **options)
    h0 = _settle(start, x) if h0 is None else h0
    return tracer.result(tracer.follow(linearize, h0, p_from, p_to, label))


def _pulse_paths(results):
    """The flip-flop's: each bit's input from zero to its +1 pulse."""
    names = list(results.attrs["input_names"])
    return {f"{name} +1": np.eye(len(names))[i] for i, name in enumerate(names)}


def _amplitude_paths(results):
    """The integrator's: its input from zero to the largest recorded, either way."""
    amplitude = float(np.max(np.abs(np.asarray(results.inputs))))
    return {"input up": [amplitude], "input down": [-amplitude]}


#: Paths that a task's continuation follows besides its epochs' inputs, by task name.
PATHS = {"flipflop": _pulse_paths, "integrator": _amplitude_paths}


def continuation_stage(dynamics, results, *, inputs="epochs", outside=3.0, **options):
    """The continuation stage: from zero input to each task epoch's input, and along the
    task's own paths (:data:`PATHS`).

    One path from zero input to each distinct nonzero input, named by its epochs (or by
    :data:`PATHS`: each flip-flop bit's pulse, the integrator's input amplitude); one
    branch from each fixed point found at zero input inside the visited region.

    Parameters
    ----------
    dynamics : Dynamics
    results : Results
        A recording with fixed points at zero input (the ``fixed_points`` stage).
    inputs : "epochs" or dict of str -> array_like (n_in,), default "epochs"
        The ends of the paths: ``"epochs"`` for each epoch's constant input and the
        task's paths
        (:func:`dynan.fixed_points.epoch_inputs`; a task whose epochs average to zero
        input, such as the flip-flop with its brief pulses, has none), or named inputs.
    outside : float, default 3.0
        A branch farther than this many spreads from every recorded state's mean,
        beyond the farthest recorded state, has left the visited region.
    **options
        As in :func:`continuation`; ``marginal_tol`` is by default the fixed points'.

    Returns
    -------
    Continuation
        The branches of every path; ``path`` names each branch's.

    Examples
    --------
    A bistable unit, set either way, then driven up: the lower state folds.

    >>> import numpy as np, dynan
    >>> an = dynan.from_weights([[1.0]], [[2.0]], [0.0], gamma=0.5)
    >>> x = np.zeros((2, 40, 1)); x[:, 0, 0] = [-1, 1]; x[:, 20:] = 1
    >>> epochs = {"hold": [[1, 20]] * 2, "drive": [[20, 40]] * 2}
    >>> res = an.record(dynan.tasks.Trials(x, {"trial_type": ["-", "+"]}, epochs=epochs))
    >>> fps = an.fixed_points(None, n_inits=16)
    >>> c = continuation_stage(an.dynamics, res)
    >>> c, c.path.tolist()
    (<Continuation: 2 branches, ... points; 1 fold>, ['drive', 'drive'])
    """
    if isinstance(inputs, str) and inputs == "epochs":
        task_paths = PATHS.get(results.attrs.get("task"), lambda _: {})(results)
        inputs = {**epoch_inputs(np.asarray(results.inputs), results.epochs), **task_paths}
    fps = results.fixed_points()
    rows = np.flatnonzero(~np.any(fps.inputs, axis=1) & ~fps.outside)
    # attractors first: their branches pass the saddles they fold into, which then start none
    starts = fps.xstar[rows[np.argsort([stability.KINDS.index(k) for k in fps.stability[rows]],
                                       kind="stable")]]
    visited, center, scale = visited_region(results.hidden)
    reach = np.max(np.linalg.norm(visited - center, axis=1)) + outside * scale
    options = {"center": center, "radius": reach, "marginal_tol": fps.marginal_tol, **options}
    tracer = _Tracer(dynamics.n_units, dynamics.n_inputs, **options)
    zero = np.zeros(dynamics.n_inputs)
    branches = []
    for name, x in inputs.items():
        x = _vector(x, dynamics.n_inputs, f"input {name!r}")
        if np.any(x):
            branches += tracer.follow(_input_path(dynamics, zero, x), starts, zero, x, name)
    return tracer.result(branches)


def _input_path(dynamics, x_from, x_to):
    """``linearize(h, s) -> (F, dF/dh, dF/ds)`` along the straight input path."""
    dx = x_to - x_from

    def linearize(h, s):
        x = x_from + s * dx
        return dynamics.step(h, x), dynamics.jacobian(h, x), dynamics.input_jacobian(h, x) @ dx

    return linearize


def _vector(value, size, name):
    value = np.asarray(value, dtype=float)
    if value.shape != (size,):
        raise ValueError(f"{name} must have shape ({size},); got {value.shape}")
    return value


def _settle(dynamics, x):
    """The state the network reaches from its initial state in SETTLE_STEPS steps under x."""
    inputs = np.broadcast_to(x, (1, SETTLE_STEPS, len(x)))
    return dynamics.trajectory(inputs, dynamics.initial_state[None])[:, -1]


class _Point:
    """A point ``y = (h, s)`` with the Jacobians there, ``dF/dh`` and ``dF/ds``."""

    def __init__(self, y, J, F_s, iters):
        self.y, self.J, self.F_s, self.iters = y, J, F_s, iters
        self._eigvals = None

    def tangent(self, row):
        """The curve's unit tangent, on the side of ``row`` (``row @ t > 0``)."""
        t = np.linalg.solve(_bordered(self.J, self.F_s, row), np.eye(len(self.y))[-1])
        return t / np.linalg.norm(t)

    @property
    def eigvals(self):
        """All eigenvalues of ``dF/dh``, by decreasing modulus."""
        if self._eigvals is None:
            vals = np.asarray(np.linalg.eigvals(self.J), dtype=complex)
            self._eigvals = vals[np.argsort(-np.abs(vals), kind="stable")]
        return self._eigvals

    def n_unstable(self, complex_only=False):
        """The number of eigenvalues outside the unit circle (complex ones only)."""
        outside = np.abs(self.eigvals) > 1
        return int(np.sum(outside & (self.eigvals.imag != 0) if complex_only else outside))

    def test(self, k, t):
        """The sign of the test function of :data:`KINDS` ``[k]`` here: the tangent's ``s``
        component (oriented along ``t``), ``det(J - I)``, ``det(J + I)``, or the bialternate
        product ``prod_{i<j} (lambda_i lambda_j - 1)``."""
        if k == 0:
            return np.sign(self.tangent(t)[-1])
        if k < 3:
            return np.linalg.slogdet(self.J + (-1 if k == 1 else 1) * np.eye(len(self.J)))[0]
        vals = self.eigvals
        real = vals.real[vals.imag == 0]  # LAPACK gives real eigenvalues exactly so
        pairs = np.multiply.outer(real, real)[np.triu_indices(len(real), 1)] - 1
        return np.prod(np.sign(np.abs(vals[vals.imag > 0]) ** 2 - 1)) * np.prod(np.sign(pairs))


def _bordered(J, F_s, row):
    """``[[dF/dh - I, dF/ds], [row]]``: the Jacobian of ``(G, row @ y)``."""
    N = len(F_s)
    A = np.empty((N + 1, N + 1))
    A[:N, :N] = J - np.eye(N)
    A[:N, N] = F_s
    A[N] = row
    return A


def _critical(kind, vals):
    """The eigenvalue on the unit circle at a located bifurcation; None for a neutral saddle."""
    if kind in ("fold", "pitchfork", "period_doubling"):
        return vals[np.argmin(np.abs(vals - (-1 if kind == "period_doubling" else 1)))]
    i, j = np.triu_indices(len(vals), 1)
    k = np.argmin(np.abs(vals[i] * vals[j] - 1))
    a, b = vals[i[k]], vals[j[k]]
    if a.imag == 0 or b != np.conj(a):
        return None  # a real pair with product 1: a neutral saddle, no bifurcation
    return a if a.imag > 0 else b


class _Tracer:
    """Pseudo-arclength continuation with one call's settings."""

    def __init__(self, n_units, n_inputs, *, ds_max=0.25, max_steps=1000, tol=FIXED_TOL,
                 center=None, radius=np.inf, marginal_tol=MARGINAL_TOL, n_eigvals=6,
                 progress=False):
        for name, value in (("ds_max", ds_max), ("tol", tol), ("max_steps", max_steps),
                            ("n_eigvals", n_eigvals)):
            if not value > 0:
                raise ValueError(f"{name} must be positive; got {value!r}")
        self.n_units, self.n_inputs = n_units, n_inputs
        self.ds_max, self.max_steps, self.tol = ds_max, int(max_steps), tol
        self.center, self.radius = center, radius
        self.marginal_tol, self.n_eigvals, self.progress = marginal_tol, int(n_eigvals), progress
        self.e_s = np.eye(n_units + 1)[-1]

    def follow(self, linearize, h0, x_from, x_to, label):
        """The branches from each start, as dicts of columns."""
        h0 = np.atleast_2d(np.asarray(h0, dtype=float))
        if h0.ndim != 2 or h0.shape[1] != self.n_units:
            raise ValueError(f"h0 must have shape (K, {self.n_units}) or ({self.n_units},); got "
                             f"{h0.shape}")
        starts = []
        for k, h in enumerate(h0):
            start = self.correct(linearize, np.append(h, 0.0), self.e_s, 0.0)
            if start is None:
                residual = np.max(np.abs(linearize(h, 0.0)[0] - h))
                raise ValueError(f"start {k} is not near a fixed point at the start of path "
                                 f"{label!r}: max|F(h) - h| = {residual:.3g}, and Newton's "
                                 "method did not converge from it")
            starts.append(start)
        branches, known = [], []
        with one_blas_thread():  # small matrices: one thread is fastest
            for start in tqdm(starts, desc=f"continuation {label}".strip(), unit="branch",
                              disable=not self.progress):
                h = start.y[:-1]
                if any(np.linalg.norm(h - k) <= SAME_TOL * (1 + np.linalg.norm(k)) for k in known):
                    continue  # on a branch already followed
                points, events, end = self.branch(linearize, start)
                known.append(h)
                if points[-1].y[-1] == 0:
                    known.append(points[-1].y[:-1])  # came back to the start of the path
                y = np.array([p.y for p in points])
                vals = np.array([p.eigvals for p in points])
                branches.append({
                    "s": y[:, -1], "inputs": x_from + y[:, -1:] * (x_to - x_from),
                    "states": y[:, :-1], "eigvals": vals[:, :self.n_eigvals],
                    "stability": stability.classify(vals, self.marginal_tol),
                    "path": label, "x_from": x_from, "x_to": x_to, "end": end,
                    "events": [(kind, p.y[-1], x_from + p.y[-1] * (x_to - x_from), p.y[:-1], value)
                               for kind, p, value in events]})
        return branches

    def correct(self, linearize, y, row, value):
        """Newton's method on ``G(y) = 0``, ``row @ y = value`` from ``y``: the point, or
        None when it does not converge."""
        for it in range(MAX_ITERS + 1):
            F, J, F_s = linearize(y[:-1], y[-1])
            G = F - y[:-1]
            if not np.all(np.isfinite(G)):
                return None
            if np.max(np.abs(G)) <= self.tol:
                return _Point(y, J, F_s, it)
            if it == MAX_ITERS:
                return None
            try:
                y = y - np.linalg.solve(_bordered(J, F_s, row), np.append(G, row @ y - value))
            except np.linalg.LinAlgError:
                return None

    def branch(self, linearize, start):
        """Follow one branch from ``start``: its points, its bifurcations as (kind,
        point, eigenvalue), and why it ended."""
        a, t = start, start.tangent(self.e_s)
        points, events = [start], []
        ds = self.ds_max / 10
        while len(points) <= self.max_steps:
            b, edge = self.step(linearize, a, t, ds)
            t_b = None if b is None else b.tangent(t)
            flips = None if t_b is None or t_b @ t < np.cos(MAX_TURN) else self.flips(a, b, t)
            if flips is None:
                ds /= 2
                if ds < DS_MIN:
                    return points, events, "stalled"
                continue
            events += self.bifurcations(linearize, a, b, t, flips)
            points.append(b)
            if edge:
                return points, events, "boundary"
            if self.center is not None and np.linalg.norm(b.y[:-1] - self.center) > self.radius:
                return points, events, "outside"
            if b.iters <= 3:
                ds = min(1.5 * ds, self.ds_max)
            a, t = b, t_b
        return points, events, "max_steps"

    def step(self, linearize, a, t, ds):
        """A step of length ``ds`` from ``a`` along its tangent ``t``, predicted and
        corrected, and placed on the boundary of [0, 1] in ``s`` where it crosses it: the
        point (None when Newton's method fails), and whether it is on the boundary."""
        b = self.correct(linearize, a.y + ds * t, t, t @ a.y + ds)
        if b is None or 0 <= b.y[-1] <= 1:
            return b, False
        edge = float(b.y[-1] > 1)
        guess = a.y + (b.y - a.y) * (edge - a.y[-1]) / (b.y[-1] - a.y[-1])
        b = self.correct(linearize, guess, self.e_s, edge)
        if b is not None:
            b.y[-1] = edge
        return b, True

    @staticmethod
    def flips(a, b, t):
        """The tests of :data:`KINDS` whose sign changes from ``a`` to ``b``; None where the
        number of unstable eigenvalues changes by more than they account for (two
        bifurcations within the step, cancelling in sign: the step is too long)."""
        flips = [k for k in range(len(KINDS)) if a.test(k, t) != b.test(k, t)]
        if 0 in flips and 1 in flips:
            flips.remove(1)  # det(J - I) changes sign at a fold too
        if 3 in flips and a.n_unstable(complex_only=True) == b.n_unstable(complex_only=True):
            flips.remove(3)  # a real pair's product crossed 1: a neutral saddle, no bifurcation
        if abs(b.n_unstable() - a.n_unstable()) > sum(2 if k == 3 else 1 for k in flips):
            return None
        return flips

    def bifurcations(self, linearize, a, b, t, flips):
        """The bifurcations between consecutive points ``a`` and ``b`` (``t``: the tangent at
        ``a``) whose tests change sign, located, in order along the curve."""
        found = []
        for k in flips:
            sigma, p = self.locate(linearize, a, b, t, k)
            value = _critical(KINDS[k], p.eigvals)
            if value is not None:
                found.append((sigma, KINDS[k], p, value))
        return [event[1:] for event in sorted(found, key=lambda event: event[0])]

    def locate(self, linearize, a, b, t, k):
        """Bisection along the arclength from ``a`` for where test ``k`` changes sign:
        the arclength from ``a`` and the point."""
        base, side = t @ a.y, a.test(k, t)
        lo, hi = (0.0, a), (t @ b.y - base, b)
        found = hi
        while hi[0] - lo[0] > LOCATE_TOL:
            mid = (lo[0] + hi[0]) / 2
            guess = lo[1].y + (hi[1].y - lo[1].y) * (mid - lo[0]) / (hi[0] - lo[0])
            p = self.correct(linearize, guess, t, base + mid)
            if p is None:
                break
            found = (mid, p)
            if p.test(k, t) == side:
                lo = found
            else:
                hi = found
        return found

    def result(self, branches):
        """The branches as one :class:`Continuation`."""
        N, n_in, k = self.n_units, self.n_inputs, min(self.n_eigvals, self.n_units)

        def column(values, shape=(), dtype=float):
            return np.array(values, dtype=dtype).reshape((-1,) + shape)

        def points(name, shape=(), dtype=float):
            return column([row for branch in branches for row in branch[name]], shape, dtype)

        def per_branch(name, shape=(), dtype=float):
            return column([branch[name] for branch in branches], shape, dtype)

        events = [(b,) + event for b, branch in enumerate(branches) for event in branch["events"]]
        rows = list(zip(*events)) or [()] * 6
        table = Bifurcations(kind=column(rows[1], dtype=str), s=column(rows[2]),
                             inputs=column(rows[3], (n_in,)), states=column(rows[4], (N,)),
                             eigval=column(rows[5], dtype=complex),
                             branch=column(rows[0], dtype=int))
        return Continuation(
            s=points("s"), inputs=points("inputs", (n_in,)), states=points("states", (N,)),
            eigvals=points("eigvals", (k,), complex), stability=points("stability", dtype=str),
            offsets=np.cumsum([0] + [len(branch["s"]) for branch in branches]),
            path=per_branch("path", dtype=str), x_from=per_branch("x_from", (n_in,)),
            x_to=per_branch("x_to", (n_in,)), end=per_branch("end", dtype=str),
            bifurcations=table, marginal_tol=self.marginal_tol)
