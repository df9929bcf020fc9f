"""Figure panels for papers, drawn from a results file (never by recomputing).

Each panel function takes a results file (path or :class:`~dynan.Results`) and an
optional Axes, draws one panel and returns the Axes; :data:`PANELS` registers them
with what they need and their size. Every panel works for every network: where a
network has no recurrent weights (gated and custom cells), the panels show the
Jacobian's counterparts and their titles say so. :func:`overview` assembles a
multi-panel figure; :func:`save` writes PDF (TrueType text), SVG (text as text) and
PNG. Sizes are in millimetres (``SINGLE_COLUMN``, ``DOUBLE_COLUMN``).

Importing this module does not import TensorFlow.

Examples
--------
A recording with the PCA and fixed points that the trajectories panel draws:

>>> import dynan, os, tempfile
>>> from dynan import figures
>>> an = dynan.load(dynan.example_model("tdnms_leaky"))
>>> folder = tempfile.mkdtemp()
>>> res = an.record(dynan.tasks.tdnms(30, seed=0), os.path.join(folder, "tdnms.h5"))
>>> p, fps = an.pca(n_components=3), an.fixed_points(n_inits=32)
>>> with figures.paper_style():
...     fig, ax = figures.subplots(width=figures.SINGLE_COLUMN, height=60)
...     ax = figures.trajectories(os.path.join(folder, "tdnms.h5"), ax=ax)
...     written = figures.save(fig, os.path.join(folder, "trajectories"))
>>> [path.name for path in written]
['trajectories.pdf', 'trajectories.svg', 'trajectories.png']
"""

from contextlib import contextmanager
from dataclasses import dataclass
from itertools import cycle
from pathlib import Path
from typing import Callable

import matplotlib.pyplot as plt
from matplotlib.text import Text
import numpy as np

from .results import Results

#: Journal column widths in millimetres (Nature, Cell and Neuron are within 1 mm).
SINGLE_COLUMN, DOUBLE_COLUMN = 89.0, 183.0
#: Okabe & Ito's colour-blind-safe palette.
COLORS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")

STYLE = {
    "pdf.fonttype": 42,  # TrueType: text stays editable in Illustrator
    "ps.fonttype": 42,
    "svg.fonttype": "none",  # text as text
    "font.family": "sans-serif",
    # Arial or its metric twin (Debian's fonts-liberation): what journals ask for, and a
    # font that PDFs embed eight times faster than matplotlib's DejaVu Sans.
    "font.sans-serif": ["Arial", "Helvetica", "Liberation Sans", "DejaVu Sans"],
    "mathtext.fontset": "custom",  # bold panel letters in the same font
    **{f"mathtext.{style}": f"sans{suffix}" for style, suffix in (
        ("rm", ""), ("sf", ""), ("it", ":italic"), ("cal", ":italic"), ("bf", ":bold"),
        ("bfit", ":italic:bold"))},
    "font.size": 7,
    "axes.titlesize": 7,
    "axes.labelsize": 7,
    "xtick.labelsize": 6,
    "ytick.labelsize": 6,
    "legend.fontsize": 6,
    "legend.frameon": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.linewidth": 0.6,
    "xtick.major.width": 0.6,
    "ytick.major.width": 0.6,
    "lines.linewidth": 1.0,
    "savefig.dpi": 300,
    "savefig.bbox": "tight",
    "figure.dpi": 150,
}


@contextmanager
def paper_style():
    """Matplotlib settings for journal figures: 7 pt sans-serif, TrueType text, no top
    or right spines."""
    with plt.rc_context(STYLE):
        yield


def mm(width, height):
    """Figure size in inches from millimetres."""
    return width / 25.4, height / 25.4


def subplots(width=SINGLE_COLUMN, height=60.0, **kwargs):
    """``plt.subplots`` with a size in millimetres."""
    return plt.subplots(figsize=mm(width, height), **kwargs)


def panel_letter(ax, letter):
    """Put a bold panel letter at the top left of ``ax``, before its title (both become
    its left-hand title, so that constrained layout makes room and they never collide)."""
    title = ax.get_title()
    ax.set_title("")
    ax.set_title(rf"$\bf{{{letter}}}$  {title}".rstrip(), loc="left", fontsize=7)
    return ax


def save(fig, path, formats=("pdf", "svg", "png")):
    """Write ``fig`` as ``path.<format>`` for each format; returns the paths.

    A figure with a layout engine (such as the overview's constrained layout) is laid
    out once and keeps its size: a journal's column width. Any other is cropped to its
    tight box once (``savefig.bbox`` permitting). Then it is written in every format
    without laying it out again.
    """
    path = Path(path)
    for text in fig.findobj(Text):  # "fi" stays two letters that an editor can change
        text.set_fontfeatures(("-liga",))
    bbox = plt.rcParams["savefig.bbox"]
    if fig.get_layout_engine() is not None:
        fig.draw_without_rendering()  # the layout engine places the axes once
        fig.set_layout_engine(None)  # and they stay there at each save
        bbox = fig.bbox_inches
    elif bbox == "tight":
        bbox = fig.get_tightbbox().padded(plt.rcParams["savefig.pad_inches"])
    written = []
    for fmt in formats:
        target = path.with_suffix(f".{fmt}")
        fig.savefig(target, format=fmt, bbox_inches=bbox)
        written.append(target)
    return written


def _results(results):
    return results if isinstance(results, Results) else Results(results)


