"""Fixed and slow points: complete and exact on networks with known answers."""

import itertools
import re
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from scipy import optimize

import dynan
from dynan import tasks
from dynan.dynamics import Dynamics
from dynan.fixed_points import find_fixed_points


def fpf_test_network(n):
    """FixedPointFinder's test network: vanilla tanh, W_rec rows -roll(linspace(-1, 1, n), -i)."""
    W = np.stack([-np.roll(np.linspace(-1, 1, n), -i) for i in range(n)])
    return dynan.from_weights(np.zeros((1, n)), W, np.zeros(n), gamma=1.0).dynamics


@pytest.mark.parametrize("n, n_fixed, n_stable", [(2, 3, 2), (3, 3, 0), (4, 9, 2)])
def test_fixed_point_finder_test_networks(n, n_fixed, n_stable, rng):
    d = fpf_test_network(n)
    grid = np.array(list(itertools.product([-1.0, 0.0, 1.0], repeat=n)))
    starts = np.concatenate([grid, rng.uniform(-1, 1, size=(512, n))])
    fps = find_fixed_points(d, starts, progress=False)
    assert len(fps) == n_fixed and fps.is_stable.sum() == n_stable
    assert np.abs(fps.F_xstar - fps.xstar).max() <= 1e-10
    assert np.abs(d.step(fps.xstar, [0.0]) - fps.xstar).max() <= 1e-10
    assert len(fps.slow_points) == 0
    gaps = [np.linalg.norm(a - b) for a, b in itertools.combinations(fps.xstar, 2)]
    assert min(gaps) > 1e-3  # distinct points, nothing counted twice


def test_linear_network_has_its_one_fixed_point(rng):
    n, gamma = 6, 0.3
    W = 0.4 * rng.normal(size=(n, n)) / np.sqrt(n)
    W_in, b, x = rng.normal(size=(2, n)), rng.normal(size=n), np.array([0.5, -1.0])
    d = dynan.from_weights(W_in, W, b, gamma=gamma, activation="linear").dynamics
    fps = find_fixed_points(d, rng.normal(size=(50, n)), x, progress=False)
    expected = (x @ W_in + b) @ np.linalg.inv(np.eye(n) - W)
    assert len(fps) == 1
    np.testing.assert_allclose(fps.xstar[0], expected, atol=1e-10)
    mu = np.linalg.eigvals(W)
    np.testing.assert_allclose(np.sort(np.abs(fps.eigval_J_xstar[0])),
                               np.sort(np.abs(1 - gamma + gamma * mu)), atol=1e-12)
    assert fps.stability[0] == "stable" and fps.n_unstable[0] == 0


def test_hopfield_network_stores_its_patterns(rng):
    n, n_patterns = 40, 3
    patterns = rng.choice([-1.0, 1.0], size=(n_patterns, n))
    W = 2.0 * patterns.T @ patterns / n
    np.fill_diagonal(W, 0)
    d = dynan.from_weights(np.zeros((1, n)), W, np.zeros(n), gamma=0.2).dynamics
    starts = np.concatenate([0.8 * patterns, -0.8 * patterns, rng.uniform(-1, 1, size=(200, n))])
    fps = find_fixed_points(d, starts, progress=False)
    stable = fps[fps.is_stable]
    for pattern in np.concatenate([patterns, -patterns]):  # each stored pattern and its mirror
        overlap = (np.sign(stable.xstar) @ pattern) / n
        assert overlap.max() == 1.0
    assert np.any(np.linalg.norm(fps.xstar, axis=1) < 1e-12)  # the origin
    assert fps[np.linalg.norm(fps.xstar, axis=1) < 1e-12].stability[0] in ("saddle", "unstable")


