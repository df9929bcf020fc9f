"""Benchmark: fixed-point search on the shared benchmark networks, against FixedPointFinder.

For each network in ../shared/bench/nets (``inits`` as starts, zero input) prints the seconds
of one ``find_fixed_points`` call (search, uniqueness, Jacobians and eigendecompositions),
the fixed points found (stable), slow points, the largest residual ``max|F(x) - x|``, the best
known count, and the speed-up over FixedPointFinder's time on this machine (issue 5's table).
Then how the time grows with the number of units N (random networks built like random_N128)
and with the number of starts.

Run:  python tests/benchmarks/bench_fixed_points.py [--nets DIR] [--repeats 5]  (best of 5)
"""

import argparse
import time
from pathlib import Path

import numpy as np

import dynan
from dynan.fixed_points import find_fixed_points

ROOT = Path(__file__).resolve().parents[2]
#: FixedPointFinder on this machine (PyTorch, default settings, 1024 starts), and the best
#: known counts, from issue 5 and ../shared/bench/README.md.
FPF_SECONDS = {"random_N128": 20.8, "hopfield_N64": 1.7, "fpf_gt_n4": 0.16}
BEST_KNOWN = {"fpf_gt_n2": 3, "fpf_gt_n3": 3, "fpf_gt_n4": 9, "hopfield_N64": 33, "random_N128": 8}


def timed(dynamics, starts, repeats):
    find_fixed_points(dynamics, starts[:8], progress=False)  # warm up
    best, fps = np.inf, None
    for _ in range(repeats):
        start = time.perf_counter()
        fps = find_fixed_points(dynamics, starts, progress=False)
        best = min(best, time.perf_counter() - start)
    return best, fps


def random_network(n, seed=0, n_trials=256, n_steps=100, n_starts=1024):
    """A random_N128-style network of n units and states visited by its trajectories."""
    rng = np.random.default_rng(seed)
    an = dynan.from_weights(rng.normal(size=(3, n)), rng.normal(scale=1.5 / np.sqrt(n), size=(n, n)),
                            np.zeros(n), gamma=0.2)
    h0 = rng.uniform(-1, 1, size=(n_trials, n))
    visited = an.run(rng.normal(scale=0.1, size=(n_trials, n_steps, 3)), h0=h0).hidden.reshape(-1, n)
    starts = visited[rng.choice(len(visited), n_starts, replace=len(visited) < n_starts)]
    return an.dynamics, starts + rng.normal(scale=0.01, size=starts.shape)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nets", type=Path, default=ROOT.parent / "shared" / "bench" / "nets")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    print(f"{'network':<14}{'N':>5}{'seconds':>10}{'FPF s':>8}{'speed-up':>10}{'fixed':>7}"
          f"{'stable':>8}{'slow':>6}{'best known':>12}{'max residual':>14}")
    for path in sorted(args.nets.glob("*.npz")):
        net = np.load(path)
        d = dynan.from_weights(net["W_in"], net["W_rec"], net["b"], gamma=float(net["gamma"])).dynamics
        seconds, fps = timed(d, net["inits"], args.repeats)
        fpf = FPF_SECONDS.get(path.stem)
        residual = np.abs(fps.F_xstar - fps.xstar).max() if len(fps) else 0.0
        print(f"{path.stem:<14}{d.n_units:>5}{seconds:>10.3f}{fpf or float('nan'):>8.2f}"
              f"{(fpf / seconds) if fpf else float('nan'):>10.1f}{len(fps):>7}{fps.is_stable.sum():>8}"
              f"{len(fps.slow_points):>6}{BEST_KNOWN.get(path.stem, 0):>12}{residual:>14.1e}")

    print("\ntime against N (random networks, 256 starts):")
    for n in (64, 128, 256, 512):
        d, starts = random_network(n, n_starts=256)
        seconds, fps = timed(d, starts, 1)
        print(f"  N={n:<4} {seconds:8.3f} s   {len(fps)} fixed, {len(fps.slow_points)} slow")
    print("\ntime against starts (random network, N=128):")
    d, starts = random_network(128, n_starts=4096)
    for n_starts in (256, 512, 1024, 2048, 4096):
        seconds, fps = timed(d, starts[:n_starts], 1)
        print(f"  {n_starts:>5} starts {seconds:8.3f} s   {len(fps)} fixed, {len(fps.slow_points)} slow")


if __name__ == "__main__":
    main()
