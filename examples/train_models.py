"""Train the example models shipped in data/: a dynan LeakyRNN + Dense readout per task.

Usage::

    python examples/train_models.py                  # every model
    python examples/train_models.py tdnms_leaky      # one model

Each model is trained with Keras ``fit`` on freshly drawn trials (seeded, deterministic
on the CPU), then scored on 300 trials from a seed not used in training. It writes
``data/NAME.keras`` and ``data/NAME.json`` (the model's card: task, parameters,
architecture, training, measured performance), and finishes within 15 minutes on a
2-core CPU.
"""

import argparse
import json
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

import dynan
from dynan import tasks
from dynan.layers import LeakyRNN

DATA = Path(__file__).resolve().parents[1] / "data"
EVAL_SEED = 20261122  # never used for training

#: name -> task, task parameters, layer, and training settings.
MODELS = {
    "tdnms_leaky": dict(
        task="tdnms", task_params={}, units=128, activation="tanh", gamma=0.2, leak="rate",
        noise_std=0.05, epochs=30, trials_per_epoch=2048, batch_size=64, learning_rate=2e-3,
        seed=1),
    "flipflop_leaky": dict(
        task="flipflop", task_params={"n_bits": 3}, units=64, activation="tanh", gamma=0.5,
        leak="rate", noise_std=0.02, epochs=30, trials_per_epoch=2048, batch_size=64,
        learning_rate=3e-3, seed=2),
    "integrator_leaky": dict(
        task="integrator", task_params={}, units=64, activation="tanh", gamma=0.2, leak="rate",
        noise_std=0.05, l2=1e-3, epochs=30, trials_per_epoch=2048, batch_size=64,
        learning_rate=3e-3, seed=3),
    "integrator_current": dict(
        task="integrator", task_params={}, units=64, activation="sigmoid", gamma=0.2,
        leak="current", noise_std=0.0, epochs=30, trials_per_epoch=2048, batch_size=64,
        learning_rate=3e-3, seed=4),
}


def build(spec, n_in, n_out):
    """Input -> LeakyRNN -> Dense, as in the seed notebook."""
    return keras.Sequential([
        keras.Input((None, n_in)),
        LeakyRNN(spec["units"], gamma=spec["gamma"], noise_std=spec["noise_std"],
                 leak=spec["leak"], activation=spec["activation"], return_sequences=True,
                 seed=spec["seed"], name="rnn",
                 recurrent_regularizer=keras.regularizers.L2(spec.get("l2", 0.0))),
        keras.layers.Dense(n_out, name="readout"),
    ])


