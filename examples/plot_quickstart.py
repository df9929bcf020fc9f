"""
Quick start
===========

Load a trained network, record fresh trials, fit a PCA by trial type and find the fixed
points, in about 20 lines. The network is dynan's bundled tDNMS network, a leaky rate
network of 128 units trained on temporal delayed non-match-to-sample; for your own, pass
the path of your ``.keras`` file to :func:`dynan.load`.
"""

import matplotlib.pyplot as plt

import dynan
from dynan import figures, tasks

an = dynan.load(dynan.example_model("tdnms_leaky"))  # or dynan.load("my_model.keras")
print(an)

# %%
# Record 60 fresh labelled trials, noise-free. Without a path the results file lives in
# memory; ``an.record(trials, "tdnms.h5")`` keeps it on disk.
trials = tasks.tdnms(60, seed=0)
res = an.record(trials)
print("hidden states (trials, time, units):", res.hidden.shape)
print(f"correct go/no-go decisions: {tasks.score(trials, res.outputs[:]):.0%}")

# %%
# PCA fit on the mean trajectory of each trial type, and the fixed points under zero
# input and the input of each task epoch. Both are stored in the results file.
p = an.pca(n_components=3, fit_on="condition_means")
print("variance explained:", p.explained_variance_ratio_.round(2))
fps = an.fixed_points("epochs", n_inits=128)
print(fps)

# %%
# Every panel of :mod:`dynan.figures` draws from the results file: here the mean
# trajectory of each trial type in PC space, with the fixed points of each epoch's input.
with figures.paper_style():
    figures.trajectories(res)
plt.show()
