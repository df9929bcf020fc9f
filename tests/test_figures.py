"""The overviews of the bundled networks: a clean layout, and the structure each task needs."""

import matplotlib.pyplot as plt
import numpy as np
import pytest

import dynan
from dynan import figures

MODELS = ("flipflop_leaky", "integrator_leaky", "tdnms_leaky")


@pytest.fixture(scope="module")
def analysed(tmp_path_factory):
    """Each bundled model analysed without figures (about 5 s each), and its overview."""
    folder = tmp_path_factory.mktemp("overviews")
    done = {}
    for name in MODELS:
        an = dynan.load(dynan.example_model(name))
        res = an.analyze(out=folder / name, n_trials=64, n_inits=128, formats=(), progress=False)
        with figures.paper_style():
            done[name] = res, figures.overview(res)
    yield done
    for res, fig in done.values():
        res.close()
        plt.close(fig)


def _legend(fig, letter):
    (ax,) = [a for a in fig.axes if a.get_label() == f"panel {letter}" and a.get_legend()]
    return [t.get_text() for t in ax.get_legend().get_texts()]


@pytest.mark.parametrize("name", MODELS)
def test_no_text_overlaps_another_panel(analysed, name):
    _, fig = analysed[name]
    assert figures.overlaps(fig) == []


@pytest.mark.parametrize("gap, clean", [(0.25, True), (-0.1, False)])
def test_the_layout_check_tells_clean_from_overlapping(gap, clean):
    fig = plt.figure(figsize=figures.mm(80, 40))
    left = fig.add_axes((0.1, 0.15, 0.3, 0.75), label="panel a")
    right = fig.add_axes((0.4 + gap, 0.15, 0.3, 0.75), label="panel b")
    right.set_ylabel("a y label")
    found = figures.overlaps(fig)
    plt.close(fig)
    assert (found == []) == clean
    if not clean:  # the right panel's tick labels and label lie on the left one
        assert ("panel b", "a y label", "panel a") in found


def test_the_flipflop_overview_shows_the_cube_its_saddles_and_bit_patterns(analysed):
    res, fig = analysed["flipflop_leaky"]
    labels = _legend(fig, "a")
    patterns = [t for t in res.trial_types if "0" not in t]
    assert len(patterns) == 8 and set(patterns) <= set(labels)
    assert {"stable", "saddle", "unstable manifolds"} <= set(labels)
    (ax,) = [a for a in fig.axes if a.get_label() == "panel a" and a.name == "3d"]
    fps = res.fixed_points()
    filled = [line for line in ax.get_lines() if line.get_marker() == "o"
              and line.get_markerfacecolor() not in ("white", (1.0, 1.0, 1.0, 1.0))]
    assert len(filled) == (fps.stability == "stable").sum() == 8
    branches = res.get("topology")
    thin = [line for line in ax.get_lines() if line.get_linewidth() == 0.5]
    assert len(thin) == len(branches)  # every saddle's branches drawn


def test_the_integrators_line_attractor_spans_its_trajectories(analysed):
    res, fig = analysed["integrator_leaky"]
    assert "line attractor" in _legend(fig, "a")
    p = res.pca()
    line = p.transform(res.get("manifolds").manifold(0))[:, 0]
    visited = p.transform(np.asarray(res.hidden).reshape(-1, p.components_.shape[1]))[:, 0]
    assert np.ptp(line) >= 0.8 * np.ptp(visited)


def test_the_tdnms_overview_labels_its_fixed_points_by_epoch(analysed):
    res, fig = analysed["tdnms_leaky"]
    labels = _legend(fig, "a")
    conditions = set(res.fixed_points().labels.tolist())
    assert len(conditions) >= 2
    assert {f"input: {c}" for c in conditions} <= set(labels)
    assert set(res.trial_types) <= set(labels)


def test_count_axes_have_integer_ticks(analysed):
    _, fig = analysed["tdnms_leaky"]
    (ax,) = [a for a in fig.axes if a.get_ylabel() == "points"]
    ticks = [t for t in ax.get_yticks() if ax.get_ylim()[0] <= t <= ax.get_ylim()[1]]
    assert ticks and all(float(t).is_integer() for t in ticks)


@pytest.mark.parametrize("font", ["Liberation Sans", "DejaVu Sans"])
def test_pdfs_embed_one_font_with_editable_text(analysed, tmp_path, monkeypatch, font):
    """TrueType text, and no "fi" ligature glyph (DejaVu Sans puts it in a second font
    subset, which an editor cannot change back into letters)."""
    monkeypatch.setitem(figures.STYLE, "font.sans-serif", [font, "DejaVu Sans"])
    res, _ = analysed["flipflop_leaky"]
    (pdf,) = figures.draw_all(res, tmp_path, ("pdf",), ["speed"])
    data = pdf.read_bytes()
    assert data.count(b"/FontFile2") == 1 and b"/Subtype /Type3" not in data


def test_helper_processes_draw_the_same_figures(analysed, tmp_path):
    res, _ = analysed["integrator_leaky"]
    alone = figures.draw_all(res, tmp_path / "alone", ("png",))
    with figures.Helpers(2) as helpers:
        helped = figures.draw_all(res, tmp_path / "helped", ("png",), helpers=helpers)
        assert len(helpers.alive) == 2  # none failed
    assert [p.name for p in helped] == [p.name for p in alone]
    assert [p.read_bytes() for p in helped] == [p.read_bytes() for p in alone]
    assert not any(p.poll() is None for p in helpers.alive)  # stopped on leaving


def test_a_figure_that_a_helper_fails_to_draw_is_handed_back(analysed, tmp_path):
    res, _ = analysed["integrator_leaky"]
    job = {"results": str(res.path), "out": str(tmp_path), "formats": ["png"]}
    with figures.Helpers(1) as helpers:
        (helper,) = helpers.idle(wait=True)  # ready
        helpers.give(helper, {**job, "panel": "no_such_panel"})  # it raises, and exits
        assert helpers.finish() == [{**job, "panel": "no_such_panel"}]
        helpers.give(helper, {**job, "panel": "speed"})  # a dead helper's job comes back too
        assert helpers.finish() == [{**job, "panel": "speed"}]
    assert list(tmp_path.iterdir()) == []


def test_the_overview_keeps_the_double_column_width(analysed, tmp_path):
    from PIL import Image

    res, _ = analysed["tdnms_leaky"]
    (png,) = figures.draw_all(res, tmp_path, ("png",), ["overview"])
    width, height = Image.open(png).size
    assert (width, height) == (int(183 / 25.4 * 300), int(170 / 25.4 * 300))  # not cropped
