"""analyze() end to end, the figure panels, and the dynan command line."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import dynan
from dynan import figures, tasks
from dynan.cli import main
from dynan.fixed_points import epoch_inputs


@pytest.fixture(scope="module")
def analysed(tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "results"
    an = dynan.load(dynan.example_model("integrator_leaky"))
    res = an.analyze(out=out, n_trials=64, n_inits=128, progress=False)
    res.close()
    return out


def test_analyze_writes_results_figures_and_summary(analysed):
    out = analysed
    assert (out / "integrator_leaky.h5").is_file()
    for panel in (*figures.PANELS, "overview"):
        for fmt in ("pdf", "svg", "png"):
            assert (out / "figures" / f"{panel}.{fmt}").stat().st_size > 1000
    summary = dynan.Summary.read(out / "summary.json")
    assert summary.task == "integrator" and summary.n_trials == 64
    assert summary.performance > 0.95 and summary.network["n_units"] == 64
    assert set(summary.seconds) >= {"record", "pca", "spectrum", "fixed_points", "linearization",
                                    "figures", "total"}
    assert summary.stages == [stage.name for stage in dynan.STAGES] and summary.skipped == {}
    with dynan.Results(out / "integrator_leaky.h5") as res:
        assert {"trials", "pca", "spectrum", "fixed_points", "linearization", "network"} <= set(res.file)
        fps = res.fixed_points()
        assert set(fps.labels) <= set(summary.fixed_points)
        counts = summary.counts
        assert len(fps) == sum(counts[kind] for kind in dynan.stability.KINDS)
        assert len(fps.slow_points) == counts["slow_points"]
        # the integrator's memory mode shows at its attractor, not in W_rec alone
        assert summary.leading_time_constants[0] == pytest.approx(
            res.get("linearization").time_constants[0])


def test_pdfs_embed_truetype_and_svgs_keep_text(analysed):
    for panel in ("trajectories", "overview", "weights"):
        pdf = (analysed / "figures" / f"{panel}.pdf").read_bytes()
        assert b"/FontFile2" in pdf and b"/Type3" not in pdf  # TrueType, not Type 3 glyphs
        svg = (analysed / "figures" / f"{panel}.svg").read_text()
        assert "<text" in svg


def test_figures_redraw_from_the_file_without_tensorflow(analysed, tmp_path):
    code = ("import sys; from dynan import figures; "
            f"files = figures.draw_all({str(analysed / 'integrator_leaky.h5')!r}, {str(tmp_path)!r}, ('png',)); "
            "print(len(files), 'tensorflow' in sys.modules, 'keras' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == [str(len(figures.PANELS) + 1), "False", "False"]


def test_panels_draw_onto_given_axes(analysed):
    import matplotlib.pyplot as plt

    with figures.paper_style():
        fig, axes = figures.subplots(width=figures.DOUBLE_COLUMN, height=50, ncols=3)
        assert figures.trajectories(analysed / "integrator_leaky.h5", ax=axes[0]) is axes[0]
        assert figures.eigenvalues(analysed / "integrator_leaky.h5", ax=axes[1]) is axes[1]
        figures.panel_letter(axes[2], "c")
        assert fig.get_size_inches()[0] == pytest.approx(183 / 25.4)
        assert not axes[1].spines["top"].get_visible() and not axes[1].spines["right"].get_visible()
    plt.close(fig)


def test_a_failed_run_leaves_earlier_results_untouched(analysed, monkeypatch):
    before = {p: p.read_bytes() for p in sorted(analysed.rglob("*")) if p.is_file()}
    monkeypatch.setattr(figures, "draw_all", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("boom")))
    an = dynan.load(dynan.example_model("integrator_leaky"))
    with pytest.raises(RuntimeError, match="boom"):
        an.analyze(out=analysed, overwrite=True, n_trials=16, n_inits=32, progress=False)
    assert an.recording is None  # analyze keeps no handle on any run
    after = {p: p.read_bytes() for p in sorted(analysed.rglob("*")) if p.is_file()}
    assert after == before
    # no debris: only the (empty) lock file that guards the folder is left beside it
    assert sorted(p.name for p in analysed.parent.iterdir()) == [f".{analysed.name}.lock", analysed.name]


def test_epoch_inputs_of_tdnms():
    trials = tasks.tdnms(60, seed=0)
    conditions = epoch_inputs(trials.inputs, trials.epochs)
    assert set(conditions) == {"cue", "odor1/odor2", "delay/wait/response/iti"}
    np.testing.assert_array_equal(conditions["cue"], [1.0, 0.0])
    np.testing.assert_array_equal(conditions["odor1/odor2"], [0.0, 1.0])
    np.testing.assert_array_equal(conditions["delay/wait/response/iti"], [0.0, 0.0])


def test_cli_info(analysed, capsys):
    assert main(["info", str(analysed / "integrator_leaky.h5")]) == 0
    text = capsys.readouterr().out
    assert "integrator" in text and "fixed points" in text and "spectral radius" in text


@pytest.mark.parametrize("argv, message", [
    (["analyze", "missing.keras"], "no model file at missing.keras"),
    (["analyze", "--task", "juggling", "--out", "{tmp}/a"], "unknown task 'juggling'; choose one of"),
    (["analyze", "--task", "flipflop", "--out", "{tmp}/b"], "the trials have 3 input channels"),
    (["analyze", "--out", "{existing}"], "exists; pass --overwrite (overwrite=True) to replace it"),
    (["figures", "missing.h5"], "no results file at missing.h5"),
    (["info", "{text}"], "is not an HDF5 file"),
])
def test_cli_user_mistakes_end_in_one_line_and_exit_code_2(argv, message, tmp_path, capsys, analysed):
    (tmp_path / "notes.h5").write_text("not hdf5")
    argv = [a.format(tmp=tmp_path, existing=analysed, text=tmp_path / "notes.h5") for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1 and err.startswith("dynan ")


def test_cli_help_and_bad_format(capsys):
    result = subprocess.run([sys.executable, "-m", "dynan", "analyze", "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and "--task" in result.stdout and "bundled tDNMS" in result.stdout
    with pytest.raises(SystemExit) as exit_info:
        main(["figures", "x.h5", "--format", "pdf,gif"])
    assert exit_info.value.code == 2 and "unknown format gif" in capsys.readouterr().err


@pytest.mark.parametrize("readout", [True, False])
def test_networks_from_weights_go_through_analyze_figures_and_info(readout, tmp_path, capsys):
    rng = np.random.default_rng(3)
    n = 24
    an = dynan.from_weights(rng.normal(size=(3, n)), 1.3 * rng.normal(size=(n, n)) / np.sqrt(n),
                            np.zeros(n), gamma=0.3,
                            W_out=rng.normal(size=(n, 3)) / np.sqrt(n) if readout else None)
    trials = tasks.flipflop(24, seed=0)
    with an.analyze(trials, tmp_path / "out", n_inits=64, formats=("png",), progress=False) as res:
        assert {"pca", "spectrum", "fixed_points", "linearization", "network"} <= set(res.file)
    summary = dynan.Summary.read(tmp_path / "out" / "summary.json")
    assert summary.model is None and summary.network["kind"] == "LeakyDynamics"
    assert (summary.performance is not None) == readout  # no readout: outputs are the states
    assert len(list((tmp_path / "out" / "figures").glob("*.png"))) == len(figures.PANELS) + 1
    assert main(["info", str(tmp_path / "out" / "network.h5")]) == 0
    assert "(from weights)" in capsys.readouterr().out
    assert main(["figures", str(tmp_path / "out" / "network.h5"), "--format", "svg"]) == 0
