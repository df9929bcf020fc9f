"""
The integrator: a line attractor and its memory time
====================================================

A network that integrates its input must hold any value of the integral between inputs: a
line of fixed points, each with one mode at the edge of stability (``|lambda|`` close to 1),
along which the state neither returns nor leaves. dynan finds the marginal fixed point,
then traces the line through it by continuation, and measures how long it holds a value:
its memory time, the time constant of the marginal mode. The network is dynan's bundled
integrator, a leaky rate network of 64 units trained on BrainPy's white-noise integration
task.
"""

import matplotlib.pyplot as plt

import dynan
from dynan import figures, tasks

an = dynan.load(dynan.example_model("integrator_leaky"))
trials = tasks.integrator(64, seed=0)
res = an.record(trials)
print(f"R^2 of the integral: {tasks.score(trials, res.outputs[:]):.4f}")
an.pca(n_components=3)

# %%
# The fixed points under zero input: one marginal point, the line's start.
fps = an.fixed_points(n_inits=128)
print(fps)
print("slowest time constants (s):", fps.time_constants[:, :3].round(2))

# %%
# The line attractor traced through the marginal point, both ways, until its points stop
# being slow or leave the states the network visits. Its extent is its range along its
# main direction over the visited states' range; its memory time is that of its marginal
# mode, where slowest and where fastest along it, against trials of 1 s.
lines = an.manifolds()
print(lines)
for k in range(len(lines)):
    print(f"line {k}: {lines.manifold(k).shape[0]} points, extent {lines.extent[k]:.2f}, "
          f"memory time {lines.memory_time[k]:.1f} s (shortest {lines.shortest_memory_time[k]:.1f} s)")

# %%
# Trials in the plane of the first two principal components, coloured by the integrated
# value, and the line attractor (grey) spanning them.
with figures.paper_style():
    fig, ax = figures.subplots(figures.DOUBLE_COLUMN * 0.7, 65)
    figures.trajectories(res, ax)
plt.show()

# %%
# The slowest time constants at the attractor: one marginal mode of tens of seconds, the
# others below a second.
with figures.paper_style():
    figures.time_constants(res)
plt.show()
