"""Continuation of fixed points against closed-form folds, pitchfork, Neimark-Sacker and
period doubling, and the bundled flip-flop's memory flip."""

import h5py
import numpy as np
import pytest

import dynan
from dynan import tasks
from dynan.bifurcations import (ENDS, Continuation, continuation, continuation_stage,
                                continue_family)
from dynan.dynamics import Dynamics

W, GAMMA = 2.0, 0.5
H_FOLD = np.sqrt(1 - 1 / W)
X_FOLD = np.arctanh(H_FOLD) - W * H_FOLD  # the fold at h = +H_FOLD; its mirror at -H_FOLD


def bistable(w=W):
    """``h0' = (1 - gamma) h0 + gamma tanh(w h0 + x)``, beside two decaying units."""
    return dynan.from_weights([[1.0, 0.0, 0.0]], np.diag([w, 0.3, 0.2]), np.zeros(3),
                              gamma=GAMMA).dynamics


class Scaled(Dynamics):
    """``h' = x M tanh(h)``: the origin is fixed, with eigenvalues ``x`` times M's."""

    n_units, n_inputs, n_outputs = 2, 1, 2
    state_parts = (("h", 2),)
    initial_state = np.zeros(2)

    def __init__(self, M):
        self.M = np.asarray(M, dtype=float)

    def rates(self, h):
        return h

    def _step(self, h, x, noise):
        return x * np.tanh(h) @ self.M.T

    def _jacobian(self, h, x):
        return x[:, :, None] * self.M * (1 - np.tanh(h) ** 2)[:, None, :]

    def _input_jacobian(self, h, x):
        return (np.tanh(h) @ self.M.T)[:, :, None]


def test_folds_are_where_the_closed_form_puts_them_and_the_s_curve_is_traced_through():
    c = continuation(bistable(), [-1.5], [1.5])  # from where the unit settles at x = -1.5
    assert len(c) == 1 and c.end.tolist() == ["boundary"]
    assert c.s[0] == 0 and c.s[-1] == 1
    bif = c.bifurcations
    assert bif.kind.tolist() == ["fold", "fold"]
    np.testing.assert_allclose(bif.inputs[:, 0], [-X_FOLD, X_FOLD], atol=1e-6)
    np.testing.assert_allclose(bif.states[:, 0], [-H_FOLD, H_FOLD], atol=1e-6)
    np.testing.assert_allclose(bif.eigval, 1, atol=1e-6)
    h, x = c.states[:, 0], c.inputs[:, 0]
    np.testing.assert_allclose(x, np.arctanh(h) - W * h, atol=1e-9)  # every point is fixed
    np.testing.assert_allclose(c.states[:, 1:], 0, atol=1e-12)
    assert np.count_nonzero(np.diff(np.sign(np.diff(c.s)))) == 2  # s turns twice: an S
    middle = np.abs(h) < H_FOLD - 0.05
    assert middle.sum() >= 3 and (c.stability[middle] == "saddle").all()
    assert (c.stability[np.abs(h) > H_FOLD + 0.05] == "stable").all()


def test_a_pitchfork_in_the_self_coupling_at_one():
    c = continue_family(bistable, 0.5, 1.5, h0=np.zeros(3), label="w")
    bif = c.bifurcations
    assert bif.kind.tolist() == ["pitchfork"]
    assert abs(bif.inputs[0, 0] - 1) <= 1e-6 and abs(bif.eigval[0] - 1) <= 1e-6
    np.testing.assert_allclose(c.states, 0, atol=1e-12)  # the symmetric branch, followed on
    assert c.stability[0] == "stable" and c.stability[-1] == "saddle"
    assert c.s[-1] == 1 and c.path.tolist() == ["w"]


@pytest.mark.parametrize("M, kind, eigval, after", [
    ([[np.cos(0.7), -np.sin(0.7)], [np.sin(0.7), np.cos(0.7)]], "neimark_sacker",
     np.exp(0.7j), "unstable"),
    ([[-1.0, 0.0], [0.0, 0.5]], "period_doubling", -1.0, "saddle"),
])
def test_neimark_sacker_and_period_doubling_where_an_eigenvalue_leaves_the_circle(
        M, kind, eigval, after):
    c = continuation(Scaled(M), [0.5], [1.5], h0=np.zeros(2))
    bif = c.bifurcations
    assert bif.kind.tolist() == [kind]
    assert abs(bif.inputs[0, 0] - 1) <= 1e-6 and abs(bif.eigval[0] - eigval) <= 1e-6
    assert c.stability[0] == "stable" and c.stability[-1] == after


def test_a_neutral_saddle_is_no_bifurcation():
    # eigenvalues 2x and x/2: their product crosses 1 at x = 1, and nothing crosses the circle
    c = continuation(Scaled(np.diag([2.0, 0.5])), [0.6], [1.4], h0=np.zeros(2))
    assert len(c.bifurcations) == 0 and (c.stability == "saddle").all()