def _axes(ax, **kwargs):
    return ax if ax is not None else subplots(**kwargs)[1]


def _inside(res):
    """The stored fixed points inside the visited region, and how many lie outside it."""
    fps = res.fixed_points()
    return fps[~fps.outside], int(fps.outside.sum())


def _type_colors(labels):
    return {label: COLORS[i % len(COLORS)] for i, label in enumerate(labels)}


#: Marker and fill of each point class in the state-space panel.
MARKERS = {"stable": ("o", True), "marginal": ("D", True), "saddle": ("o", False),
           "unstable": ("s", False)}
#: Colours of the input conditions of fixed points (dark, apart from the trajectories').
CONDITION_COLORS = ("#000000", "#882255", "#117733", "#44AA99", "#999933", "#AA4499")


def _plot(ax, xyz, *args, **kwargs):
    return ax.plot(*np.asarray(xyz).T, *args, **kwargs)[0]


def _by_trial_type(res, p, ax, c):
    """Mean trajectory of each trial type, a dot where each epoch starts (the default)."""
    starts = sorted({int(np.median(bounds[:, 0])) for bounds in res.epochs.values()})
    handles = []
    for g, (group, color) in enumerate(zip(p.groups.tolist(), cycle(COLORS))):
        m = p.condition_means[g][:, c]
        handles.append(_plot(ax, m, color=color, label=" ".join(group)))
        _plot(ax, m[[t for t in starts if t < len(m)]], "o", color=color, markersize=2)
    return handles


def flipflop_trials(res, per_pattern=3):
    """The flip-flop trajectories worth drawing: for each final bit pattern (every bit
    set), the states of a few trials from the step before their last pulse on, each
    settling from a neighbouring memory into its own.

    Returns
    -------
    dict of str -> list of ndarray (T_i, N)
    """
    from .tasks import _last_pulse

    types = res.conditions["trial_type"]
    last = _last_pulse(np.asarray(res.inputs))[1][:, -1].max(axis=1)  # the last pulse on any bit
    return {pattern: [np.asarray(res.hidden[trial, max(last[trial] - 1, 0):])
                      for trial in np.flatnonzero(types == pattern)[:per_pattern]]
            for pattern in res.trial_types if "0" not in pattern}


def _flipflop(res, p, ax, c):
    """:func:`flipflop_trials`, a colour per final bit pattern."""
    handles = []
    for (pattern, states), color in zip(flipflop_trials(res).items(), cycle(COLORS)):
        lines = [_plot(ax, p.transform(h)[:, c], color=color, linewidth=0.7, label=pattern)
                 for h in states]
        handles += lines[:1]
    return handles


def _integrator(res, p, ax, c, n_trials=24):
    """Single trials, coloured by the integrated value (the target) at each step."""
    from matplotlib.collections import LineCollection
    from mpl_toolkits.mplot3d.art3d import Line3DCollection

    target = np.asarray(res.targets)[:n_trials, :, 0]
    limit = np.abs(target).max() or 1.0
    segments = []
    for trial in range(len(target)):
        xyz = p.transform(res.hidden[trial])[:, c]
        segments += list(np.stack([xyz[:-1], xyz[1:]], axis=1))
    kind = Line3DCollection if len(c) == 3 else LineCollection
    lines = kind(segments, cmap="RdBu_r", norm=plt.Normalize(-limit, limit), linewidths=0.6)
    lines.set_array(target[:, 1:].ravel())
    ax.add_collection(lines)
    ax.autoscale_view()
    if len(c) == 2:  # one colour bar, beside the plane
        ax.figure.colorbar(lines, ax=ax, shrink=0.6, pad=0.02, label="integrated value")
    return []


#: How each task's trajectories are drawn; other tasks get ``_by_trial_type``
#: (the mean trajectory of each trial type).
TRAJECTORY_STYLES = {"flipflop": _flipflop, "integrator": _integrator, "tdnms": _by_trial_type}


def trajectories(results, ax=None, *, components=(0, 1), fixed_points=True):
    """The state space in PC coordinates: trajectories as the task's conditions group
    them, and the fixed-point structure.

    Trajectories are drawn in the task's style (:data:`TRAJECTORY_STYLES`): the
    flip-flop's trials from their last pulse, by final bit pattern; the integrator's
    trials coloured by the integrated value; the mean trajectory of each trial type
    otherwise. Fixed points inside the visited region get one colour per input condition
    and one marker per class (:data:`MARKERS`), slow points small triangles; saddles carry
    their unstable manifolds (the topology stage's branches) and line and ring attractors
    are drawn as lines (the manifolds stage's). Points outside the visited region are
    left out and the title gives their count. Pass three components and a 3-D Axes (or
    none) for a 3-D panel.
    """
    res = _results(results)
    p = res.pca()
    c = list(components)
    if ax is None:
        fig = plt.figure(figsize=mm(SINGLE_COLUMN / 2 + 10, 50))
        ax = fig.add_subplot(projection="3d" if len(c) == 3 else None)
    handles = TRAJECTORY_STYLES.get(res.attrs.get("task"), _by_trial_type)(res, p, ax, c)
    if fixed_points and "fixed_points" in res:
        handles += _fixed_point_structure(res, p, ax, c)
    ratio = p.explained_variance_ratio_
    for axis, k in zip("xyz", c):
        getattr(ax, f"set_{axis}label")(f"PC{k + 1} ({ratio[k]:.0%})")
    if handles:  # beyond a 3-D panel's z label
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.4 if len(c) == 3 else 1.0, 1.0),
                  fontsize=5, ncol=1 + len(handles) // 14)
    return ax


