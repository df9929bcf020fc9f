"""Closed-form dynamics from weight arrays: ground truth, finite differences and input checks."""

import numpy as np
import pytest
from conftest import fd_jacobians

import dynan
from dynan import activations

N, N_IN = 6, 2


def random_network(rng, **kwargs):
    return dynan.from_weights(rng.normal(size=(N_IN, N)), rng.normal(size=(N, N)) / np.sqrt(N),
                              0.3 * rng.normal(size=N), **kwargs)


def test_linear_network_jacobians_are_the_weights(rng):
    W_in, W_rec = rng.normal(size=(N_IN, N)), rng.normal(size=(N, N))
    d = dynan.from_weights(W_in, W_rec, np.zeros(N), gamma=0.3, activation="linear").dynamics
    h, x = rng.normal(size=(4, N)), rng.normal(size=(4, N_IN))
    np.testing.assert_allclose(d.step(h, x), 0.7 * h + 0.3 * (x @ W_in + h @ W_rec))
    np.testing.assert_allclose(d.jacobian(h, x), np.broadcast_to(0.7 * np.eye(N) + 0.3 * W_rec.T, (4, N, N)))
    np.testing.assert_allclose(d.input_jacobian(h, x), np.broadcast_to(0.3 * W_in.T, (4, N, N_IN)))


def test_known_fixed_point_without_recurrence(rng):
    b = rng.normal(size=N)
    d = dynan.from_weights(np.ones((1, N)), np.zeros((N, N)), b, gamma=0.2).dynamics
    h_star = np.tanh(b)
    np.testing.assert_allclose(d.step(h_star, [0.0]), h_star, atol=1e-15)
    np.testing.assert_allclose(d.jacobian(h_star, [0.0]), 0.8 * np.eye(N), atol=1e-15)


def test_current_leak_update(rng):
    an = random_network(rng, gamma=0.25, activation="sigmoid", leak="current")
    d = an.dynamics
    u, x = rng.normal(size=(3, N)), rng.normal(size=(3, N_IN))
    r = 1 / (1 + np.exp(-u))
    np.testing.assert_allclose(d.step(u, x), 0.75 * u + 0.25 * (r @ d.W_rec + x @ d.W_in + d.b))
    np.testing.assert_allclose(d.rates(u), r)


@pytest.mark.parametrize("leak", ["rate", "current"])
@pytest.mark.parametrize("activation", sorted(activations.ACTIVATIONS))
def test_jacobians_match_central_differences(rng, activation, leak):
    d = random_network(rng, gamma=0.4, activation=activation, leak=leak).dynamics
    h, x = 0.5 * rng.normal(size=(5, N)), rng.normal(size=(5, N_IN))
    J_fd, B_fd = fd_jacobians(d.step, h, x)
    np.testing.assert_allclose(d.jacobian(h, x), J_fd, atol=1e-6, rtol=0)
    np.testing.assert_allclose(d.input_jacobian(h, x), B_fd, atol=1e-6, rtol=0)


@pytest.mark.parametrize("name", sorted(activations.ACTIVATIONS))
def test_activations_equal_keras(name):
    import keras

    z = np.linspace(-4, 4, 81)
    expected = keras.ops.convert_to_numpy(keras.activations.get(name)(z.astype("float32")))
    np.testing.assert_allclose(activations.get(name)[0](z), expected, atol=2e-6, rtol=1e-6)


def test_one_state_in_one_state_out(rng):
    d = random_network(rng).dynamics
    h, x = rng.normal(size=N), rng.normal(size=N_IN)
    assert d.step(h, x).shape == (N,)
    assert d.jacobian(h, x).shape == (N, N) and d.input_jacobian(h, x).shape == (N, N_IN)
    np.testing.assert_allclose(d.step(np.stack([h, h]), x)[1], d.step(h, x))


def test_readout(rng):
    W_out, b_out = rng.normal(size=(N, 3)), rng.normal(size=3)
    an = random_network(rng, W_out=W_out, b_out=b_out)
    h = rng.normal(size=(4, N))
    np.testing.assert_allclose(an.dynamics.readout(h), h @ W_out + b_out)
    assert an.dynamics.n_outputs == 3


