"""Figure panels for papers, drawn from a results file (never by recomputing).

Each panel function takes a results file (path or :class:`~dynan.Results`) and an
optional Axes, draws one panel and returns the Axes. :func:`overview` assembles a
multi-panel figure; :func:`save` writes PDF (TrueType text), SVG (text as text) and
PNG. Sizes are in millimetres (``SINGLE_COLUMN``, ``DOUBLE_COLUMN``).

Importing this module does not import TensorFlow.

Examples
--------
>>> from dynan import figures
>>> with figures.paper_style():                                   # doctest: +SKIP
...     fig, ax = figures.subplots(width=figures.SINGLE_COLUMN, height=60)
...     figures.trajectories("tdnms.h5", ax=ax)
...     figures.save(fig, "trajectories")
"""

from contextlib import contextmanager
from pathlib import Path

import matplotlib.pyplot as plt
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
    "font.sans-serif": ["Arial", "Helvetica", "DejaVu Sans"],
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

PANELS = ("trajectories", "trajectories_3d", "eigenvalues", "time_constants", "speed",
          "trial_traces", "weights", "explained_variance")


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


def panel_letter(ax, letter, *, x=-0.18, y=1.08):
    """Put a bold panel letter at the top left of ``ax``."""
    text = getattr(ax, "text2D", ax.text)  # 3-D axes place 2-D text with text2D
    text(x, y, letter, transform=ax.transAxes, fontsize=9, fontweight="bold", va="bottom",
         ha="left")
    return ax


def save(fig, path, formats=("pdf", "svg", "png")):
    """Write ``fig`` as ``path.<format>`` for each format; returns the paths."""
    path = Path(path)
    written = []
    for fmt in formats:
        target = path.with_suffix(f".{fmt}")
        fig.savefig(target, format=fmt)
        written.append(target)
    return written


def _results(results):
    return results if isinstance(results, Results) else Results(results)


def _axes(ax, **kwargs):
    return ax if ax is not None else subplots(**kwargs)[1]


def _type_colors(labels):
    return {label: COLORS[i % len(COLORS)] for i, label in enumerate(labels)}


