"""Conformance checks for :class:`~dynan.dynamics.Dynamics`: run them on your own cell.

:func:`check_dynamics` plays the part of scikit-learn's ``check_estimator`` for
networks: dynan's test suite runs it on every network kind it loads, and a user runs
it on their own cell before trusting an analysis of it.

Examples
--------
>>> import numpy as np, dynan
>>> from dynan.testing import check_dynamics
>>> rng = np.random.default_rng(0)
>>> an = dynan.from_weights(rng.normal(size=(2, 8)), rng.normal(size=(8, 8)) / 3,
...                         np.zeros(8), gamma=0.2)
>>> report = check_dynamics(an.dynamics)
>>> [check.name for check in report if check.passed]
['jacobian', 'input_jacobian', 'tangent', 'batching', 'float64', 'readout']
"""

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Check:
    """The outcome of one check.

    Attributes
    ----------
    name : str
    passed : bool or None
        None when the check does not apply (e.g. no reference implementation).
    error : float
        The measured (relative) error; NaN when skipped.
    tolerance : float
    note : str
        What was compared.
    """

    name: str
    passed: object
    error: float
    tolerance: float
    note: str

    def __str__(self):
        status = {True: "ok", False: "FAILED", None: "skipped"}[self.passed]
        error = "" if np.isnan(self.error) else f" error {self.error:.1e} (tolerance {self.tolerance:.0e})"
        return f"{self.name:15s} {status:7s}{error}: {self.note}"


def check_dynamics(dynamics, inputs=None, *, n_states=8, n_steps=20, seed=0):
    """Check that ``dynamics`` computes what its network computes, exactly, in float64.

    The checks:

    - ``reference_step``: one step (states and outputs) equals the source framework's
      own step (Keras's forward pass of the trained cell and readout, in float32)
      to 1e-5 relative;
    - ``reference_run``: ``n_steps`` steps of a run equal the source framework's,
      step by step, to 1e-4 relative;
    - ``jacobian`` and ``input_jacobian``: equal central differences of the step to
      1e-6 relative;
    - ``tangent``: the products ``J v`` and ``J^T v`` of :meth:`~dynan.Dynamics.tangent` equal
      the Jacobian's to 1e-12 relative;
    - ``batching``: a state's next state and Jacobian do not depend on the batch it
      is computed in;
    - ``float64``: steps are float64 and resolve perturbations of 1e-7, which a
      float32 computation cannot;
    - ``readout``: the outputs of a run equal :meth:`~dynan.Dynamics.readout` of its states
      where the output is a function of the state alone;
    - ``state_bounds``: where the dynamics declare a box that every step maps into itself,
      random states in it (at its bounds too) stay in it under large random inputs.

    Parameters
    ----------
    dynamics : Dynamics
    inputs : array_like (trials, time, n_in), optional
        Inputs of typical trials: the checks run at states visited under them (and
        at their inputs). Random states and inputs by default.
    n_states : int, default 8
        States checked.
    n_steps : int, default 20
        Steps of the run compared with the reference.
    seed : int, default 0

    Returns
    -------
    list of Check
        Every check, passed or not applicable.

    Raises
    ------
    AssertionError
        Listing every check that failed, with its error.
    """
    rng = np.random.default_rng(seed)
    h, x = _states(dynamics, inputs, n_states, rng)
    report = [
        *_reference_checks(dynamics, h, x, n_steps, rng),
        *_jacobian_checks(dynamics, h, x),
        _batching_check(dynamics, h, x),
        _float64_check(dynamics, h, x, rng),
        _readout_check(dynamics, h, x),
        _bounds_check(dynamics, rng),
    ]
    failed = [check for check in report if check.passed is False]
    if failed:
        raise AssertionError(f"{type(dynamics).__name__} fails {len(failed)} of dynan's checks:\n"
                             + "\n".join(map(str, report)))
    return report


def _states(d, inputs, n, rng):
    """States visited under ``inputs`` (or random ones), with their inputs."""
    if inputs is None:
        h = d.initial_state + rng.normal(scale=0.5, size=(n, d.n_units))
        return h, rng.normal(size=(n, d.n_inputs))
    inputs = np.asarray(inputs, dtype=float)
    if inputs.ndim != 3 or inputs.shape[2] != d.n_inputs:
        raise ValueError(f"inputs must have shape (trials, time, {d.n_inputs}); got {inputs.shape}")
    hidden, _ = d.run_batch(inputs, np.broadcast_to(d.initial_state, (len(inputs), d.n_units)).copy())
    trial = rng.integers(len(inputs), size=n)
    time = rng.integers(1, inputs.shape[1], size=n)
    return hidden[trial, time - 1], inputs[trial, time]


def _relative(a, b):
    return float(np.max(np.abs(a - b)) / max(1.0, float(np.max(np.abs(b)))))


def _outcome(name, error, tolerance, note):
    return Check(name, bool(error <= tolerance), error, tolerance, note)


