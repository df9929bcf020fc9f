"""Benchmark: ``dynan analyze`` on every bundled model, with the time of each stage.

Each model is analysed in a fresh process, as the command line runs it (256 trials, fixed
points under zero input and each task epoch's input, every panel in PDF, SVG and PNG).
Target: under 2 minutes per model on a 2-core machine.

Run:  python tests/benchmarks/bench_analyze.py
"""

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MODELS = ("tdnms_leaky", "flipflop_leaky", "integrator_leaky", "integrator_current")


def main():
    stages = ("record", "pca", "spectrum", "fixed_points", "figures")
    print(f"{'model':<20}" + "".join(f"{s:>13}" for s in stages) + f"{'in-process':>12}{'wall':>8}")
    for name in MODELS:
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "out"
            code = ("import dynan; from dynan.cli import main; "
                    f"raise SystemExit(main(['analyze', str(dynan.example_model({name!r})), '--out', {str(out)!r}]))")
            start = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
            wall = time.perf_counter() - start
            seconds = json.loads((out / "summary.json").read_text())["seconds"]
        print(f"{name:<20}" + "".join(f"{seconds[s]:>12.2f}s" for s in stages)
              + f"{seconds['total']:>11.2f}s{wall:>7.1f}s")
    print("wall: the whole command, Python and TensorFlow start-up included (target < 120 s)")


if __name__ == "__main__":
    main()
