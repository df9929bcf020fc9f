"""The one place that says what stable, marginal, saddle, unstable and slow mean.

For the discrete map ``h -> F(h, x)`` with Jacobian eigenvalues ``lambda`` at a point:

- a mode is **unstable** when ``|lambda| > 1 + marginal_tol``, **marginal** when
  ``||lambda| - 1| <= marginal_tol`` and **decaying** when ``|lambda| < 1 - marginal_tol``;
  on a task, ``marginal_tol`` is :func:`marginal_tol_for` its trial length: a marginal
  mode neither decays nor grows by a factor e within ``MEMORY_TRIALS`` trials, so that
  a memory which outlasts the task counts as marginal and one that decays within a few
  trials (a gated network's attractors, ``|lambda|`` about 0.99) as stable;
- a point is **stable** when every mode decays, **marginal** when some are marginal
  and none unstable (line and ring attractors), a **saddle** when some modes are
  unstable and some not, and **unstable** when every mode is;
- a point lies **outside** the visited region when its distance to the nearest recorded
  state is more than ``OUTSIDE`` spreads, the spread being the root-mean-square distance
  of the recorded states from their mean (see :func:`dynan.fixed_points.visited_region`);
  such points are counted apart from the rest;
- a **fixed point** has ``max|F(x) - x| <= tol`` (1e-10 by default); a **slow point**
  is a local minimum of the speed ``q = 1/2 ||F(x) - x||^2`` that is not a fixed
  point, with ``q <= max_slow_q`` (1e-4 by default).

Every stage, panel and summary asks this module; none sets thresholds of its own.

Examples
--------
>>> import numpy as np
>>> classify(np.array([[0.5, 0.2], [1.5, 0.5], [1.001, 0.3], [2.0, 3.0]]))
array(['stable', 'saddle', 'marginal', 'unstable'], dtype='<U8')
"""

import numpy as np

#: Point classes, in the order tables and figures list them.
KINDS = ("stable", "marginal", "saddle", "unstable")
#: ``|lambda|`` within this of 1 is a marginal mode, where no trial length says otherwise;
#: also the largest tolerance :func:`marginal_tol_for` gives.
MARGINAL_TOL = 1e-2
#: On a task, a marginal mode's time constant is longer than this many trials.
MEMORY_TRIALS = 10
#: A fixed point has ``max|F(x) - x|`` at most this.
FIXED_TOL = 1e-10
#: A slow point has ``q`` at most this.
MAX_SLOW_Q = 1e-4
#: A point farther than this many spreads from every recorded state is outside.
OUTSIDE = 1.0


def marginal_tol_for(n_steps):
    """The marginal tolerance for trials of ``n_steps`` steps: ``1 / (MEMORY_TRIALS * n_steps)``,
    at most :data:`MARGINAL_TOL`.

    ``|lambda| = 1 - tol`` is a time constant of about ``MEMORY_TRIALS * n_steps`` steps.

    >>> marginal_tol_for(100), marginal_tol_for(5)
    (0.001, 0.01)
    """
    return min(MARGINAL_TOL, 1.0 / (MEMORY_TRIALS * n_steps))


def unstable_modes(eigvals, marginal_tol=MARGINAL_TOL):
    """Boolean mask of the unstable modes, ``|lambda| > 1 + marginal_tol``; same shape."""
    return np.abs(eigvals) > 1 + marginal_tol


def n_unstable(eigvals, marginal_tol=MARGINAL_TOL):
    """Number of unstable modes of each row of eigenvalues (K, N) -> (K,)."""
    return np.sum(unstable_modes(eigvals, marginal_tol), axis=-1)


def classify(eigvals, marginal_tol=MARGINAL_TOL):
    """The class of each point from its eigenvalues (K, N): a (K,) array of :data:`KINDS`."""
    modulus = np.abs(np.asarray(eigvals))
    above = modulus > 1 + marginal_tol
    near = np.abs(modulus - 1) <= marginal_tol
    out = np.where(near.any(axis=-1), "marginal", "stable").astype("<U8")
    out[above.any(axis=-1)] = "saddle"
    out[above.all(axis=-1) & (modulus.shape[-1] > 0)] = "unstable"
    return out


def time_constants(eigvals, dt=1.0):
    """``-dt / ln|lambda|`` of each mode: seconds when ``dt`` is; negative for growing
    modes, inf at ``|lambda| = 1``."""
    with np.errstate(divide="ignore"):
        return -dt / np.log(np.abs(eigvals))
