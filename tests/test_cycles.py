"""The cycles stage against closed-form oscillators, a trained network and chaos."""

import math

import h5py
import numpy as np
import pytest

import dynan
from dynan import tasks
from dynan.cycles import Cycles, cycles
from dynan.dynamics import Dynamics


class Oscillator(Dynamics):
    """A planar oscillator and driven decaying units, rotated into N units: ``h = Q y``.

    In polar coordinates of ``(y0, y1)``, ``r -> tanh(beta r) / tanh(beta)`` (the unit
    circle attracts, with slope ``2 beta / sinh(2 beta)`` there) and
    ``theta -> theta + 2 pi omega - (epsilon / m) sin(m theta) + x`` (the input turns
    the phase); the other units ``z -> lambda z + kappa cos(theta)``. The Jacobian is
    block triangular: the oscillator does not feel ``z``.
    """

    n_inputs = 1
    beta = 1.0

    def __init__(self, omega, epsilon, m, lambdas, seed=0):
        rng = np.random.default_rng(seed)
        self.omega, self.epsilon, self.m = omega, epsilon, m
        self.lambdas = np.asarray(lambdas, dtype=float)
        self.kappa = rng.uniform(0.5, 1.0, size=len(lambdas))
        self.n_units = self.n_outputs = 2 + len(lambdas)
        self.Q = np.linalg.qr(rng.normal(size=(self.n_units, self.n_units)))[0]
        self.state_parts = (("h", self.n_units),)
        self.initial_state = self.Q[:, 0] * 0.5

    def rates(self, h):
        return h

    def angle_map(self, theta, x):
        return (theta + 2 * np.pi * self.omega - self.epsilon / self.m * np.sin(self.m * theta)
                + x[:, 0])

    def _polar(self, h):
        y = h @ self.Q
        return y, np.hypot(y[:, 0], y[:, 1]), np.arctan2(y[:, 1], y[:, 0])

    def _step(self, h, x, noise):
        y, r, theta = self._polar(h)
        R, Theta = np.tanh(self.beta * r) / np.tanh(self.beta), self.angle_map(theta, x)
        z = self.lambdas * y[:, 2:] + self.kappa * np.cos(theta)[:, None]
        return np.column_stack([R * np.cos(Theta), R * np.sin(Theta), z]) @ self.Q.T

    def _jacobian(self, h, x):
        y, r, theta = self._polar(h)
        R, Theta = np.tanh(self.beta * r) / np.tanh(self.beta), self.angle_map(theta, x)
        dR = self.beta * (1 - np.tanh(self.beta * r) ** 2) / np.tanh(self.beta)
        dTheta = 1 - self.epsilon * np.cos(self.m * theta)
        d_polar = np.stack([np.stack([y[:, 0] / r, y[:, 1] / r], -1),
                            np.stack([-y[:, 1] / r**2, y[:, 0] / r**2], -1)], 1)
        d_out = np.stack([np.stack([dR * np.cos(Theta), -R * np.sin(Theta) * dTheta], -1),
                          np.stack([dR * np.sin(Theta), R * np.cos(Theta) * dTheta], -1)], 1)
        J = np.zeros((len(h), self.n_units, self.n_units))
        J[:, :2, :2] = d_out @ d_polar
        J[:, 2:, :2] = -(self.kappa[None, :, None] * np.sin(theta)[:, None, None]
                         * d_polar[:, None, 1, :])
        J[:, 2:, 2:] = np.diag(self.lambdas)
        return self.Q @ J @ self.Q.T

    def _input_jacobian(self, h, x):
        y, r, theta = self._polar(h)
        R, Theta = np.tanh(self.beta * r) / np.tanh(self.beta), self.angle_map(theta, x)
        B = np.zeros((len(h), self.n_units))
        B[:, 0], B[:, 1] = -R * np.sin(Theta), R * np.cos(Theta)
        return (B @ self.Q.T)[:, :, None]


def record(dynamics, n_trials=4):
    """Trials that kick the phase at random, then leave the oscillator to itself: they end
    at different phases of the same cycle."""
    x = np.zeros((n_trials, 30, 1))
    x[:, :5, 0] = np.random.default_rng(0).normal(size=(n_trials, 1))
    return dynan.Analysis(dynamics).record(tasks.Trials.from_arrays(x))


def test_the_oscillator_jacobians_are_its_derivatives(rng):
    from conftest import fd_jacobians

    d = Oscillator(0.1, 0.3, 3, [0.9, -0.5])
    h, x = rng.normal(size=(5, 4)), rng.normal(size=(5, 1))
    J, B = fd_jacobians(d.step, h, x)
    np.testing.assert_allclose(d.jacobian(h, x), J, atol=1e-7)
    np.testing.assert_allclose(d.input_jacobian(h, x), B, atol=1e-7)


@pytest.fixture(scope="module")
def locked():
    """An orbit of period 12: rotation by 2 pi / 12, locked in phase by sin(12 theta)."""
    d = Oscillator(1 / 12, 0.3, 12, [0.9, -0.8, 0.5, 0.3])
    return d, cycles(d, record(d))


