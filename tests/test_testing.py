"""dynan.testing.check_dynamics: passes on every network kind dynan loads, fails where it should."""

import numpy as np
import pytest
from keras_models import RECURRENT_LAYERS, make_model

import dynan
from dynan.dynamics import LeakyDynamics
from dynan.testing import check_dynamics


@pytest.mark.parametrize("kind", sorted(RECURRENT_LAYERS))
def test_every_loaded_network_kind_passes(kind, tmp_path):
    make_model(kind).save(tmp_path / "m.keras")
    an = dynan.load(tmp_path / "m.keras")
    report = check_dynamics(an.dynamics, np.random.default_rng(0).normal(size=(4, 30, 3)))
    passed = {check.name for check in report if check.passed}
    bounded = {"state_bounds"} if kind in ("gru", "lstm") else set()  # Keras's own gated cells
    assert {"reference_step", "reference_run", "jacobian", "input_jacobian", "tangent",
            "batching", "float64", "readout"} | bounded == passed


def test_networks_from_weights_pass_without_a_reference(rng):
    an = dynan.from_weights(rng.normal(size=(2, 10)), rng.normal(size=(10, 10)) / 3,
                            rng.normal(size=10), gamma=0.3, leak="current", activation="softplus",
                            W_out=rng.normal(size=(10, 2)))
    report = {check.name: check for check in check_dynamics(an.dynamics)}
    assert report["reference_step"].passed is None and report["jacobian"].passed


class WrongJacobian(LeakyDynamics):
    """Forgets the transpose: the orientation mistake check_dynamics exists to catch."""

    def _jacobian(self, h, x):
        return super()._jacobian(h, x).transpose(0, 2, 1)


class WrongBounds(LeakyDynamics):
    """Declares a box that its tanh units leave: [-1, 1/2] instead of [-1, 1]."""

    state_bounds = (-np.ones(6), 0.5 * np.ones(6))


class WrongTangent(LeakyDynamics):
    """Jacobian products that forget the transpose."""

    def tangent(self, h, x):
        apply = super().tangent(h, x)
        return lambda v, rows, transpose=False: apply(v, rows, not transpose)


class Float32Step(LeakyDynamics):
    """Computes in float32 and returns float64: an analysis of it would not be exact."""

    def _step(self, h, x, noise):
        return super()._step(h.astype(np.float32), x.astype(np.float32), noise).astype(np.float64)


@pytest.mark.parametrize("cls, failing", [(WrongJacobian, "jacobian"), (WrongTangent, "tangent"),
                                          (Float32Step, "float64"), (WrongBounds, "state_bounds")])
def test_broken_dynamics_fail_with_a_report(cls, failing, rng):
    d = cls(rng.normal(size=(2, 6)), rng.normal(size=(6, 6)), rng.normal(size=6), gamma=0.5)
    with pytest.raises(AssertionError, match=rf"fails \d of dynan's checks") as info:
        check_dynamics(d)
    line = next(line for line in str(info.value).splitlines() if line.startswith(failing + " "))
    assert "FAILED" in line