def train(name):
    spec = MODELS[name]
    keras.utils.set_random_seed(spec["seed"])
    tf.config.experimental.enable_op_determinism()
    make = tasks.TASKS[spec["task"]]
    probe = make(1, **spec["task_params"], seed=0)
    model = build(spec, probe.inputs.shape[2], probe.targets.shape[2])
    model.compile(optimizer=keras.optimizers.Adam(spec["learning_rate"], clipnorm=1.0), loss="mse")
    start = time.perf_counter()
    for epoch in range(spec["epochs"]):  # fresh trials every epoch, seeds 1000 * seed + epoch
        train_trials = make(spec["trials_per_epoch"], **spec["task_params"],
                            seed=1000 * spec["seed"] + epoch)
        history = model.fit(train_trials.inputs, train_trials.targets,
                            batch_size=spec["batch_size"], epochs=1, verbose=0)
        print(f"{name} epoch {epoch + 1}/{spec['epochs']}: loss {history.history['loss'][-1]:.5f}",
              flush=True)
    seconds = time.perf_counter() - start
    path = DATA / f"{name}.keras"
    model.save(path)

    test = make(300, **spec["task_params"], seed=EVAL_SEED)
    performance = tasks.score(test, dynan.load(path).run(test.inputs).outputs)
    steps = spec["epochs"] * -(-spec["trials_per_epoch"] // spec["batch_size"])
    card = {
        "name": name, "file": path.name, "task": spec["task"],
        "task_params": {k: v for k, v in probe.params.items() if k != "seed"},
        "layer": "dynan.layers.LeakyRNN", "units": spec["units"], "gamma": spec["gamma"],
        "leak": spec["leak"], "activation": spec["activation"], "noise_std": spec["noise_std"],
        "readout": "Dense (linear)", "loss": "mse", "recurrent_l2": spec.get("l2", 0.0), "optimizer": f"Adam({spec['learning_rate']}, clipnorm=1)",
        "epochs": spec["epochs"], "trials_per_epoch": spec["trials_per_epoch"],
        "batch_size": spec["batch_size"], "training_steps": steps, "seed": spec["seed"],
        "training_seconds": round(seconds, 1), "eval_seed": EVAL_SEED, "eval_trials": 300,
        "performance": round(performance, 4), "performance_measure": PERFORMANCE[spec["task"]],
        "file_bytes": path.stat().st_size,
    }
    (DATA / f"{name}.json").write_text(json.dumps(card, indent=2) + "\n")
    print(json.dumps(card, indent=2))
    write_readme()
    return card


def write_readme():
    """data/README.md: one card per trained model, from the JSON cards beside it."""
    lines = [
        "# Example models",
        "",
        "Small trained networks that dynan's defaults, examples and tests use. Each is a dynan",
        "`LeakyRNN` followed by a linear `Dense` readout, trained with Keras `fit` (MSE loss) by",
        "`python examples/train_models.py NAME`, which also writes the card `NAME.json` that this",
        "page is made from. Performance is measured on 300 fresh trials from a seed never used",
        "in training.",
        "",
    ]
    for path in sorted(DATA.glob("*.json")):
        c = json.loads(path.read_text())
        params = ", ".join(f"{k}={v}" for k, v in c["task_params"].items())
        lines += [
            f"## {c['file']}", "",
            f"- task: `{c['task']}` ({params}); {CHOICES[c['name']]}",
            f"- network: {c['units']} units, leak `{c['leak']}`, activation `{c['activation']}`, "
            f"gamma {c['gamma']}, training noise_std {c['noise_std']}, recurrent L2 "
            f"{c['recurrent_l2']}; readout {c['readout']}",
            f"- training: {c['training_steps']} steps ({c['epochs']} epochs of "
            f"{c['trials_per_epoch']} fresh trials, batch {c['batch_size']}), {c['optimizer']}, "
            f"seed {c['seed']}, {c['training_seconds']:.0f} s on a 2-core CPU",
            f"- performance: **{c['performance']:.4f}**, {c['performance_measure']} "
            f"(seed {c['eval_seed']}, {c['eval_trials']} trials)",
            f"- file size: {c['file_bytes'] / 1024:.0f} KiB", "",
        ]
    (DATA / "README.md").write_text("\n".join(lines))


#: Why each model is set up as it is.
CHOICES = {
    "tdnms_leaky": "the seed notebook's settings (128 units, tanh, gamma 0.2).",
    "flipflop_leaky": "gamma 0.5 so that a bit can flip within the 5 bins the score allows.",
    "integrator_leaky": "BrainPy's task (its defaults swap bias and noise scale: 0.025, 0.01) "
                        "with dynan's leaky rate network; recurrent L2 and training noise make "
                        "it integrate with one slow mode (a line attractor) instead of many.",
    "integrator_current": "the time-averaged current leak (connectionist style, sigmoid rates).",
}


PERFORMANCE = {
    "tdnms": "fraction of correct go/no-go decisions (mean output in bins 131-159 > 0.5)",
    "flipflop": "fraction of bits with the right sign from 5 bins after each pulse on",
    "integrator": "R^2 between output and target",
}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", metavar="NAME",
                        help=f"models to train, of {', '.join(MODELS)} (default: all)")
    names = parser.parse_args().names or list(MODELS)
    unknown = sorted(set(names) - set(MODELS))
    if unknown:
        parser.error(f"unknown model {', '.join(unknown)}; choose from {', '.join(MODELS)}")
    for model_name in names:
        train(model_name)