def test_a_phase_locked_oscillator_has_an_orbit_of_its_period_and_floquet_multipliers(locked):
    d, cyc = locked
    assert cyc.kind.tolist() == ["orbit"] and cyc.labels.tolist() == ["zero input"]
    assert cyc.n_starts.tolist() == [4]  # four phases of one orbit
    P = 12
    assert abs(cyc.period_steps[0] - P) <= 0.01 * P
    assert cyc.residual[0] <= 1e-10
    # the locked phases theta_k = 2 pi k / P on the unit circle, z on its invariant graph
    y = cyc.cycle(0) @ d.Q
    np.testing.assert_allclose(np.hypot(y[:, 0], y[:, 1]), 1, atol=1e-10)
    np.testing.assert_allclose(np.sin(P * np.arctan2(y[:, 1], y[:, 0])), 0, atol=1e-10)
    # along the circle (1 - epsilon)^P, across it the radial slope^P, then lambda^P
    radial = 2 * d.beta / np.sinh(2 * d.beta)
    theory = np.array([(1 - d.epsilon) ** P, radial**P, *(d.lambdas**P)])
    theory = theory[np.argsort(-np.abs(theory))]
    np.testing.assert_allclose(cyc.multipliers[0, :6], theory, rtol=1e-8, atol=1e-14)
    assert np.isnan(cyc.multipliers[0, 6:]).all()
    assert cyc.lyapunov[0, 1] == pytest.approx(np.log(theory[0]) / P)
    assert cyc.period[0] == cyc.period_steps[0] * cyc.dt


@pytest.fixture(scope="module")
def circle():
    """A Neimark-Sacker-type circle with a nonlinear circle map on it (Arnold's family)."""
    d = Oscillator((np.sqrt(5) - 1) / 20, 0.2, 1, [0.9, 0.7, -0.5, 0.3, 0.2, 0.1])
    return d, cycles(d, record(d))


def test_an_invariant_circle_has_the_rotation_number_of_a_long_simulation(circle):
    d, cyc = circle
    assert cyc.kind.tolist() == ["circle"] and cyc.n_starts.tolist() == [4]
    n, theta = 10**6, 0.0
    for _ in range(n):  # the angle alone: its lift moves by less than 2 pi from n rho
        theta = theta + 2 * math.pi * d.omega - d.epsilon * math.sin(theta)
    assert abs(cyc.rotation_number[0] - theta / (2 * math.pi * n)) < 1 / n
    assert cyc.period_steps[0] == 1 / cyc.rotation_number[0]
    assert cyc.residual[0] <= 1e-8
    along, across = cyc.lyapunov[0]
    assert abs(along) < 1e-6
    assert across == pytest.approx(np.log(0.9), abs=1e-6)  # the slowest decaying unit
    y = cyc.cycle(0) @ d.Q
    np.testing.assert_allclose(np.hypot(y[:, 0], y[:, 1]), 1, atol=1e-8)
    assert np.isnan(cyc.multipliers).all()


def test_cycles_are_stored_and_read_back_equal(locked, circle, tmp_path):
    for _, cyc in (locked, circle):
        with h5py.File(tmp_path / "cycles.h5", "w") as f:
            cyc.write(f.create_group("cycles"))
        with h5py.File(tmp_path / "cycles.h5", "r") as f:
            back = Cycles.read(f["cycles"])
        assert repr(back) == repr(cyc) and back.dt == cyc.dt
        for name in ("kind", "labels", "inputs", "period_steps", "rotation_number", "amplitude",
                     "extent", "residual", "n_starts", "multipliers", "lyapunov", "offsets",
                     "states"):
            np.testing.assert_array_equal(getattr(back, name), getattr(cyc, name))
        np.testing.assert_equal(back.rows(), cyc.rows())


def test_the_trained_tdnms_network_oscillates_on_a_circle_with_its_simulated_period(tmp_path):
    """``analyze`` with its defaults finds the zero-input circle; a long simulation agrees."""
    an = dynan.load(dynan.example_model("tdnms_leaky"))
    res = an.analyze(out=tmp_path / "tdnms", formats=(), progress=False)
    cyc = res.get("cycles")
    zero = np.flatnonzero((cyc.inputs == 0).all(axis=1))
    assert len(zero) == 1 and cyc.kind[zero[0]] == "circle"
    c = zero[0]
    assert cyc.n_starts[c] == 32  # every start, at its own phase: one cycle
    assert cyc.residual[c] <= 1e-8 and cyc.lyapunov[c, 1] < 0
    # independently: 20 000 steps from a trial's end, the angle in the top-2 PC plane
    h = np.asarray(res.hidden[0, -1], dtype=float)[None]
    x = np.zeros((1, 2))
    states = []
    for t in range(23000):
        h = an.dynamics.step(h, x)
        if t >= 3000:
            states.append(h[0])
    states = np.array(states) - np.mean(states, axis=0)
    plane = states @ np.linalg.svd(states, full_matrices=False)[2][:2].T
    angle = np.unwrap(np.arctan2(plane[:, 1], plane[:, 0]))
    turns = abs(angle[-1] - angle[0]) / (2 * np.pi)
    assert cyc.period_steps[c] == pytest.approx((len(states) - 1) / turns, rel=0.01)
    assert cyc.period[c] == pytest.approx(cyc.period_steps[c] * 0.05)
    assert "circle" in repr(cyc)


def test_a_random_network_of_gain_3_is_chaotic(rng):
    N = 64
    an = dynan.from_weights(rng.normal(size=(1, N)), 3 * rng.normal(size=(N, N)) / np.sqrt(N),
                            np.zeros(N))
    an.record(tasks.Trials.from_arrays(rng.normal(size=(3, 20, 1))))
    cyc = cycles(an.dynamics, an.recording, n_steps=500, n_record=1024, max_period=500)
    assert cyc.kind.tolist() == ["chaos"] and cyc.n_starts.tolist() == [3]
    assert cyc.lyapunov[0, 1] > 0.1 and np.isnan(cyc.lyapunov[0, 0])
    assert np.isnan(cyc.period_steps[0]) and len(cyc.cycle(0)) == 128
    assert "1 chaos (exponent" in repr(cyc)
