"""Networks trained the way users write them go through ``dynan analyze`` end to end.

Built-in GRU, LSTM and SimpleRNN layers and users' own cells (``examples/user_cells.py``:
an LSTM-style cell with states [h, c], a current-leak cell that emits tanh of its
state, a two-part cell that emits LayerNorm of its second part, a cell of Dense
sublayers created without a dtype), trained on the flip-flop task by
``examples/train_user_models.py``. Each is analysed by the real command line in a
fresh process, which knows the custom cells only through ``--import``.
"""

import subprocess
import sys

import numpy as np
import pytest
from user_models import EXAMPLES, KINDS, user_models  # noqa: F401

import dynan
from dynan import figures, tasks
from dynan.testing import check_dynamics

pytestmark = pytest.mark.slow
CELLS = EXAMPLES / "user_cells.py"
ANALYSABLE = [kind for kind in KINDS if kind != "pinned_float32"]
BUILT_IN = {"gru", "lstm", "simple_rnn"}


def dynan_cli(*args):
    return subprocess.run([sys.executable, "-m", "dynan", *map(str, args)], capture_output=True,
                          text=True, timeout=900)


@pytest.mark.parametrize("kind", ANALYSABLE)
def test_analyze_figures_and_info_on_the_command_line(user_models, kind, tmp_path):
    out = tmp_path / "results"
    imports = [] if kind in BUILT_IN else ["--import", CELLS]
    result = dynan_cli("analyze", user_models[kind], "--out", out, "--trials", 48, "--format",
                       "png", *imports)
    assert result.returncode == 0, result.stderr[-3000:]
    for panel in (*figures.PANELS, "overview"):
        assert (out / "figures" / f"{panel}.png").stat().st_size > 1000, panel
    summary = dynan.Summary.read(out / "summary.json")
    expected = [stage.name for stage in dynan.STAGES]  # every stage runs for every network
    if kind != "simple_rnn":
        expected.remove("spectrum")
        assert "spectrum" in summary.skipped
    assert summary.stages == expected
    assert summary.performance > 0.8 and summary.leading_time_constants
    assert sum(summary.counts.values()) > 0
    with dynan.Results(out / f"{kind}.h5") as res:
        assert res.hidden.shape == (48, 100, res.attrs["network"]["n_units"])
    info = dynan_cli("info", out / f"{kind}.h5")
    assert info.returncode == 0 and "attractor" in info.stdout, info.stderr[-2000:]
    redraw = dynan_cli("figures", out / f"{kind}.h5", "--format", "svg", "--out", tmp_path / "svg")
    assert redraw.returncode == 0, redraw.stderr[-2000:]
    assert (tmp_path / "svg" / "overview.svg").is_file()


@pytest.mark.parametrize("kind", ANALYSABLE)
def test_check_dynamics_passes(user_models, kind):
    an = dynan.load(user_models[kind])
    report = check_dynamics(an.dynamics, tasks.flipflop(4, seed=1).inputs)
    failed_or_skipped = {c.name for c in report if not c.passed}
    # cells that emit a function of their state are read out through the cell itself;
    # only Keras's own gated cells declare state bounds
    assert failed_or_skipped <= {"readout", "state_bounds"}


def test_cells_that_emit_another_function_of_their_state(user_models):
    for kind, parts in (("normed_two_part", 2), ("time_averaged", 1)):
        an = dynan.load(user_models[kind])
        assert "state_readout" not in an.dynamics.capabilities
        assert len(an.dynamics.state_parts) == parts
        trials = tasks.flipflop(8, seed=3)
        import keras

        model = keras.saving.load_model(user_models[kind])
        np.testing.assert_allclose(an.run(trials).outputs, model.predict(trials.inputs, verbose=0),
                                   atol=2e-5)


def test_sublayers_without_a_dtype_are_rebuilt_in_float64(user_models):
    an = dynan.load(user_models["dense_sublayer"])
    weights = an.dynamics.cell.weights
    assert len(weights) == 3 and {w.dtype for w in weights} == {"float64"}
    report = {c.name: c for c in check_dynamics(an.dynamics)}
    assert report["float64"].passed and report["jacobian"].error < 1e-8


def test_a_cell_pinned_to_float32_stops_with_the_fix(user_models, tmp_path):
    with pytest.raises(dynan.ModelError, match=r"cannot run in float64 .* create its sublayers "
                                               r"with dtype=self.dtype_policy"):
        dynan.load(user_models["pinned_float32"])
    result = dynan_cli("analyze", user_models["pinned_float32"], "--out", tmp_path / "r",
                       "--import", CELLS)
    assert result.returncode == 2 and not (tmp_path / "r").exists()
    lines = [line for line in result.stderr.splitlines() if line.startswith("dynan ")]
    assert len(lines) == 1 and "dtype=self.dtype_policy" in lines[0]


def test_analyze_without_import_says_what_to_do(user_models, tmp_path):
    result = dynan_cli("analyze", user_models["lstm_style"], "--out", tmp_path / "r")
    assert result.returncode == 2
    assert "--import" in result.stderr.strip().splitlines()[-1]


@pytest.mark.cluster
def test_batch_imports_the_cells_on_every_worker(user_models, tmp_path):
    out = tmp_path / "batch"
    models = [user_models[kind] for kind in ANALYSABLE]
    result = dynan_cli("batch", *models, "--out", out, "--workers", 2, "--trials", 32,
                       "--format", "png", "--import", CELLS)
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"{len(models)} models: {len(models)} analysed" in result.stdout, result.stdout
