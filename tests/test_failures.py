"""Every row of docs/failures.md, run as the table says, so that the table cannot drift.

Each row's command runs in a subprocess, in a fresh folder where each ``{placeholder}`` has
been built by the function of that name in :data:`PLACEHOLDERS`. Every row is checked for its
exit code and message, for one line on stderr (a failure) or a quiet stderr (a success), for
no traceback, for inputs and earlier results byte-identical afterwards, and for no temporary
files left; the Check column adds a row's own check from :data:`CHECKS`.
"""

import errno
import os
import re
import shlex
import shutil
import signal
import string
import subprocess
import sys
import threading
import time
import zipfile
from contextlib import ExitStack
from pathlib import Path

import h5py
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dynan
from dynan import output

TABLE = Path(__file__).parents[1] / "docs" / "failures.md"
IS_ROOT = os.geteuid() == 0


def table_rows():
    """The rows of the failure table: dicts of case, command, exit, says, check."""
    lines = [line for line in TABLE.read_text().splitlines() if line.startswith("| ")]
    header = [cell.lower() for cell in _cells(lines[0])]
    return [dict(zip(header, _cells(line))) for line in lines[1:]]


def _cells(line):
    cells = re.split(r"(?<!\\)\|", line.strip().strip("|"))
    return [cell.strip().replace("\\|", "|").strip("`") for cell in cells]


# --- what the placeholders stand for --------------------------------------------------------

class Scene:
    """A fresh folder with the placeholders of one row, built on first use."""

    def __init__(self, tmp, shared, stack):
        self.tmp, self.shared, self.stack = tmp, shared, stack
        self.values = {"tmp": tmp}
        self.protected = []   # paths that must be byte-identical after the command

    def __getitem__(self, name):
        if name not in self.values:
            self.values[name] = PLACEHOLDERS[name](self)
        return self.values[name]

    def protect(self, path):
        self.protected.append(Path(path))
        return path


def _copy_model(scene, folder, name="m.keras", source="integrator_leaky"):
    folder.mkdir(exist_ok=True)
    shutil.copy(dynan.example_model(source), folder / name)
    shutil.copy(dynan.example_model(source).with_suffix(".json"),
                (folder / name).with_suffix(".json"))
    return folder / name


def _model(scene):
    path = _copy_model(scene, scene.tmp / "models")
    scene.protect(path.parent)
    return path


def _models(scene):
    return scene["model"].parent


def _model_alias(scene):
    return _copy_model(scene, scene["models"], "m_copy.keras")  # a copy, with its card


def _model_link(scene):
    path = scene["models"] / "link.keras"
    path.symlink_to(scene["model"])
    return path


def _new(scene):
    return scene.tmp / "new"


def _earlier(scene):
    path = scene.tmp / "earlier"
    shutil.copytree(scene.shared["earlier"], path)
    return scene.protect(path)


def _results(scene, name="r.h5", change=None):
    path = scene.tmp / "results" / name
    path.parent.mkdir(exist_ok=True)
    shutil.copy(scene.shared["earlier"] / "integrator_leaky.h5", path)
    if change is not None:
        with h5py.File(path, "r+") as f:
            change(f)
    return scene.protect(path)


