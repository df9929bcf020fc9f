"""``report.html``: one analysed network on one page; ``index.html``: a batch of them.

The report is drawn from the results file, never by recomputing: a header naming the
network and its task, the summary tables (:class:`dynan.summary.Summary`), every figure
panel, and an interactive 3-D view of the state space (:func:`state_space`, plotly) that
rotates and zooms. The page is self-contained: plotly.js, the images (as ``data:`` URIs)
and one small style sheet are inline, so it opens offline from a file and travels alone.

Importing this module does not import TensorFlow.

Examples
--------
A recording with its PCA and fixed points, reported on (the panels are drawn here, as
the file has no ``figures/`` folder beside it):

>>> import dynan, os, tempfile
>>> from dynan.report import write_report
>>> an = dynan.load(dynan.example_model("flipflop_leaky"))
>>> path = os.path.join(tempfile.mkdtemp(), "flipflop.h5")
>>> res = an.record(dynan.tasks.flipflop(8, seed=0), path)
>>> p, fps = an.pca(n_components=3), an.fixed_points(n_inits=32)
>>> res.close()
>>> report = write_report(path)
>>> report.name
'report.html'
>>> text = report.read_text()
>>> "<h2>Fixed points</h2>" in text, 'id="state-space"' in text
(True, True)
"""

import base64
import html
import io
import os
from contextlib import nullcontext
from pathlib import Path
from urllib.parse import quote

import matplotlib.pyplot as plt
import numpy as np
import plotly.graph_objects as go

from .figures import COLORS, PANELS, flipflop_trials, paper_style
from .results import Results
from .stability import KINDS
from .summary import Summary
from .version import __version__

#: Marker of each class of fixed point in the 3-D view; saddles open circles, as in the
#: panels (WebGL draws an "x" from a font glyph, a box where the font lacks it).
SYMBOLS = {"stable": "circle", "marginal": "diamond", "saddle": "circle-open",
           "unstable": "square-open"}

STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 1200px;
       padding: 0 1em; color: #222; }