def _fixed_point_structure(res, p, ax, c):
    """Draw the fixed and slow points inside the visited region, the saddles' unstable
    manifolds and the traced manifolds; return legend handles for what was drawn."""
    from matplotlib.lines import Line2D

    fps, far = _inside(res)
    if far:
        ax.set_title(f"{far} fixed point{'s' * (far != 1)} outside the visited region not "
                     "drawn", fontsize=5)
    conditions = sorted(set(fps.labels.tolist()))
    colors = dict(zip(conditions, cycle(CONDITION_COLORS)))
    handles = []
    if "topology" in res:
        topo = res.get("topology")
        drawn = [e for e in range(len(topo)) if not topo.outside[topo.source[e]]]
        for e in drawn:
            _plot(ax, p.transform(topo.branch(e))[:, c], color=colors.get(topo.labels[topo.source[e]], "black"),
                  linewidth=0.5, alpha=0.8)
        if drawn:
            handles.append(Line2D([], [], color="black", linewidth=0.5, label="unstable manifolds"))
    if "manifolds" in res:
        man = res.get("manifolds")
        for m in range(len(man)):
            _plot(ax, p.transform(man.manifold(m))[:, c], color=colors.get(man.labels[m], "black"),
                  linewidth=2.5, alpha=0.5, solid_capstyle="round")
        if len(man):
            handles.append(Line2D([], [], color="black", linewidth=2.5, alpha=0.5,
                                  label="line attractor" if not man.closed.any() else "manifolds"))
    if "cycles" in res:
        cyc = res.get("cycles")
        closed = [k for k in range(len(cyc)) if cyc.kind[k] != "chaos"]
        for k in closed:
            xyz = p.transform(cyc.cycle(k))[:, c]
            _plot(ax, np.vstack([xyz, xyz[:1]]), color=colors.get(cyc.labels[k], "black"),
                  linewidth=1.5, linestyle=(0, (3, 1)), zorder=3)
        if closed:
            periods = ", ".join(f"{cyc.period[k]:.3g}" for k in closed)
            unit = "s" if cyc.dt != 1.0 else "steps"
            handles.append(Line2D([], [], color="black", linewidth=1.5, linestyle=(0, (3, 1)),
                                  label=f"cycle{'s' * (len(closed) > 1)}, period {periods} {unit}"))
    xy = p.transform(fps.xstar)[:, c] if len(fps) else np.zeros((0, len(c)))
    for kind, (marker, filled) in MARKERS.items():
        rows = np.flatnonzero(fps.stability == kind)
        for k in rows:
            color = colors[fps.labels[k]]
            _plot(ax, xy[k:k + 1], marker, markersize=4, markeredgewidth=0.7, zorder=4,
                  color=color, markerfacecolor=color if filled else "white")
        if len(rows):
            handles.append(Line2D([], [], linestyle="", marker=marker, markersize=4, color="black",
                                  markerfacecolor="black" if filled else "white", label=kind))
    slow = fps.slow_points
    if slow is not None and (~slow.outside).any():
        slow = slow[~slow.outside]
        for k, xyz in enumerate(p.transform(slow.xstar)[:, c]):
            _plot(ax, xyz[None], "^", markersize=2.5, color=colors.get(slow.labels[k], "0.5"),
                  markerfacecolor="none", markeredgewidth=0.5, zorder=3)
        handles.append(Line2D([], [], linestyle="", marker="^", markersize=2.5, color="black",
                              markerfacecolor="none", label="slow points"))
    if len(conditions) > 1:
        handles += [Line2D([], [], linestyle="", marker="o", markersize=4, color=colors[label],
                           label=f"input: {label or 'zero'}") for label in conditions]
    return handles


#: Colour of each point class in the eigenvalue and time-constant panels.
CLASS_COLORS = {"stable": "#0072B2", "marginal": "#009E73", "saddle": "#D55E00",
                "unstable": "#CC79A7"}


def eigenvalues(results, ax=None):
    """Each fixed point's Jacobian eigenvalues coloured by the point's class, those along
    the mean trajectories in grey and the recurrent linear map's where the network has
    one, with the unit circle."""
    res = _results(results)
    ax = _axes(ax, width=SINGLE_COLUMN / 2, height=SINGLE_COLUMN / 2)
    theta = np.linspace(0, 2 * np.pi, 200)
    ax.plot(np.cos(theta), np.sin(theta), color="0.6", linewidth=0.6)
    if "linearization" in res:
        lam = res.get("linearization").eigvals.ravel()
        ax.scatter(lam.real, lam.imag, s=3, color="0.8", label="along trajectories", linewidths=0,
                   rasterized=True)  # thousands of points: an image inside PDF and SVG
    if "spectrum" in res:
        lam = res.spectrum().eigvals_map
        ax.scatter(lam.real, lam.imag, s=6, marker="x", color="0.4", label="W_rec map",
                   linewidths=0.5)
    if "fixed_points" in res:
        fps, _ = _inside(res)
        for kind, color in CLASS_COLORS.items():
            lam = fps.eigval_J_xstar[fps.stability == kind].ravel()
            if len(lam):
                ax.scatter(lam.real, lam.imag, s=4, color=color, label=f"{kind} points",
                           linewidths=0, zorder=3)
    ax.set_aspect("equal")
    ax.set_xlabel("Re λ")
    ax.set_ylabel("Im λ")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=5)
    return ax