def _truncated(scene):
    data = scene.shared["results_bytes"]
    return _write(scene, "truncated.h5", data[: len(data) // 3])


def _corrupt(scene):
    data = bytearray(scene.shared["results_bytes"])
    data[200:264] = b"\xff" * 64  # object headers
    return _write(scene, "corrupt.h5", bytes(data))


def _newer(scene):
    return _results(scene, "newer.h5", lambda f: f.attrs.__setitem__("dynan_schema", 99))


def _lacking(scene):
    return _results(scene, "lacking.h5", lambda f: f.__delitem__("trials/hidden"))


def _locked_results(scene):
    path = _results(scene)
    scene.protected.remove(path)  # its writer changes it
    scene.stack.enter_context(h5py.File(path, "r+"))  # HDF5's own lock, as another writer holds it
    return path


def _locked_model(scene):
    path = scene.tmp / "models_h5" / "m.h5"
    path.parent.mkdir()
    shutil.copy(scene.shared["keras"]["legacy_h5"], path)
    scene.stack.enter_context(h5py.File(path, "r+"))
    return path


def _text(scene):
    return _write(scene, "notes.h5", b"these are notes, not a model or results\n")


def _plain(scene):
    path = scene.tmp / "plain"
    path.mkdir()
    (path / "thesis.tex").write_text("years of work\n")
    return scene.protect(path)


def _busy(scene):
    path = scene.tmp / "busy"
    scene.stack.enter_context(output.exclusive(path))
    return path


def _busy_briefly(scene):
    path = scene.tmp / "busy_briefly"
    held = threading.Event()

    def hold():
        with output.exclusive(path):
            held.set()
            time.sleep(3)

    thread = threading.Thread(target=hold)
    thread.start()
    held.wait()
    scene.stack.callback(thread.join)
    return path


def _readonly(scene):
    path = scene.tmp / "readonly"
    path.mkdir()
    if IS_ROOT:  # permissions do not stop root: a read-only file system does
        _mount(scene, path, "ro,size=1m")
    else:
        path.chmod(0o555)
        scene.stack.callback(path.chmod, 0o755)
    return path


def _full(scene):
    if not IS_ROOT:
        pytest.skip("a small file system needs root; test_disk_full_injected covers this case")
    path = scene.tmp / "full"
    path.mkdir()
    _mount(scene, path, "size=8m")  # the earlier folder (about 5 MB) fits; a second does not
    shutil.copytree(scene.shared["earlier"], path / "earlier")
    scene.protect(path / "earlier")
    return path


def _mount(scene, path, options):
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)],
                            capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()}")
    scene.stack.callback(subprocess.run, ["umount", "-l", str(path)], check=True)


def _card_changed(scene, folder, old, new):
    """A copy of the model whose card says ``new`` where it said ``old``."""
    path = _copy_model(scene, scene.tmp / folder)
    card = path.with_suffix(".json")
    card.write_text(card.read_text().replace(old, new))
    return scene.protect(path)


def _zero_time(scene):
    return _card_changed(scene, "zero_time", '"T": 1.0', '"T": 0.0')


