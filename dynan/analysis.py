"""The analysis object that wraps one trained network."""

from typing import NamedTuple

import numpy as np

from .tasks import Trials


class Trajectories(NamedTuple):
    """States and outputs of a run over trials.

    Attributes
    ----------
    hidden : ndarray of shape (trials, time, N)
        The state after each time step (the flattened state for multi-part cells).
    outputs : ndarray of shape (trials, time, n_out)
        The network's output at each time step.
    """

    hidden: np.ndarray
    outputs: np.ndarray


class Analysis:
    """A trained recurrent network under analysis.

    Made by :func:`dynan.load` or :func:`dynan.from_weights`.

    Attributes
    ----------
    dynamics : Dynamics
        The network's update map and its Jacobians.
    source : pathlib.Path or None
        The model file, when loaded from one.
    sha256 : str or None
        SHA-256 of the model file.
    layer_name : str or None
        Name of the analysed recurrent layer.

    Examples
    --------
    >>> import dynan, numpy as np
    >>> rng = np.random.default_rng(0)
    >>> an = dynan.from_weights(rng.normal(size=(2, 16)), rng.normal(size=(16, 16)) / 4,
    ...                         np.zeros(16), gamma=0.2)
    >>> traj = an.run(np.ones((3, 50, 2)))
    >>> traj.hidden.shape
    (3, 50, 16)
    """

    def __init__(self, dynamics, *, source=None, sha256=None, layer_name=None):
        self.dynamics = dynamics
        self.source = source
        self.sha256 = sha256
        self.layer_name = layer_name

    def __repr__(self):
        d = self.dynamics
        where = f" from {self.source.name!r}" if self.source is not None else ""
        return (f"<Analysis{where}: {type(d).__name__}, {d.n_units} units, "
                f"{d.n_inputs} inputs, {d.n_outputs} outputs>")

    def run(self, inputs, *, h0=None, noise=False, seed=None):
        """Run the network over trials, noise-free unless asked.

        Parameters
        ----------
        inputs : Trials or array_like of shape (trials, time, n_in)
        h0 : array_like of shape (N,) or (trials, N), optional
            Initial state; the network's own (usually zeros) by default.
        noise : bool or float, default False
            ``True`` adds the network's own noise (``dynamics.noise_std``); a
            number sets the standard deviation. Leaky and vanilla networks only.
        seed : int, optional
            Seed of the noise, for reproducible noisy runs.

        Returns
        -------
        Trajectories
            ``hidden`` (trials, time, N) and ``outputs`` (trials, time, n_out).
        """
        d = self.dynamics
        inputs = np.asarray(inputs.inputs if isinstance(inputs, Trials) else inputs, dtype=float)
        if inputs.ndim != 3 or inputs.shape[2] != d.n_inputs:
            raise ValueError(
                f"inputs must have shape (trials, time, {d.n_inputs}); got {inputs.shape}")
        n_trials, n_time, _ = inputs.shape
        h0 = d.initial_state if h0 is None else np.asarray(h0, dtype=float)
        if h0.shape not in ((d.n_units,), (n_trials, d.n_units)):
            raise ValueError(f"h0 must have shape ({d.n_units},) or ({n_trials}, {d.n_units}); "
                             f"got {h0.shape}")
        h = np.array(np.broadcast_to(h0, (n_trials, d.n_units)))
        std = _noise_std(noise, d.noise_std)
        rng = np.random.default_rng(seed)
        hidden = np.empty((n_trials, n_time, d.n_units))
        for t in range(n_time):
            xi = rng.normal(scale=std, size=h.shape) if std else None
            h = hidden[:, t] = d.step(h, inputs[:, t], noise=xi)
        outputs = d.readout(hidden.reshape(-1, d.n_units)).reshape(n_trials, n_time, -1)
        return Trajectories(hidden, outputs)


def _noise_std(noise, own_std):
    if noise is True:
        if own_std == 0:
            raise ValueError("this network has no noise of its own (noise_std is 0); "
                             "pass noise=<standard deviation> instead of noise=True")
        return own_std
    if noise is False or noise is None:
        return 0.0
    if not (np.isscalar(noise) and np.isfinite(noise) and noise >= 0):
        raise ValueError(f"noise must be True, False or a number >= 0; got {noise!r}")
    return float(noise)
