"""
Your own cell: a custom Keras cell, ``check_dynamics`` and ``--import``
========================================================================

A network built from your own recurrent cell, inside ``keras.layers.RNN``, analyses like
any other: dynan rebuilds the cell in float64 and differentiates it with TensorFlow. The
cell must be registered for serialization and imported before the model loads, as Keras
itself requires; on the command line ``--import`` does that.

The cell here is ``DenseSublayerCell`` from ``user_cells.py``, a module beside this
example that stands for yours: ``h_new = tanh(input_dense(x) + recurrent_dense(h))``, two
``Dense`` sublayers created without a dtype, as most users write them.
"""

import inspect
import subprocess
import sys
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt

import dynan
import train_user_models
import user_cells  # registers the cells: import your module before dynan.load
from dynan.testing import check_dynamics

print(inspect.getsource(user_cells.DenseSublayerCell.call))

# %%
# Train a network of 16 units of the cell on the 3-bit flip-flop (a few seconds), and
# save it with the card that names its task.
folder = Path(tempfile.mkdtemp())
trained = train_user_models.train("dense_sublayer", folder / "my_model.keras")
print(f"flip-flop score {trained['score']:.3f} after {trained['seconds']:.0f} s of training")

# %%
# Before trusting any analysis, check that dynan computes what the cell computes: one
# step and a 20-step run against Keras's own forward pass, the Jacobians against central
# differences, batch independence, float64 end to end and the readout. A failed check
# raises an ``AssertionError`` that lists what failed.
an = dynan.load(folder / "my_model.keras")
print(an)
for check in check_dynamics(an.dynamics, dynan.tasks.flipflop(8, seed=0).inputs):
    print(check)

# %%
# The whole analysis from the command line, with ``--import`` naming the module (a name
# on the path, or a ``.py`` file) that defines the cell; here only the 3-D state-space
# panel, as PNG.
command = [sys.executable, "-m", "dynan", "analyze", str(folder / "my_model.keras"),
           "--import", user_cells.__file__, "--out", str(folder / "results"),
           "--format", "png", "--panels", "trajectories_3d"]
print(subprocess.run(command, capture_output=True, text=True, check=True).stdout)
print(sorted(p.name for p in (folder / "results").iterdir()))

# %%
# The panel it drew: the memories of the cell network and the saddles between them.
fig, ax = plt.subplots(figsize=(6, 4.5), layout="constrained")
ax.imshow(plt.imread(folder / "results" / "figures" / "trajectories_3d.png"))
ax.set_axis_off()
plt.show()
