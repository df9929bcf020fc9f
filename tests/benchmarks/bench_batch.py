"""Benchmark: 8 analyses of bundled models (each of the four, twice) with 1 and with 2 workers.

Each configuration runs ``dynan batch`` in a fresh process on a fresh local Dask cluster
(start-up included) over copies of the bundled models, and prints the wall time and
the speed-up of 2 workers over 1. The copies differ by their archive comment, so that
batch does not take them for duplicates.

Run:  python tests/benchmarks/bench_batch.py
"""

import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import dynan

MODELS = ("tdnms_leaky", "flipflop_leaky", "integrator_leaky", "integrator_current")


def run(workers):
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "models"
        folder.mkdir()
        for copy in (1, 2):
            for name in MODELS:
                model = dynan.example_model(name)
                shutil.copy(model, folder / f"{name}_{copy}.keras")
                with zipfile.ZipFile(folder / f"{name}_{copy}.keras", "a") as archive:
                    archive.comment = f"copy {copy}".encode()
                shutil.copy(model.with_suffix(".json"), folder / f"{name}_{copy}.json")
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "dynan", "batch", str(folder / "*.keras"),
                        "--out", str(Path(tmp) / "out"), "--workers", str(workers)],
                       check=True, capture_output=True)
        return time.perf_counter() - start


def main():
    one, two = run(1), run(2)
    print("8 analyses (4 bundled models x 2 copies, 256 trials, PDF/SVG/PNG), fresh cluster each")
    print(f"1 worker:   {one:7.1f} s")
    print(f"2 workers:  {two:7.1f} s")
    print(f"speed-up:   {one / two:7.2f}x")


if __name__ == "__main__":
    main()
