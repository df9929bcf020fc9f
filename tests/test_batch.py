"""Batch analysis on real Dask clusters on loopback: results, isolation, resumption."""

import csv
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

import dynan
from dynan.batch import batch, expand_models
from dynan.cli import main

FAST = dict(n_trials=24, n_inits=64, formats=("png",))


def copy_models(folder, names):
    """Copies of bundled models with their cards, under new names."""
    folder.mkdir(parents=True, exist_ok=True)
    for new, name in names.items():
        model = dynan.example_model(name)
        shutil.copy(model, folder / f"{new}.keras")
        shutil.copy(model.with_suffix(".json"), folder / f"{new}.json")
    return folder


def read_table(path):
    with open(path, newline="") as f:
        return {Path(row["path"]).name: row for row in csv.DictReader(f)}


@pytest.mark.cluster
def test_local_cluster_with_a_corrupt_model_then_a_rerun_skips(tmp_path):
    models = copy_models(tmp_path / "models", {"a": "integrator_leaky", "b": "integrator_current",
                                                "c": "flipflop_leaky"})
    (models / "broken.keras").write_bytes(b"PK\x03\x04 not really a zip")
    out = tmp_path / "results"
    rows = batch([str(models / "*.keras")], out, workers=2, **FAST, progress=False)
    status = {Path(r["path"]).name: r["status"] for r in rows}
    assert status == {"a.keras": "done", "b.keras": "done", "broken.keras": "error", "c.keras": "done"}
    table = read_table(out / "summary.csv")
    assert "is not a Keras model file" in table["broken.keras"]["error"]
    for name in ("a", "b", "c"):
        row = table[f"{name}.keras"]
        folder = out / row["folder"]
        assert (folder / f"{name}.h5").is_file() and (folder / "summary.json").is_file()
        assert float(row["performance"]) > 0.95 and row["sha256"] == dynan.loading.file_sha256(models / f"{name}.keras")
        assert int(row["units"]) == 64 and float(row["seconds"]) > 0
    assert table["c.keras"]["stable"] == "8"
    # the reports share one plotly.js, in the batch's folder
    assert (out / "plotly.min.js").stat().st_size > 10**6
    for row in table.values():
        if row["status"] == "done":
            page = (out / row["folder"] / "report.html").read_text()
            assert 'src="../plotly.min.js"' in page and len(page) < 4 * 10**6  # js: 4.6 MB
    again = batch([str(models / "*.keras")], out, workers=2, **FAST, progress=False)
    assert [r["status"] for r in again] == ["skipped", "skipped", "error", "skipped"]  # a, b, broken, c
    changed = batch([str(models / "a.keras")], out, workers=1, n_trials=16, n_inits=64,
                    formats=("png",), progress=False)
    assert changed[0]["status"] == "done"  # other parameters: analysed again


def done(out):
    """The model folders a batch has finished (moved into place; not its hidden work folders)."""
    return {p.parent.name for p in out.glob("*/summary.json") if not p.parent.name.startswith(".")}


@pytest.mark.parametrize("timeout", [None, 600])
def test_a_model_folder_lands_with_its_batch_parameters(tmp_path, timeout):
    """A batch killed the moment a model's folder is in place finds that model finished:
    the folder's summary carries the batch's parameters from the start (in this process,
    and in the child process that ``--timeout`` runs)."""
    from dynan import batch as batch_module
    from dynan.loading import file_sha256

    path = str(copy_models(tmp_path / "models", {"m": "integrator_leaky"}) / "m.keras")
    sha, out = file_sha256(path), tmp_path / "out"
    params = {"task": None, "n_trials": 24, "seed": 0, "n_inits": 512, "formats": [],
              "panels": None, "imports": []}
    folder = out / batch_module._folder_name(path, sha)
    if timeout is None:
        batch_module._analyze_here(path, folder, params)
    else:
        batch_module._analyze_in_child(path, folder, params, timeout)
    row = batch_module._finished(path, sha, out, params)  # nothing after the analysis itself
    assert row is not None and row["status"] == "skipped"
    assert batch_module._finished(path, sha, out, {**params, "seed": 1}) is None


