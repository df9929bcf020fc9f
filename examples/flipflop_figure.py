"""Sussillo & Barak (2013), figure 2, from the bundled 3-bit flip-flop network.

The eight memories at the corners of a cube in the space of the first three principal
components, the saddles between them, each saddle's unstable manifold leading to the two
memories one bit apart, and trials settling from their last pulse into their memory.

Run:  python examples/flipflop_figure.py [OUT]       (about 15 s; writes OUT.pdf/.svg/.png,
                                                      default flipflop_figure)
"""

import sys
import tempfile

import numpy as np

import dynan
from dynan import figures

out = sys.argv[1] if len(sys.argv) > 1 else "flipflop_figure"
an = dynan.load(dynan.example_model("flipflop_leaky"))
with tempfile.TemporaryDirectory() as folder:
    # record fresh trials, PCA, fixed points (zero input), and every saddle's unstable manifold
    res = an.analyze(out=f"{folder}/ff", n_trials=128, formats=(), progress=False)
    fps, topo = res.fixed_points(), res.get("topology")
    one_mode = np.flatnonzero(fps.n_unstable == 1)
    print(f"{(fps.stability == 'stable').sum()} memories, {len(one_mode)} saddles with one "
          f"unstable mode, {len(topo)} branches traced")
    with figures.paper_style():
        fig = figures.plt.figure(figsize=figures.mm(figures.SINGLE_COLUMN, 75), layout="constrained")
        ax = figures.trajectories(res, fig.add_subplot(projection="3d"), components=(0, 1, 2))
        ax.set_title("3-bit flip-flop: memories, saddles and their unstable manifolds")
        for path in figures.save(fig, out):
            print("wrote", path)
    res.close()