def _attractors(res):
    """The stable and marginal fixed points inside the visited region."""
    fps, _ = _inside(res)
    return fps[np.isin(fps.stability, ("stable", "marginal"))]


def _point_names(fps):
    """A short name for each point: its row, and its input condition when there are several."""
    several = len(set(fps.labels.tolist())) > 1
    return [f"{label or 'zero'} #{k}" if several else f"#{k}" for k, label in enumerate(fps.labels)]


def time_constants(results, ax=None, *, n_modes=10):
    """The slowest time constants at each attractor (stable or marginal point inside the
    visited region), coloured by its class, with those of the recurrent linear map where
    the network has one."""
    res = _results(results)
    ax = _axes(ax, width=SINGLE_COLUMN / 2, height=45)
    dt = float(res.attrs.get("dt", 1.0))
    if "spectrum" in res:
        s = res.spectrum()
        tau = s.time_constants if s.dt is not None else s.time_constants_steps
        decaying = np.sort(tau[tau > 0])[::-1][:n_modes]
        ax.plot(np.arange(1, len(decaying) + 1), decaying, "x--", color="0.4", markersize=3,
                linewidth=0.6, label="W_rec map")
    if "fixed_points" in res:
        points = _attractors(res)
        for kind in ("stable", "marginal"):
            rows = np.flatnonzero(points.stability == kind)
            for i, k in enumerate(rows):
                tau = np.sort(np.abs(points.time_constants[k]))[::-1][:n_modes]
                ax.plot(np.arange(1, len(tau) + 1), tau, "-", color=CLASS_COLORS[kind],
                        alpha=0.6, linewidth=0.8,
                        label=f"{len(rows)} {kind} point{'s' * (len(rows) > 1)}" if i == 0 else None)
    ax.set_yscale("log")
    ax.set_xlabel("mode (slowest first)")
    ax.set_ylabel(f"time constant ({'s' if dt != 1.0 else 'steps'})")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_title("time constants per attractor")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="best", fontsize=5)  # where it hides the fewest points
    return ax


def alignment(results, ax=None, *, n_modes=3):
    """How the slowest modes of each attractor align with the inputs and the readout.

    For each attractor's ``n_modes`` slowest modes, the cosine between the mode's left
    eigenvector and each input's direction ``dF/du`` (how directly the input drives
    it), and between its right eigenvector and each readout direction (how strongly it
    shows in the output). The readout directions are fit from the recording (least
    squares of the outputs on at most 4,096 recorded hidden states), so every network
    has them.
    """
    res = _results(results)
    ax = _axes(ax, width=SINGLE_COLUMN / 2, height=45)
    points = _attractors(res)[:6]
    hidden = np.asarray(res.hidden)
    hidden = hidden.reshape(-1, hidden.shape[-1])
    outputs = np.asarray(res.outputs).reshape(len(hidden), -1)
    rows = np.linspace(0, len(hidden) - 1, min(len(hidden), 4096)).astype(int)  # plenty
    hidden, outputs = hidden[rows], outputs[rows]
    readout = np.linalg.lstsq(hidden - hidden.mean(0), outputs - outputs.mean(0),
                              rcond=None)[0].T  # (n_out, N), an intercept aside
    unit = lambda v: v / np.maximum(np.linalg.norm(v, axis=0, keepdims=True), 1e-300)  # noqa: E731
    rows, names = [], []
    for k, name in zip(range(len(points)), _point_names(points)):
        order = np.argsort(-np.abs(points.eigval_J_xstar[k]))[:n_modes]
        left = unit(points.left_eigvec_J_xstar[k][:, order])
        right = unit(points.eigvec_J_xstar[k][:, order])
        drive = np.abs(left.conj().T @ unit(points.dFdu[k]))
        shows = np.abs((unit(readout.T).T @ right).T)
        rows += list(np.hstack([drive, shows]))
        names += [f"{name} mode {m + 1}" for m in range(len(order))]
    inputs = list(res.attrs.get("input_names", [])) or [f"in {i}" for i in range(points.dFdu.shape[2])]
    columns = [f"{i}" for i in inputs] + [f"out {o + 1}" for o in range(outputs.shape[1])]
    image = ax.imshow(np.array(rows).reshape(-1, len(columns)), cmap="Greys", vmin=0, vmax=1,
                      aspect="auto", interpolation="nearest")
    ax.set_xticks(range(len(columns)), columns, rotation=90)
    ax.set_yticks(range(len(names)), names, fontsize=4)
    ax.axvline(len(inputs) - 0.5, color=COLORS[5], linewidth=0.8)
    ax.figure.colorbar(image, cax=ax.inset_axes((1.04, 0.1, 0.05, 0.8)), label="|cos|")
    ax.set_title("slow modes: inputs | readout")
    return ax


#: Marker of each bifurcation kind in the bifurcation diagram.
BIFURCATION_MARKERS = {"fold": "v", "pitchfork": "P", "period_doubling": "X",
                       "neimark_sacker": "*"}


#: The bifurcation diagram's s axis turns logarithmic (linear near 0) when half of the
#: bifurcations lie below this s.
CROWDED_S = 0.05


