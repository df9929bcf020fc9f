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
from pathlib import Path
from typing import Callable

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


def _inside(res):
    """The stored fixed points inside the visited region, and how many lie outside it."""
    fps = res.fixed_points()
    return fps[~fps.outside], int(fps.outside.sum())


def _type_colors(labels):
    return {label: COLORS[i % len(COLORS)] for i, label in enumerate(labels)}


def trajectories(results, ax=None, *, components=(0, 1), fixed_points=True, mode_length=0.04):
    """Mean trajectory of each trial type in PC space, fixed points overlaid.

    Stable fixed points are filled, the others open, with their unstable modes drawn
    as short lines; points outside the visited region are left out and the title gives
    their count. Pass three components and a 3-D Axes (or none) for a 3-D panel.
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
    if fixed_points and "fixed_points" in res:
        fps, far = _inside(res)
        if far:
            ax.set_title(f"{far} fixed points outside the visited region not shown", fontsize=5)
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
    """Eigenvalues of the Jacobians at the fixed points and along the mean trajectories,
    and of the recurrent linear map where the network has one, with the unit circle."""
    res = _results(results)
    ax = _axes(ax, width=SINGLE_COLUMN / 2, height=SINGLE_COLUMN / 2)
    theta = np.linspace(0, 2 * np.pi, 200)
    ax.plot(np.cos(theta), np.sin(theta), color="0.6", linewidth=0.6)
    if "linearization" in res:
        lam = res.get("linearization").eigvals.ravel()
        ax.scatter(lam.real, lam.imag, s=3, color="0.75", label="along trajectories",
                   linewidths=0)
    if "fixed_points" in res:
        fps, _ = _inside(res)
        if len(fps):
            lam = fps.eigval_J_xstar.ravel()
            ax.scatter(lam.real, lam.imag, s=4, color=COLORS[5], label="fixed points inside",
                       linewidths=0)
    if "spectrum" in res:
        lam = res.spectrum().eigvals_map
        ax.scatter(lam.real, lam.imag, s=6, marker="x", color=COLORS[0], label="W_rec map",
                   linewidths=0.5)
    ax.set_aspect("equal")
    ax.set_xlabel("Re λ")
    ax.set_ylabel("Im λ")
    ax.set_title("Jacobian eigenvalues")
    ax.legend(loc="upper left")
    return ax


def time_constants(results, ax=None, *, n_modes=10):
    """Time constants of the slowest modes: of the Jacobian at the main attractor, of each
    stable fixed point, and of the recurrent linear map where the network has one."""
    res = _results(results)
    ax = _axes(ax, width=SINGLE_COLUMN / 2, height=45)
    dt = float(res.attrs.get("dt", 1.0))
    unit = "s" if dt != 1.0 else "steps"
    if "spectrum" in res:
        s = res.spectrum()
        tau = s.time_constants if s.dt is not None else s.time_constants_steps
        decaying = np.sort(tau[tau > 0])[::-1][:n_modes]
        ax.plot(np.arange(1, len(decaying) + 1), decaying, "o-", color=COLORS[4], markersize=2,
                label="W_rec map")
    if "fixed_points" in res:
        fps, _ = _inside(res)
        stable = fps[fps.is_stable]
        for k in range(len(stable)):
            tau = stable.time_constants[k][:n_modes]
            ax.plot(np.arange(1, len(tau) + 1), tau, "-", color=COLORS[5], alpha=0.4,
                    label="stable fixed points" if k == 0 else None)
    if "linearization" in res:
        tau = res.get("linearization").time_constants[:n_modes]
        ax.plot(np.arange(1, len(tau) + 1), tau, "s-", color=COLORS[0], markersize=2,
                label="main attractor")
    ax.set_yscale("log")
    ax.set_xlabel("mode (slowest first)")
    ax.set_ylabel(f"time constant ({unit})")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.legend(loc="upper right")
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
    """The recurrent weights ``W_rec`` (rows: from, columns: to) or, for networks without
    them (gated and custom cells), the effective connectivity: the Jacobian at the main
    attractor (rows: to, columns: from); in a diverging colour map centred at zero. The
    title says which."""
    res = _results(results)
    ax = _axes(ax, width=SINGLE_COLUMN / 2, height=SINGLE_COLUMN / 2)
    if "network/W_rec" in res.file:
        W, title, labels = res.file["network/W_rec"][()], "recurrent weights W_rec", ("to", "from")
    elif "linearization" in res:
        lin = res.get("linearization")
        W, labels = lin.effective_connectivity, ("from", "to")
        title = "effective connectivity\n(Jacobian at the main attractor)"
    else:
        raise ValueError(f"{res.file.filename} holds neither recurrent weights (network/W_rec) "
                         "nor a linearization to draw")
    limit = np.abs(W).max() or 1.0
    image = ax.imshow(W, cmap="RdBu_r", vmin=-limit, vmax=limit, interpolation="nearest")
    ax.figure.colorbar(image, ax=ax, shrink=0.8, label="weight" if labels[0] == "to" else "dF_i/dh_j")
    ax.set_xlabel(f"{labels[0]} unit")
    ax.set_ylabel(f"{labels[1]} unit")
    ax.set_title(title, fontsize=6)
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
PANELS = {panel.name: panel for panel in (
    Panel("trajectories", trajectories, ("pca",)),
    Panel("trajectories_3d", trajectories, ("pca",), (SINGLE_COLUMN, 70),
          {"components": (0, 1, 2)}, "3d"),
    Panel("eigenvalues", eigenvalues, ("linearization",)),
    Panel("time_constants", time_constants, ("linearization",)),
    Panel("speed", speed, ("fixed_points",)),
    Panel("trial_traces", _trial_traces, ("trials",), (SINGLE_COLUMN, 55), nrows=2),
    Panel("weights", weights, ("linearization",)),
    Panel("explained_variance", explained_variance, ("pca",)),
)}

#: The overview's layout: (panel, rows, columns) of a 2 x 4 grid.
OVERVIEW = (("trajectories", 0, slice(0, 2)), ("trajectories_3d", 0, 2), ("eigenvalues", 0, 3),
            ("explained_variance", 1, 0), ("time_constants", 1, 1), ("speed", 1, 2),
            ("weights", 1, 3))


def overview(results):
    """A double-column overview figure of one analysed network, panels lettered, with a
    title that names the network and says what its connectivity panel shows."""
    res = _results(results)
    fig = plt.figure(figsize=mm(DOUBLE_COLUMN, 120), layout="constrained")
    network = res.attrs.get("network", {})
    model = Path(res.attrs.get("model_path") or "network from weights").stem
    shows = ("recurrent weights W_rec" if "network/W_rec" in res.file
             else "no recurrent weights: Jacobians stand in for them (c, e, g)")
    fig.suptitle(f"{model}: {network.get('kind', '')}, {network.get('n_units', '?')} units; "
                 f"{shows}", fontsize=7, x=0.01, ha="left")
    grid = fig.add_gridspec(2, 4)
    for letter, (name, row, column) in zip("abcdefg", OVERVIEW):
        panel = PANELS[name]
        ax = fig.add_subplot(grid[row, column], projection=panel.projection)
        panel(res, ax)
        if panel.projection == "3d":
            ax.get_legend().remove()  # panel a carries it
        panel_letter(ax, letter, x=-0.1 if panel.draw is trajectories else -0.18)
    return fig


def draw_all(results, out, formats=("pdf", "svg", "png")):
    """Every panel of :data:`PANELS` whose data the file holds, and the overview, each as
    its own figure file under ``out``.

    Raises
    ------
    ValueError
        Where the file lacks what a panel needs (no panel is left out silently).
    """
    res = _results(results)
    missing = {name: [n for n in panel.needs if n not in res.file]
               for name, panel in PANELS.items()}
    missing = {name: needs for name, needs in missing.items() if needs}
    if missing:
        raise ValueError(f"{res.file.filename} lacks what panels need: " + "; ".join(
            f"{name} needs {', '.join(needs)}" for name, needs in missing.items()))
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    with paper_style():
        for name, panel in PANELS.items():
            fig = panel.figure(res)
            written += save(fig, out / name, formats)
            plt.close(fig)
        fig = overview(res)
        written += save(fig, out / "overview", formats)
        plt.close(fig)
    return written