@pytest.mark.cluster
@pytest.mark.kill
def test_killed_batch_restarts_without_redoing_finished_models(tmp_path):
    models = copy_models(tmp_path / "models", {f"m{i}": name for i, name in enumerate(
        ("integrator_leaky", "integrator_current", "flipflop_leaky", "tdnms_leaky"))})
    out = tmp_path / "results"
    command = [sys.executable, "-m", "dynan", "batch", str(models / "*.keras"), "--out", str(out),
               "--workers", "1", "--trials", "24", "--format", "png"]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        while not done(out):
            assert proc.poll() is None, "the batch ended before it could be killed"
            assert time.monotonic() < deadline, "no model finished in time"
            time.sleep(0.2)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    finished = done(out)
    assert 1 <= len(finished) < 4
    assert main(["batch", str(models / "*.keras"), "--out", str(out), "--workers", "1",
                 "--trials", "24", "--format", "png"]) == 0
    table = read_table(out / "summary.csv")
    assert {r["status"] for r in table.values()} <= {"done", "skipped"}
    assert {r["folder"] for r in table.values() if r["status"] == "skipped"} == finished


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.cluster
def test_external_scheduler_and_workers(tmp_path, capsys):
    models = copy_models(tmp_path / "models", {"x": "integrator_leaky", "y": "integrator_current"})
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    scheduler = subprocess.Popen([sys.executable, "-m", "dask", "scheduler", "--host", "127.0.0.1",
                                  "--port", str(port), "--no-dashboard"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    worker = subprocess.Popen([sys.executable, "-m", "dask", "worker", address, "--host",
                               "127.0.0.1", "--nworkers", "1", "--nthreads", "1", "--no-dashboard"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              cwd=tmp_path)
    try:
        code = main(["batch", str(models / "x.keras"), str(models / "y.keras"), "--out",
                     str(tmp_path / "out"), "--scheduler", address, "--trials", "24",
                     "--format", "png"])
        assert code == 0
        assert "2 models: 2 analysed, 0 already done, 0 duplicates, 0 failed, 0 timed out" in capsys.readouterr().out
        assert {r["status"] for r in read_table(tmp_path / "out" / "summary.csv").values()} == {"done"}
    finally:
        for proc in (worker, scheduler):
            proc.terminate()
            proc.wait(timeout=30)


SBATCH = """#!/bin/sh
# sbatch for this test: runs the job script here, in a session of its own (from a copy:
# dask-jobqueue deletes the script as soon as sbatch returns)
job=$(mktemp)
cp "$1" "$job"
setsid sh "$job" > /dev/null 2>&1 < /dev/null &
echo "Submitted batch job $!"
"""
SCANCEL = """#!/bin/sh
for job in "$@"; do kill -TERM -- "-$job" 2> /dev/null; done
exit 0
"""


@pytest.mark.cluster
def test_slurm_jobs_through_dask_jobqueue(tmp_path, monkeypatch):
    """--cluster slurm: dask-jobqueue writes each job's script and submits it with sbatch,
    which here runs it on this machine (a real Dask worker process per job)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, script in (("sbatch", SBATCH), ("scancel", SCANCEL)):
        (bin_dir / name).write_text(script)
        (bin_dir / name).chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    models = copy_models(tmp_path / "models", {"x": "integrator_leaky", "y": "integrator_current"})
    done = subprocess.run(  # in a process of its own, so that a lost job cannot hang the tests
        [sys.executable, "-m", "dynan", "batch", str(models / "x.keras"), str(models / "y.keras"),
         "--out", str(tmp_path / "out"), "--cluster", "slurm", "--workers", "2",
         "--cluster-option", "memory=2GB", "--cluster-option", "walltime=00:10:00",
         "--cluster-option", "interface=lo", "--trials", "24", "--figures", "none"],
        capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "2 models: 2 analysed" in done.stdout
    assert {r["status"] for r in read_table(tmp_path / "out" / "summary.csv").values()} == {"done"}


def test_a_job_scheduler_that_is_not_here_is_refused_in_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(tmp_path))  # no qsub
    models = copy_models(tmp_path / "models", {"x": "integrator_leaky"})
    assert main(["batch", str(models / "x.keras"), "--out", str(tmp_path / "out"),
                 "--cluster", "pbs"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith("--cluster pbs submits jobs with qsub, which is not on this machine: "
                        "run the batch on a PBS login node") and len(err.splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_model_lists_and_globs(tmp_path):
    models = copy_models(tmp_path / "m", {"one": "integrator_leaky", "two": "integrator_current"})
    listing = tmp_path / "models.txt"
    listing.write_text("# my sweep\nm/one.keras\n\nm/two.keras\n")
    assert expand_models([str(listing)]) == [str(models / "one.keras"), str(models / "two.keras")]
    assert expand_models([str(models / "*.keras"), str(models / "one.keras")]) == [
        str(models / "one.keras"), str(models / "two.keras")]
    with pytest.raises(FileNotFoundError, match="no model file matches"):
        expand_models([str(tmp_path / "nothing" / "*.keras")])