def bifurcation_diagram(results, ax=None, *, component=0):
    """The fixed points followed along each input path (the continuation stage): a
    principal component of the state against the position on the path, ``s`` (0: zero
    input, 1: the path's input); stable stretches solid, the rest dashed, one colour per
    path; bifurcations marked by kind. Where most bifurcations come at small inputs (half
    below :data:`CROWDED_S`), ``s`` is drawn on a log scale, linear below the first."""
    from matplotlib.lines import Line2D

    res = _results(results)
    ax = _axes(ax, width=SINGLE_COLUMN / 2, height=45)
    cont = res.get("continuation")
    p = res.pca()
    paths = list(dict.fromkeys(cont.path.tolist()))
    colors = dict(zip(paths, cycle(COLORS)))
    for b in range(len(cont)):
        rows = slice(*cont.offsets[b:b + 2])
        s, y = cont.s[rows], p.transform(cont.states[rows])[:, component]
        stable = cont.stability[rows] == "stable"
        for mask, style in ((stable, "-"), (~stable, "--")):
            ax.plot(s, np.where(mask, y, np.nan), style, color=colors[cont.path[b]], linewidth=0.8)
    bif = cont.bifurcations
    for kind, marker in BIFURCATION_MARKERS.items():
        rows = np.flatnonzero(bif.kind == kind)
        if len(rows):
            ax.plot(bif.s[rows], p.transform(bif.states[rows])[:, component], marker,
                    color="black", markersize=4, linestyle="", zorder=3)
    handles = [Line2D([], [], color=colors[path], label=path) for path in paths]
    handles += [Line2D([], [], color="black", marker=BIFURCATION_MARKERS[kind], linestyle="",
                       markersize=4, label=kind.replace("_", "-"))
                for kind in BIFURCATION_MARKERS if (bif.kind == kind).any()]
    ax.set_xlim(0, 1)
    label = "position on the input path, s"
    found = bif.s[bif.s > 0]
    if len(found) and np.median(found) < CROWDED_S:  # most at small inputs: spread them out
        linear = 10.0 ** np.floor(np.log10(found.min()))
        ax.set_xscale("symlog", linthresh=linear, linscale=1.0)
        ax.set_xticks([0, linear, 1], ["0", f"{linear:g}", "1"])  # decades as minor ticks
        label += f" (log above {linear:g})"
    ax.set_xlabel(label)
    ax.set_ylabel(f"PC{component + 1}")
    ax.set_title("fixed points as the input grows")
    if handles:
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=5)
    return ax


def topology_graph(results, ax=None):
    """The fixed-point graph inside the visited region: each saddle's unstable branches
    point to what they reach (networkx layout, seeded); nodes coloured by class."""
    import networkx as nx

    res = _results(results)
    ax = _axes(ax, width=SINGLE_COLUMN / 2, height=45)
    g = res.topology()
    position = nx.spring_layout(g, seed=0)
    colors = [CLASS_COLORS.get(g.nodes[n].get("stability"), "0.6") for n in g.nodes]
    nx.draw_networkx_edges(g, position, ax=ax, width=0.5, arrowsize=5, edge_color="0.4",
                           node_size=12)
    nx.draw_networkx_nodes(g, position, ax=ax, node_size=12, node_color=colors, linewidths=0)
    ax.set_axis_off()
    from matplotlib.lines import Line2D

    kinds = sorted({g.nodes[n].get("stability", "") for n in g.nodes} & set(CLASS_COLORS),
                   key=list(CLASS_COLORS).index)
    ax.legend(handles=[Line2D([], [], linestyle="", marker="o", markersize=3,
                              color=CLASS_COLORS[k], label=k) for k in kinds],
              loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=5)
    ax.set_title(f"fixed-point graph: {sum(d.get('stability') == 'saddle' for _, d in g.nodes(data=True))}"
                 " saddles")
    return ax


def speed(results, ax=None):
    """Distribution of the speed q of fixed and slow points (log10), those outside the
    visited region apart."""
    res = _results(results)
    ax = _axes(ax, width=SINGLE_COLUMN / 2, height=45)
    fps = res.fixed_points()
    slow = fps.slow_points if fps.slow_points is not None else fps[:0]
    floor = 1e-35
    groups = {"fixed points": fps.qstar[~fps.outside], "slow points": slow.qstar[~slow.outside],
              "outside the visited region": np.concatenate([fps.qstar[fps.outside],
                                                            slow.qstar[slow.outside]])}
    groups = {name: np.log10(np.maximum(q, floor)) for name, q in groups.items() if len(q)}
    values = list(groups.values())
    bins = np.linspace(min(map(np.min, values)) - 1, max(map(np.max, values)) + 1, 30) if values else 10
    for (name, v), color in zip(groups.items(), (COLORS[0], COLORS[1], "0.6")):
        ax.hist(v, bins=bins, color=color, alpha=0.8, label=f"{name} ({len(v)})")
    ax.set_xlabel("log10 q")
    ax.set_ylabel("points")
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=5)
    return ax