@pytest.mark.parametrize("kwargs, message", [
    ({"W_in": np.ones((N, 3))}, r"W_in must have shape \(n_in, 6\); got \(6, 3\)"),
    ({"W_rec": np.ones((N, N + 1))}, r"W_rec must be square, \(N, N\) with N >= 1 units; got \(6, 7\)"),
    ({"W_in": np.ones((N_IN, 0)), "W_rec": np.ones((0, 0)), "b": np.ones(0)},
     r"W_rec must be square, \(N, N\) with N >= 1 units; got \(0, 0\)"),
    ({"W_rec": np.eye(N) * (1 + 0.5j)}, r"W_rec is complex \(complex128\); dynan analyses real"),
    ({"b": np.array(["a"] * N)}, r"b must be numbers; got values of type <U1"),
    ({"W_rec": np.ones(N)}, r"W_rec must have shape \(N, N\); got \(6,\)"),
    ({"b": np.ones(N + 1)}, r"b must have shape \(6,\); got \(7,\)"),
    ({"gamma": 0.0}, r"gamma must be in \(0, 1\]; got 0.0"),
    ({"gamma": 1.5}, r"gamma must be in \(0, 1\]; got 1.5"),
    ({"leak": "voltage"}, r"leak must be one of \('rate', 'current'\); got 'voltage'"),
    ({"activation": "gelu"}, r"activation 'gelu' has no closed form in dynan; choose one of \["),
    ({"W_out": np.ones((N + 1, 2))}, r"W_out must have shape \(6, n_out\); got \(7, 2\)"),
    ({"W_out": np.ones((N, 2)), "b_out": np.ones(3)}, r"b_out must have shape \(2,\); got \(3,\)"),
    ({"b_out": np.ones(2)}, "b_out was given without W_out"),
    ({"h0": np.ones(2)}, r"h0 must have shape \(6,\); got \(2,\)"),
    ({"W_rec": np.full((N, N), np.nan)}, r"W_rec has 36 non-finite values \(NaN or inf\); all must be finite"),
    ({"h0": np.full(N, np.inf)}, r"h0 has 6 non-finite values"),
])
def test_from_weights_rejects_bad_input(kwargs, message):
    args = {"W_in": np.ones((N_IN, N)), "W_rec": np.eye(N), "b": np.zeros(N)}
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        dynan.from_weights(args.pop("W_in"), args.pop("W_rec"), args.pop("b"), **args)


def test_step_rejects_bad_shapes(rng):
    d = random_network(rng).dynamics
    with pytest.raises(ValueError, match=r"h must have 6 values on its last axis; got shape \(3, 5\)"):
        d.step(np.zeros((3, 5)), np.zeros(N_IN))
    with pytest.raises(ValueError, match=r"x must have 2 values on its last axis; got shape \(3,\)"):
        d.step(np.zeros(N), np.zeros(3))
    with pytest.raises(ValueError, match="h and x hold different batch sizes: 3 and 2"):
        d.jacobian(np.zeros((3, N)), np.zeros((2, N_IN)))


def test_run_is_the_iterated_step(rng):
    W_out = rng.normal(size=(N, 1))
    an = random_network(rng, gamma=0.2, W_out=W_out)
    inputs = rng.normal(size=(3, 20, N_IN))
    h0 = rng.normal(size=(3, N))
    traj = an.run(inputs, h0=h0)
    h = h0
    for t in range(20):
        h = an.dynamics.step(h, inputs[:, t])
        np.testing.assert_array_equal(traj.hidden[:, t], h)
    np.testing.assert_allclose(traj.outputs, traj.hidden @ W_out)


def test_run_noise_is_seeded_and_off_by_default(rng):
    an = random_network(rng, gamma=0.2)
    inputs = rng.normal(size=(2, 30, N_IN))
    clean = an.run(inputs).hidden
    noisy = an.run(inputs, noise=0.1, seed=1).hidden
    np.testing.assert_array_equal(noisy, an.run(inputs, noise=0.1, seed=1).hidden)
    assert not np.allclose(noisy, an.run(inputs, noise=0.1, seed=2).hidden)
    assert np.abs(noisy - clean).max() > 1e-2
    np.testing.assert_array_equal(clean, an.run(inputs, noise=False, seed=1).hidden)