@pytest.mark.parametrize("leak", ["rate", "current"])
def test_symmetric_weights_decompose_by_a_symmetric_solver_to_the_same_modes(leak, rng, monkeypatch):
    """Hopfield-style weights: ``dF/dh`` is similar to a symmetric matrix, and the modes
    found through it are the general solver's (eigenvalues, L^H R = I, unit right vectors)."""
    from dynan import fixed_points

    n = 30
    patterns = rng.choice([-1.0, 1.0], size=(3, n))
    W = 2.0 * patterns.T @ patterns / n
    np.fill_diagonal(W, 0)
    d = dynan.from_weights(np.zeros((1, n)), W, np.zeros(n), gamma=0.2, leak=leak).dynamics
    starts = np.concatenate([0.8 * patterns, rng.uniform(-1, 1, size=(60, n))])
    used, symmetric = [], fixed_points._eigh_similar
    monkeypatch.setattr(fixed_points, "_eigh_similar", lambda S, v: used.append(len(S)) or symmetric(S, v))
    fps = find_fixed_points(d, starts, progress=False)
    assert sum(used) > 0 and len(fps) > 6
    J, R, L, lam = fps.J_xstar, fps.eigvec_J_xstar, fps.left_eigvec_J_xstar, fps.eigval_J_xstar
    general = np.linalg.eigvals(J)
    np.testing.assert_allclose(np.sort(general.real, axis=1), np.sort(lam.real, axis=1), atol=1e-12)
    np.testing.assert_allclose(J @ R, R * lam[:, None, :], atol=1e-12)
    np.testing.assert_allclose(L.conj().transpose(0, 2, 1) @ R, np.broadcast_to(np.eye(n), J.shape),
                               atol=1e-10)
    np.testing.assert_allclose(np.linalg.norm(R, axis=1), 1.0)
    assert np.all(np.diff(np.abs(lam), axis=1) <= 1e-12)
    # a saturated unit (slope 0 in float64) leaves it to the general solver
    assert d.symmetric_form(np.full((1, n), 40.0), np.zeros((1, 1))) is None
    assert d.symmetric_form(fps.xstar, fps.inputs) is not None
    asymmetric = dynan.from_weights(np.zeros((1, n)), W + 1e-6 * np.triu(W), np.zeros(n)).dynamics
    assert asymmetric.symmetric_form(fps.xstar, fps.inputs) is None


def test_large_networks_solve_by_gmres_and_keep_their_leading_modes(rng, monkeypatch):
    """Above DENSE_UNITS units (patterns over a random bulk, as a trained network has):
    Newton's steps come from GMRES, and the points and leading modes are those of the
    dense search, which factorises every system and decomposes every Jacobian whole."""
    from dynan import fixed_points as fpm

    n = 300
    patterns = rng.choice([-1.0, 1.0], size=(3, n))
    W = 1.5 * patterns.T @ patterns / n + 0.5 * rng.normal(size=(n, n)) / np.sqrt(n)
    np.fill_diagonal(W, 0)
    d = dynan.from_weights(np.zeros((1, n)), W, np.zeros(n), gamma=0.2).dynamics
    starts = np.concatenate([0.8 * patterns, 0.3 * (patterns[0] + patterns[1])[None],
                             rng.uniform(-1, 1, size=(24, n))])
    factorised = []
    directions = fpm._Solver.directions
    monkeypatch.setattr(fpm._Solver, "directions", lambda self, h, *args, **kwargs: (
        factorised.append(len(h)), directions(self, h, *args, **kwargs))[1])
    large = find_fixed_points(d, starts, progress=False)
    assert sum(factorised) == 0  # every Newton step by GMRES
    monkeypatch.setattr(fpm, "DENSE_UNITS", n)
    dense = find_fixed_points(d, starts, progress=False)
    assert len(large) == len(dense) >= 7 and set(large.stability) == {"stable", "saddle"}
    order = [int(np.argmin(np.linalg.norm(dense.xstar - x, axis=1))) for x in large.xstar]
    np.testing.assert_allclose(large.xstar, dense.xstar[order], atol=1e-9)
    np.testing.assert_array_equal(large.stability, dense.stability[order])
    M = large.eigval_J_xstar.shape[1]
    assert fpm.LEADING_MODES <= M < n
    np.testing.assert_allclose(np.abs(large.eigval_J_xstar),
                               np.abs(dense.eigval_J_xstar[order, :M]), atol=1e-10)
    R, L, lam = large.eigvec_J_xstar, large.left_eigvec_J_xstar, large.eigval_J_xstar
    assert np.abs(large.J_xstar @ R - R * lam[:, None]).max() < 1e-10
    assert np.abs(L.conj().transpose(0, 2, 1) @ R - np.eye(M)).max() < 1e-8