def trial_traces(results, axes=None, *, trials_per_type=1):
    """Inputs (top), and targets (dashed) with outputs (solid, bottom), for example trials
    of each trial type; ``axes`` is a pair of Axes."""
    res = _results(results)
    if axes is None:
        axes = subplots(width=SINGLE_COLUMN, height=55, nrows=2, sharex=True)[1]
    dt = float(res.attrs.get("dt", 1.0))
    names = list(res.attrs.get("input_names", []))
    types = res.trial_types
    colors = _type_colors(types)
    for kind in types:
        sub = res.select(trial_type=kind)
        for i in range(min(trials_per_type, len(sub))):
            x, y = sub.inputs[i], sub.outputs[i]
            t = np.arange(len(x)) * dt
            for j in range(x.shape[1]):
                axes[0].plot(t, x[:, j] + 1.5 * j, color=colors[kind], linewidth=0.6)
            axes[1].plot(t, y[:, 0], color=colors[kind], label=kind)
            if sub.targets is not None:
                axes[1].plot(t, sub.targets[i][:, 0], "--", color=colors[kind], linewidth=0.6)
    axes[0].set_yticks([1.5 * j for j in range(len(names))], names)
    axes[0].set_ylabel("inputs")
    axes[1].set_ylabel("output 1")
    axes[1].set_xlabel("time (s)" if dt != 1.0 else "time (steps)")
    axes[1].legend(loc="upper left", ncol=min(len(types), 4))
    return axes


def weights(results, ax=None):
    """The recurrent weights ``W_rec`` (rows: from, columns: to) or, for networks without
    them (gated and custom cells), the effective connectivity: the Jacobian at the main
    attractor (rows: to, columns: from); in a diverging colour map centred at zero. The
    title says which."""
    res = _results(results)
    ax = _axes(ax, width=SINGLE_COLUMN / 2, height=SINGLE_COLUMN / 2)
    if "network/W_rec" in res.file:
        W, title, labels = res.file["network/W_rec"][()], "W_rec", ("to", "from")
    elif "linearization" in res:
        lin = res.get("linearization")
        W, labels = lin.effective_connectivity, ("from", "to")
        title = "Jacobian at attractor"
    else:
        raise ValueError(f"{res.file.filename} holds neither recurrent weights (network/W_rec) "
                         "nor a linearization to draw")
    limit = np.abs(W).max() or 1.0
    image = ax.imshow(W, cmap="RdBu_r", vmin=-limit, vmax=limit, interpolation="nearest")
    ax.figure.colorbar(image, ax=ax, shrink=0.8, label="weight" if labels[0] == "to" else "dF_i/dh_j")
    ax.set_xlabel(f"{labels[0]} unit")
    ax.set_ylabel(f"{labels[1]} unit")
    ax.set_title(title)
    return ax


def explained_variance(results, ax=None):
    """Variance explained by each principal component, and cumulatively."""
    res = _results(results)
    ax = _axes(ax, width=SINGLE_COLUMN / 2, height=45)
    ratio = res.pca().explained_variance_ratio_
    k = np.arange(1, len(ratio) + 1)
    ax.bar(k, ratio, color=COLORS[0], width=0.7, label="each")
    ax.plot(k, np.cumsum(ratio), "o-", color=COLORS[1], markersize=2, label="cumulative")
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("component")
    ax.set_ylabel("variance explained")
    ax.legend(loc="center right")
    return ax


@dataclass(frozen=True)
class Panel:
    """A registered panel.

    Attributes
    ----------
    name : str
        Its file name under ``figures/``.
    draw : callable
        ``draw(results, ax)`` (a pair of Axes for two-row panels).
    needs : tuple of str
        Groups of the results file it draws from.
    size : (float, float)
        Width and height in millimetres, when drawn alone.
    options : dict
        Keyword arguments for ``draw``.
    projection : str or None
        ``"3d"`` for 3-D panels.
    nrows : int
        Axes it draws on (stacked, sharing x).
    """

    name: str
    draw: Callable
    needs: tuple = ()
    size: tuple = (SINGLE_COLUMN, 65)
    options: dict = None
    projection: str = None
    nrows: int = 1

    def __call__(self, results, ax):
        return self.draw(results, ax, **(self.options or {}))

    def figure(self, results):
        """A figure of this panel alone."""
        if self.nrows > 1:
            fig, axes = subplots(*self.size, nrows=self.nrows, sharex=True)
            self(results, axes)
        else:
            fig = plt.figure(figsize=mm(*self.size))
            self(results, fig.add_subplot(projection=self.projection))
        return fig


def _trial_traces(results, ax):
    return trial_traces(results, axes=ax)


#: Every panel, by name; :func:`draw_all` draws each, :func:`overview` lays out the main ones.
#:
#: :meta hide-value:
PANELS = {panel.name: panel for panel in (
    Panel("trajectories", trajectories, ("pca",)),
    Panel("trajectories_3d", trajectories, ("pca",), (SINGLE_COLUMN, 70),
          {"components": (0, 1, 2)}, "3d"),
    Panel("eigenvalues", eigenvalues, ("linearization",)),
    Panel("time_constants", time_constants, ("fixed_points",)),
    Panel("alignment", alignment, ("fixed_points",)),
    Panel("topology_graph", topology_graph, ("topology",)),
    Panel("bifurcation_diagram", bifurcation_diagram, ("continuation", "pca")),
    Panel("speed", speed, ("fixed_points",)),
    Panel("trial_traces", _trial_traces, ("trials",), (SINGLE_COLUMN, 55), nrows=2),
    Panel("weights", weights, ("linearization",)),
    Panel("explained_variance", explained_variance, ("pca",)),
)}