h1 { margin-bottom: 0.2em; }
h2 { margin-top: 1.6em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 0.6em 0; }
th, td { border: 1px solid #ddd; padding: 0.25em 0.6em; text-align: left; }
th { background: #f4f4f4; }
td.num { text-align: right; }
.note { color: #666; }
.panels { display: grid; grid-template-columns: repeat(auto-fill, minmax(420px, 1fr));
          gap: 1em; }
figure { margin: 0; }
figure img { width: 100%; height: auto; }
figcaption { color: #444; text-align: center; }
"""


#: The colour of the traced line and ring attractors in the 3-D view: dark grey, apart
#: from the trajectories (whose colours include black) and the light grey unstable manifolds.
MANIFOLD_COLOR = "#555555"

#: The file of plotly.js that the reports of a batch share (in the batch's folder).
PLOTLY_JS = "plotly.min.js"


def write_report(results, path=None, *, figures=None, panels=True, plotly_js=None):
    """Write the self-contained HTML report of one analysed network.

    Parameters
    ----------
    results : path-like or Results
        A results file (as :meth:`dynan.Analysis.analyze` writes it).
    path : path-like, optional
        The page to write; by default ``report.html`` beside the results file.
    figures : path-like, optional
        A folder of panel PNGs to embed (as :func:`dynan.figures.draw_all` writes them);
        by default ``figures/`` beside the results file. Where it holds none, the panels
        of :data:`dynan.figures.PANELS` whose data the file holds are drawn now.
    panels : bool, default True
        Show the panels; without them the page has the tables and the 3-D view (what
        :meth:`dynan.Analysis.analyze` writes when it draws no figures).
    plotly_js : str, optional
        Where the page loads plotly.js (for the 3-D view) from, relative to the page, as
        the reports of a batch share one copy (:func:`write_plotly_js`); by default it
        is embedded in the page (4.6 MB), which then needs no other file.

    Returns
    -------
    Path
        The page written (all or nothing).

    Raises
    ------
    ValueError
        No ``path`` for results that live in memory.

    Examples
    --------
    See the module's example; after ``dynan analyze model.keras --out results``:

    >>> write_report("results/model.h5")          # doctest: +SKIP
    PosixPath('results/report.html')
    """
    with nullcontext(results) if isinstance(results, Results) else Results(results) as res:
        if path is None and res.path is None:
            raise ValueError("these results live in memory: pass the path of the report")
        folder = None if res.path is None else res.path.parent
        path = Path(path) if path is not None else folder / "report.html"
        if figures is None and folder is not None:
            figures = folder / "figures"
        summary = Summary.from_results(res, performance=_performance(folder))
        title = _model_name(res)
        body = [f"<h1>{_escape(title)}</h1>", _header(res, summary), _tables(summary),
                "<h2>State space</h2>", _state_space_html(res, plotly_js)]
        if panels:
            body += ["<h2>Panels</h2>", _panels_html(res, figures)]
    return _write(path, _page(f"dynan report: {title}", body))


def state_space(results):
    """The interactive 3-D view of the state space, in the first three PCs.

    The trajectories (:data:`TRAJECTORIES`: for the flip-flop a few trials per final bit
    pattern, from their last pulse on; otherwise the mean trajectory of each trial type);
    the fixed points inside the visited region,
    marker by class and colour by input condition, with hover text giving the class,
    the input condition, the speed ``q`` and the slowest time constant; the saddles'
    unstable manifolds (topology stage) as thin grey lines; and the traced manifolds
    (line and ring attractors) as thick dark grey lines.

    Parameters
    ----------
    results : path-like or Results
        A results file with a PCA of at least three components.

    Returns
    -------
    plotly.graph_objects.Figure

    Examples
    --------
    >>> import dynan
    >>> from dynan.report import state_space
    >>> an = dynan.load(dynan.example_model("flipflop_leaky"))
    >>> res = an.record(dynan.tasks.flipflop(8, seed=0))
    >>> p, fps = an.pca(n_components=3), an.fixed_points(n_inits=32)
    >>> fig = state_space(res)
    >>> points = [trace for trace in fig.data if trace.mode == "markers"]
    >>> [trace.name for trace in points]                # class (input condition)
    ['stable (all)', 'saddle (all)']
    >>> points[0].text[0]                               # the hover text of one point
    'stable fixed point ...<br>input condition: all<br>q = ...e-...<br>slowest time constant: ... s'
    """
    with nullcontext(results) if isinstance(results, Results) else Results(results) as res:
        p = res.pca()
        if p.components_.shape[0] < 3:
            raise ValueError(f"the PCA has {p.components_.shape[0]} components; the 3-D view "
                             "needs 3")
        fig = go.Figure()
        paths = _trajectories(res)[0](res, p)
        for g, (name, xyz) in enumerate(paths.items()):
            fig.add_trace(_line(xyz, _escape(name), COLORS[g % len(COLORS)], 4))
        if "fixed_points" in res:
            _add_fixed_points(fig, res, p, len(paths))
        if "topology" in res:
            topo = res.get("topology")
            inside = [e for e in range(len(topo)) if not topo.outside[topo.source[e]]]
            if inside:
                fig.add_trace(_line(_joined(p.transform(topo.branch(e))[:, :3] for e in inside),
                                    f"unstable manifolds ({len(inside)} branches)", "#888888", 2))
        if "manifolds" in res:
            man = res.get("manifolds")
            for m in range(len(man)):
                kind = "ring" if man.closed[m] else "line"
                fig.add_trace(_line(p.transform(man.manifold(m))[:, :3],
                                    _escape(f"{kind} attractor ({man.labels[m] or 'all'})"),
                                    MANIFOLD_COLOR, 7))
    ratio = p.explained_variance_ratio_
    axes = {f"{axis}axis_title": f"PC{i + 1} ({ratio[i]:.0%})" for i, axis in enumerate("xyz")}
    fig.update_layout(scene=axes, height=640, margin=dict(l=0, r=0, t=40, b=0),
                      template="plotly_white", legend=dict(itemsizing="constant"))
    return fig


def write_index(reports, path):
    """Write an index page for a batch: one row per model, linking its report.

    Parameters
    ----------
    reports : iterable of dict
        One per model: ``name`` and ``status`` (as in :mod:`dynan.batch`), ``report``
        (the path of its report, or None where there is none) and optionally ``error``.
        The numbers in its row come from the ``summary.json`` beside its report.
    path : path-like
        The page to write (``index.html``); links to the reports are relative to it.

    Returns
    -------
    Path
        The page written (all or nothing).

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from dynan.report import write_index
    >>> folder = Path(tempfile.mkdtemp())
    >>> rows = [{"name": "net.keras", "status": "error", "report": None,
    ...          "error": "ValueError: no task <given>"}]
    >>> text = write_index(rows, folder / "index.html").read_text()
    >>> "no task &lt;given&gt;" in text
    True
    """
    path = Path(path)
    header = ["model", "status", "task", "performance", "units", *KINDS, "outside",
              "slowest time constant (main attractor)", "error"]
    rows = []
    for item in reports:
        name, report = item["name"], item.get("report")
        numbers = [None] * (len(header) - 3)
        if report is not None:
            link = quote(Path(os.path.relpath(report, path.parent)).as_posix())
            name = _Html(f'<a href="{_escape(link)}">{_escape(name)}</a>')
            summary_file = Path(report).parent / "summary.json"
            if summary_file.is_file():
                s = Summary.read(summary_file)
                tau = s.leading_time_constants[:1]
                numbers = [s.task, s.performance, s.network.get("n_units"),
                           *(s.counts[k] for k in (*KINDS, "outside")),
                           f"{tau[0]:.3g} {s.time_constant_unit}" if tau else None]
        rows.append([name, item["status"], *numbers, item.get("error") or ""])
    body = ["<h1>dynan batch</h1>",
            f'<p class="note">{len(rows)} models; the numbers count fixed points inside the '
            "visited region, and those outside it apart.</p>", _table(header, rows)]
    return _write(path, _page("dynan batch", body))


def _model_name(res):
    return Path(res.attrs.get("model_path") or "network from weights").stem


def _performance(folder):
    """The task performance stored in ``summary.json`` beside the results (the results
    file holds outputs, not the task's score)."""
    if folder is None or not (folder / "summary.json").is_file():
        return None
    return Summary.read(folder / "summary.json").performance


def _header(res, summary):
    a, net = res.attrs, summary.network
    dt = float(a.get("dt", 1.0))
    network = f"{net.get('kind', '?')}, {net.get('n_units', '?')} units" + "".join(
        f", {k} {net[k]}" for k in ("gamma", "leak", "activation") if k in net)
    task = summary.task or "unknown"
    if summary.performance is not None:
        task += f" (performance {summary.performance:.3f})"
    trials = f"{len(res)}: " + ", ".join(
        f"{t} ({len(res.select(trial_type=t))})" for t in res.trial_types)
    rows = [("network", network), ("task", task),
            ("dt", f"{dt:g} s" if dt != 1.0 else "unknown (times are in steps)"),
            ("trials", trials), ("results file", res.path.name if res.path else "in memory"),
            ("written by", f"dynan {a.get('dynan_version', '?')}, {a.get('created', '')}")]
    return _table(None, rows)


def _tables(summary):
    """The summary's tables, for the stages that ran."""
    unit = summary.time_constant_unit
    out = []
    if "pca" in summary.stages:
        ratio = summary.pca_explained_variance_ratio
        out += ["<h2>PCA</h2>", _table(
            ["", *(f"PC{i + 1}" for i in range(len(ratio)))],
            [["variance explained", *(f"{r:.1%}" for r in ratio)],
             ["cumulative", *(f"{r:.1%}" for r in np.cumsum(ratio))]])]
    if "fixed_points" in summary.stages:
        out += ["<h2>Fixed points</h2>",
                '<p class="note">By input condition and class, inside the visited region; '
                "those outside it are counted apart and left out of the views.</p>",
                _table(["input condition", "input", *KINDS, "slow points", "outside"],
                       [[label, c["input"], *(c[k] for k in KINDS), c["slow_points"],
                         c["outside"]] for label, c in summary.fixed_points.items()]),
                "<h2>Attractor time constants</h2>",
                f'<p class="note">The slowest modes of each stable or marginal point inside '
                f"the visited region ({unit}): its memory times.</p>",
                _table(["input condition", "point", "class", "slowest time constants"],
                       [[label, p["point"], p["stability"],
                         ", ".join(f"{t:.3g}" for t in p["time_constants"])]
                        for label, points in summary.attractor_time_constants.items()
                        for p in points])]
    if "linearization" in summary.stages:
        rows = [[f"Jacobian at {summary.attractor}", *summary.leading_time_constants]]
        if summary.spectrum_time_constants:
            rows.append(["recurrent weights' linear map", *summary.spectrum_time_constants])
        out += ["<h2>Leading time constants</h2>", _table([f"slowest modes ({unit})", "1",
                                                           "2", "3"], rows)]
        if summary.spectral_radius is not None:
            out.append(f'<p class="note">Spectral radius of W_rec: '
                       f"{summary.spectral_radius:.3f}.</p>")
    if "topology" in summary.stages:
        t = summary.topology
        out += ["<h2>Topology</h2>", _table(
            ["saddles", "unstable branches", "to a fixed point", "to a cycle", "unresolved",
             "leave the visited region", "saddles outside"],
            [[t["saddles"], t["branches"], t["fixed_point"], t["cycle"], t["unresolved"],
              t["outside"], t["outside_saddles"]]])]
    if "manifolds" in summary.stages:
        columns = ["label", "closed", "dimension", "length", "extent", "max_speed",
                   "slowest_time_constant", "memory_time", "shortest_memory_time"]
        out.append("<h2>Manifolds</h2>")
        if summary.manifolds:
            out += [_table([c.replace("_", " ") for c in columns],
                           [[m[c] for c in columns] for m in summary.manifolds]),
                    f'<p class="note">Times in {unit}; – where a time is infinite (an exact '
                    "attractor) or undefined.</p>"]
        else:
            out.append('<p class="note">No line or ring attractor traced.</p>')
    if "cycles" in summary.stages:
        columns = ["label", "kind", "period_steps", "period", "amplitude", "residual",
                   "lyapunov_along", "lyapunov_across", "n_starts"]
        out.append("<h2>Cycles</h2>")
        out.append(_table([c.replace("_", " ") for c in columns],
                          [[c[k] for k in columns] for c in summary.cycles])
                   if summary.cycles else '<p class="note">No cycle: every start settled.</p>')
    if "continuation" in summary.stages:
        kinds = ["fold", "pitchfork", "period_doubling", "neimark_sacker"]
        out += ["<h2>Bifurcations</h2>", _table(
            ["path", "branches", *(k.replace("_", " ") for k in kinds), "first at s"],
            [[row["path"], row["branches"], *(row[k] for k in kinds),
              ", ".join(f"{k.replace('_', ' ')} {s:.3g}" for k, s in row["first_s"].items())]
             for row in summary.bifurcations])]
    return "\n".join(out)


class _Html(str):
    """Text that is HTML already (a table cell that :func:`_table` does not escape)."""


def _table(header, rows):
    """An HTML table; each cell formatted and escaped, unless it is :class:`_Html`, and
    numbers aligned right."""
    def cell(value):
        if isinstance(value, _Html):
            return f"<td>{value}</td>"
        number = isinstance(value, int | float | np.number) and not isinstance(value, bool)
        css = ' class="num"' if number else ""
        return f"<td{css}>{_escape(_format(value))}</td>"

    head = "" if header is None else "<tr>" + "".join(
        f"<th>{_escape(h)}</th>" for h in header) + "</tr>\n"
    body = "".join("<tr>" + "".join(cell(v) for v in row) + "</tr>\n" for row in rows)
    return f"<table>\n{head}{body}</table>"


def _format(value):
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.3g}"
    if isinstance(value, list):
        return "[" + ", ".join(_format(v) for v in value) + "]"
    return str(value)


def _escape(value):
    return html.escape(str(value))


def _mean_trajectories(res, p):
    """The mean trajectory of each trial type (of the PCA's groups), in PCs 1-3."""
    return {" ".join(g): means[:, :3] for g, means in zip(p.groups.tolist(), p.condition_means)}


def _flipflop_trajectories(res, p):
    """The trials of the flip-flop panel (:func:`dynan.figures.flipflop_trials`): a few
    per final bit pattern, from their last pulse on, in PCs 1-3."""
    return {pattern: _joined(p.transform(h)[:, :3] for h in states)
            for pattern, states in flipflop_trials(res).items()}


#: The trajectories the 3-D view draws, by task: a function of the results and their
#: PCA giving name -> (T, 3) path (NaN rows between trials), and what it draws in words.
TRAJECTORIES = {"flipflop": (_flipflop_trajectories,
                             "a few trials per final bit pattern, from their last pulse on")}
#: What the 3-D view draws for the other tasks.
MEAN_TRAJECTORIES = (_mean_trajectories, "the mean trajectory of each trial type")


def _trajectories(res):
    """The entry of :data:`TRAJECTORIES` for the results' task."""
    return TRAJECTORIES.get(res.attrs.get("task"), MEAN_TRAJECTORIES)


def _add_fixed_points(fig, res, p, offset):
    """One trace per input condition and class of the fixed points inside the visited
    region; colours follow the trial types' (``offset`` of them)."""
    found = res.fixed_points()
    rows = np.flatnonzero(~found.outside)
    fps = found[rows]
    unit = "s" if fps.dt != 1.0 else "steps"  # of fps.time_constants
    xyz = p.transform(fps.xstar)[:, :3]
    for c, label in enumerate(dict.fromkeys(fps.labels.tolist())):
        for kind in KINDS:
            ks = np.flatnonzero((fps.labels == label) & (fps.stability == kind))
            if not len(ks):
                continue
            condition = _escape(label or "all")
            text = [f"{kind} fixed point {rows[k]}<br>input condition: {condition}<br>"
                    f"q = {fps.qstar[k]:.2e}<br>slowest time constant: "
                    f"{_slowest(fps.time_constants[k], unit)}" for k in ks]
            fig.add_trace(go.Scatter3d(
                x=xyz[ks, 0], y=xyz[ks, 1], z=xyz[ks, 2], mode="markers",
                name=f"{kind} ({condition})", text=text, hovertemplate="%{text}<extra></extra>",
                marker=dict(symbol=SYMBOLS[kind], size=5,
                            color=COLORS[(offset + c) % len(COLORS)])))


def _slowest(time_constants, unit):
    """The largest finite positive time constant, with its unit."""
    tau = time_constants[np.isfinite(time_constants) & (time_constants > 0)]
    return f"{tau.max():.3g} {unit}" if len(tau) else "none (no decaying mode)"


def _line(xyz, name, color, width):
    return go.Scatter3d(x=xyz[:, 0], y=xyz[:, 1], z=xyz[:, 2], mode="lines", name=name,
                        line=dict(color=color, width=width), hoverinfo="name")


def _joined(paths):
    """Paths stacked into one array, NaN rows between them (gaps in one plotly line)."""
    gap = np.full((1, 3), np.nan)
    return np.concatenate([part for path in paths for part in (path, gap)])


def write_plotly_js(folder):
    """Write :data:`PLOTLY_JS` (plotly.js) into ``folder`` for the reports that share it,
    unless it is there; returns its path."""
    from plotly.offline import get_plotlyjs

    path = Path(folder) / PLOTLY_JS
    return path if path.is_file() else _write(path, get_plotlyjs())


def _state_space_html(res, plotly_js=None):
    if "pca" not in res or res.file["pca/components"].shape[0] < 3:
        return '<p class="note">No PCA of three components or more: no state-space view.</p>'
    what = _trajectories(res)[1]
    note = (f'<p class="note">Trajectories in PCs 1-3 ({what}); the fixed '
            "points inside the visited region, marker by class and colour by input condition "
            "(hover over one for its speed q and slowest time constant); in grey the saddles' "
            "unstable manifolds, in thick dark grey the traced line and ring attractors. Drag to turn the view, scroll to zoom.</p>")
    return note + state_space(res).to_html(full_html=False, include_plotlyjs=plotly_js or True,
                                           div_id="state-space", config={"displaylogo": False})


def _panels_html(res, folder):
    """Every panel as an inline PNG: the files in ``folder``, else drawn now."""
    order = [*PANELS, "overview"]
    files = sorted(Path(folder).glob("*.png") if folder is not None else [],
                   key=lambda f: (order.index(f.stem) if f.stem in order else len(order), f.stem))
    images = [(f.stem, f.read_bytes()) for f in files]
    notes = []
    if not images:
        with paper_style():
            for name, panel in PANELS.items():
                needs = [n for n in panel.needs if n not in res.file]
                if needs:
                    notes.append(f"{name} (needs {', '.join(needs)})")
                    continue
                fig = panel.figure(res)
                buffer = io.BytesIO()
                fig.savefig(buffer, format="png")
                plt.close(fig)
                images.append((name, buffer.getvalue()))
    figures = "\n".join(
        f'<figure><img src="data:image/png;base64,{base64.b64encode(png).decode()}" '
        f'alt="{_escape(name)}"><figcaption>{_escape(name)}</figcaption></figure>'
        for name, png in images)
    missing = (f'<p class="note">Not drawn, as the file lacks their data: '
               f"{_escape('; '.join(notes))}.</p>" if notes else "")
    return f'{missing}<div class="panels">\n{figures}\n</div>'


def _page(title, body):
    return "\n".join([
        "<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
        f"<title>{_escape(title)}</title>", f"<style>{STYLE}</style>", "</head>", "<body>",
        *body, f'<p class="note">Made by dynan {_escape(__version__)}.</p>', "</body>",
        "</html>", ""])


def _write(path, text):
    """Write ``text`` to ``path`` all or nothing."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path
