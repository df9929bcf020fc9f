"""Batch safety: duplicates, models that are not regular files, the output folder (marker,
lock, inputs), time limits and a quiet terminal. Real local Dask clusters, through the
command line in a subprocess."""

import csv
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

import dynan
from dynan import output
from dynan.batch import batch

FAST = ["--trials", "16", "--format", "png"]

#: Imported on the workers with ``--import``: the model named stuck.keras hangs once its
#: work folder exists, and ignores SIGTERM (so only SIGKILL ends it and cannot clean up).
STUCK = '''\
import signal, sys, time
from pathlib import Path
import dynan.pipeline

if any(arg.endswith("stuck.keras") for arg in sys.argv):
    signal.signal(signal.SIGTERM, signal.SIG_IGN)

    def stuck(f, *args, **kwargs):
        Path(__file__).with_suffix(".work").write_text(str(Path(f.filename).parent))
        time.sleep(600)

    dynan.pipeline.write_recording = stuck
'''


def copy_model(folder, new, name):
    """A copy of a bundled model and its card, as ``folder/new.keras``."""
    folder.mkdir(parents=True, exist_ok=True)
    model = dynan.example_model(name)
    shutil.copy(model, folder / f"{new}.keras")
    shutil.copy(model.with_suffix(".json"), folder / f"{new}.json")
    return folder / f"{new}.keras"


