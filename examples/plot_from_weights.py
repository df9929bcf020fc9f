"""
Weights from another framework: ``from_weights`` and PsychRNN's orientation
===========================================================================

A network trained in any framework comes into dynan as plain arrays, with
:func:`dynan.from_weights`. dynan uses Keras's orientation, row vectors::

    z = x @ W_in + h @ W_rec + b          W_in (n_in, N), W_rec (N, N), W_out (N, n_out)

PsychRNN, and most code written with column vectors, stores the transposes: ``W_rec`` as
(post, pre), ``W_in`` as (N, n_in), ``W_out`` as (n_out, N). Pass their transposes. A
non-square matrix passed the wrong way round is refused; a square ``W_rec`` passed the wrong
way round is not an error dynan can see: it is another network, and, as this example shows,
a task score need not reveal it. Check one step against the source framework's own.

The arrays here are the bundled flip-flop network's, written out as PsychRNN's
``get_weights()`` names and orientation would hold them. (PsychRNN's ``Basic`` model
time-averages the current and applies relu, ``leak="current", activation="relu"``, with
``gamma`` its ``alpha = dt / tau``; the bundled network averages the rate of tanh units.)
"""

import matplotlib.pyplot as plt
import numpy as np

import dynan
from dynan import figures, tasks

source = dynan.load(dynan.example_model("flipflop_leaky"))
gamma = source.dynamics.gamma
with source.record(tasks.flipflop(1, seed=0)) as rec:  # /network holds the weights
    w = {name: rec.file["network"][name][()] for name in ("W_in", "W_rec", "b", "W_out", "b_out")}
psychrnn = {"W_in": w["W_in"].T, "W_rec": w["W_rec"].T, "b_rec": w["b"],  # (post, pre)
            "W_out": w["W_out"].T, "b_out": w["b_out"]}
print({name: w.shape for name, w in psychrnn.items()})

# %%
# The right way round: transpose each matrix into Keras's orientation.
an = dynan.from_weights(psychrnn["W_in"].T, psychrnn["W_rec"].T, psychrnn["b_rec"],
                        gamma=gamma, activation="tanh", W_out=psychrnn["W_out"].T,
                        b_out=psychrnn["b_out"])
trials = tasks.flipflop(64, seed=0)
right = an.run(trials)
print(f"right orientation: flip-flop score {tasks.score(trials, right.outputs):.3f}")

# %%
# ``W_in`` the wrong way round has the wrong shape, and dynan says so.
try:
    dynan.from_weights(psychrnn["W_in"], psychrnn["W_rec"].T, psychrnn["b_rec"])
except ValueError as err:
    print("ValueError:", err)

# %%
# ``W_rec`` the wrong way round: PsychRNN's (post, pre) as it is. The transpose has the same
# eigenvalues and, for this network, still holds the three bits, so the score barely
# moves; but it is another network, whose states differ from the trained one's.
wrong_an = dynan.from_weights(psychrnn["W_in"].T, psychrnn["W_rec"], psychrnn["b_rec"],
                              gamma=gamma, activation="tanh", W_out=psychrnn["W_out"].T,
                              b_out=psychrnn["b_out"])
wrong = wrong_an.run(trials)
print(f"W_rec not transposed: flip-flop score {tasks.score(trials, wrong.outputs):.3f}")
print(f"largest difference of the hidden states: {abs(right.hidden - wrong.hidden).max():.2f}")

# %%
# The two networks on one trial: the first bit's pulses (grey), its target (dashed) and
# each network's output (top); one hidden unit of each (bottom).
t = np.arange(trials.inputs.shape[1]) * trials.dt
with figures.paper_style():
    fig, (top, bottom) = figures.subplots(figures.SINGLE_COLUMN * 1.5, 70, nrows=2,
                                          sharex=True)
    top.plot(t, trials.inputs[0, :, 0], color="0.7", label="input pulses")
    top.plot(t, trials.targets[0, :, 0], "k--", label="target")
    for run, name in ((right, "W_rec.T (right)"), (wrong, "W_rec (wrong)")):
        top.plot(t, run.outputs[0, :, 0], label=name)
        bottom.plot(t, run.hidden[0, :, 0], label=name)
    top.set(ylabel="bit 1")
    bottom.set(xlabel="time (s)", ylabel="unit 1")
    top.legend(loc="upper left", bbox_to_anchor=(1, 1))
plt.show()

# %%
# From here on the network analyses like any other: record, then every stage.
an.record(trials)
print(an.fixed_points(n_inits=128))