def test_gmres_steps_are_inexact_far_from_a_root_and_exact_near_one(rng, monkeypatch):
    """Inexact Newton: GMRES stops at a relative residual of ``min(KRYLOV_FORCING, ||G||)``,
    with fewer Jacobian products than an exact solve where ``G`` is large, and at
    ``||G||`` relative where it is small."""
    from concurrent.futures import ThreadPoolExecutor

    from dynan import fixed_points as fpm

    n, B = 300, 6
    W = 0.8 * rng.normal(size=(n, n)) / np.sqrt(n)
    d = dynan.from_weights(np.zeros((1, n)), W, np.zeros(n), gamma=0.2).dynamics
    h = rng.uniform(-1, 1, size=(B, n))
    G = rng.normal(size=(B, n)) * np.array([1, 1, 1, 1e-9, 1e-9, 1e-9])[:, None]
    products = []
    tangent = d.tangent
    monkeypatch.setattr(d, "tangent", lambda *a: (lambda f: lambda v, rows: (
        products.append(len(v)), f(v, rows))[1])(tangent(*a)))
    J = d.jacobian(h, np.zeros((B, 1))) - np.eye(n)
    with ThreadPoolExecutor(2) as pool:
        steps, solved = fpm._Solver(d, np.zeros((B, 1)), 1e-10, pool).krylov(h, np.arange(B), G)
        assert solved.all()
        norm = np.linalg.norm(G, axis=1)
        residual = np.linalg.norm(np.einsum("bij,bj->bi", J, steps) + G, axis=1) / norm
        assert np.all(residual <= np.clip(norm, fpm.KRYLOV_RTOL, fpm.KRYLOV_FORCING))
        assert np.all(residual[3:] <= 1e-7) and np.all(residual[:3] > 1e-8)  # loose far off
        inexact = sum(products)
        monkeypatch.setattr(fpm, "KRYLOV_FORCING", fpm.KRYLOV_RTOL)
        products.clear()
        fpm._Solver(d, np.zeros((B, 1)), 1e-10, pool).krylov(h, np.arange(B), G)
        assert inexact < 0.8 * sum(products)


def test_newton_systems_are_solved_in_single_precision_to_its_accuracy(rng):
    """``_solve_single``: relative error within ``cond(A)`` times single precision's
    epsilon; a singular system goes to least squares (finite) instead of failing."""
    from dynan.fixed_points import _solve_single

    n = 200
    A = np.empty((3, n, n))
    conditions = (1e1, 1e3, 1e5)
    for k, condition in enumerate(conditions):
        U, _ = np.linalg.qr(rng.normal(size=(n, n)))
        V, _ = np.linalg.qr(rng.normal(size=(n, n)))
        A[k] = U @ np.diag(np.geomspace(1, 1 / condition, n)) @ V.T
    x_true = rng.normal(size=(3, n))
    x = _solve_single(A, np.einsum("kij,kj->ki", A, x_true))
    errors = np.linalg.norm(x - x_true, axis=1) / np.linalg.norm(x_true, axis=1)
    assert np.all(errors <= 10 * np.finfo(np.float32).eps * np.array(conditions))
    assert errors[0] > 1e-12  # it did work in single precision
    singular = np.stack([np.ones((n, n)), np.eye(n)])
    x = _solve_single(singular, np.ones((2, n)))
    assert np.all(np.isfinite(x)) and np.allclose(x[1], 1, atol=1e-6)


