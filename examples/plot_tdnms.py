"""
tDNMS: trajectories by trial type, fixed points by epoch
========================================================

Temporal delayed non-match-to-sample: an odor of one of two durations, long (L) or short
(S), a delay, then a second odor; the network must respond ("go") when the two durations
differ (LS, SL) and hold back when both are short (SS). The bundled network, 128 leaky
rate units, solves it. Here are the mean trajectory of each trial type, and the fixed
points under the constant input of each task epoch: each epoch reshapes the flow.
"""

import matplotlib.pyplot as plt
import numpy as np

import dynan
from dynan import figures, tasks

an = dynan.load(dynan.example_model("tdnms_leaky"))
trials = tasks.tdnms(60, seed=0)
res = an.record(trials)
print("trial types:", trials.trial_types, "| epochs:", list(trials.epochs))
p = an.pca(n_components=3, fit_on="condition_means")

# %%
# ``"epochs"`` searches under zero input and under each epoch's constant input (epochs
# with the same input merged: with the odor on, and with every input off). Each point is
# labelled with its input condition.
fps = an.fixed_points("epochs", n_inits=128)
print(fps)
for label in np.unique(fps.labels):
    on = fps.labels == label
    print(f"{str(label):>24}: {', '.join(fps.stability[on])}, largest |lambda| "
          f"{', '.join(f'{m:.3f}' for m in np.abs(fps.eigval_J_xstar[on, 0]))}")

# %%
# The mean trajectory of each trial type in the plane of PCs 1 and 2 (dots where each
# epoch starts), with the fixed points coloured by their input condition; below, the
# inputs and the output of one trial of each type.
with figures.paper_style():
    fig, ax = figures.subplots(figures.DOUBLE_COLUMN * 0.7, 65)
    figures.trajectories(res, ax)
plt.show()

with figures.paper_style():
    figures.trial_traces(res)
plt.show()
