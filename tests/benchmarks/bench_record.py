"""Benchmark: recording tDNMS trials to a results file with the shipped 128-unit model.

Prints, from one run on this machine:

- seconds for the bare forward pass, ``Analysis.run`` (the states and outputs in memory,
  float64, no file), for its engine alone (states computed and dropped) and, for
  reference, Keras ``model.predict`` (float32) on the same trials;
- seconds for ``Analysis.record`` to a results file, and the ratio record / bare forward
  (target <= 1.25);
- the file size;
- the peak memory that ``record`` adds on top of the trials it is given, for 1024 and
  8192 trials, each measured in a fresh process (target: no growth beyond 10 %).

Run:  python tests/benchmarks/bench_record.py [--trials 2048] [--repeats 3]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def best_of(repeats, fn):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def speed(n_trials, repeats):
    import keras

    import dynan
    from dynan import tasks

    path = dynan.example_model("tdnms_leaky")
    an = dynan.load(path)
    trials = tasks.tdnms(n_trials, seed=0)
    model = keras.saving.load_model(path)
    model.predict(trials.inputs[:64], verbose=0)  # warm up

    def bare():
        an.run(trials)

    def engine():
        for _ in an.simulate(trials):
            pass

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "record.h5"

        def rec():
            an.record(trials, out, progress=False).close()

        # interleave the two so that machine noise hits both alike; each record writes a new
        # file (the old one is removed outside the timing, as deleting it is not recording)
        t_bare, t_engine, t_rec = [], [], []
        for _ in range(repeats):
            t_bare.append(best_of(1, bare))
            t_engine.append(best_of(1, engine))
            out.unlink(missing_ok=True)
            t_rec.append(best_of(1, rec))
        t_keras = best_of(repeats, lambda: model.predict(trials.inputs, batch_size=256, verbose=0))
        size = out.stat().st_size
    return min(t_bare), min(t_engine), min(t_rec), t_keras, size


def rss_mib():
    """Resident memory of this process now, from /proc (MiB)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def memory_child(n_trials):
    """In a fresh process: peak resident memory that record adds on top of the trials (MiB)."""
    import threading

    import dynan
    from dynan import tasks

    an = dynan.load(dynan.example_model("tdnms_leaky"))
    trials = tasks.tdnms(n_trials, seed=0)
    an.record(trials[:8], None, progress=False).close()  # warm up imports and buffers
    before = rss_mib()
    peak, done = [before], threading.Event()

    def watch():
        while not done.wait(0.002):
            peak[0] = max(peak[0], rss_mib())

    watcher = threading.Thread(target=watch)
    watcher.start()
    with tempfile.TemporaryDirectory() as tmp:
        an.record(trials, Path(tmp) / "r.h5", progress=False).close()
        done.set()
        watcher.join()
    print(json.dumps({"before_mib": before, "added_mib": max(peak[0], rss_mib()) - before}))


def memory(n_trials):
    out = subprocess.run([sys.executable, __file__, "--memory-child", str(n_trials)],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=2048)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--memory-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        return memory_child(args.memory_child)

    t_bare, t_engine, t_rec, t_keras, size = speed(args.trials, args.repeats)
    print(f"trials: {args.trials} tDNMS (200 bins), model tdnms_leaky (128 units), best of {args.repeats}")
    print(f"bare forward pass, Analysis.run:     {t_bare:7.3f} s   (float64 states in memory)")
    print(f"  its engine alone, states dropped:  {t_engine:7.3f} s")
    print(f"  Keras model.predict (float32):     {t_keras:7.3f} s   (reference)")
    print(f"record to HDF5:                      {t_rec:7.3f} s")
    print(f"record / bare forward:               {t_rec / t_bare:7.3f}   (target <= 1.25)")
    print(f"record / engine alone:               {t_rec / t_engine:7.3f}")
    print(f"record / Keras predict:              {t_rec / t_keras:7.3f}")
    print(f"file size:                           {size / 2**20:7.1f} MiB "
          f"({size / args.trials / 1024:.1f} KiB per trial)")
    small, large = memory(1024), memory(8192)
    growth = large["added_mib"] / small["added_mib"] - 1
    print(f"peak memory added by record, 1024 trials: {small['added_mib']:7.1f} MiB "
          f"(process before: {small['before_mib']:.0f} MiB)")
    print(f"peak memory added by record, 8192 trials: {large['added_mib']:7.1f} MiB "
          f"(process before: {large['before_mib']:.0f} MiB)")
    print(f"growth 1024 -> 8192 trials:          {100 * growth:+7.1f} %   (target within 10 %)")


if __name__ == "__main__":
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    main()
