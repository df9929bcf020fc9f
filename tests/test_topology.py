"""The topology stage against ground truth: a closed-form saddle, and the 3-bit flip-flop."""

import networkx as nx
import numpy as np
import pytest

import dynan
from dynan import tasks


def test_a_closed_form_saddle_leads_to_its_two_stable_points():
    # h -> tanh(h @ W): unit 0 bistable (w = 2), unit 1 decaying: the saddle at 0 and
    # stable points at (+-a, 0) with a = tanh(2 a)
    an = dynan.from_weights(np.zeros((1, 2)), np.diag([2.0, 0.5]), np.zeros(2))
    rng = np.random.default_rng(0)
    an.record(tasks.Trials.from_arrays(np.zeros((20, 30, 1))))
    starts = np.array([[0.0, 0.0], [0.9, 0.1], [-0.9, -0.1], [0.5, 0.3], [-0.4, 0.2]])
    fps = an.fixed_points(None, initial_states=starts + 0.01 * rng.normal(size=starts.shape))
    assert sorted(fps.stability.tolist()) == ["saddle", "stable", "stable"]
    topo = an.topology()
    saddle = int(np.flatnonzero(fps.stability == "saddle")[0])
    assert topo.source.tolist() == [saddle, saddle] and set(topo.end) == {"fixed_point"}
    a = fps.xstar[topo.target, 0]
    assert sorted(np.sign(a)) == [-1, 1]
    np.testing.assert_allclose(np.abs(a), np.tanh(2 * np.abs(a)), atol=1e-10)
    np.testing.assert_allclose(topo.eigval.real, 2.0, atol=1e-10)  # J = diag(2, 0.5) at 0


@pytest.fixture(scope="module")
def flipflop():
    an = dynan.load(dynan.example_model("flipflop_leaky"))
    an.record(tasks.flipflop(64, seed=0))
    fps = an.fixed_points(n_inits=512)
    return an, fps, an.topology()


def test_flipflop_saddles_connect_memories_one_bit_apart(flipflop):
    an, fps, topo = flipflop
    stable = np.flatnonzero(fps.stability == "stable")
    bits = np.sign(an.dynamics.readout(fps.xstar)).astype(int)
    assert len(stable) == 8 and len({tuple(b) for b in bits[stable]}) == 8  # the cube's corners
    one = np.flatnonzero(fps.n_unstable == 1)
    assert len(one) >= 7
    for k in one:
        ends = topo.target[topo.source == k]
        assert len(ends) == 2 and (topo.end[topo.source == k] == "fixed_point").all()
        assert set(ends) <= set(stable)
        assert (bits[ends[0]] != bits[ends[1]]).sum() == 1
    assert nx.is_weakly_connected(topo.graph())


def test_branches_are_real_trajectories_that_reach_their_targets(flipflop):
    """Independent check: run the network from each branch's start and see it arrive."""
    an, fps, topo = flipflop
    for e in range(len(topo)):
        branch = topo.branch(e)
        run = an.run(np.broadcast_to(fps.inputs[topo.source[e]], (1, len(branch) - 1, 3)),
                     h0=branch[0]).hidden[0]
        np.testing.assert_allclose(run, branch[1:], atol=1e-9)
        if topo.end[e] == "fixed_point":
            assert np.linalg.norm(branch[-1] - fps.xstar[topo.target[e]]) <= 0.05 * topo.scale


def test_topology_is_stored_and_read_back_as_a_graph(tmp_path):
    an = dynan.load(dynan.example_model("flipflop_leaky"))
    with an.analyze(out=tmp_path / "ff", n_trials=16, n_inits=64, formats=(), progress=False) as res:
        g, topo, path = res.topology(), res.get("topology"), res.path
    assert g.number_of_edges() >= 1
    assert {d["stability"] for _, d in g.nodes(data=True)} >= {"stable", "saddle"}
    import h5py  # plain h5py reads the tables

    with h5py.File(path) as f:
        assert f["topology/edges/source"].shape == (len(topo),)
        assert f["topology/nodes/stability"].shape == (len(topo.labels),)


def test_points_far_from_the_visited_states_are_flagged_outside():
    # unit 0 bistable (h -> tanh(3 h)): the recording stays near +a; -a and the saddle at 0
    # are far outside it
    an = dynan.from_weights(np.array([[0.05, 0.05]]), np.diag([3.0, 0.5]), np.zeros(2),
                            h0=[0.995, 0.0])
    rng = np.random.default_rng(0)
    an.record(tasks.Trials.from_arrays(rng.normal(size=(32, 40, 1))))
    starts = np.array([[1.0, 0.0], [-1.0, 0.0], [0.01, 0.0]])
    fps = an.fixed_points(None, initial_states=starts)
    assert sorted(fps.stability.tolist()) == ["saddle", "stable", "stable"]
    inside = fps.xstar[~fps.outside]
    assert len(inside) == 1 and inside[0, 0] > 0.9
    assert (fps.distance[fps.outside] > 5).all() and fps.distance[~fps.outside][0] < 0.5
    assert "2 outside the visited region" in repr(fps)
    summary = dynan.Summary.from_results(an.recording)
    assert summary.counts == {"stable": 1, "marginal": 0, "saddle": 0, "unstable": 0,
                              "outside": 2, "slow_points": 0}


def test_the_integrators_memory_time_comes_from_its_attractor(tmp_path):
    an = dynan.load(dynan.example_model("integrator_leaky"))
    with an.analyze(out=tmp_path / "it", n_trials=32, n_inits=64, formats=(), progress=False):
        pass
    summary = dynan.Summary.read(tmp_path / "it" / "summary.json")
    (points,) = summary.attractor_time_constants.values()
    memory = max(p["time_constants"][0] for p in points)
    assert memory >= 10 * an.task_params["T"]  # seconds: far longer than a trial
    slower_modes = summary.spectrum_time_constants[1:]
    assert memory > 10 * max(slower_modes)


