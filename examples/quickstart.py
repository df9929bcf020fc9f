"""Train a small leaky RNN to integrate its input, then look at its dynamics with dynan.

Run:  python examples/quickstart.py        (about half a minute on a laptop CPU)
"""

import tempfile
from pathlib import Path

import keras
import numpy as np

import dynan
from dynan.layers import LeakyRNN

rng = np.random.default_rng(0)
keras.utils.set_random_seed(0)

# 1. A leaky rate network (gamma = dt / tau = 0.2) trained to integrate a noisy input.
inputs = rng.normal(0.0, 0.3, size=(512, 40, 1)).astype("float32")
targets = np.cumsum(inputs, axis=1) / 4
model = keras.Sequential([
    keras.Input((None, 1)),
    LeakyRNN(32, gamma=0.2, noise_std=0.02, return_sequences=True),
    keras.layers.Dense(1),
])
model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="mse")
model.fit(inputs, targets, epochs=30, batch_size=64, verbose=0)
path = Path(tempfile.mkdtemp()) / "integrator.keras"
model.save(path)

# 2. Load it for analysis: the update map h_next = F(h, x) in closed form, float64.
an = dynan.load(path)
print(an)

# 3. Run fresh trials (noise-free unless asked) and check the readout integrates.
test = rng.normal(0.0, 0.3, size=(100, 40, 1))
traj = an.run(test)
target = np.cumsum(test, axis=1) / 4
r2 = 1 - np.sum((traj.outputs - target) ** 2) / np.sum((target - target.mean()) ** 2)
print(f"hidden {traj.hidden.shape}, outputs {traj.outputs.shape}, R^2 = {r2:.3f}")

# 4. Linearize at the final states: an integrator has an eigenvalue near 1.
J = an.dynamics.jacobian(traj.hidden[:, -1], np.zeros(1))
leading = np.sort(np.abs(np.linalg.eigvals(J)), axis=1)[:, -1]
print(f"largest |eigenvalue| of the Jacobian at the final states: "
      f"median {np.median(leading):.4f} (1 would be a perfect line attractor)")
