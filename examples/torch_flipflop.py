"""Train two PyTorch networks on the 3-bit flip-flop and find the cube of memories in them.

Run ``python examples/torch_flipflop.py [OUT]`` (needs ``pip install "dynan[torch]"``; a
few seconds of training per network on a CPU). For each network it

1. trains it in PyTorch (float32, CPU) on the flip-flop as FixedPointFinder's example
   poses it (64 bins, pulses with probability 0.2);
2. saves its ``state_dict`` as ``OUT/<name>.pt``, with a card ``OUT/<name>.json`` naming
   the task, and loads it back with :func:`dynan.torch_networks.load_torch` (no pickled
   code is read; the class comes from this file);
3. analyses it (:meth:`dynan.Analysis.analyze`) into ``OUT/<name>/`` and checks what
   the analysis should find: 8 stable fixed points under zero input, one per corner of
   the bit cube, and saddles with one unstable mode whose two branches end at stable
   points one bit apart.

The two networks: ``nn.GRU(3, 16, batch_first=True)`` with an ``nn.Linear(16, 3)``
readout (closed-form dynamics), and a leaky tanh cell written as a step module,
``forward(x, h) -> (1 - a) h + a tanh(x W_in + h W_rec + b)`` (dynamics through
``torch.func``). The same analysis from the command line::

    dynan analyze OUT/gru_flipflop.pt --import examples/torch_flipflop.py \\
        --torch-class torch_flipflop:GRUFlipFlop --task flipflop

This file is importable: :func:`train_gru`, :func:`train_leaky`, :func:`analyze` and
:func:`check_cube` are what the slow test in ``tests/test_torch.py`` runs.
"""

import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

import dynan
from dynan import tasks
from dynan.torch_networks import load_torch

#: The flip-flop as FixedPointFinder's example trains it: short trials, frequent pulses.
TASK = {"n_bits": 3, "n_time": 64, "pulse_prob": 0.2}
N_UNITS = 16


class GRUFlipFlop(nn.Module):
    """``nn.GRU(3, 16, batch_first=True)`` read out by ``nn.Linear(16, 3)``, over sequences."""

    def __init__(self, n_units=N_UNITS, n_bits=3):
        super().__init__()
        self.rnn = nn.GRU(n_bits, n_units, batch_first=True)
        self.readout = nn.Linear(n_units, n_bits)

    def forward(self, x):
        return self.readout(self.rnn(x)[0])


class LeakyTanhCell(nn.Module):
    """A leaky tanh network as a step module, with its readout.

    ``forward(x, h) = (1 - alpha) h + alpha tanh(x @ W_in + h @ W_rec + b)``; row vectors,
    as dynan's conventions. :func:`run` runs it over sequences from ``h = 0``.
    """

    def __init__(self, input_size=3, hidden_size=N_UNITS, alpha=0.5):
        super().__init__()
        self.input_size, self.hidden_size, self.alpha = input_size, hidden_size, alpha
        self.W_in = nn.Parameter(torch.randn(input_size, hidden_size) / input_size ** 0.5)
        self.W_rec = nn.Parameter(torch.randn(hidden_size, hidden_size) / hidden_size ** 0.5)
        self.b = nn.Parameter(torch.zeros(hidden_size))
        self.readout = nn.Linear(hidden_size, input_size)

    def forward(self, x, h):
        return (1 - self.alpha) * h + self.alpha * torch.tanh(x @ self.W_in + h @ self.W_rec + self.b)

    def run(self, x):
        """Outputs (B, T, n_out) for inputs (B, T, n_in), from the zero state."""
        h = x.new_zeros(x.shape[0], self.hidden_size)
        states = []
        for t in range(x.shape[1]):
            h = self(x[:, t], h)
            states.append(h)
        return self.readout(torch.stack(states, dim=1))