def trajectories(results, ax=None, *, components=(0, 1), fixed_points=True, mode_length=0.04):
    """Mean trajectory of each trial type in PC space, fixed points overlaid.

    Stable fixed points are filled, the others open, with their unstable modes drawn
    as short lines. Pass three components and a 3-D Axes (or none) for a 3-D panel.
    """
    res = _results(results)
    p = res.pca()
    three_d = len(components) == 3
    if ax is None:
        fig = plt.figure(figsize=mm(SINGLE_COLUMN / 2 + 10, 50))
        ax = fig.add_subplot(projection="3d" if three_d else None)
    labels = [" ".join(g) for g in p.groups.tolist()]
    colors = _type_colors(labels)
    c = list(components)
    for g, label in enumerate(labels):
        m = p.condition_means[g][:, c]
        ax.plot(*m.T, color=colors[label], label=label)
        ax.plot(*m[:1].T, "o", color=colors[label], markersize=2)
    if fixed_points and "fixed_points" in res.file:
        fps = res.fixed_points()
        if len(fps):
            xy = p.transform(fps.xstar)[:, c]
            stable = fps.is_stable
            ax.scatter(*xy[stable].T, s=14, color="black", zorder=3, label="stable")
            ax.scatter(*xy[~stable].T, s=14, facecolors="white", edgecolors="black", zorder=3,
                       linewidths=0.6, label="unstable")
            for k in np.flatnonzero(~stable):
                for m in np.flatnonzero(np.abs(fps.eigval_J_xstar[k]) > 1):
                    v = np.real(fps.eigvec_J_xstar[k][:, m])
                    direction = (v @ p.components_.T)[c]
                    size = np.linalg.norm(np.ptp(p.condition_means[..., c].reshape(-1, len(c)), axis=0))
                    scale = mode_length * size / (np.linalg.norm(direction) + 1e-12)
                    ends = np.stack([xy[k] - scale * direction, xy[k] + scale * direction])
                    ax.plot(*ends.T, color="black", linewidth=0.6)
    ax.set_xlabel(f"PC{c[0] + 1}")
    ax.set_ylabel(f"PC{c[1] + 1}")
    if three_d:
        ax.set_zlabel(f"PC{c[2] + 1}")
    ax.legend(loc="best", ncol=1 + len(labels) // 6, fontsize=5)
    return ax


def eigenvalues(results, ax=None):
    """Eigenvalues of the fixed points' Jacobians and of the recurrent linear map, in the
    complex plane with the unit circle."""
    res = _results(results)
    ax = _axes(ax, width=SINGLE_COLUMN / 2, height=SINGLE_COLUMN / 2)
    theta = np.linspace(0, 2 * np.pi, 200)
    ax.plot(np.cos(theta), np.sin(theta), color="0.6", linewidth=0.6)
    if "fixed_points" in res.file:
        fps = res.fixed_points()
        if len(fps):
            lam = fps.eigval_J_xstar.ravel()
            ax.scatter(lam.real, lam.imag, s=4, color=COLORS[5], label="fixed points", linewidths=0)
    if "spectrum" in res.file:
        lam = res.spectrum().eigvals_map
        ax.scatter(lam.real, lam.imag, s=6, marker="x", color=COLORS[0], label="W_rec map",
                   linewidths=0.5)
    ax.set_aspect("equal")
    ax.set_xlabel("Re λ")
    ax.set_ylabel("Im λ")
    ax.legend(loc="upper left")
    return ax


def time_constants(results, ax=None, *, n_modes=10):
    """Time constants of the slowest modes: of the recurrent linear map and of each
    stable fixed point."""
    res = _results(results)
    ax = _axes(ax, width=SINGLE_COLUMN / 2, height=45)
    unit = "s"
    if "spectrum" in res.file:
        s = res.spectrum()
        tau = s.time_constants if s.dt is not None else s.time_constants_steps
        unit = "s" if s.dt is not None else "steps"
        decaying = np.sort(tau[tau > 0])[::-1][:n_modes]
        ax.plot(np.arange(1, len(decaying) + 1), decaying, "o-", color=COLORS[4], markersize=2,
                label="W_rec map")
    if "fixed_points" in res.file:
        fps = res.fixed_points()
        stable = fps[fps.is_stable] if len(fps) else fps
        for k in range(len(stable)):
            tau = stable.time_constants[k][:n_modes]
            ax.plot(np.arange(1, len(tau) + 1), tau, "-", color=COLORS[5], alpha=0.4,
                    label="stable fixed points" if k == 0 else None)
    ax.set_yscale("log")
    ax.set_xlabel("mode (slowest first)")
    ax.set_ylabel(f"time constant ({unit})")
    ax.legend(loc="upper right")
    return ax


def speed(results, ax=None):
    """Distribution of the speed q of fixed and slow points (log10)."""
    res = _results(results)
    ax = _axes(ax, width=SINGLE_COLUMN / 2, height=45)
    fps = res.fixed_points()
    floor = 1e-35
    values = [np.log10(np.maximum(fps.qstar, floor))]
    names = ["fixed points"]
    if fps.slow_points is not None and len(fps.slow_points):
        values.append(np.log10(fps.slow_points.qstar))
        names.append("slow points")
    bins = np.linspace(min(v.min() for v in values if len(v)) - 1,
                       max(v.max() for v in values if len(v)) + 1, 30) if any(len(v) for v in values) else 10
    for v, name, color in zip(values, names, (COLORS[0], COLORS[1])):
        ax.hist(v, bins=bins, color=color, alpha=0.8, label=f"{name} ({len(v)})")
    ax.set_xlabel("log10 q")
    ax.set_ylabel("points")
    ax.legend(loc="upper left")
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
    """The recurrent weight matrix ``W_rec`` (rows: from, columns: to), in a diverging
    colour map centred at zero."""
    res = _results(results)
    ax = _axes(ax, width=SINGLE_COLUMN / 2, height=SINGLE_COLUMN / 2)
    if "network/W_rec" not in res.file:
        raise ValueError(f"{res.file.filename} holds no recurrent weights (network/W_rec)")
    W = res.file["network/W_rec"][()]
    limit = np.abs(W).max() or 1.0
    image = ax.imshow(W, cmap="RdBu_r", vmin=-limit, vmax=limit, interpolation="nearest")
    ax.figure.colorbar(image, ax=ax, shrink=0.8, label="weight")
    ax.set_xlabel("to unit")
    ax.set_ylabel("from unit")
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


def overview(results):
    """A double-column overview figure of one analysed network, panels lettered."""
    res = _results(results)
    fig = plt.figure(figsize=mm(DOUBLE_COLUMN, 120), layout="constrained")
    grid = fig.add_gridspec(2, 4)
    layout = [  # (grid cell, panel, its options, 3-D)
        (grid[0, 0:2], trajectories, {}, False),
        (grid[0, 2], trajectories, {"components": (0, 1, 2)}, True),
        (grid[0, 3], eigenvalues, {}, False),
        (grid[1, 0], explained_variance, {}, False),
        (grid[1, 1], time_constants, {}, False),
        (grid[1, 2], speed, {}, False),
        (grid[1, 3], weights, {}, False),
    ]
    for letter, (cell, panel, options, three_d) in zip("abcdefg", layout):
        ax = fig.add_subplot(cell, projection="3d" if three_d else None)
        panel(res, ax=ax, **options)
        if three_d:
            ax.get_legend().remove()  # panel a carries it
        panel_letter(ax, letter, x=-0.1 if panel is trajectories else -0.18)
    return fig


def draw_all(results, out, formats=("pdf", "svg", "png")):
    """Every panel and the overview, each as its own figure file under ``out``."""
    res = _results(results)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    with paper_style():
        for name in PANELS:
            if name == "trial_traces":
                fig, axes = subplots(width=SINGLE_COLUMN, height=55, nrows=2, sharex=True)
                trial_traces(res, axes=axes)
            elif name == "trajectories_3d":
                fig = plt.figure(figsize=mm(SINGLE_COLUMN, 70))
                trajectories(res, ax=fig.add_subplot(projection="3d"), components=(0, 1, 2))
            else:
                fig, ax = subplots(width=SINGLE_COLUMN, height=65)
                globals()[name](res, ax=ax)
            written += save(fig, out / name, formats)
            plt.close(fig)
        fig = overview(res)
        written += save(fig, out / "overview", formats)
        plt.close(fig)
    return written