#: The overview layout of a task without one of its own: panels on a 3 x 3 grid as
#: (panel, row, columns), led by the plane of PCs 1 and 2 (the integrator's line
#: attractor, tDNMS's trial types).
GENERIC = (("trajectories", 0, slice(0, 2)), ("trajectories_3d", 0, 2),
           ("eigenvalues", 1, 0), ("time_constants", 1, 1), ("topology_graph", 1, 2),
           ("alignment", 2, 0), ("bifurcation_diagram", 2, 1), ("speed", 2, 2))
#: Overview layouts by task, as :data:`GENERIC` (the layout of other tasks); the
#: flip-flop leads with its cube in 3-D.
OVERVIEWS = {
    "flipflop": (("trajectories_3d", 0, slice(0, 2)), ("trajectories", 0, 2), *GENERIC[2:]),
    "integrator": GENERIC,
    "tdnms": GENERIC,
}


def overview(results):
    """A double-column overview figure of one analysed network, laid out for its task
    (:data:`OVERVIEWS`), panels lettered, with a title that names the network.

    Each panel's Axes (and any colour bar it adds) carry the label ``"panel <letter>"``,
    which :func:`overlaps` uses to check the layout.
    """
    res = _results(results)
    fig = plt.figure(figsize=mm(DOUBLE_COLUMN, 170), layout="constrained")
    network = res.attrs.get("network", {})
    model = Path(res.attrs.get("model_path") or "network from weights").stem
    fig.suptitle(f"{model}: {network.get('kind', '')}, {network.get('n_units', '?')} units",
                 fontsize=7, x=0.01, ha="left")
    grid = fig.add_gridspec(3, 3)
    layout = OVERVIEWS.get(res.attrs.get("task"), GENERIC)
    for letter, (name, row, column) in zip("abcdefghij", layout):
        panel = PANELS[name]
        before = set(fig.axes)
        ax = fig.add_subplot(grid[row, column], projection=panel.projection)
        panel(res, ax)
        if ax.get_legend() and name.startswith("trajectories") and name != layout[0][0]:
            ax.get_legend().remove()  # the leading state-space panel carries it
        panel_letter(ax, letter)
        for added in set(fig.axes) - before:
            added.set_label(f"panel {letter}")
    return fig


def overlaps(fig):
    """Text of one panel that overlaps another panel's text or plotting area, and legends
    that cover their own panel's text.

    Panels are told apart by their Axes' labels (as :func:`overview` sets them); the
    figure's title counts as a panel of its own. Only drawn text counts: tick labels
    outside an axis' view limits are not.

    Returns
    -------
    list of (str, str, str)
        ``(panel, text, what it overlaps)`` for each overlap; empty when the layout is clean.
    """
    fig.draw_without_rendering()
    renderer = fig.canvas.get_renderer()
    found, texts, areas, legends = [], {}, {}, {}
    for ax in fig.axes:
        name = ax.get_label() or repr(ax)
        texts.setdefault(name, []).extend(_drawn_texts(ax))
        areas.setdefault(name, []).append(ax.patch.get_window_extent(renderer))
        if ax.get_legend() is not None:
            legends.setdefault(name, []).append(ax.get_legend())
    for ax in fig.axes:  # within a panel: one Axes' text on another's area (a colour bar)
        name = ax.get_label() or repr(ax)
        others = [a.patch.get_window_extent(renderer) for a in fig.axes
                  if a is not ax and (a.get_label() or repr(a)) == name]
        found += [(name, t.get_text(), f"{name}'s other axes") for t in _drawn_texts(ax)
                  if any(t.get_window_extent(renderer).overlaps(b) for b in others)]
    in_axes = {id(t) for items in texts.values() for t in items}
    texts["title"] = [t for t in _drawn_texts(fig) if id(t) not in in_axes]
    areas["title"] = []
    boxes = {name: [(t, t.get_window_extent(renderer)) for t in items]
             for name, items in texts.items()}
    for name, items in boxes.items():
        own_legends = legends.get(name, [])
        legend_texts = {id(t) for legend in own_legends for t in _drawn_texts(legend)}
        for text, box in items:
            for other in boxes:
                if other != name and any(box.overlaps(b) for b in
                                         [b for _, b in boxes[other]] + areas[other]):
                    found.append((name, text.get_text(), other))
            if id(text) not in legend_texts and any(
                    box.overlaps(legend.get_window_extent(renderer)) for legend in own_legends):
                found.append((name, text.get_text(), f"{name}'s legend"))
    return found


def _drawn_texts(artist):
    """The non-empty visible texts under ``artist``, leaving out the labels of ticks that
    lie outside their axis' view limits (matplotlib keeps but does not draw them)."""
    from matplotlib.axis import Axis
    from matplotlib.text import Text

    hidden = set()
    for axis in artist.findobj(Axis):
        low, high = sorted(axis.get_view_interval())
        for tick in axis.get_major_ticks() + axis.get_minor_ticks():
            if not low <= tick.get_loc() <= high:
                hidden |= {id(tick.label1), id(tick.label2)}
    return [t for t in artist.findobj(Text)
            if t.get_visible() and t.get_text().strip() and id(t) not in hidden]


def check_panels(panels=None):
    """The panel names to draw: ``panels`` checked against :data:`PANELS` and
    ``"overview"``, or all of them (None).

    >>> check_panels(["overview", "speed"])
    ['overview', 'speed']
    """
    chosen = [*PANELS, "overview"] if panels is None else list(panels)
    unknown = sorted(set(chosen) - {*PANELS, "overview"})
    if unknown or not chosen:
        raise ValueError(f"unknown panel {', '.join(unknown) or '(none given)'}; choose from "
                         f"{', '.join([*PANELS, 'overview'])}")
    return chosen


