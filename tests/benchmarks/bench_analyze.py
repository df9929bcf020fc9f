"""Benchmark: ``dynan analyze`` on every bundled model: the time of each stage, and the bytes
the process wrote against the size of the folder it made.

Each model is analysed in a fresh process, as the command line runs it (256 trials, fixed
points under zero input and each task epoch's input, every panel in PDF, SVG and PNG).
Targets: under 2 minutes per model on a 2-core machine; bytes written (``wchar`` of
``/proc/self/io``: everything passed to ``write``, figures and temporary files included)
at most 1.5 times the finished folder.

Run:  python tests/benchmarks/bench_analyze.py
"""

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from dynan import stages as dynan_stages

MODELS = ("tdnms_leaky", "flipflop_leaky", "integrator_leaky", "integrator_current")
STAGES = ("record", *(stage.name for stage in dynan_stages.STAGES), "figures")

CHILD = """
import io, sys
import dynan
from dynan.cli import main
sys.stdout = io.StringIO()  # the report, not the bytes on the terminal
code = main(['analyze', str(dynan.example_model({name!r})), '--out', {out!r}])
counters = dict(line.split(': ') for line in open('/proc/self/io').read().splitlines())
sys.stdout = sys.__stdout__
print(int(counters['wchar']), int(counters['write_bytes']))
raise SystemExit(code)
"""


def folder_size(folder):
    return sum(p.stat().st_size for p in Path(folder).rglob("*") if p.is_file())


def main():
    print(f"{'model':<20}" + "".join(f"{s:>14}" for s in STAGES)
          + f"{'wall':>8}{'written':>10}{'folder':>10}{'ratio':>7}")
    for name in MODELS:
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "out"
            start = time.perf_counter()
            result = subprocess.run([sys.executable, "-c", CHILD.format(name=name, out=str(out))],
                                    check=True, capture_output=True, text=True)
            wall = time.perf_counter() - start
            written = int(result.stdout.split()[0])
            size = folder_size(out)
            seconds = json.loads((out / "summary.json").read_text())["seconds"]
        print(f"{name:<20}" + "".join(f"{seconds.get(s, 0):>13.2f}s" for s in STAGES)
              + f"{wall:>7.1f}s{written / 2**20:>8.1f}MB{size / 2**20:>8.1f}MB{written / size:>7.2f}")
    print("wall: the whole command, Python and TensorFlow start-up included (target < 120 s); "
          "ratio: bytes written / folder size (target <= 1.5)")


if __name__ == "__main__":
    main()
