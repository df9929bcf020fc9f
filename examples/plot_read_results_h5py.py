"""
Reading a results file with plain h5py
======================================

Every analysis writes one HDF5 file, in a documented layout (:doc:`/results-file`), that
any HDF5 tool reads without dynan: h5py, MATLAB's ``h5read``, Julia's HDF5.jl. This example
writes one for the bundled integrator network, then reads it with h5py and NumPy alone.
"""

import json
import tempfile

import h5py
import matplotlib.pyplot as plt
import numpy as np

import dynan

folder = tempfile.mkdtemp()
an = dynan.load(dynan.example_model("integrator_leaky"))
an.analyze(out=f"{folder}/results", n_trials=64, formats=(), progress=False).close()
path = f"{folder}/results/integrator_leaky.h5"

# %%
# From here on, no dynan: the file explains itself through its attributes.
f = h5py.File(path, "r")
print("schema", f.attrs["dynan_schema"], "| task", f.attrs["task"], "| dt", f.attrs["dt"], "s")
print("network:", json.loads(f.attrs["network"]))
print("groups:", list(f))
for name in f:
    if "description" in f[name].attrs:
        print(f"  /{name}: {f[name].attrs['description'][:80]}...")

# %%
# The recording: (trials, time, units) arrays whose axes are named, and the condition
# table, one dataset per column.
hidden = f["trials/hidden"]
print(hidden.shape, list(hidden.attrs["dims"]))
print("condition columns:", list(f["trials/conditions"]))

# %%
# The fixed points: one row per point, FixedPointFinder's field names. Their class is not
# stored but follows from the eigenvalues and the file's tolerance (see :doc:`/concepts`).
fp = f["fixed_points"]
modulus = np.abs(fp["eigval_J_xstar"][()])
tol = fp.attrs["marginal_tol"]
for k in range(fp.attrs["n_points"]):
    marginal = np.sum(abs(modulus[k] - 1) <= tol)
    print(f"point {k}: q = {fp['qstar'][k]:.1e}, |lambda| max {modulus[k].max():.4f}, "
          f"{marginal} marginal mode(s), input {fp['labels'].asstr()[k]!r}")

# %%
# The line attractor's points, and the trials, projected on the stored principal
# components with NumPy.
components, mean = f["pca/components"][:2], f["pca/mean"][()]
trials_pc = (hidden[:20] - mean) @ components.T
offsets = f["manifolds/offsets"][()]
line_pc = (f["manifolds/points"][offsets[0]:offsets[1]] - mean) @ components.T
fig, ax = plt.subplots(figsize=(5, 3.5), layout="constrained")
for trial in trials_pc:
    ax.plot(*trial.T, color="0.7", lw=0.6)
ax.plot(*line_pc.T, color="C3", lw=2, label="line attractor (/manifolds)")
ax.plot(*((fp["xstar"][()] - mean) @ components.T).T, "kD", label="marginal point")
ax.set(xlabel="PC1", ylabel="PC2", title="read with h5py alone")
ax.legend()
plt.show()
f.close()
