"""Recording trajectories to HDF5: values, noise, lazy reads, layout, crash safety."""

import hashlib
import os
import signal
import subprocess
import sys
import time

import h5py
import keras
import numpy as np
import pytest

import dynan
from dynan import tasks
from dynan.results import SCHEMA_VERSION


@pytest.fixture(scope="module")
def tdnms_model():
    return dynan.load(dynan.example_model("tdnms_leaky"))


@pytest.fixture(scope="module")
def trials():
    return tasks.tdnms(36, seed=11)


def keras_forward_float64(path, inputs):
    """The saved model's own forward pass, rebuilt in float64 (and the recurrent layer's)."""
    model = keras.saving.load_model(path)
    clone = keras.models.clone_model(model, clone_function=lambda layer: type(layer).from_config(
        {**layer.get_config(), "dtype": "float64"}))
    clone.set_weights(model.get_weights())
    x = inputs.astype("float64")
    return np.asarray(clone.layers[0](x)), np.asarray(clone(x)), np.asarray(model(inputs))


def test_file_equals_keras_forward_pass(tdnms_model, trials, tmp_path):
    res = tdnms_model.record(trials, tmp_path / "r.h5", progress=False)
    hidden64, outputs64, outputs32 = keras_forward_float64(dynan.example_model("tdnms_leaky"),
                                                           trials.inputs)
    np.testing.assert_allclose(res.hidden[:], hidden64, atol=1e-6, rtol=0)
    np.testing.assert_allclose(res.outputs[:], outputs64, atol=1e-6, rtol=0)
    np.testing.assert_allclose(res.outputs[:], outputs32, atol=1e-5, rtol=0)  # Keras's float32 run
    np.testing.assert_array_equal(res.inputs[:], trials.inputs)
    np.testing.assert_array_equal(res.targets[:], trials.targets)


def test_noise_is_seeded_and_independent_of_batching(tdnms_model, trials, tmp_path):
    a = tdnms_model.record(trials, tmp_path / "a.h5", noise=True, seed=5, batch_size=7, progress=False)
    b = tdnms_model.record(trials, tmp_path / "b.h5", noise=True, seed=5, progress=False)
    clean = tdnms_model.record(trials, None, progress=False)
    np.testing.assert_array_equal(a.hidden[:], b.hidden[:])
    assert np.abs(a.hidden[:] - clean.hidden[:]).max() > 1e-2
    other = tdnms_model.run(trials, noise=True, seed=6).hidden
    assert np.abs(other - a.hidden[:]).max() > 1e-2
    np.testing.assert_allclose(tdnms_model.run(trials, noise=True, seed=5).hidden, a.hidden[:], atol=1e-7)
    assert a.file["trials"].attrs["noise_std"] == pytest.approx(tdnms_model.dynamics.noise_std)
    assert a.file["trials"].attrs["seed"] == 5


class CountingDataset:
    """Stands in for an h5py dataset and remembers which trials were read."""

    def __init__(self, dataset):
        self.dataset, self.rows = dataset, []

    def __getattr__(self, name):
        return getattr(self.dataset, name)

    def __getitem__(self, key):
        first = key[0] if isinstance(key, tuple) else key
        self.rows.extend(np.arange(self.dataset.shape[0])[first].ravel().tolist())
        return self.dataset[key]


def test_reads_are_lazy_and_select_by_condition(tdnms_model, trials, tmp_path, monkeypatch):
    res = tdnms_model.record(trials, tmp_path / "r.h5", progress=False)
    full = tdnms_model.run(trials)
    sl = res.select(trial_type="SL")
    expected = trials.conditions["trial_type"] == "SL"
    assert len(sl) == expected.sum() == 12 and sl.trial_types == ("SL",)
    hidden = sl.hidden
    counting = CountingDataset(hidden.dataset)
    plain = type(hidden).dataset.fget
    monkeypatch.setattr(type(hidden), "dataset",
                        property(lambda self: counting if self is hidden else plain(self)))
    first_two = hidden[:2, 150]
    assert hidden.dataset.rows == list(np.flatnonzero(expected)[:2])
    np.testing.assert_allclose(first_two, full.hidden[expected][:2, 150], atol=1e-6)
    np.testing.assert_allclose(np.asarray(sl.outputs), full.outputs[expected], atol=1e-6)
    np.testing.assert_array_equal(sl.conditions["go"], True)
    assert res.hidden[3].shape == (200, 128) and res.hidden[-1:].shape == (1, 200, 128)
    assert len(res.select(trial_type="SS", go=True)) == 0
    with pytest.raises(ValueError, match=r"no condition column 'odor'; columns are \["):
        res.select(odor=1)