def draw_all(results, out, formats=("pdf", "svg", "png"), panels=None, *, helpers=None):
    """Panels of :data:`PANELS` and the overview, each as its own figure file under ``out``.

    Parameters
    ----------
    results : path-like or Results
    out : path-like
        Folder for the files, ``<panel>.<format>``.
    formats : sequence of str, default ("pdf", "svg", "png")
    panels : sequence of str, optional
        Names from :data:`PANELS` and ``"overview"``; by default all of them.
    helpers : Helpers, optional
        Processes that draw beside this one: they take the largest figures first and
        this process the smallest, until none is left. A figure that a helper fails to
        draw is drawn here (so its error, if any, is raised here).

    Returns
    -------
    list of Path
        The files written, in the order of ``panels``.

    Raises
    ------
    ValueError
        An unknown panel name, or a file that lacks what a chosen panel needs (no panel
        is left out silently).
    """
    res = _results(results)
    chosen = check_panels(panels)
    layout = OVERVIEWS.get(res.attrs.get("task"), GENERIC)
    drawn = {name for name in chosen if name in PANELS} | (
        {name for name, *_ in layout} if "overview" in chosen else set())
    missing = {name: [n for n in PANELS[name].needs if n not in res.file] for name in drawn}
    missing = {name: needs for name, needs in missing.items() if needs}
    if missing:
        raise ValueError(f"{res.file.filename} lacks what panels need: " + "; ".join(
            f"{name} needs {', '.join(needs)}" for name, needs in sorted(missing.items())))
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    jobs = sorted(chosen, key=lambda name: name != "overview")  # the largest first
    helpers = helpers if helpers is not None and res.path is not None else Helpers(0)
    with paper_style():
        while jobs:
            for helper in helpers.idle():
                if jobs:
                    helpers.give(helper, {"results": str(res.path), "out": str(out),
                                          "formats": list(formats), "panel": jobs.pop(0)})
            if jobs:
                _draw(res, jobs.pop(), out, formats)
        for job in helpers.finish():  # the figures that a helper did not draw
            _draw(res, job["panel"], out, formats)
    return [out / f"{name}.{fmt}" for name in chosen for fmt in formats]


def _draw(res, name, out, formats):
    fig = overview(res) if name == "overview" else PANELS[name].figure(res)
    try:
        save(fig, Path(out) / name, formats)
    finally:
        plt.close(fig)


class Helpers:
    """Processes that draw figures for :func:`draw_all` beside the calling process.

    Each is a fresh Python interpreter (never a fork: a process that has TensorFlow or
    JAX loaded cannot be forked safely) that imports this module as soon as it starts,
    so that starting them before the results are ready hides that time. A helper that
    fails or dies draws no more, and its figure is drawn by the caller. All are stopped
    on leaving the ``with`` block.

    Parameters
    ----------
    n : int
        How many (0: none; everything is drawn by the caller).

    Examples
    --------
    >>> with Helpers(1) as helpers:   # doctest: +SKIP
    ...     draw_all("results.h5", "figures", helpers=helpers)
    """

    def __init__(self, n):
        import os
        import queue
        import subprocess
        import sys
        import threading

        self.answers, self.busy, self.alive = queue.Queue(), {}, set()
        package = str(Path(__file__).resolve().parent.parent)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(
            filter(None, [package, os.environ.get("PYTHONPATH")]))}
        for _ in range(n):
            process = subprocess.Popen(
                [sys.executable, "-c", "from dynan.figures import _serve; _serve()"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                text=True, env=env)
            self.alive.add(process)
            threading.Thread(target=self._listen, args=(process,), daemon=True).start()

    def _listen(self, process):
        for line in process.stdout:
            self.answers.put((process, line.strip()))
        self.answers.put((process, None))  # it exited

    def idle(self, wait=False):
        """The helpers that have answered (ready, or done) since the last call, waiting
        for an answer if ``wait``."""
        import queue

        idle = []
        while True:
            try:
                process, answer = self.answers.get(block=wait)
            except queue.Empty:
                return idle
            wait = False
            if answer is None:
                self.alive.discard(process)
            else:
                self.busy.pop(process, None)
                idle.append(process)

    def give(self, helper, job):
        """Send a job (``results``, ``out``, ``formats``, ``panel``) to an idle helper."""
        import json

        self.busy[helper] = job
        try:
            helper.stdin.write(json.dumps(job) + "\n")
            helper.stdin.flush()
        except OSError:
            pass  # it died: its end of output hands the job back

    def finish(self):
        """Wait for the helpers' jobs; returns those that none of them did."""
        while set(self.busy) & self.alive:
            self.idle(wait=True)
        return [self.busy.pop(helper) for helper in list(self.busy)]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for process in self.alive | set(self.busy):
            process.kill()
            process.wait()
        return False


def _serve():
    """A helper process of :class:`Helpers`: answers ``ready``, then draws each job
    (a line of JSON) from its standard input and answers ``done``."""
    import json
    import sys

    print("ready", flush=True)
    with paper_style():
        for line in sys.stdin:
            job = json.loads(line)
            with Results(job["results"]) as res:
                _draw(res, job["panel"], job["out"], job["formats"])
            print("done", flush=True)