def _truncated_model(scene):
    data = dynan.example_model("integrator_leaky").read_bytes()
    return _write(scene, "truncated.keras", data[: len(data) // 2])


def _corrupt_model(scene):
    path = scene.tmp / "corrupt.keras"
    with zipfile.ZipFile(dynan.example_model("integrator_leaky")) as src, \
            zipfile.ZipFile(path, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            dst.writestr(item, b'{"class_name": "Sequential", "config": {"layers": [{"cla'
                         if item.filename == "config.json" else data)
    return scene.protect(path)


def _corrupt_h5_model(scene):
    path = scene.tmp / "corrupt.h5"
    shutil.copy(scene.shared["keras"]["legacy_h5"], path)
    with h5py.File(path, "r+") as f:  # its model config cut short
        f.attrs["model_config"] = f.attrs["model_config"][:200]
    return scene.protect(path)


def _keras_file(name):
    def build(scene):
        path = scene.tmp / "keras" / Path(scene.shared["keras"][name]).name
        path.parent.mkdir(exist_ok=True)
        shutil.copy(scene.shared["keras"][name], path)
        return scene.protect(path)
    return build


def _complex_model(scene):
    """The bundled model with one weight made complex inside its archive."""
    weights = scene.tmp / "weights.h5"
    source = dynan.example_model("integrator_leaky")
    with zipfile.ZipFile(source) as archive:
        weights.write_bytes(archive.read("model.weights.h5"))
    with h5py.File(weights, "r+") as f:
        values = f["layers/dense/vars/0"][()]
        del f["layers/dense/vars/0"]
        f["layers/dense/vars/0"] = values + 0.5j
    path = scene.tmp / "complex.keras"
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(path, "w") as dst:
        for item in src.infolist():
            dst.writestr(item, weights.read_bytes() if item.filename == "model.weights.h5"
                         else src.read(item))
    weights.unlink()
    return scene.protect(path)


def _nan_inputs(scene):
    return _card_changed(scene, "nan_inputs", '"noise_scale": 0.025', '"noise_scale": NaN')


def _fifo(scene):
    path = scene.tmp / "pipe.keras"
    os.mkfifo(path)
    return path


def _pickled_torch(scene):
    """A whole PyTorch module saved with torch.save(model): a pickle, which runs code."""
    import torch

    path = scene.tmp / "pickled.pt"
    torch.save(torch.nn.GRU(3, 4), path)
    return scene.protect(path)


def _write(scene, name, data):
    path = scene.tmp / name
    path.write_bytes(data)
    return scene.protect(path)


PLACEHOLDERS = {
    "model": _model, "models": _models, "model_alias": _model_alias, "model_link": _model_link,
    "new": _new, "earlier": _earlier, "results": _results, "truncated": _truncated,
    "corrupt": _corrupt, "newer": _newer, "lacking": _lacking,
    "locked_results": _locked_results, "locked_model": _locked_model, "text": _text,
    "plain": _plain, "busy": _busy, "busy_briefly": _busy_briefly, "readonly": _readonly,
    "full": _full, "zero_time": _zero_time, "truncated_model": _truncated_model,
    "corrupt_model": _corrupt_model, "corrupt_h5_model": _corrupt_h5_model,
    "custom_model": _keras_file("custom"), "lambda_model": _keras_file("lambda"),
    "three_outputs": _keras_file("three_outputs"), "nan_model": _keras_file("nan"),
    "complex_model": _complex_model, "nan_inputs": _nan_inputs, "fifo": _fifo,
    "pickled_torch": _pickled_torch,
}


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """What several rows copy: a finished output folder, and Keras-made model files."""
    folder = tmp_path_factory.mktemp("shared")
    an = dynan.load(dynan.example_model("integrator_leaky"))
    an.analyze(out=folder / "earlier", n_trials=16, n_inits=32, formats=(), progress=False).close()
    return {"earlier": folder / "earlier",
            "results_bytes": (folder / "earlier" / "integrator_leaky.h5").read_bytes(),
            "keras": _LazyKeras(folder)}


class _LazyKeras(dict):
    """Keras-made model files, made (and TensorFlow imported) only when a row needs one."""

    def __init__(self, folder):
        super().__init__()
        self.folder = folder

    def __missing__(self, name):
        self.update(_make_keras_files(self.folder))
        return self[name]


def _make_keras_files(folder):
    from dynan import backend

    keras = backend.setup()

    @keras.saving.register_keras_serializable(package="failure_table")
    class ForgottenCell(keras.layers.Layer):
        def __init__(self, units=4, **kwargs):
            super().__init__(**kwargs)
            self.units, self.state_size = units, units

        def build(self, input_shape):
            self.kernel = self.add_weight(shape=(input_shape[-1] + self.units, self.units))

        def call(self, x, states):
            h = keras.ops.tanh(keras.ops.concatenate([x, states[0]], -1) @ self.kernel)
            return h, [h]

        def get_config(self):
            return {**super().get_config(), "units": self.units}

    def model(recurrent, n_in=1, n_out=1, between=None):
        inputs = keras.Input((None, n_in))
        x = recurrent(inputs)
        x = between(x) if between is not None else x
        return keras.Model(inputs, keras.layers.Dense(n_out)(x))

    paths = {name: folder / file for name, file in [
        ("custom", "custom.keras"), ("lambda", "lambda.keras"), ("three_outputs", "three.keras"),
        ("nan", "nan.keras"), ("legacy_h5", "legacy.h5")]}
    model(keras.layers.RNN(ForgottenCell(4), return_sequences=True)).save(paths["custom"])
    model(keras.layers.SimpleRNN(4, return_sequences=True),
          between=keras.layers.Lambda(lambda t: 2 * t)).save(paths["lambda"])
    model(keras.layers.SimpleRNN(4, return_sequences=True), n_in=2, n_out=3).save(
        paths["three_outputs"])
    nan = model(keras.layers.SimpleRNN(4, return_sequences=True))
    weights = nan.get_weights()
    weights[1][0, 0] = np.nan
    nan.set_weights(weights)
    nan.save(paths["nan"])
    model(keras.layers.SimpleRNN(4, return_sequences=True)).save(paths["legacy_h5"])
    return {name: str(path) for name, path in paths.items()}


# --- the extra checks of the Check column ----------------------------------------------------

def _repeatable(scene, row, argv):
    """The same command into a second folder gives byte-identical datasets."""
    second = scene.tmp / "second"
    argv = [str(second) if a == str(scene["new"]) else a for a in argv]
    assert subprocess.run(argv, capture_output=True).returncode == 0
    first_file, = scene["new"].glob("*.h5")
    with h5py.File(first_file) as a, h5py.File(second / first_file.name) as b:
        assert _datasets(a) and list(_datasets(a)) == list(_datasets(b))
        for name, dataset in _datasets(a).items():
            assert _content(dataset) == _content(b[name]), name


def _datasets(f):
    found = {}
    f.visititems(lambda name, obj: found.setdefault(name, obj) if isinstance(obj, h5py.Dataset)
                 else None)
    return dict(sorted(found.items()))


def _content(dataset):
    """A dataset's bytes (text as its strings)."""
    if h5py.check_string_dtype(dataset.dtype) is not None:
        return dataset.asstr()[()].tolist()
    return dataset[()].tobytes()


def _one_folder(scene, row, argv):
    folders = [p for p in scene["new"].iterdir() if p.is_dir()]
    assert len(folders) == 1, folders


def _before_work(scene, row, argv):
    """Refused before any work: the output folder was never locked for writing (the lock
    file beside it is made only once every check has passed)."""
    new = scene["new"]
    assert not new.exists() and not new.with_name(f".{new.name}.lock").exists()


CHECKS = {"repeatable": _repeatable, "one folder": _one_folder, "before work": _before_work}


# --- running a row ---------------------------------------------------------------------------

def _marks(row):
    """Rows that start a Dask cluster, kill a run, or run `analyze` (which starts
    TensorFlow: seconds each) are not in the everyday loop."""
    if row["command"].startswith("dynan batch") and row["exit"] == "0":
        return [pytest.mark.cluster]
    if row["exit"] in ("130", "143"):
        return [pytest.mark.kill]
    return [pytest.mark.slow] if row["command"].startswith(("dynan analyze", "python")) else []


ROWS = table_rows()


def test_the_table_has_every_case_of_the_issue():
    assert len(ROWS) >= 45
    assert all(row["command"].startswith(("dynan ", "python -c ")) for row in ROWS)
    assert {row["check"] for row in ROWS} <= {"", *CHECKS}
    names = {name for row in ROWS for _, name, _, _ in string.Formatter().parse(row["command"])
             if name}
    assert names <= {"tmp", *PLACEHOLDERS}


@pytest.mark.parametrize("row", [pytest.param(row, id=row["case"][:60], marks=_marks(row))
                                 for row in ROWS])
def test_failure_table_row(row, shared, tmp_path):
    with ExitStack() as stack:
        scene = Scene(tmp_path, shared, stack)
        command = row["command"].format_map(scene)
        before = {path: _snapshot(path) for path in scene.protected}
        argv = shlex.split(command)
        cli = argv[0] == "dynan"
        argv = [sys.executable, *(["-m", "dynan"] if cli else []), *argv[1:]]
        if row["exit"] in ("130", "143"):
            result = _interrupt(argv, scene, signal.SIGINT if row["exit"] == "130" else signal.SIGTERM)
        else:
            result = subprocess.run(argv, capture_output=True, text=True, timeout=300)
        said = result.stdout + result.stderr
        assert result.returncode == int(row["exit"]), said[-3000:]
        assert re.search(row["says"], said), said[-3000:]
        if not cli:  # the Python API: an exception that says it all, before any work
            assert re.search(row["says"], result.stderr.strip().splitlines()[-1])
            assert not scene["new"].exists()
        elif result.returncode:
            lines = result.stderr.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith("dynan"), result.stderr[-3000:]
        else:
            assert result.stderr == "", result.stderr[-3000:]  # quiet: no framework log lines
        assert {path: _snapshot(path) for path in before} == before  # nothing lost
        assert not [p for p in tmp_path.rglob("*") if p.name.endswith((".tmp", ".old"))]
        if row["check"]:
            CHECKS[row["check"]](scene, row, argv)


def _interrupt(argv, scene, signum):
    """Start the command, signal it once its work folder exists, and give it 2 s to end.

    The command starts with the default response to SIGINT and SIGTERM, as a command in
    a terminal's foreground does, even when these tests run in a background job (which a
    shell starts with SIGINT ignored, and the ignoring is inherited).
    """
    def foreground():
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_DFL)

    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               preexec_fn=foreground)
    deadline = time.monotonic() + 120
    while not list(scene.tmp.glob(".earlier.*.tmp")):
        assert process.poll() is None and time.monotonic() < deadline, "the run never started"
        time.sleep(0.05)
    time.sleep(0.5)
    process.send_signal(signum)
    clock = time.monotonic()
    stdout, stderr = process.communicate(timeout=10)
    assert time.monotonic() - clock < 2.0, "the run did not stop within 2 s"
    return subprocess.CompletedProcess(argv, process.returncode, stdout, stderr)


def _snapshot(path):
    path = Path(path)
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    return {str(p.relative_to(path) if path.is_dir() else p.name): p.read_bytes() for p in files}


# --- the same cases where the table cannot reach ---------------------------------------------

def test_disk_full_injected(tmp_path, monkeypatch):
    """ENOSPC while the results file is written (injected, as on a machine without root):
    temporary files removed, the earlier folder byte-identical."""
    an = dynan.load(dynan.example_model("integrator_leaky"))
    out = tmp_path / "out"
    an.analyze(out=out, n_trials=8, n_inits=16, formats=(), progress=False).close()
    before = _snapshot(out)

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "x.h5"))

    monkeypatch.setattr("dynan.pipeline.write_recording", full)
    with pytest.raises(OSError, match="No space left"):
        an.analyze(out=out, overwrite=True, n_trials=8, n_inits=16, formats=(), progress=False)
    assert _snapshot(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [".out.lock", "out"]


# --- fuzzing: damaged files work or fail in one line, never a traceback, hang or crash -------

def _damage(data, flips, cut):
    data = bytearray(data[: max(1, int(len(data) * cut))])
    for where, value in flips:
        data[int(where * (len(data) - 1))] = value
    return bytes(data)


DAMAGE = dict(
    flips=st.lists(st.tuples(st.floats(0, 1), st.integers(0, 255)), min_size=1, max_size=8),
    cut=st.one_of(st.just(1.0), st.floats(0.01, 1.0)))


def _works_or_one_line(argv, timeout):
    result = subprocess.run([sys.executable, "-m", "dynan", *map(str, argv)],
                            capture_output=True, text=True, timeout=timeout)
    assert result.returncode in (0, 2), result.stderr[-3000:]   # not 1 (a bug), not a crash
    assert "Traceback" not in result.stderr
    if result.returncode:
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("dynan"), result.stderr[-3000:]


@pytest.mark.slow
@settings(max_examples=12, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(**DAMAGE)
def test_fuzzed_results_files(shared, tmp_path, flips, cut):
    path = tmp_path / "fuzzed.h5"
    path.write_bytes(_damage(shared["results_bytes"], flips, cut))
    _works_or_one_line(["info", path], timeout=60)
    _works_or_one_line(["figures", path, "--format", "png", "--out", tmp_path / "figs"], 120)


@pytest.mark.slow
@settings(max_examples=8, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(**DAMAGE)
def test_fuzzed_model_files(tmp_path, flips, cut):
    path = tmp_path / "fuzzed.keras"
    path.write_bytes(_damage(dynan.example_model("integrator_leaky").read_bytes(), flips, cut))
    out = tmp_path / f"out-{time.monotonic_ns()}"
    _works_or_one_line(["analyze", path, "--out", out, "--task", "integrator", "--trials", "4",
                        "--format", "png"], timeout=180)
