"""Running a network over trials, batch by batch: what :meth:`~dynan.Analysis.run` and
recording share."""

import numpy as np

from .tasks import Trials


def simulate(dynamics, inputs, *, h0=None, noise=False, seed=0, batch_size=None):
    """Yield ``(rows, hidden, outputs)`` batch by batch.

    Parameters
    ----------
    dynamics : Dynamics
    inputs : Trials or array_like of shape (trials, time, n_in)
    h0 : array_like of shape (N,) or (trials, N), optional
        Initial state; the network's own (usually zeros) by default.
    noise : bool or float, default False
        ``True`` adds the network's own noise (``dynamics.noise_std``); a number
        sets the standard deviation. Networks with capability ``"noise"`` only.
    seed : int, default 0
        Seed of the noise. Each trial draws from its own stream, so a trial's noise
        depends on the seed and its position only, not on batching.
    batch_size : int, optional
        Trials computed at once; by default about 32 MB of states.

    Yields
    ------
    rows : slice
        The trials of the batch.
    hidden : ndarray (B, T, N), float64
    outputs : ndarray (B, T, n_out), float64
    """
    d = dynamics
    inputs = check_inputs(d, inputs)
    n_trials, n_time, _ = inputs.shape
    h0 = d.initial_state if h0 is None else real_array(h0, "h0")
    if h0.shape not in ((d.n_units,), (n_trials, d.n_units)):
        raise ValueError(f"h0 must have shape ({d.n_units},) or ({n_trials}, {d.n_units}); "
                         f"got {h0.shape}")
    h0 = np.broadcast_to(h0, (n_trials, d.n_units))
    std = noise_std(noise, d)
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
        hidden, outputs = d.run_batch(np.asarray(inputs[rows], dtype=float), np.array(h0[rows]), xi)
        yield rows, hidden, outputs


def check_inputs(dynamics, inputs):
    """``inputs`` (Trials or array) as a (trials, time, n_in) array, or a ValueError:
    at least one trial and one time step, finite real numbers."""
    n_in = dynamics.n_inputs
    inputs = real_array(inputs.inputs if isinstance(inputs, Trials) else inputs, "inputs")
    if inputs.ndim != 3 or inputs.shape[2] != n_in or 0 in inputs.shape[:2]:
        raise ValueError(f"inputs must have shape (trials, time, {n_in}) with at least one "
                         f"trial and one time step; got {inputs.shape}")
    return inputs


def real_array(value, name):
    """``value`` as a float array, or a ValueError if it is not numeric, is complex or
    holds NaN or inf.

    Examples
    --------
    >>> real_array([1, 2], "h0")
    array([1., 2.])
    >>> real_array([1j], "h0")
    Traceback (most recent call last):
    ...
    ValueError: h0 is complex (complex128); dynan analyses real networks: pass real values
    """
    a = np.asarray(value)
    if a.dtype.kind == "c":
        raise ValueError(f"{name} is complex ({a.dtype}); dynan analyses real networks: pass "
                         "real values")
    if a.dtype.kind not in "biuf":
        raise ValueError(f"{name} must be numbers; got values of type {a.dtype}")
    a = a.astype(float, copy=False)
    if not np.all(np.isfinite(a)):
        bad = int(np.size(a) - np.isfinite(a).sum())
        raise ValueError(f"{name} has {bad} non-finite values (NaN or inf); all must be finite")
    return a


def noise_std(noise, dynamics):
    """The standard deviation a run's ``noise`` argument asks for (0 for none)."""
    if noise is False or noise is None:
        return 0.0
    if "noise" not in dynamics.capabilities:
        raise ValueError("noise can be added to leaky and vanilla (SimpleRNN) networks only")
    if noise is True:
        if dynamics.noise_std == 0:
            raise ValueError("this network has no noise of its own (noise_std is 0); "
                             "pass noise=<standard deviation> instead of noise=True")
        return dynamics.noise_std
    if not (np.isscalar(noise) and np.isfinite(noise) and noise >= 0):
        raise ValueError(f"noise must be True, False or a number >= 0; got {noise!r}")
    return float(noise)
