"""
A batch of networks, and a comparison
=====================================

Do networks trained with different seeds, architectures or tasks solve their task the same
way? ``dynan batch`` analyses many networks, one results folder each, on a local Dask
cluster of worker processes (or a cluster of many machines, ``--scheduler``), and
tabulates them in ``summary.csv``; its last step compares them (:mod:`dynan.compare`),
from the results files alone. In Python the same is :func:`dynan.batch.batch`, which must
run under ``if __name__ == "__main__":`` in a script, since its workers are new processes
that import the script.

Here the batch holds the bundled integrators, one averaging rates and one averaging
currents, and the bundled flip-flop network, analysed on 2 workers without figures.
"""

import csv
import subprocess
import sys
import tempfile

import matplotlib.pyplot as plt

import dynan
from dynan import compare

models = [dynan.example_model(name)
          for name in ("integrator_leaky", "integrator_current", "flipflop_leaky")]
out = f"{tempfile.mkdtemp()}/sweep-results"
run = subprocess.run([sys.executable, "-m", "dynan", "batch", *models, "--out", out,
                      "--workers", "2", "--figures", "none"],
                     capture_output=True, text=True, check=True)
print(run.stdout)
with open(f"{out}/summary.csv") as table:
    for row in csv.DictReader(table):
        print(f"{row['status']:5} {row['path'].split('/')[-1]:24} units {row['units']:3} "
              f"leak {row['leak']:8} {float(row['seconds']):5.1f} s")

# %%
# The comparison the batch wrote (its summary is printed above): a table of the networks,
# and the distances between every pair under each metric. The fixed-point metric compares
# the fixed points inside the visited region, by class and input condition.
comparison = compare.read(f"{out}/comparison")
for name, structure in zip(comparison.models["name"], comparison.models["structure"]):
    print(f"{name:24} {structure}")

# %%
# The distances, and the networks placed on a map (metric MDS of the distances).
d = comparison.distances["fixed_points"]
names = comparison.models["name"]
fig, ax = plt.subplots(figsize=(4.5, 3.5), layout="constrained")
image = ax.imshow(d, cmap="viridis")
ax.set(xticks=range(len(names)), yticks=range(len(names)), title="fixed-point distance")
ax.set_xticklabels(names, rotation=30, ha="right")
ax.set_yticklabels(names)
fig.colorbar(image)
plt.show()