def test_newton_in_single_precision_finds_the_points_that_double_precision_finds(rng,
                                                                                monkeypatch):
    """A chaotic random network (g = 1.5) above DENSE_UNITS (GMRES gives up, the systems
    are factorised): Newton's steps from single-precision factorisations converge to the
    points that double-precision ones find, to the same tolerance."""
    from dynan import fixed_points as fpm

    n = 300
    W = 1.5 * rng.normal(size=(n, n)) / np.sqrt(n)
    d = dynan.from_weights(np.zeros((1, n)), W, np.zeros(n), gamma=0.2).dynamics
    starts = np.tanh(rng.normal(size=(48, n)))
    single = []
    solve_single = fpm._solve_single
    monkeypatch.setattr(fpm, "_solve_single", lambda A, b: (single.append(len(A)),
                                                            solve_single(A, b))[1])
    fps = find_fixed_points(d, starts, progress=False, complete=False)
    assert sum(single) > 100
    monkeypatch.setattr(fpm, "_solve_single", fpm._solve)
    double = find_fixed_points(d, starts, progress=False, complete=False)
    assert len(fps) == len(double) >= 2
    order = [int(np.argmin(np.linalg.norm(double.xstar - x, axis=1))) for x in fps.xstar]
    np.testing.assert_allclose(fps.xstar, double.xstar[order], atol=1e-9)
    # each root is polished by one double-precision step: exact, not merely within tol
    assert np.abs(d.step(fps.xstar, np.zeros((len(fps), 1))) - fps.xstar).max() <= 1e-13


def test_roots_are_polished_by_a_double_precision_step(rng):
    """A single-precision Newton step lands within ``tol`` of the root of ``h -> h / 2``
    (about 1e-11 off); one double-precision step more puts it on the root."""
    d = dynan.from_weights(np.zeros((1, 4)), 0.5 * np.eye(4), np.zeros(4)).dynamics
    fps = find_fixed_points(d, 10 * rng.normal(size=(8, 4)), progress=False)
    assert len(fps) == 1 and np.abs(fps.xstar).max() <= 1e-15


def test_a_search_that_would_not_fit_in_memory_is_refused_in_one_line(rng, monkeypatch):
    from dynan import fixed_points as fpm

    monkeypatch.setattr(fpm, "_free_memory", lambda: 1000)
    d = dynan.from_weights(np.zeros((1, 20)), 0.5 * np.eye(20), np.zeros(20)).dynamics
    with pytest.raises(MemoryError, match=r"^the search from 4 starts of 20 units need about "
                                          r".* GiB and 0.0 GiB is free: search from fewer"):
        find_fixed_points(d, rng.normal(size=(4, 20)), progress=False)
    # the points' Jacobians are checked too, once the search has found them
    monkeypatch.setattr(fpm._Solver, "estimate", lambda self, h: (0.0, 0))
    with pytest.raises(MemoryError, match=r"^the Jacobians of 1 points of 20 units need about "):
        find_fixed_points(d, rng.normal(size=(4, 20)), progress=False)


def test_a_long_search_says_first_how_long_and_how_much_memory(rng, monkeypatch, caplog):
    from dynan import fixed_points as fpm

    d = dynan.from_weights(np.zeros((1, 20)), 0.5 * np.eye(20), np.zeros(20)).dynamics
    h = rng.normal(size=(4, 20))
    seconds, nbytes = fpm._Solver(d, np.zeros((4, 1)), 1e-10, None).estimate(h)
    assert seconds == 0 and 12 * 4 * 20 * 8 < nbytes < 2**20  # too small to time
    monkeypatch.setattr(fpm, "LONG_SEARCH", -1.0)
    with caplog.at_level("INFO", logger="dynan.fixed_points"):
        find_fixed_points(d, h, progress=False)
    assert re.fullmatch(r"fixed points from 4 starts of 20 units: about 0 s, 0\.0 GiB",
                        caplog.messages[0])
    large = dynan.from_weights(np.zeros((1, 300)), rng.normal(size=(300, 300)) / 20,
                               np.zeros(300)).dynamics
    with ThreadPoolExecutor(2) as pool:  # timed: one Newton step of two starts, 10 per start
        seconds, nbytes = fpm._Solver(large, np.zeros((512, 1)), 1e-10, pool).estimate(
            rng.normal(size=(512, 300)))
    assert seconds > 0 and nbytes > 2 * (fpm.KRYLOV_DIM + 1) * 300 * 8  # Krylov bases


