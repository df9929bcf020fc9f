"""Load the bundled tDNMS network, run it on fresh trials and linearize it.

Run:  python examples/quickstart.py        (a few seconds)
"""

import numpy as np

import dynan
from dynan import tasks

# 1. A leaky rate network (128 units, gamma 0.2) trained on temporal delayed non-match-to-sample.
an = dynan.load(dynan.example_model("tdnms_leaky"))
print(an)

# 2. Fresh labelled trials, run noise-free; hidden states are (trials, time, units).
trials = tasks.tdnms(300, seed=0)
traj = an.run(trials)
print(f"hidden {traj.hidden.shape}, outputs {traj.outputs.shape}")
decisions = tasks.tdnms_decisions(traj.outputs)
for kind in trials.trial_types:
    on_type = trials.conditions["trial_type"] == kind
    correct = np.mean(decisions[on_type] == trials.conditions["go"][on_type])
    print(f"  {kind}: {correct:.1%} correct ({'go' if kind != 'SS' else 'no-go'})")

# 3. Linearize at the states reached after the first odor (bin 100), inputs off:
#    J[b, i, j] = d h_next_i / d h_j; a mode with eigenvalue lambda decays in -dt / ln|lambda|.
J = an.dynamics.jacobian(traj.hidden[:, 100], np.zeros(2))
slowest = np.abs(np.linalg.eigvals(J)).max(axis=1)
tau = -trials.dt / np.log(slowest)
print(f"slowest mode after the first odor: |lambda| median {np.median(slowest):.4f}, "
      f"time constant median {np.median(tau):.2f} s (dt = {trials.dt} s)")
