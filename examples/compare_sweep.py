"""Train a sweep of small networks, analyse them in one batch, and compare them.

Usage::

    python examples/compare_sweep.py OUTDIR

Twelve networks: a Keras ``GRU`` and a ``SimpleRNN`` of 16 units with a ``Dense``
readout, each trained on the 3-bit flip-flop and on the integrator, with seeds 0, 1
and 2 (about 5 s each on a 2-core CPU; each saved with its card, ``NAME.json``). Then
``dynan batch`` analyses them (overviews only) and compares them: ``OUTDIR/results/
comparison`` holds the distances between every pair, the map of the networks and their
fixed-point structures. The flip-flop networks share its 8 attractors; the map separates
the two tasks.
"""

import json
import sys
from pathlib import Path

from dynan import backend, compare, tasks
from dynan.batch import batch

keras = backend.setup()  # Keras on TensorFlow, without TensorFlow's start-up lines

#: Each task's trials for training (and, through the card, for the analysis).
TASKS = {"flipflop": {"n_bits": 3, "n_time": 64, "pulse_prob": 0.2},
         "integrator": {}}
LAYERS = {"gru": keras.layers.GRU, "simplernn": keras.layers.SimpleRNN}
SEEDS = (0, 1, 2)


def train(layer, task, seed, folder, *, n_units=16, n_trials=2048, epochs=15):
    """Train one network; returns the path of ``<layer>_<task>_seed<seed>.keras``."""
    keras.utils.set_random_seed(seed)
    trials = getattr(tasks, task)(n_trials, **TASKS[task], seed=seed)
    n_in, n_out = trials.inputs.shape[2], trials.targets.shape[2]
    model = keras.Sequential([keras.Input((None, n_in)),
                              LAYERS[layer](n_units, return_sequences=True),
                              keras.layers.Dense(n_out)])
    model.compile(optimizer=keras.optimizers.Adam(1e-2, clipnorm=1.0), loss="mse")
    model.fit(trials.inputs, trials.targets, batch_size=64, epochs=epochs, verbose=0)
    path = Path(folder) / f"{layer}_{task}_seed{seed}.keras"
    model.save(path)
    path.with_suffix(".json").write_text(json.dumps({"task": task, "task_params": TASKS[task]}))
    return path


def sweep(folder, seeds=SEEDS):
    """Train every network of the sweep into ``folder``; returns their paths."""
    Path(folder).mkdir(parents=True, exist_ok=True)
    return [train(layer, task, seed, folder) for layer in LAYERS for task in TASKS
            for seed in seeds]


def main(out):
    out = Path(out)
    models = sweep(out / "models")
    batch(models, out / "results", n_trials=128, figures="overview", formats=("png",))
    comparison = compare.read(out / "results" / "comparison")
    print(compare.describe(comparison, "topology", "task"))
    print(f"map of the networks: {out / 'results' / 'comparison' / 'embedding.png'}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "sweep")