def _train(model, run, seed, epochs, batch_size=64, lr=1e-2):
    """Adam on the mean squared error over every bin, gradients clipped to norm 1.

    On one thread: networks this small train several times faster so than on many, and
    far faster than on cores that other work keeps busy."""
    trials = tasks.flipflop(2048, **TASK, seed=seed)
    x, y = torch.from_numpy(trials.inputs), torch.from_numpy(trials.targets)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(seed)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    clock = time.perf_counter()
    try:
        for _ in range(epochs):
            for rows in torch.randperm(len(x), generator=generator).split(batch_size):
                optimizer.zero_grad()
                loss = nn.functional.mse_loss(run(x[rows]), y[rows])
                loss.backward()
                nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                optimizer.step()
    finally:
        torch.set_num_threads(threads)
    model.eval()
    model.train_seconds_ = time.perf_counter() - clock
    model.train_loss_ = loss.item()
    return model


def train_gru(seed=0, epochs=15):
    """A :class:`GRUFlipFlop` trained on the 3-bit flip-flop (a few seconds on a CPU)."""
    torch.manual_seed(seed)
    model = GRUFlipFlop()
    return _train(model, model, seed, epochs)


def train_leaky(seed=0, epochs=15):
    """A :class:`LeakyTanhCell` trained on the 3-bit flip-flop (a few seconds on a CPU)."""
    torch.manual_seed(seed)
    model = LeakyTanhCell()
    return _train(model, model.run, seed, epochs)


def analyze(model, out, *, n_trials=128, n_inits=512, formats=()):
    """Save ``model``'s ``state_dict`` as ``out.pt`` (and its card ``out.json``), load it back
    and analyse it into the folder ``out``.

    Returns
    -------
    (Analysis, Results)
        The results file is open for reading; close it when done.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    path = out.with_suffix(".pt")
    torch.save(model.state_dict(), path)
    path.with_suffix(".json").write_text(json.dumps({"task": "flipflop", "task_params": TASK}))
    an = load_torch(path, torch_class=type(model))
    res = an.analyze(out=out, task="flipflop", n_trials=n_trials, n_inits=n_inits,
                     formats=formats, progress=False, overwrite=True)
    return an, res


def check_cube(an, res):
    """Assert what a trained flip-flop's analysis shows: 8 stable points inside the visited
    region, one per corner of the bit cube (read out), and at least 7 saddles with one
    unstable mode whose two branches end at stable points one bit apart.

    Returns
    -------
    dict
        Counts: ``stable``, ``one_bit_saddles``.
    """
    fps, topo = res.fixed_points(), res.get("topology")
    inside = ~fps.outside
    stable = np.flatnonzero((fps.stability == "stable") & inside)
    bits = np.sign(an.dynamics.readout(fps.xstar)).astype(int)
    assert len(stable) == 8, f"{len(stable)} stable points inside, not 8"
    assert len({tuple(b) for b in bits[stable]}) == 8, "the stable points do not hold 8 memories"
    one = np.flatnonzero((fps.n_unstable == 1) & inside)
    assert len(one) >= 7, f"only {len(one)} saddles with one unstable mode"
    for k in one:
        ends = topo.target[topo.source == k]
        assert len(ends) == 2 and set(ends) <= set(stable), f"saddle {k} leads to {ends}"
        assert (bits[ends[0]] != bits[ends[1]]).sum() == 1, f"saddle {k} joins {bits[ends]}"
    return {"stable": len(stable), "one_bit_saddles": len(one)}


def main(out="torch_flipflop"):
    out = Path(out)
    for name, train in (("gru_flipflop", train_gru), ("leaky_flipflop", train_leaky)):
        model = train(seed=0)
        clock = time.perf_counter()
        an, res = analyze(model, out / name)
        with res:
            counts = check_cube(an, res)
        print(f"{name}: trained in {model.train_seconds_:.1f} s (loss {model.train_loss_:.4f}), "
              f"analysed in {time.perf_counter() - clock:.1f} s: {counts['stable']} stable points, "
              f"{counts['one_bit_saddles']} one-bit saddles ("
              f"{type(an.dynamics).__name__}); results in {out / name}, weights in "
              f"{out / name}.pt")
    print(f"dynan {dynan.__version__}")


if __name__ == "__main__":
    main(*sys.argv[1:2])
