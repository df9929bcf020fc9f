"""Linearization along the trajectories and at the main attractor, for every network.

The Jacobian ``J = dF/dh`` plays the part of the recurrent weights for gated and
custom cells, which have no single ``W_rec``: its eigenvalues along each trial type's
mean trajectory show which modes are slow where, and ``J`` at the attractor the
trained network settles in is its effective connectivity (``J[i, j] = dF_i/dh_j``).
Leaky networks get it too, beside their weights' spectrum.
"""

from dataclasses import dataclass

import numpy as np

from . import h5, stability
from .threads import one_blas_thread


@dataclass(eq=False)
class Linearization:
    """Jacobians along the mean trajectory of each trial type, and at the main attractor.

    Attributes
    ----------
    groups : ndarray (G,) of str
        The trial types.
    times : ndarray (T,) of int
        The time bins where the mean trajectories are linearized.
    eigvals : ndarray (G, T, N), complex
        Eigenvalues of ``J`` at the mean state and mean input of each trial type and
        time bin, by decreasing modulus.
    attractor : ndarray (N,)
        The main attractor: the stable (or marginal) fixed point nearest to most
        trials' final states; where there is none, the fixed point with the fewest
        unstable modes nearest to them; without fixed points, the mean final state.
    attractor_input : ndarray (n_in,)
    attractor_label : str
        Says which of these it is.
    effective_connectivity : ndarray (N, N)
        ``J`` at the main attractor, ``J[i, j] = dF_i/dh_j``.
    eigvals_attractor : ndarray (N,), complex
        Its eigenvalues, by decreasing modulus.
    dt : float
        Time step (s) of the time constants.
    """

    groups: np.ndarray
    times: np.ndarray
    eigvals: np.ndarray
    attractor: np.ndarray
    attractor_input: np.ndarray
    attractor_label: str
    effective_connectivity: np.ndarray
    eigvals_attractor: np.ndarray
    dt: float = 1.0

    @property
    def time_constants(self):
        """Time constants of the attractor's modes, slowest first (decaying modes only)."""
        tau = stability.time_constants(self.eigvals_attractor, self.dt)
        return np.sort(tau[tau > 0])[::-1]

    def __repr__(self):
        return (f"<Linearization: {len(self.groups)} trial types x {len(self.times)} bins; "
                f"attractor {self.attractor_label!r}, slowest time constant "
                f"{self.time_constants[:1].round(4).tolist()}>")

    def write(self, group):
        """Write into an HDF5 group."""
        h5.write_column(group, "groups", self.groups)
        for name in ("times", "eigvals", "attractor", "attractor_input", "effective_connectivity",
                     "eigvals_attractor"):
            group.create_dataset(name, data=getattr(self, name))
        group.attrs.update({
            "attractor_label": self.attractor_label, "dt": self.dt,
            "description": "Jacobians J[i, j] = dF_i/dh_j at the mean state and input of each "
                           "trial type (eigvals, by decreasing modulus) and at the main attractor "
                           "(effective_connectivity)"})

    @classmethod
    def read(cls, group):
        """Read what :meth:`write` wrote."""
        return cls(h5.read_column(group["groups"]), group["times"][()], group["eigvals"][()],
                   group["attractor"][()], group["attractor_input"][()],
                   str(group.attrs["attractor_label"]), group["effective_connectivity"][()],
                   group["eigvals_attractor"][()], float(group.attrs["dt"]))


def linearize(dynamics, results, *, n_times=20, batch_size=None):
    """The linearization stage: Jacobians along the mean trajectories and at the main attractor.

    Parameters
    ----------
    dynamics : Dynamics
    results : Results
        A recording; its fixed points, when stored, give the main attractor.
    n_times : int, default 20
        Time bins linearized per trial type, evenly spaced.
    batch_size : int, optional
        Trials read at once.

    Returns
    -------
    Linearization
    """
    hidden, inputs = results.hidden, results.inputs
    n_trials, n_time, N = hidden.shape
    types = np.asarray(results.conditions["trial_type"]).astype(str)
    groups, group_of_trial = np.unique(types, return_inverse=True)
    counts = np.bincount(group_of_trial, minlength=len(groups))
    times = np.unique(np.linspace(0, n_time - 1, min(n_times, n_time)).round().astype(int))
    state_sums = np.zeros((len(groups), len(times), N))
    input_sums = np.zeros((len(groups), len(times), dynamics.n_inputs))
    final = np.empty((n_trials, N))
    batch_size = batch_size or max(1, 2**22 // (n_time * N))
    for start in range(0, n_trials, batch_size):
        rows = slice(start, min(start + batch_size, n_trials))
        h = np.asarray(hidden[rows], dtype=float)
        np.add.at(state_sums, group_of_trial[rows], h[:, times])
        np.add.at(input_sums, group_of_trial[rows], np.asarray(inputs[rows], dtype=float)[:, times])
        final[rows] = h[:, -1]
    states = (state_sums / counts[:, None, None]).reshape(-1, N)
    x = (input_sums / counts[:, None, None]).reshape(-1, dynamics.n_inputs)
    eigvals = _sorted_eigvals(dynamics.jacobian(states, x)).reshape(len(groups), len(times), N)

    fps = results.fixed_points() if "fixed_points" in results else None
    attractor, attractor_input, label = _main_attractor(fps, final, dynamics.n_inputs)
    J = dynamics.jacobian(attractor, attractor_input)
    return Linearization(groups, times, eigvals, attractor, attractor_input, label, J,
                         _sorted_eigvals(J[None])[0], float(results.attrs["dt"]))


def _main_attractor(fps, final, n_inputs):
    """(state, input, description) of the attractor most trials end nearest to."""
    if fps is None or not len(fps):
        return final.mean(axis=0), np.zeros(n_inputs), "mean final state (no fixed points)"
    kinds = fps.stability
    settled = np.isin(kinds, ("stable", "marginal"))
    if settled.any():
        pool = np.flatnonzero(settled)
    else:
        pool = np.flatnonzero(fps.n_unstable == fps.n_unstable.min())
    distance = np.linalg.norm(final[:, None, :] - fps.xstar[pool][None], axis=2)
    votes = np.bincount(distance.argmin(axis=1), minlength=len(pool))
    k = pool[votes.argmax()]
    label = f"{kinds[k]} fixed point {k}" + (f" ({fps.labels[k]})" if fps.labels[k] else "")
    return fps.xstar[k], fps.inputs[k], label


def _sorted_eigvals(J):
    with one_blas_thread():  # many small matrices: threads only contend
        values = np.linalg.eigvals(J)
    return np.take_along_axis(values, np.argsort(-np.abs(values), axis=-1, kind="stable"), -1)