@pytest.fixture(scope="module")
def flipflop():
    an = dynan.load(dynan.example_model("flipflop_leaky"))
    an.record(tasks.flipflop(128, seed=5), progress=False)
    return an, an.fixed_points(seed=1, progress=False)


def test_shipped_flipflop_has_eight_memories_and_saddles(flipflop):
    an, fps = flipflop
    assert np.abs(fps.F_xstar - fps.xstar).max() <= 1e-10
    stable = fps[fps.is_stable]
    assert len(stable) == 8
    signs = {"".join("+" if v > 0 else "-" for v in an.dynamics.readout(p)) for p in stable.xstar}
    assert signs == {"".join(s) for s in itertools.product("+-", repeat=3)}
    saddles = fps[fps.stability == "saddle"]
    assert len(saddles) >= 7 and np.all(saddles.n_unstable >= 1)


def test_iterates_near_a_root_found_are_merged_into_it(flipflop, monkeypatch):
    """Starts that share a basin: an iterate that comes within MERGE_RADIUS spreads of a
    root already found stops there. The points are those found without merging, in fewer
    Newton steps, and merged starts are not taken for slow points."""
    from dynan import fixed_points as fpm

    an, _ = flipflop
    starts = fpm.recorded_starts(an.recording.hidden, 256, seed=2)
    steps = []
    line_search = fpm._Solver.line_search
    monkeypatch.setattr(fpm._Solver, "line_search", lambda self, h, *a, **k: (
        steps.append(len(h)), line_search(self, h, *a, **k))[1])
    merging = find_fixed_points(an.dynamics, starts, progress=False, complete=False)
    merged_steps = sum(steps)
    monkeypatch.setattr(fpm, "MERGE_RADIUS", 0.0)
    steps.clear()
    alone = find_fixed_points(an.dynamics, starts, progress=False, complete=False)
    assert merged_steps < 0.9 * sum(steps)
    assert len(merging) == len(alone) >= 9
    assert len(merging.slow_points) == len(alone.slow_points)
    order = [int(np.argmin(np.linalg.norm(alone.xstar - x, axis=1))) for x in merging.xstar]
    np.testing.assert_allclose(merging.xstar, alone.xstar[order], atol=1e-9)


def test_shipped_integrator_has_a_line_attractor():
    an = dynan.load(dynan.example_model("integrator_leaky"))
    an.record(tasks.integrator(128, seed=5), progress=False)
    fps = an.fixed_points(seed=1, progress=False)
    points = fps[np.ones(len(fps), bool)]
    modulus = np.abs(points.eigval_J_xstar)
    assert len(points) >= 1 and np.all(np.abs(modulus[:, 0] - 1) < 0.01)  # one eigenvalue near 1
    assert np.all(modulus[:, 1] < 0.95)                                   # the rest decay
    assert set(points.stability) == {"marginal"}
    # along the marginal mode the flow is far slower than along any other: a line of slow points
    x, v = points.xstar[0], np.real(points.eigvec_J_xstar[0][:, 0])
    others = np.real(points.eigvec_J_xstar[0][:, 1:6]).T
    speed = lambda h: np.linalg.norm(an.dynamics.step(h, [0.0]) - h)  # noqa: E731
    along = max(speed(x + s * v / np.linalg.norm(v)) for s in (-0.05, 0.05))
    across = min(speed(x + 0.05 * u / np.linalg.norm(u)) for u in others)
    assert along < 0.05 * across


class SlowValley(Dynamics):
    """h -> h + (eps + h0^2, -h1 / 2): no fixed point, a slow point at 0 with q = eps^2 / 2."""

    n_units, n_inputs, n_outputs = 2, 1, 2
    state_parts = (("h", 2),)
    initial_state = np.zeros(2)

    def __init__(self, eps):
        self.eps = eps

    def rates(self, h):
        return h

    def _step(self, h, x, noise):
        return h + np.stack([self.eps + h[:, 0] ** 2, -0.5 * h[:, 1]], axis=1)

    def _jacobian(self, h, x):
        J = np.zeros((len(h), 2, 2))
        J[:, 0, 0], J[:, 1, 1] = 1 + 2 * h[:, 0], 0.5
        return J

    def _input_jacobian(self, h, x):
        return np.zeros((len(h), 2, 1))