def dynan_batch(*args, timeout=240):
    return subprocess.run([sys.executable, "-m", "dynan", "batch", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout)


def read_table(path):
    with open(path, newline="") as f:
        return {Path(row["path"]).name: row for row in csv.DictReader(f)}


def assert_quiet(stderr):
    assert "Worker process still alive" not in stderr
    assert not [line for line in stderr.splitlines() if line.startswith("distributed.")], stderr


def model_folders(out):
    return sorted(p.name for p in out.iterdir() if p.is_dir() and not p.name.startswith("."))


@pytest.mark.cluster
def test_same_content_under_other_paths_is_analysed_once(tmp_path):
    models = tmp_path / "models"
    first = copy_model(models, "a", "integrator_leaky")
    copy_model(models, "b", "integrator_leaky")  # same bytes, another name
    (models / "link.keras").symlink_to(first)     # the same file: counted once
    (models / "sub").mkdir()
    out = tmp_path / "results"
    out.mkdir()  # an empty folder will do, and gets dynan's marker
    run = dynan_batch(models / "*.keras", models / "sub" / ".." / "a.keras", "--out", out,
                      "--workers", "1", *FAST)
    assert run.returncode == 0, run.stderr
    assert "2 models: 1 analysed, 0 already done, 1 duplicates, 0 failed" in run.stdout
    assert_quiet(run.stderr)
    table = read_table(out / "summary.csv")
    assert list(table) == ["a.keras", "b.keras"]
    a, b = table["a.keras"], table["b.keras"]
    assert a["status"] == "done" and b["status"] == "duplicate"
    assert b["error"] == f"same content as {first}" and b["folder"] == a["folder"]
    assert b["sha256"] == a["sha256"]
    assert model_folders(out) == [a["folder"]] and output.is_marked(out)
    again = dynan_batch(models / "*.keras", "--out", out, "--workers", "1", *FAST)
    assert again.returncode == 0, again.stderr  # nothing left to analyse: no cluster starts
    table = read_table(out / "summary.csv")
    assert [r["status"] for r in table.values()] == ["skipped", "duplicate"]
    assert table["b.keras"]["folder"] == a["folder"]


def test_a_fifo_among_the_models_is_refused_before_any_work(tmp_path):
    models = tmp_path / "models"
    copy_model(models, "a", "integrator_leaky")
    os.mkfifo(models / "pipe.keras")  # opening it would wait for a writer forever
    out = tmp_path / "results"
    start = time.monotonic()
    run = dynan_batch(models / "*.keras", "--out", out, "--workers", "1", *FAST, timeout=60)
    assert run.returncode == 2
    assert time.monotonic() - start < 30
    lines = run.stderr.splitlines()
    assert len(lines) == 1 and str(models / "pipe.keras") in lines[0], run.stderr
    assert "is a FIFO; a model must be a regular .keras or .h5 file" in lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["models"]  # no --out, no lock


def test_models_that_are_not_regular_files_and_bad_outs_are_refused(tmp_path):
    models = tmp_path / "models"
    model = copy_model(models, "a", "integrator_leaky")
    (models / "folder.keras").mkdir()
    for bad, what in [(models / "folder.keras", "is a folder"),
                      (models / "missing.keras", "does not exist"),
                      ("/dev/null", "is a device")]:
        with pytest.raises(ValueError, match=f"{what}; a model must be a regular"):
            batch([model, bad], tmp_path / "out")
    with pytest.raises(ValueError, match="holds the input model"):
        batch([model], models)
    with pytest.raises(ValueError, match="lies inside the input model"):
        batch([model], model / "out")
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine\n")
    with pytest.raises(FileExistsError, match="exists and was not made by dynan"):
        batch([model], foreign)
    with pytest.raises(FileExistsError, match="exists and was not made by dynan"):
        batch([model], foreign / "notes.txt")
    with pytest.raises(ValueError, match="n_inits 512"):
        batch([model], tmp_path / "out", timeout=10, n_inits=64)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["foreign", "models"]
    assert sorted(p.name for p in foreign.iterdir()) == ["notes.txt"]


@pytest.mark.cluster
def test_a_second_batch_on_a_busy_out_fails_at_once_or_waits(tmp_path):
    models = tmp_path / "models"
    copy_model(models, "a", "integrator_leaky")
    copy_model(models, "b", "integrator_current")
    out = tmp_path / "results"
    args = [sys.executable, "-m", "dynan", "batch", str(models / "*.keras"), "--out", str(out),
            "--workers", "1", *FAST]
    first = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        owner = out.with_name(f".{out.name}.lock.pid")
        deadline = time.monotonic() + 60
        while not owner.exists():
            assert first.poll() is None and time.monotonic() < deadline, "no lock taken"
            time.sleep(0.1)
        second = dynan_batch(models / "*.keras", "--out", out, "--workers", "1", *FAST)
        assert first.poll() is None, "the first batch ended too soon for this test"
        waiting = subprocess.Popen(args + ["--wait"], stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
        assert first.wait(timeout=180) == 0
        stdout, stderr = waiting.communicate(timeout=180)
    finally:
        first.kill()
    assert second.returncode == 2
    assert len(second.stderr.splitlines()) == 1
    assert f"is in use by PID {first.pid}" in second.stderr
    assert waiting.returncode == 0, stderr
    assert "2 models: 0 analysed, 2 already done" in stdout  # ran after the first: all done


@pytest.mark.cluster
def test_timeout_stops_a_model_in_time_and_removes_its_work(tmp_path):
    models = tmp_path / "models"
    copy_model(models, "t", "tdnms_leaky")
    out = tmp_path / "results"
    run = dynan_batch(models / "t.keras", "--out", out, "--workers", "1", "--trials", "256",
                      "--format", "png", "--timeout", "1")
    assert run.returncode == 0, run.stderr
    assert_quiet(run.stderr)
    row = read_table(out / "summary.csv")["t.keras"]
    assert row["status"] == "timeout" and row["error"] == "took longer than --timeout 1 s"
    assert "timed out:" in run.stdout
    assert not list(out.glob(".*.tmp")) and model_folders(out) == []


@pytest.mark.cluster
def test_a_model_that_ignores_sigterm_is_killed_and_the_others_go_on(tmp_path):
    models = tmp_path / "models"
    copy_model(models, "a", "integrator_leaky")
    copy_model(models, "stuck", "flipflop_leaky")
    module = tmp_path / "stuck_module.py"
    module.write_text(STUCK)
    out = tmp_path / "results"
    run = dynan_batch(models / "*.keras", "--out", out, "--workers", "2", *FAST,
                      "--timeout", "20", "--import", module)
    assert run.returncode == 0, run.stderr
    assert_quiet(run.stderr)
    table = read_table(out / "summary.csv")
    assert table["a.keras"]["status"] == "done"
    assert table["stuck.keras"]["status"] == "timeout"
    assert table["stuck.keras"]["error"] == "took longer than --timeout 20 s"
    work = Path(module.with_suffix(".work").read_text())
    assert work.parent == out and work.name.endswith(".tmp")
    assert not work.exists() and not list(out.glob(".*.tmp"))
    assert model_folders(out) == [table["a.keras"]["folder"]]
    assert "1 analysed" in run.stdout and "1 timed out" in run.stdout