def test_layout_is_readable_with_plain_h5py(tdnms_model, trials, tmp_path):
    tdnms_model.record(trials, tmp_path / "r.h5", progress=False).close()
    with h5py.File(tmp_path / "r.h5", "r") as f:
        a = f.attrs
        assert a["dynan_schema"] == SCHEMA_VERSION and a["dynan_version"] == dynan.__version__
        assert a["model_sha256"] == tdnms_model.sha256 and a["model_path"].endswith("tdnms_leaky.keras")
        assert a["dt"] == trials.dt and list(a["input_names"]) == ["light", "odor"]
        assert a["task"] == "tdnms" and '"input_noise": 0.15' in a["task_params"]
        assert '"gamma": 0.2' in a["network"] and a["created"].endswith("+00:00")
        t = f["trials"]
        for name, width in (("inputs", 2), ("targets", 1), ("hidden", 128), ("outputs", 1)):
            assert t[name].shape == (36, 200, width) and t[name].dtype == np.float32
            assert t[name].chunks[1:] == (200, width)
        assert t["hidden"].chunks[0] == 1
        assert list(t["hidden"].attrs["dims"]) == ["trial", "time", "state"]
        assert list(t["conditions/trial_type"].asstr()[:]) == list(trials.conditions["trial_type"])
        np.testing.assert_array_equal(t["conditions/go"][:], trials.conditions["go"])
        np.testing.assert_array_equal(t["epochs/odor2"][:], trials.epochs["odor2"])


def sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_overwrite_is_required(tdnms_model, trials, tmp_path):
    path = tmp_path / "r.h5"
    tdnms_model.record(trials[:4], path, progress=False).close()
    before = sha256(path)
    with pytest.raises(FileExistsError, match="r.h5 exists; pass overwrite=True to replace it"):
        tdnms_model.record(trials, path, progress=False)
    assert sha256(path) == before
    res = tdnms_model.record(trials, path, overwrite=True, progress=False)
    assert len(res) == 36


def test_failed_run_leaves_the_old_file_and_no_debris(tdnms_model, trials, tmp_path):
    path = tmp_path / "r.h5"
    tdnms_model.record(trials[:4], path, progress=False).close()
    before = sha256(path)
    with pytest.raises(ValueError, match="noise must be True, False or a number >= 0"):
        tdnms_model.record(trials, path, overwrite=True, noise=-1.0, progress=False)
    assert sha256(path) == before and sorted(os.listdir(tmp_path)) == ["r.h5"]


KILLED_RECORDING = """
import sys, dynan
from dynan import tasks
an = dynan.load(dynan.example_model("tdnms_leaky"))
an.record(tasks.tdnms(20000, seed=1), sys.argv[1], overwrite=True, batch_size=50, progress=False)
"""


def test_killed_recording_leaves_the_previous_file_intact(tdnms_model, trials, tmp_path):
    path = tmp_path / "r.h5"
    tdnms_model.record(trials, path, progress=False).close()
    before = sha256(path)
    proc = subprocess.Popen([sys.executable, "-c", KILLED_RECORDING, str(path)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # wait until the new file is well under way
            temps = list(tmp_path.glob(".r.h5.*.tmp"))
            if temps and temps[0].stat().st_size > 50 * 2**20:
                break
            assert proc.poll() is None, "the recording ended before it could be killed"
            time.sleep(0.05)
        else:
            pytest.fail("the recording never got under way")
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    assert sha256(path) == before
    with dynan.Results(path) as res:
        assert len(res) == 36
        np.testing.assert_allclose(res.hidden[:2], tdnms_model.run(trials[:2]).hidden, atol=1e-6)


def test_in_memory_recording_and_plain_arrays(tdnms_model, trials, tmp_path):
    res = tdnms_model.record(trials.inputs[:3], progress=False)
    assert res.path is None and res.trial_types == ("all",) and res.targets is None
    np.testing.assert_allclose(res.hidden[:], tdnms_model.run(trials.inputs[:3]).hidden, atol=1e-6)
    assert not list(tmp_path.iterdir())


def test_progress_bar(tdnms_model, trials, capsys):
    tdnms_model.record(trials, progress=True)
    assert "record: 100%" in capsys.readouterr().err
    tdnms_model.record(trials, progress=False)
    assert capsys.readouterr().err == ""


def test_results_reject_other_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="no results file at"):
        dynan.Results(tmp_path / "none.h5")
    (tmp_path / "text.h5").write_text("hello")
    with pytest.raises(ValueError, match="is not an HDF5 file"):
        dynan.Results(tmp_path / "text.h5")
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f["x"] = 1
    with pytest.raises(ValueError, match="is not a dynan results file"):
        dynan.Results(tmp_path / "other.h5")
