"""
The 3-bit flip-flop: memories, saddles and unstable manifolds
==============================================================

Sussillo & Barak (2013) reverse-engineered a network trained on the 3-bit flip-flop: each
input pulse sets one bit, and the network holds the three bits until the next pulse. Its
eight memories are stable fixed points at the corners of a cube, and saddle points between
them, each with one unstable mode, route the state from one memory to the next when a bit
flips. This example finds that structure in dynan's bundled flip-flop network (a leaky rate
network of 64 units).
"""

import matplotlib.pyplot as plt
import numpy as np

import dynan
from dynan import figures, tasks

an = dynan.load(dynan.example_model("flipflop_leaky"))
res = an.record(tasks.flipflop(96, seed=0))
an.pca(n_components=3)

# %%
# Fixed points under zero input, from 256 starts drawn from the recorded states. The
# eight memories are stable; the saddles with one unstable mode lie between them.
fps = an.fixed_points(n_inits=256)
print(fps)
memories = fps.xstar[fps.stability == "stable"]
readout = an.dynamics.readout(memories)  # the three bits each memory holds
print("bit patterns:", sorted("".join("+" if v > 0 else "-" for v in r) for r in readout))

# %%
# The unstable manifold of each saddle: from the saddle, one step along each side of its
# unstable eigenvector, then the network runs until it settles. Each saddle with one
# unstable mode leads to two memories that differ in exactly one bit.
topo = an.topology()
print(topo)
graph = topo.graph()  # a networkx.DiGraph: saddle -> what each branch reaches
bits = {k: "".join("+" if v > 0 else "-" for v in readout_k)
        for k, readout_k in zip(np.flatnonzero(fps.stability == "stable"), readout)}
for saddle in np.flatnonzero((fps.n_unstable == 1) & ~fps.outside):
    ends = [bits[k] for k in graph.successors(saddle) if k in bits]
    print(f"saddle {saddle:2d} leads to the memories {' and '.join(ends)}")

# %%
# The cube in the space of the first three principal components: the memories (filled),
# the saddles (open) with their unstable manifolds, and trials settling from their last
# pulse into their memory, coloured by their final bit pattern.
with figures.paper_style():
    fig = plt.figure(figsize=figures.mm(figures.DOUBLE_COLUMN, 90))
    figures.trajectories(res, fig.add_subplot(projection="3d"), components=(0, 1, 2))
plt.show()