def test_run_rejects_bad_input(rng):
    an = random_network(rng)
    shape = r"inputs must have shape \(trials, time, 2\) with at least one trial and one time step"
    with pytest.raises(ValueError, match=shape + r"; got \(10, 2\)"):
        an.run(np.zeros((10, 2)))
    with pytest.raises(ValueError, match=shape + r"; got \(4, 0, 2\)"):
        an.run(np.zeros((4, 0, 2)))
    with pytest.raises(ValueError, match=shape + r"; got \(0, 5, 2\)"):
        an.run(np.zeros((0, 5, 2)))
    with pytest.raises(ValueError, match="inputs has 1 non-finite values"):
        an.run(np.where(np.arange(40).reshape(4, 5, 2) == 7, np.nan, 0.0))
    with pytest.raises(ValueError, match="h0 has 6 non-finite values"):
        an.run(np.zeros((4, 5, 2)), h0=np.full(N, np.nan))
    with pytest.raises(ValueError, match=r"inputs is complex"):
        an.run(np.zeros((4, 5, 2), complex))
    with pytest.raises(ValueError, match=r"h0 must have shape \(6,\) or \(4, 6\); got \(3, 6\)"):
        an.run(np.zeros((4, 5, 2)), h0=np.zeros((3, N)))
    with pytest.raises(ValueError, match="no noise of its own .* pass noise=<standard deviation>"):
        an.run(np.zeros((4, 5, 2)), noise=True)
    with pytest.raises(ValueError, match="noise must be True, False or a number >= 0; got -1"):
        an.run(np.zeros((4, 5, 2)), noise=-1)


@pytest.mark.parametrize("leak", ["rate", "current"])
@pytest.mark.parametrize("activation", sorted(activations.SECOND_DERIVATIVES))
def test_speed_derivatives_match_differences(rng, activation, leak):
    d = random_network(rng, gamma=0.4, activation=activation, leak=leak).dynamics
    h, x = 0.5 * rng.normal(size=(3, N)), rng.normal(size=(3, N_IN))

    def speed(hh):
        return 0.5 * np.sum((d.step(hh, x) - hh) ** 2, axis=1)

    def gradient(hh):
        return d.speed_derivatives(hh, x, d.step(hh, x) - hh)[0]

    grad, hessian = d.speed_derivatives(h, x, d.step(h, x) - h)
    JG = d.jacobian(h, x) - np.eye(N)
    np.testing.assert_allclose(grad, np.einsum("bji,bj->bi", JG, d.step(h, x) - h), atol=1e-12, rtol=1e-10)
    grad_fd, _ = fd_jacobians(lambda hh, xx: speed(hh)[:, None], h, x)
    np.testing.assert_allclose(grad, grad_fd[:, 0], atol=1e-6, rtol=1e-7)
    H_fd, _ = fd_jacobians(lambda hh, xx: gradient(hh), h, x)
    np.testing.assert_allclose(hessian, H_fd, atol=1e-6, rtol=1e-7)


def test_second_derivatives(rng):
    z = np.linspace(-3, 3, 61) + 1e-3  # away from the kinks of softsign and elu
    for name, second in activations.SECOND_DERIVATIVES.items():
        df = activations.ACTIVATIONS[name][1]
        np.testing.assert_allclose(second(z), (df(z + 1e-6) - df(z - 1e-6)) / 2e-6, atol=1e-6)


@pytest.mark.parametrize("leak", ["rate", "current"])
@pytest.mark.parametrize("c", [0.0, -0.3, 0.7])
def test_newton_solve_by_woodbury_on_low_rank_weights(rng, leak, c):
    n, rank = 40, 3
    W = rng.normal(size=(n, rank)) @ rng.normal(size=(rank, n)) / n + c * np.eye(n)
    d = dynan.from_weights(rng.normal(size=(2, n)), W, rng.normal(size=n), gamma=0.3, leak=leak).dynamics
    h, x, rhs = 0.5 * rng.normal(size=(6, n)), rng.normal(size=(6, 2)), rng.normal(size=(6, n))
    fast = d.solve_newton(h, x, rhs)
    dense = np.linalg.solve(d.jacobian(h, x) - np.eye(n), rhs[..., None])[..., 0]
    np.testing.assert_allclose(fast, dense, rtol=1e-9, atol=1e-9 * np.abs(dense).max())