def test_a_start_that_is_no_fixed_point_is_an_error():
    drift = dynan.from_weights([[1.0]], [[1.0]], [0.0], activation="linear").dynamics
    with pytest.raises(ValueError, match="not near a fixed point"):
        continuation(drift, [1.0], [2.0], h0=[0.0])  # h' = h + x has none
    with pytest.raises(ValueError, match=r"x_to must have shape \(1,\)"):
        continuation(drift, [0.0], [1.0, 2.0])


@pytest.fixture(scope="module")
def flipflop():
    an = dynan.load(dynan.example_model("flipflop_leaky"))
    res = an.record(tasks.flipflop(64, seed=0))
    fps = an.fixed_points(None, n_inits=256)
    return an, res, fps


def test_holding_a_flip_flop_bit_on_folds_its_memory_away(flipflop):
    an, _, fps = flipflop
    stable = fps.xstar[fps.stability == "stable"]
    start = stable[an.dynamics.readout(stable)[:, 0] < 0][0]
    c = continuation(an.dynamics, np.zeros(3), [1.0, 0.0, 0.0], h0=start)
    folds = c.bifurcations.s[c.bifurcations.kind == "fold"]
    assert len(folds) >= 1 and 0 < folds[0] < 1
    fold = c.bifurcations.states[c.bifurcations.kind == "fold"][0]

    def bit0(h, s, steps=1000):
        for _ in range(steps):
            h = an.dynamics.step(h, np.array([s, 0.0, 0.0]))
        return an.dynamics.readout(h)[0]

    assert bit0(start, 0.9 * folds[0]) < 0  # before the fold the memory holds
    assert bit0(fold, 1.1 * folds[0]) > 0  # past it, it flips


def test_the_stage_follows_every_zero_input_fixed_point_to_each_input(flipflop, tmp_path):
    an, res, fps = flipflop
    paths = {"set bit 0": [1.0, 0.0, 0.0], "reset bit 0": [-1.0, 0.0, 0.0]}
    c = continuation_stage(an.dynamics, res, inputs=paths)
    assert set(c.path) == set(paths)
    for name, x in paths.items():
        mine = c.path == name
        np.testing.assert_array_equal(c.x_to[mine], np.broadcast_to(x, (mine.sum(), 3)))
    starts = c.states[c.offsets[:-1]]
    assert np.min(np.linalg.norm(starts[:, None] - fps.xstar[None], axis=2), axis=1).max() <= 1e-9
    assert set(c.end) <= set(ENDS) and (c.s >= 0).all() and (c.s <= 1).all()
    owner = np.repeat(np.arange(len(c)), np.diff(c.offsets))
    np.testing.assert_allclose(c.inputs, c.s[:, None] * c.x_to[owner])  # from zero input
    np.testing.assert_array_equal(c.x_from, 0)
    folds = c.bifurcations.branch[c.bifurcations.kind == "fold"]
    assert set(c.path[folds]) == set(paths)  # bit 0 flips either way
    # the flip-flop's only epoch averages to zero input: by default the task's own paths,
    # each bit's pulse, along which the memories with that bit off flip
    default = continuation_stage(an.dynamics, res)
    assert set(default.path) == {"bit_0 +1", "bit_1 +1", "bit_2 +1"}
    assert all(row["fold"] >= 1 for row in default.rows())
    empty = continuation_stage(an.dynamics, res, inputs={})
    assert len(empty) == 0 and len(empty.s) == 0

    with h5py.File(tmp_path / "c.h5", "w") as f:
        c.write(f.create_group("continuation"))
        empty.write(f.create_group("empty"))
    with h5py.File(tmp_path / "c.h5", "r") as f:
        for name, result in (("continuation", c), ("empty", empty)):
            back = Continuation.read(f[name])
            assert repr(back) == repr(result) and back.marginal_tol == result.marginal_tol
            for name in ("s", "inputs", "states", "eigvals", "stability", "offsets", "path",
                         "x_from", "x_to", "end"):
                np.testing.assert_array_equal(getattr(back, name), getattr(result, name))
            for name in ("kind", "s", "inputs", "states", "eigval", "branch"):
                np.testing.assert_array_equal(getattr(back.bifurcations, name),
                                              getattr(result.bifurcations, name))


def test_the_stage_takes_its_paths_from_the_epochs():
    an = dynan.Analysis(bistable())
    x = np.zeros((2, 40, 1))
    x[:, 0, 0] = [-1, 1]  # set the unit either way, hold, then drive it up
    x[:, 20:] = 1
    epochs = {"hold": [[1, 20]] * 2, "drive": [[20, 40]] * 2}
    res = an.record(tasks.Trials(x, {"trial_type": ["-", "+"]}, epochs=epochs))
    an.fixed_points(None, n_inits=16)
    c = continuation_stage(an.dynamics, res)
    assert c.path.tolist() == ["drive", "drive"]
    assert c.bifurcations.kind.tolist() == ["fold"]
    assert abs(c.bifurcations.inputs[0, 0] - (-X_FOLD)) <= 1e-6
    one = c.branch(int(c.bifurcations.branch[0]))
    assert len(one) == 1 and one.bifurcations.branch.tolist() == [0]
    assert one.s[0] == 0 and one.s[-1] == 0  # the lower state folds and comes back as the saddle