# --- a Keras GRU, trained as users train it ------------------------------------------------

#: The flip-flop as FixedPointFinder's example trains it: short trials, frequent pulses.
GRU_TASK = {"n_bits": 3, "n_time": 64, "pulse_prob": 0.2}


@pytest.fixture(scope="module")
def gru_flipflop(tmp_path_factory):
    """A 16-unit ``keras.layers.GRU`` trained on the 3-bit flip-flop (about 10 s), analysed."""
    import json

    import keras

    keras.utils.set_random_seed(0)
    trials = tasks.flipflop(2048, **GRU_TASK, seed=0)
    model = keras.Sequential([keras.Input((None, 3)), keras.layers.GRU(16, return_sequences=True),
                              keras.layers.Dense(3)])
    model.compile(optimizer=keras.optimizers.Adam(1e-2, clipnorm=1.0), loss="mse")
    model.fit(trials.inputs, trials.targets, batch_size=64, epochs=15, verbose=0)
    path = tmp_path_factory.mktemp("gru") / "gru_flipflop.keras"
    model.save(path)
    path.with_suffix(".json").write_text(json.dumps({"task": "flipflop", "task_params": GRU_TASK}))
    an = dynan.load(path)
    res = an.analyze(out=path.parent / "analysis", n_trials=64, formats=(), progress=False)
    yield an, res
    res.close()


def test_a_trained_gru_flipflop_has_the_cube_and_its_one_bit_saddles(gru_flipflop):
    an, res = gru_flipflop
    fps, topo = res.fixed_points(), res.get("topology")
    inside = ~fps.outside
    stable = np.flatnonzero((fps.stability == "stable") & inside)
    bits = np.sign(an.dynamics.readout(fps.xstar)).astype(int)
    assert len(stable) == 8 and len({tuple(b) for b in bits[stable]}) == 8
    one = np.flatnonzero((fps.n_unstable == 1) & inside)
    assert len(one) >= 7
    for k in one:
        ends = topo.target[topo.source == k]
        assert len(ends) == 2 and set(ends) <= set(stable)
        assert (bits[ends[0]] != bits[ends[1]]).sum() == 1
    graph = res.topology()  # the points inside the visited region
    assert set(graph.nodes) == set(np.flatnonzero(inside).tolist()) | (
        {"outside", "unresolved"} & set(graph.nodes))
    assert nx.is_weakly_connected(graph)
    summary = dynan.Summary.from_results(res)
    assert summary.counts["stable"] == 8 and summary.topology["saddles"] == (
        (fps.stability == "saddle") & inside).sum()


def test_a_saturated_gru_has_its_far_points_flagged_outside(tmp_path):
    """A GRU whose units are bistable at the saturated values +-1 (candidate tanh(10 h),
    gates constant at 1/2): under zero input its fixed points are every h in {-1, 0, 1}^3.
    A positive input drives the recording from 0 to (1, 1, 1); every point with a -1 lies
    at least one spread away from every recorded state, and none of them counts as inside."""
    import itertools

    import keras

    n = 3
    inputs = keras.Input((None, 1))
    model = keras.Model(inputs, keras.layers.Dense(1)(keras.layers.GRU(n, return_sequences=True)(inputs)))
    kernel, recurrent, bias = model.layers[1].get_weights()
    kernel[:] = 0.0
    kernel[0, 2 * n:] = 5.0  # the input drives every candidate up
    recurrent[:] = 0.0
    recurrent[:, 2 * n:] = 20.0 * np.eye(n)  # with the reset gate at 1/2: tanh(10 h)
    bias[:] = 0.0
    model.layers[1].set_weights([kernel, recurrent, bias])
    model.save(tmp_path / "saturated.keras")
    an = dynan.load(tmp_path / "saturated.keras")
    x = np.zeros((16, 60, 1))
    x[:, :5] = 1.0
    an.record(tasks.Trials.from_arrays(x))
    corners = np.array(list(itertools.product((-1.0, 0.0, 1.0), repeat=n)))
    fps = an.fixed_points(None, initial_states=corners + 1e-3)
    assert len(fps) == 27
    np.testing.assert_allclose(np.sort(np.round(fps.xstar, 8), axis=0),
                               np.sort(corners, axis=0), atol=1e-8)
    far = (fps.xstar < -0.5).any(axis=1)  # 19 points with a -1 somewhere
    assert far.sum() == 19 and fps.outside[far].all()
    assert not fps.outside[np.all(np.abs(fps.xstar - 1) < 1e-8, axis=1)].any()  # where it settles
    summary = dynan.Summary.from_results(an.recording)
    inside = sum(summary.counts[k] for k in dynan.stability.KINDS)
    assert inside == (~fps.outside).sum() <= 27 - 19
    assert summary.counts["outside"] == fps.outside.sum() >= 19


def test_branches_that_spiral_onto_a_cycle_end_there():
    """tDNMS between trials: its one saddle's branches spiral out onto the invariant circle
    that the cycles stage finds under the same input."""
    an = dynan.load(dynan.example_model("tdnms_leaky"))
    an.record(tasks.tdnms(32, seed=0))
    fps = an.fixed_points(n_inits=64)
    cyc = an.cycles()
    topo = an.topology()
    assert len(topo) and set(topo.end) == {"cycle"}
    for e in range(len(topo)):
        k = topo.target[e]
        np.testing.assert_array_equal(cyc.inputs[k], fps.inputs[topo.source[e]])
        assert cyc.kind[k] == "circle"
    assert {f"cycle {k}" for k in topo.target} <= set(topo.graph().nodes)