def test_slow_points_are_kept_apart_with_their_speed(rng):
    fps = find_fixed_points(SlowValley(1e-3), rng.normal(scale=0.5, size=(64, 2)), progress=False)
    assert len(fps) == 0 and len(fps.slow_points) == 1
    slow = fps.slow_points
    np.testing.assert_allclose(slow.xstar[0], [0, 0], atol=1e-6)
    assert slow.qstar[0] == pytest.approx(0.5e-6, rel=1e-6) and slow.speed[0] == pytest.approx(1e-3)
    none_kept = find_fixed_points(SlowValley(1e-1), rng.normal(size=(64, 2)), max_slow_q=1e-4,
                                  progress=False)
    assert len(none_kept.slow_points) == 0  # q = 5e-3 is above the threshold


class EdgeValley(SlowValley):
    """h -> h + (eps + (h0 - 2)^2 / 100, -h1 / 2) in the box [-1, 1]^2: q falls toward
    (2, 0), outside the box, and is lowest within it at its edge h0 = 1."""

    state_bounds = (-np.ones(2), np.ones(2))

    def _step(self, h, x, noise):
        return h + np.stack([self.eps + (h[:, 0] - 2) ** 2 / 100, -0.5 * h[:, 1]], axis=1)

    def _jacobian(self, h, x):
        J = np.zeros((len(h), 2, 2))
        J[:, 0, 0], J[:, 1, 1] = 1 + (h[:, 0] - 2) / 50, 0.5
        return J


def test_slow_points_stay_in_the_state_bounds_and_stop_at_their_edge(rng, monkeypatch):
    """Where q falls only beyond the state bounds, the minimisation stops near their edge
    (within the steps it takes: 2% of the box); let out, it finds the valley's floor."""
    d = EdgeValley(1e-4)
    starts = rng.uniform(-1, 1, size=(32, 2))
    slow = find_fixed_points(d, starts, progress=False).slow_points
    assert len(slow) >= 1 and np.abs(slow.xstar[:, 1]).max() < 1e-3
    assert np.all((slow.xstar[:, 0] > 0.98) & (slow.xstar[:, 0] <= 1))  # at the edge, in the box
    assert slow.qstar.max() <= 0.5 * (1e-4 + 0.0104) ** 2  # q at h0 = 0.98
    monkeypatch.setattr(d, "state_bounds", None)
    free = find_fixed_points(d, starts, progress=False).slow_points
    np.testing.assert_allclose(free.xstar, [[2, 0]], atol=1e-3)  # its valley's floor


@pytest.mark.parametrize("kind", ["gru", "lstm", "custom_two_state"])
def test_autodiff_cells(kind, tmp_path, rng):
    from keras_models import make_model

    make_model(kind).save(tmp_path / "m.keras")
    d = dynan.load(tmp_path / "m.keras").dynamics
    x = np.array([0.2, -0.1, 0.3])
    fps = find_fixed_points(d, rng.uniform(-1, 1, size=(48, d.n_units)), x, progress=False)
    assert len(fps) >= 1
    assert np.abs(d.step(fps.xstar, x) - fps.xstar).max() <= 1e-10
    np.testing.assert_allclose(fps.J_xstar, d.jacobian(fps.xstar, x))


