"""Train small flip-flop networks written the way users write them.

Usage::

    python examples/train_user_models.py OUTDIR                 # every kind
    python examples/train_user_models.py OUTDIR gru lstm_style  # some kinds

Each kind is a recurrent layer of 16 units followed by a ``Dense(3)`` readout:
the built-in ``GRU``, ``LSTM`` and ``SimpleRNN``, or ``keras.layers.RNN`` around
one of the cells in ``user_cells.py`` beside this file. Each model is trained
with Adam and MSE on 3-bit flip-flop trials (seeded, deterministic on the CPU),
saved as ``OUTDIR/KIND.keras`` with its card ``OUTDIR/KIND.json``, and scored on
fresh trials. Every kind trains in well under 20 s on a 2-core CPU.

To reload a model, import ``user_cells`` first (it registers the custom cells)::

    import keras, user_cells
    model = keras.saving.load_model("OUTDIR/lstm_style.keras")
"""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import argparse  # noqa: E402
import importlib.util  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import keras  # noqa: E402

from dynan import tasks  # noqa: E402

HERE = Path(__file__).resolve().parent


def _import_user_cells():
    """The ``user_cells`` module beside this file, imported under that name."""
    if "user_cells" in sys.modules:
        return sys.modules["user_cells"]
    spec = importlib.util.spec_from_file_location("user_cells", HERE / "user_cells.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["user_cells"] = module
    spec.loader.exec_module(module)
    return module


user_cells = _import_user_cells()

#: Flip-flop parameters, as written into each model's card.
TASK_PARAMS = {"n_bits": 3, "n_time": 100, "pulse_prob": 0.05}
#: Seed of the trials each model is scored on; never used for training.
EVAL_SEED = 20260101
N_IN = N_OUT = TASK_PARAMS["n_bits"]


def _sequential(recurrent):
    return keras.Sequential([keras.Input((None, N_IN)), recurrent, keras.layers.Dense(N_OUT)])


def _functional(recurrent):
    inputs = keras.Input((None, N_IN))
    outputs = keras.layers.Dense(N_OUT)(recurrent(inputs))
    return keras.Model(inputs, outputs)


#: kind -> function of the number of units that builds an untrained model.
KINDS = {
    "gru": lambda n: _sequential(keras.layers.GRU(n, return_sequences=True)),
    "lstm": lambda n: _functional(keras.layers.LSTM(n, return_sequences=True)),
    "simple_rnn": lambda n: _sequential(keras.layers.SimpleRNN(n, return_sequences=True)),
    "lstm_style": lambda n: _sequential(
        keras.layers.RNN(user_cells.LSTMStyleCell(n), return_sequences=True)),
    "time_averaged": lambda n: _functional(
        keras.layers.RNN(user_cells.TimeAveragedDense(n), return_sequences=True)),
    "normed_two_part": lambda n: _sequential(
        keras.layers.RNN(user_cells.NormedTwoPartCell(n), return_sequences=True)),
    "dense_sublayer": lambda n: _functional(
        keras.layers.RNN(user_cells.DenseSublayerCell(n), return_sequences=True)),
    "pinned_float32": lambda n: _sequential(
        keras.layers.RNN(user_cells.PinnedFloat32Cell(n), return_sequences=True)),
}


def build(kind, units=16):
    """An untrained ``kind`` model: input (None, 3) -> recurrent layer -> Dense(3)."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; choose from {', '.join(KINDS)}")
    return KINDS[kind](units)


def train(kind, path, *, units=16, n_trials=256, epochs=30, batch_size=32, learning_rate=1e-2,
          seed=0):
    """Build, train and save a ``kind`` model; write its card beside it.

    Parameters
    ----------
    kind : str
        One of :data:`KINDS`.
    path : str or Path
        Where to save the model; should end in ``.keras``. The card goes to
        ``path.with_suffix(".json")``.
    units : int, default 16
    n_trials : int, default 256
        Flip-flop training trials, drawn with ``seed``.
    epochs : int, default 30
    batch_size : int, default 32
    learning_rate : float, default 1e-2
        Adam's learning rate (gradients clipped to norm 1).
    seed : int, default 0
        Seeds the weights, the shuffling and the training trials.

    Returns
    -------
    dict
        ``kind``, ``path``, ``seconds`` (training alone), ``initial_loss`` and
        ``final_loss`` (MSE on the training trials before and after training)
        and ``score`` (:func:`dynan.tasks.score` on 256 fresh trials).
    """
    path = Path(path)
    keras.utils.set_random_seed(seed)
    trials = tasks.flipflop(n_trials, **TASK_PARAMS, seed=seed)
    model = build(kind, units)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate, clipnorm=1.0), loss="mse")
    initial_loss = model.evaluate(trials.inputs, trials.targets, batch_size=n_trials, verbose=0)
    start = time.perf_counter()
    model.fit(trials.inputs, trials.targets, batch_size=batch_size, epochs=epochs, verbose=0)
    seconds = time.perf_counter() - start
    final_loss = model.evaluate(trials.inputs, trials.targets, batch_size=n_trials, verbose=0)

    path.parent.mkdir(parents=True, exist_ok=True)
    model.save(path)
    card = {"task": "flipflop", "task_params": dict(TASK_PARAMS)}
    path.with_suffix(".json").write_text(json.dumps(card, indent=2) + "\n")

    test = tasks.flipflop(256, **TASK_PARAMS, seed=EVAL_SEED)
    score = tasks.score(test, keras.ops.convert_to_numpy(model(test.inputs)))
    return {"kind": kind, "path": path, "seconds": seconds, "initial_loss": float(initial_loss),
            "final_loss": float(final_loss), "score": score}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outdir", type=Path, help="folder for the .keras models and their cards")
    parser.add_argument("kinds", nargs="*", metavar="KIND",
                        help=f"kinds to train, of {', '.join(KINDS)} (default: all)")
    parser.add_argument("--epochs", type=int, default=30, help="training epochs (default: 30)")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.kinds) - set(KINDS))
    if unknown:
        parser.error(f"unknown kind {', '.join(unknown)}; choose from {', '.join(KINDS)}")
    print(f"{'kind':<16} {'seconds':>8} {'initial loss':>13} {'final loss':>11} {'score':>6}")
    for kind in args.kinds or KINDS:
        r = train(kind, args.outdir / f"{kind}.keras", epochs=args.epochs)
        print(f"{kind:<16} {r['seconds']:8.1f} {r['initial_loss']:13.4f} {r['final_loss']:11.4f} "
              f"{r['score']:6.3f}", flush=True)


if __name__ == "__main__":
    main()
