"""Benchmark: ``dynan batch`` speed-up over workers, and its per-model overhead and memory.

1. Eight analyses of bundled models (each of the four, twice) with 1 and with 2 workers:
   wall time and the speed-up of 2 workers over 1.
2. Per-model overhead: 16 and 64 copies of the bundled integrator (64 units, 64 trials, no
   figures) on 2 workers, then of a small Keras GRU (32 units), which Keras loads. Overhead is everything the batch spends besides the models' own
   analyses (the ``seconds`` of each summary: recording, every stage, figures): Dask, loading
   each model, writing its report and summary, the table and the final comparison,
   ``(workers x wall - sum of analyses) / models``. Target: at most 0.5 s per model, and peak
   memory (the largest process of the batch) flat in the number of models.

Each configuration runs ``dynan batch`` in a fresh process on a fresh local Dask cluster
(start-up included) over copies of the bundled models; the copies differ by their archive
comment, so that batch does not take them for duplicates.

Run:  python tests/benchmarks/bench_batch.py
"""

import csv
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import dynan

MODELS = ("tdnms_leaky", "flipflop_leaky", "integrator_leaky", "integrator_current")


def copies(folder, models, n):
    """``n`` copies of each model in ``models`` (bundled names or paths), each with its card."""
    folder.mkdir()
    for copy in range(n):
        for name in models:
            model = Path(name) if str(name).endswith(".keras") else dynan.example_model(name)
            target = folder / f"{model.stem}_{copy}.keras"
            shutil.copy(model, target)
            with zipfile.ZipFile(target, "a") as archive:
                archive.comment = f"copy {copy}".encode()
            shutil.copy(model.with_suffix(".json"), target.with_suffix(".json"))


#: Runs a command and prints the peak resident memory (KiB) of its largest process.
PEAK = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, "
        "capture_output=True); print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")


def run(models, out, workers, *options):
    """Wall seconds of one ``dynan batch``, and the peak resident memory (MiB) of its
    largest process."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", PEAK, sys.executable, "-m", "dynan", "batch",
                           str(models / "*.keras"), "--out", str(out), "--workers", str(workers),
                           *options], check=True, capture_output=True, text=True)
    return time.perf_counter() - start, int(done.stdout.split()[-1]) / 1024


def speed_up():
    walls = {}
    for workers in (1, 2):
        with tempfile.TemporaryDirectory() as tmp:
            copies(Path(tmp) / "models", MODELS, 2)
            walls[workers], _ = run(Path(tmp) / "models", Path(tmp) / "out", workers)
    print("8 analyses (4 bundled models x 2 copies, 256 trials, overviews in PDF/SVG/PNG), "
          "fresh cluster each")
    print(f"1 worker:   {walls[1]:7.1f} s")
    print(f"2 workers:  {walls[2]:7.1f} s")
    print(f"speed-up:   {walls[1] / walls[2]:7.2f}x")


def gru_model(folder):
    """A small Keras GRU (32 units, Keras's initial weights) for the integrator task: a
    network that Keras loads (and TensorFlow differentiates), unlike the bundled ones."""
    from dynan import backend

    keras = backend.setup()
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((None, 1)), keras.layers.GRU(32, return_sequences=True),
                              keras.layers.Dense(1)])
    path = Path(folder) / "gru_integrator.keras"
    model.save(path)
    path.with_suffix(".json").write_text('{"task": "integrator"}')
    return path


def overhead():
    with tempfile.TemporaryDirectory() as tmp:
        for model in ("integrator_leaky", gru_model(tmp)):
            overhead_of(model)
    print("target: overhead at most 0.5 s per model; peak memory flat in the number of models")


def overhead_of(model):
    print(f"\nper-model overhead, 2 workers ({Path(model).stem} copies, 64 trials, no figures)")
    print(f"{'models':>7}{'wall':>9}{'analyses':>10}{'overhead/model':>16}{'peak memory':>13}")
    for n in (16, 64):
        with tempfile.TemporaryDirectory() as tmp:
            copies(Path(tmp) / "models", (model,), n)
            out = Path(tmp) / "out"
            wall, peak = run(Path(tmp) / "models", out, 2, "--trials", "64", "--figures", "none")
            with open(out / "summary.csv", newline="") as f:
                rows = list(csv.DictReader(f))
            assert [r["status"] for r in rows] == ["done"] * n
            analyses = sum(float(r["seconds"]) for r in rows)
        print(f"{n:>7}{wall:>8.1f}s{analyses:>9.1f}s{(2 * wall - analyses) / n:>15.2f}s"
              f"{peak:>10.0f} MiB")


if __name__ == "__main__":
    speed_up()
    overhead()