def test_linearization_fields(flipflop):
    an, fps = flipflop
    K, N = fps.xstar.shape
    R, L, lam = fps.eigvec_J_xstar, fps.left_eigvec_J_xstar, fps.eigval_J_xstar
    np.testing.assert_allclose(np.einsum("kij,kjm->kim", fps.J_xstar, R), R * lam[:, None, :], atol=1e-10)
    np.testing.assert_allclose(np.einsum("kim,kin->kmn", L.conj(), R), np.broadcast_to(np.eye(N), (K, N, N)), atol=1e-8)
    assert np.all(np.diff(np.abs(lam), axis=1) <= 1e-12)  # sorted by modulus
    np.testing.assert_allclose(fps.time_constants, -fps.dt / np.log(np.abs(lam)))
    np.testing.assert_allclose(fps.dFdu, an.dynamics.input_jacobian(fps.xstar, fps.inputs))
    assert fps.input_coupling.shape == (K, N, 3)
    assert fps.readout_coupling(an.dynamics).shape == (K, 3, N)
    error = fps.prediction_error(an.dynamics, steps=5, radius=1e-4)
    assert error.shape == (K, 5) and error.max() < 1e-2  # the linear model holds near the points
    assert fps.prediction_error(an.dynamics, steps=5, radius=0.3).max() > error.max()


def test_selection_and_storage(flipflop, tmp_path):
    an, fps = flipflop
    assert len(fps[:3]) == 3 and len(fps[fps.is_stable]) == 8
    assert set(fps[fps.is_stable].stability) == {"stable"}
    path = tmp_path / "ff.h5"
    an.record(tasks.flipflop(8, seed=0), path, progress=False)
    fps.save(path)
    back = dynan.Results(path).fixed_points()
    for name in ("xstar", "eigval_J_xstar", "left_eigvec_J_xstar", "dFdu", "labels", "n_iters"):
        np.testing.assert_array_equal(getattr(back, name), getattr(fps, name))
    assert len(back.slow_points) == len(fps.slow_points) and back.dt == fps.dt
    assert len(dynan.Results(path)) == 8  # the recording is still there
    fps[:2].save(path)  # replaces the group
    assert len(dynan.FixedPoints.load(path)) == 2


def test_named_input_conditions(flipflop):
    an, _ = flipflop
    fps = an.fixed_points({"off": [0, 0, 0], "bit 0 up": [1, 0, 0]}, n_inits=128, seed=2,
                          progress=False)
    assert set(fps.labels) == {"off", "bit 0 up"}
    np.testing.assert_array_equal(fps[fps.labels == "bit 0 up"].inputs, [[1, 0, 0]] * np.sum(fps.labels == "bit 0 up"))
    assert np.abs(an.dynamics.step(fps.xstar, fps.inputs) - fps.xstar).max() <= 1e-10


def test_bad_input():
    d = fpf_test_network(3)
    with pytest.raises(ValueError, match=r"initial_states must have shape \(B, 3\); got \(4, 2\)"):
        find_fixed_points(d, np.zeros((4, 2)))
    with pytest.raises(ValueError, match=r"inputs must have shape \(1,\) or \(4, 1\); got \(2,\)"):
        find_fixed_points(d, np.zeros((4, 3)), [0.0, 1.0])
    with pytest.raises(ValueError, match="tol must be a positive number; got 0"):
        find_fixed_points(d, np.zeros((4, 3)), tol=0)
    an = dynan.from_weights(np.zeros((1, 3)), np.eye(3), np.zeros(3))
    with pytest.raises(ValueError, match=r"no recording to analyse: call record\(trials\) first"):
        an.fixed_points()


def test_mirror_images_complete_odd_networks():
    d = fpf_test_network(2)  # tanh and no drive: F(-h) = -F(h)
    start = np.array([[0.9, -0.8]])
    fps = find_fixed_points(d, start, progress=False)  # one start reaches one memory ...
    assert d.is_odd(np.zeros((1, 1)))[0] and len(fps) == 2  # ... and its mirror is added
    np.testing.assert_allclose(fps.xstar[0], -fps.xstar[1], atol=1e-15)
    np.testing.assert_array_equal(np.sort(fps.x_init[:, 0]), [-0.9, 0.9])  # the mirror's start
    np.testing.assert_array_equal(np.sign(fps.x_init), np.sign(fps.xstar))  # is mirrored too
    assert np.abs(d.step(fps.xstar, [0.0]) - fps.xstar).max() <= 1e-10
    biased = dynan.from_weights(np.zeros((1, 2)), d.W_rec, np.array([0.1, 0.0]), gamma=1.0).dynamics
    assert not biased.is_odd(np.zeros((1, 1)))[0]
    assert len(find_fixed_points(biased, start, progress=False)) == 1
    driven = dynan.from_weights(np.ones((1, 2)), d.W_rec, np.zeros(2)).dynamics
    assert not driven.is_odd(np.ones((1, 1)))[0] and driven.is_odd(np.zeros((1, 1)))[0]