def test_low_rank_weights_found_exactly_and_full_rank_ones_ruled_out_on_a_sample(rng, monkeypatch):
    from dynan.dynamics import _low_rank_plus_scalar

    n = 160
    patterns = rng.choice([-1.0, 1.0], size=(5, n))
    hopfield = 2 / n * patterns.T @ patterns
    np.fill_diagonal(hopfield, 0)
    for W, rank in ((rng.normal(size=(n, 1)) @ rng.normal(size=(1, n)), 1),
                    (rng.normal(size=(n, n // 16)) @ rng.normal(size=(n // 16, n)) / n + 0.5 * np.eye(n), n // 16),
                    (hopfield, 5)):
        U, V, c = _low_rank_plus_scalar(W)
        assert U.shape == V.shape == (n, rank)
        np.testing.assert_allclose(U @ V.T + c * np.eye(n), W, atol=1e-12)
    sizes = []
    eigvals = np.linalg.eigvals
    monkeypatch.setattr(np.linalg, "eigvals", lambda A: (sizes.append(len(A)), eigvals(A))[1])
    assert _low_rank_plus_scalar(rng.normal(size=(n, n))) is False
    assert sizes == [n // 4 + 16]  # ruled out on the sample, the whole spectrum never computed


@pytest.mark.parametrize("c", [0.0, -0.3, 0.7])
@pytest.mark.parametrize("activation", ["tanh", "softplus"])
def test_damped_newton_on_the_speed_by_woodbury_on_low_rank_weights(rng, c, activation):
    """The slow-point search's steps without the Hessian equal those with it, factorised."""
    n, rank = 50, 3
    W = rng.normal(size=(n, rank)) @ rng.normal(size=(rank, n)) / np.sqrt(n) + c * np.eye(n)
    d = dynan.from_weights(rng.normal(size=(2, n)), W, rng.normal(size=n), gamma=0.3,
                           activation=activation).dynamics
    h, x = 0.5 * rng.normal(size=(6, n)), rng.normal(size=(6, 2))
    G = d.step(h, x) - h
    lam = np.array([0.0, 1e-6, 1e-3, 0.1, 1.0, 100.0])
    step, gradient = d.solve_speed(h, x, G, lam)
    dense_gradient, H = d.speed_derivatives(h, x, G)
    np.testing.assert_allclose(gradient, dense_gradient, atol=1e-14)
    diagonal = np.arange(n)
    H[:, diagonal, diagonal] += (lam * np.abs(H[:, diagonal, diagonal]).max(axis=1))[:, None]
    dense = np.linalg.solve(H, -gradient[..., None])[..., 0]
    np.testing.assert_allclose(step, dense, rtol=1e-8, atol=1e-9 * np.abs(dense).max())
    current = dynan.from_weights(np.zeros((2, n)), W, np.zeros(n), leak="current").dynamics
    assert current.solve_speed(h, x, G, lam) is None  # the current leak factorises
    assert random_network(rng).dynamics.solve_speed(
        np.zeros((2, N)), np.zeros((2, N_IN)), np.ones((2, N)), np.ones(2)) is None


def test_no_woodbury_for_full_rank_weights(rng):
    d = random_network(rng).dynamics
    assert d.solve_newton(np.zeros((2, N)), np.zeros((2, N_IN)), np.ones((2, N))) is None


def test_jacobians_are_computed_in_batches_of_bounded_size(monkeypatch):
    """``jacobian`` and ``input_jacobian`` hand the dynamics at most JACOBIAN_ELEMENTS
    values at once (automatic differentiation holds several times its result), and the
    batches join to the Jacobians of all the states."""
    from dynan import dynamics as dyn

    rng = np.random.default_rng(0)
    d = dynan.from_weights(rng.normal(size=(2, 6)), rng.normal(size=(6, 6)), np.zeros(6)).dynamics
    h, x = rng.normal(size=(11, 6)), rng.normal(size=(11, 2))
    whole, whole_in = d.jacobian(h, x), d.input_jacobian(h, x)
    sizes = []
    for name in ("_jacobian", "_input_jacobian"):
        method = getattr(d, name)
        monkeypatch.setattr(d, name, lambda h, x, method=method: (sizes.append(len(h)),
                                                                   method(h, x))[1])
    monkeypatch.setattr(dyn, "JACOBIAN_ELEMENTS", 4 * 36)
    np.testing.assert_array_equal(d.jacobian(h, x), whole)
    np.testing.assert_array_equal(d.input_jacobian(h, x), whole_in)
    assert sizes == [4, 4, 3, 4, 4, 3]
