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

    def run(self, inputs, *, h0=None, noise=False, seed=None, batch_size=None):
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
            Seed of the noise. Each trial draws from its own stream, so a trial's
            noise depends on the seed and its position only, not on batching.
        batch_size : int, optional
            Trials computed at once; by default about 32 MB of states.

        Returns
        -------
        Trajectories
            ``hidden`` (trials, time, N) and ``outputs`` (trials, time, n_out).
        """
        inputs = self._check_inputs(inputs)
        n_trials, n_time, _ = inputs.shape
        hidden = np.empty((n_trials, n_time, self.dynamics.n_units))
        outputs = np.empty((n_trials, n_time, self.dynamics.n_outputs))
        for rows, h, y in self.simulate(inputs, h0=h0, noise=noise, seed=seed, batch_size=batch_size):
            hidden[rows], outputs[rows] = h, y
        return Trajectories(hidden, outputs)

    def record(self, trials, path=None, *, noise=False, seed=None, batch_size=None,
               overwrite=False, progress=None):
        """Run the network over labelled trials and write everything to a results file.

        Inputs, hidden states, outputs, targets and the condition table are written
        batch by batch as the run goes, so memory stays flat however many trials
        there are. The file appears only when complete (see :func:`dynan.results.atomic_h5`).

        Parameters
        ----------
        trials : Trials or array_like of shape (trials, time, n_in)
        path : path-like, optional
            The results file (``.h5``). Without it the file lives in memory.
        noise, seed, batch_size
            As in :meth:`run`.
        overwrite : bool, default False
            Replace an existing file at ``path``.
        progress : bool, optional
            Show a progress bar; by default only on a terminal.

        Returns
        -------
        Results
            The file, open for reading; its arrays read lazily.

        Examples
        --------
        >>> res = an.record(dynan.tasks.tdnms(300, seed=0), "tdnms.h5")    # doctest: +SKIP
        >>> res.select(trial_type="SL").hidden[:10, 150]                     # doctest: +SKIP
        """
        from .recording import record

        return record(self, trials, path, noise=noise, seed=seed, batch_size=batch_size,
                      overwrite=overwrite, progress=progress)

    def simulate(self, inputs, *, h0=None, noise=False, seed=None, batch_size=None):
        """Yield ``(rows, hidden, outputs)`` batch by batch: the engine of :meth:`run`.

        ``rows`` is the slice of trials, ``hidden`` the (B, T, N) float64 states and
        ``outputs`` the (B, T, n_out) readout.
        """
        d = self.dynamics
        inputs = self._check_inputs(inputs)
        n_trials, n_time, _ = inputs.shape
        h0 = d.initial_state if h0 is None else np.asarray(h0, dtype=float)
        if h0.shape not in ((d.n_units,), (n_trials, d.n_units)):
            raise ValueError(f"h0 must have shape ({d.n_units},) or ({n_trials}, {d.n_units}); "
                             f"got {h0.shape}")
        h0 = np.broadcast_to(h0, (n_trials, d.n_units))
        std = _noise_std(noise, d.noise_std)
        streams = np.random.SeedSequence(seed).spawn(n_trials) if std else None
        if batch_size is None:
            batch_size = max(1, 2**22 // (n_time * d.n_units))
        elif not (isinstance(batch_size, (int, np.integer)) and batch_size >= 1):
            raise ValueError(f"batch_size must be a positive integer; got {batch_size!r}")
        for start in range(0, n_trials, batch_size):
            rows = slice(start, min(start + batch_size, n_trials))
            xi = None if not std else np.stack([
                np.random.default_rng(s).normal(scale=std, size=(n_time, d.n_units))
                for s in streams[rows]])
            hidden = d.trajectory(np.asarray(inputs[rows], dtype=float), np.array(h0[rows]), xi)
            yield rows, hidden, d.readout(hidden)

    def _check_inputs(self, inputs):
        n_in = self.dynamics.n_inputs
        inputs = np.asarray(inputs.inputs if isinstance(inputs, Trials) else inputs)
        if inputs.ndim != 3 or inputs.shape[2] != n_in:
            raise ValueError(f"inputs must have shape (trials, time, {n_in}); got {inputs.shape}")
        return inputs


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