def test_completion_follows_saddles_unstable_modes_to_the_points_the_starts_missed():
    """Two uncoupled bistable units, h_i = tanh(2 h_i): nine fixed points, (a, b) with a, b
    in {-r, 0, r}. Starts beside the saddle (r, 0) reach only it (and its mirror); its
    unstable mode leads, by deflated Newton, to the memories (r, +/-r), mirrored to
    (-r, +/-r). Every point is exact."""
    r = optimize.brentq(lambda v: np.tanh(2 * v) - v, 0.5, 1.5)
    d = dynan.from_weights(np.zeros((1, 2)), 2 * np.eye(2), np.zeros(2), gamma=0.2).dynamics
    starts = np.array([[r + 0.01, 0.002], [r - 0.01, -0.001]])
    alone = find_fixed_points(d, starts, complete=False, progress=False)
    np.testing.assert_allclose(np.abs(alone.xstar), [[r, 0], [r, 0]], atol=1e-12)
    fps = find_fixed_points(d, starts, progress=False)
    assert len(fps) == 6 and fps.stability.tolist().count("stable") == 4
    expected = {(i, j) for i in (-1, 1) for j in (-1, 0, 1)}
    assert {tuple(p) for p in np.round(fps.xstar / r).astype(int)} == expected
    np.testing.assert_allclose(np.abs(fps.xstar), np.abs(np.round(fps.xstar / r)) * r, atol=1e-12)
    assert np.abs(d.step(fps.xstar, np.zeros((6, 1))) - fps.xstar).max() <= 1e-10


def test_the_search_stays_in_the_box_a_gru_never_leaves(tmp_path, rng, monkeypatch):
    """A Keras GRU maps [-1, 1]^N into itself (``state_bounds``), so its fixed points lie
    there. Beyond it, its update gate sigmoid(12 h) rounds to exactly 1 in float64, and
    every state there is a numerical fixed point that no trajectory reaches: a search
    let out of the box finds dozens of them, one kept in finds only true points, which
    solve h = tanh(h R / 2) (the GRU's fixed-point equation where its gate is below 1)."""
    import keras

    n = 4
    inputs = keras.Input((None, 1))
    model = keras.Model(inputs, keras.layers.GRU(n, return_sequences=True)(inputs))
    kernel, recurrent, bias = model.layers[1].get_weights()
    kernel[:], bias[:], recurrent[:] = 0.0, 0.0, 0.0
    recurrent[:, :n] = 12 * np.eye(n)  # update gate z = sigmoid(12 h)
    recurrent[:, 2 * n:] = 2 * rng.normal(size=(n, n))  # candidate tanh(r (h R)), r = 1/2
    model.layers[1].set_weights([kernel, recurrent, bias])
    model.save(tmp_path / "gru.keras")
    d = dynan.load(tmp_path / "gru.keras").dynamics
    np.testing.assert_array_equal(np.stack(d.state_bounds), [[-1.0] * n, [1.0] * n])
    starts = rng.uniform(-1, 1, size=(64, n))
    fps = find_fixed_points(d, starts, progress=False)
    h = fps.xstar
    np.testing.assert_allclose(h, np.tanh(0.5 * h @ recurrent[:, 2 * n:]), atol=1e-12)  # true
    assert 1 <= len(h) <= 9 and np.abs(h).max() <= 1  # where the gate is below 1
    monkeypatch.setattr(d, "state_bounds", None)
    loose = find_fixed_points(d, starts, progress=False)
    false = np.abs(loose.xstar).max(axis=1) > 1
    assert false.sum() >= 10
    z = 1 / (1 + np.exp(-12 * loose.xstar[false]))
    assert (z[np.abs(loose.xstar[false]) > 3.1] == 1.0).all()  # frozen by rounding