def _reference_checks(d, h, x, n_steps, rng):
    if d.reference is None:
        note = "no reference implementation (a network from arrays)"
        return [Check("reference_step", None, np.nan, 1e-5, note),
                Check("reference_run", None, np.nan, 1e-4, note)]
    y_ref, h_ref = d.reference(h, x)
    h_next, y = (a[:, 0] for a in d.run_batch(x[:, None], h))
    step = max(_relative(h_next, h_ref), _relative(y, y_ref))
    sequence = rng.normal(size=(len(h), n_steps, d.n_inputs))
    hidden, outputs = d.run_batch(sequence, h)
    state, error = h, 0.0
    for t in range(n_steps):
        y_ref, state = d.reference(state, sequence[:, t])
        error = max(error, _relative(hidden[:, t], state), _relative(outputs[:, t], y_ref))
    return [_outcome("reference_step", step, 1e-5, "next states and outputs against the trained "
                     "network's own step"),
            _outcome("reference_run", error, 1e-4, f"{n_steps} steps of a run against the trained "
                     "network's own steps")]


def _central_differences(f, a, eps=1e-6):
    """(B, n_out, n_a) Jacobian of ``f`` at the rows of ``a``, all perturbations in one batch."""
    B, n = a.shape
    shifts = eps * np.eye(n)
    plus = (a[:, None, :] + shifts).reshape(-1, n)
    minus = (a[:, None, :] - shifts).reshape(-1, n)
    rows = np.repeat(np.arange(B), n)
    difference = (f(plus, rows) - f(minus, rows)).reshape(B, n, -1)
    return difference.transpose(0, 2, 1) / (2 * eps)


def _jacobian_checks(d, h, x):
    J = d.jacobian(h, x)
    J_fd = _central_differences(lambda hh, rows: d.step(hh, x[rows]), h)
    B_in = d.input_jacobian(h, x)
    B_fd = _central_differences(lambda xx, rows: d.step(h[rows], xx), x)
    rows = np.arange(len(h))[::-1]  # products for rows in another order than the states'
    v = np.random.default_rng(0).normal(size=h.shape)
    apply = d.tangent(h, x)
    products = np.stack([apply(v, rows), apply(v, rows, transpose=True)])
    dense = np.stack([np.einsum("bij,bj->bi", J[rows], v), np.einsum("bji,bj->bi", J[rows], v)])
    return [_outcome("jacobian", _relative(J, J_fd), 1e-6, "dF/dh against central differences"),
            _outcome("input_jacobian", _relative(B_in, B_fd), 1e-6,
                     "dF/dx against central differences"),
            _outcome("tangent", _relative(products, dense), 1e-12,
                     "Jacobian products J v and J^T v against the Jacobian")]


def _batching_check(d, h, x):
    together, J_together = d.step(h, x), d.jacobian(h, x)
    alone = np.stack([d.step(h[i], x[i]) for i in range(len(h))])
    J_alone = np.stack([d.jacobian(h[i], x[i]) for i in range(len(h))])
    error = max(_relative(together, alone), _relative(J_together, J_alone))
    return _outcome("batching", error, 1e-12, "steps and Jacobians of a batch against one by one")


def _float64_check(d, h, x, rng):
    h_next = d.step(h, x)
    if h_next.dtype != np.float64:
        return Check("float64", False, np.inf, 1e-3, f"steps return {h_next.dtype}")
    delta = 1e-7 * rng.normal(size=h.shape)
    moved = d.step(h + delta, x) - h_next
    linear = np.einsum("bij,bj->bi", d.jacobian(h, x), delta)
    error = float(np.max(np.linalg.norm(moved - linear, axis=1)
                         / np.maximum(np.linalg.norm(linear, axis=1), 1e-300)))
    return _outcome("float64", error, 1e-3, "a perturbation of 1e-7 moves the next state as the "
                    "Jacobian says (float32 rounding would swamp it)")


def _readout_check(d, h, x):
    if "state_readout" not in d.capabilities:
        return Check("readout", None, np.nan, 1e-12, "the output is computed by the cell "
                     "(checked against the reference)")
    hidden, outputs = d.run_batch(x[:, None], h)
    return _outcome("readout", _relative(outputs[:, 0], d.readout(hidden[:, 0])), 1e-12,
                    "outputs of a run against readout(state)")


def _bounds_check(d, rng, n=64):
    if d.state_bounds is None:
        return Check("state_bounds", None, np.nan, 1e-12, "the dynamics declare no bounds")
    low, high = d.state_bounds
    u = rng.uniform(size=(n, d.n_units))
    u[: n // 4] = np.round(u[: n // 4])  # corners of the box
    span = np.where(np.isfinite(high - low), high - low, 3.0)  # 3 into an unbounded side
    h = np.where(np.isfinite(low), low + u * span,
                 np.where(np.isfinite(high), high - u * span, rng.normal(scale=3, size=u.shape)))
    h_next = d.step(h, rng.normal(scale=3, size=(n, d.n_inputs)))
    error = float(max(np.max(low - h_next), np.max(h_next - high), 0.0))
    return _outcome("state_bounds", error, 1e-12, "steps from states in the declared box, under "
                    "large inputs, stay in it")
