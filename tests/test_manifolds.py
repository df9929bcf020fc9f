"""The manifolds stage against closed-form line and ring attractors, and the integrator."""

import numpy as np

import dynan
from dynan import tasks
from dynan.dynamics import Dynamics


def test_a_closed_form_line_attractor_is_traced_across_the_visited_range(rng):
    # linear leaky network whose W_rec has eigenvalue 1 along e0: fixed points fill that line
    an = dynan.from_weights(np.array([[1.0, 0.3, 0.2]]), np.diag([1.0, 0.5, 0.3]), np.zeros(3),
                            gamma=0.2, activation="linear")
    x = np.zeros((64, 50, 1))
    x[:, 5:10, 0] = rng.normal(size=(64, 1))
    res = an.record(tasks.Trials.from_arrays(x))
    fps = an.fixed_points(None, n_inits=64)
    assert (fps.stability == "marginal").sum() > 10
    man = an.manifolds()
    assert len(man) == 1 and not man.closed[0] and man.dimension[0] == 1
    assert man.extent[0] >= 0.8 and man.max_speed[0] <= 1e-12
    points = man.manifold(0)
    np.testing.assert_allclose(points[:, 1:], 0, atol=1e-12)   # on the line
    visited = np.asarray(res.hidden)[..., 0]
    assert np.ptp(points[:, 0]) >= 0.8 * np.ptp(visited)
    assert np.isinf(man.memory_time[0])
    assert man.slowest_time_constant[0] == np.float64(-1 / np.log(1 - 0.2 * 0.5))  # e1's mode
    np.testing.assert_allclose(man.input_selection[0], [0.2])  # gamma * W_in along e0


class Ring(Dynamics):
    """h -> h + gamma (1 / |h| - 1) h: every point of the unit circle is fixed."""

    n_units, n_inputs, n_outputs = 2, 1, 2
    state_parts = (("h", 2),)
    initial_state = np.array([1.0, 0.0])
    gamma = 0.3

    def rates(self, h):
        return h

    def _step(self, h, x, noise):
        r = np.linalg.norm(h, axis=1, keepdims=True)
        return h + self.gamma * (1 / r - 1) * h + 0.1 * x * np.array([-h[:, 1], h[:, 0]]).T / r

    def _jacobian(self, h, x):
        r = np.linalg.norm(h, axis=1)[:, None, None]
        outer = h[:, :, None] * h[:, None, :]
        J = (1 + self.gamma * (1 / r - 1)) * np.eye(2) - self.gamma * outer / r**3
        return J  # the input term vanishes at zero input, where the search runs

    def _input_jacobian(self, h, x):
        r = np.linalg.norm(h, axis=1)
        return (0.1 * np.array([-h[:, 1], h[:, 0]]).T / r[:, None])[:, :, None]


def test_a_ring_attractor_is_one_closed_manifold(rng):
    an = dynan.Analysis(Ring())
    x = np.zeros((64, 60, 1))
    x[:, :30, 0] = rng.normal(scale=3, size=(64, 1))  # rotate each trial by its own angle
    an.record(tasks.Trials.from_arrays(x))
    fps = an.fixed_points(None, n_inits=64)
    assert (fps.stability == "marginal").all()
    man = an.manifolds()
    assert len(man) == 1 and man.closed[0]
    points = man.manifold(0)
    np.testing.assert_allclose(np.linalg.norm(points, axis=1), 1, atol=1e-10)
    assert man.length[0] == np.float64(man.length[0]) and abs(man.length[0] - 2 * np.pi) < 0.05


def test_the_bundled_integrator_has_a_line_attractor_longer_than_its_trials():
    an = dynan.load(dynan.example_model("integrator_leaky"))
    an.record(tasks.integrator(128, **an.task_params, seed=0))
    an.fixed_points(n_inits=128)
    man = an.manifolds()
    assert len(man) >= 1
    m = int(np.argmax(man.extent))
    assert man.extent[m] >= 0.8
    assert man.memory_time[m] >= 10 * an.task_params["T"]


def test_manifolds_and_topology_are_in_the_summary_and_info(tmp_path, capsys):
    from dynan.cli import main

    an = dynan.load(dynan.example_model("integrator_leaky"))
    with an.analyze(out=tmp_path / "it", n_trials=32, n_inits=64, formats=(), progress=False) as res:
        path, stored = res.path, res.get("manifolds")
    summary = dynan.Summary.read(tmp_path / "it" / "summary.json")
    assert summary.topology == {"saddles": 0, "branches": 0, "fixed_point": 0, "cycle": 0,
                                "unresolved": 0, "outside": 0, "outside_saddles": 0}
    assert [m["closed"] for m in summary.manifolds] == stored.closed.tolist() == [False]
    assert summary.manifolds[0]["extent"] == stored.extent[0]
    assert main(["info", str(path)]) == 0
    assert "manifold      [integrate] open 1-D" in capsys.readouterr().out
