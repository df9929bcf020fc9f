"""Task generators: timings, shapes, labels and seeding; the Trials container."""

import numpy as np
import pytest

from dynan import Trials, tasks


def test_tdnms_timings_and_targets():
    trials = tasks.tdnms(30, input_noise=0.0, seed=0)
    assert trials.inputs.shape == (30, 200, 2) and trials.targets.shape == (30, 200, 1)
    assert trials.inputs.dtype == np.float32 and trials.input_names == ("light", "odor")
    odor_bins = {"LS": [*range(30, 80), *range(110, 130)], "SL": [*range(30, 50), *range(80, 130)],
                 "SS": [*range(30, 50), *range(80, 100)]}
    for i, kind in enumerate(trials.conditions["trial_type"]):
        np.testing.assert_array_equal(np.flatnonzero(trials.inputs[i, :, 0]), [0, 1, 2])
        np.testing.assert_array_equal(np.flatnonzero(trials.inputs[i, :, 1]), odor_bins[kind])
        go = kind != "SS"
        np.testing.assert_array_equal(np.flatnonzero(trials.targets[i, :, 0]),
                                      np.arange(131, 160) if go else [])
        assert trials.conditions["go"][i] == go
        e = {k: v[i] for k, v in trials.epochs.items()}
        assert e["odor1"][0] == 30 and e["odor2"][1] == odor_bins[kind][-1] + 1
        assert tuple(e["response"]) == (131, 160) and e["delay"][0] == e["odor1"][1]
    assert {k: int(np.sum(trials.conditions["trial_type"] == k)) for k in ("LS", "SL", "SS")} == \
        {"LS": 10, "SL": 10, "SS": 10}
    lengths = trials.conditions["first_odor_bins"] + trials.conditions["second_odor_bins"]
    assert set(lengths) == {70, 40}


def test_tdnms_noise_and_seeding():
    a, b = tasks.tdnms(60, seed=5), tasks.tdnms(60, seed=5)
    np.testing.assert_array_equal(a.inputs, b.inputs)
    np.testing.assert_array_equal(a.conditions["trial_type"], b.conditions["trial_type"])
    assert not np.array_equal(a.inputs, tasks.tdnms(60, seed=6).inputs)
    clean = tasks.tdnms(60, input_noise=0.0, seed=5)
    assert np.std(a.inputs - clean.inputs) == pytest.approx(0.15, rel=0.02)
    only = tasks.tdnms(8, trial_types=("SS",), seed=0)
    assert only.trial_types == ("SS",) and not only.targets.any()
    with pytest.raises(ValueError, match=r"trial_types must be drawn from \('LS', 'SL', 'SS'\)"):
        tasks.tdnms(4, trial_types=("LL",))


def reference_flipflop_targets(inputs):
    targets = np.zeros_like(inputs)
    for i in range(inputs.shape[0]):
        state = np.zeros(inputs.shape[2])
        for t in range(inputs.shape[1]):
            state = np.where(inputs[i, t] != 0, inputs[i, t], state)
            targets[i, t] = state
    return targets


def test_flipflop_holds_the_last_pulse():
    trials = tasks.flipflop(40, n_bits=3, n_time=120, pulse_prob=0.05, seed=1)
    assert trials.inputs.shape == (40, 120, 3) and trials.targets.shape == (40, 120, 3)
    assert set(np.unique(trials.inputs)) == {-1.0, 0.0, 1.0}
    np.testing.assert_array_equal(trials.targets, reference_flipflop_targets(trials.inputs))
    assert np.mean(trials.inputs != 0) == pytest.approx(0.05, rel=0.15)
    assert trials.conditions["n_pulses"].sum() == np.count_nonzero(trials.inputs)
    final = trials.targets[:, -1]
    for label, row in zip(trials.conditions["trial_type"], final):
        assert label == "".join("+" if v > 0 else "-" if v < 0 else "0" for v in row)
    np.testing.assert_array_equal(trials.inputs, tasks.flipflop(40, n_time=120, seed=1).inputs)
    assert not np.array_equal(trials.inputs, tasks.flipflop(40, n_time=120, seed=2).inputs)


def test_flipflop_settled_mask():
    inputs = np.zeros((1, 12, 1), dtype=np.float32)
    inputs[0, 2, 0], inputs[0, 8, 0] = 1, -1
    np.testing.assert_array_equal(np.flatnonzero(tasks.flipflop_settled(inputs, delay=3)),
                                  [5, 6, 7, 11])


def test_integrator_inputs_and_targets():
    trials = tasks.integrator(500, seed=3)
    assert trials.inputs.shape == (500, 25, 1) and trials.dt == 0.04
    np.testing.assert_allclose(trials.targets, np.cumsum(trials.inputs, axis=1), rtol=1e-5, atol=1e-5)
    noise = trials.inputs[:, :, 0] - trials.conditions["bias"][:, None]
    assert np.std(noise) == pytest.approx(0.025 / np.sqrt(0.04), rel=0.03)
    np.testing.assert_array_equal(trials.conditions["trial_type"] == "positive", trials.targets[:, -1, 0] >= 0)
    assert tasks.integrator(3, T=2.0, dt=0.1, seed=0).n_time == 20
    np.testing.assert_array_equal(trials.inputs, tasks.integrator(500, seed=3).inputs)


def test_score_is_one_on_targets_and_counts_decisions():
    for make in tasks.TASKS.values():
        trials = make(12, seed=0)
        assert tasks.score(trials, trials.targets) == pytest.approx(1.0)
    trials = tasks.tdnms(12, seed=0)
    outputs = trials.targets.copy()
    outputs[0, 131:160, 0] = 1 - outputs[0, 131:160, 0]  # flip one decision
    assert tasks.score(trials, outputs) == pytest.approx(11 / 12)
    with pytest.raises(ValueError, match=r"outputs must have the targets' shape \(12, 200, 1\)"):
        tasks.score(trials, outputs[:, :100])


def test_trials_from_arrays_and_selection():
    inputs = np.zeros((4, 10, 2))
    trials = Trials.from_arrays(inputs, {"trial_type": ["a", "b", "a", "b"], "coherence": [1, 2, 3, 4]})
    assert trials.trial_types == ("a", "b") and trials.input_names == ("input_0", "input_1")
    np.testing.assert_array_equal(trials.select(trial_type="b").conditions["coherence"], [2, 4])
    assert len(trials.select(trial_type="a", coherence=3)) == 1
    assert len(trials[1:3]) == 2 and len(trials[np.array([True, False, False, True])]) == 2
    assert len(trials[0]) == 1
    assert Trials.from_arrays(inputs).trial_types == ("all",)
    assert repr(tasks.tdnms(3, seed=0)) == ("<Trials tdnms: 3 trials x 200 bins (dt 0.05 s), inputs "
                                            "['light', 'odor'], types ['LS', 'SL', 'SS']>")
    with pytest.raises(ValueError, match=r"no condition column 'color'; columns are \['coherence', 'trial_type'\]"):
        trials.select(color="red")


@pytest.mark.parametrize("args, kwargs, message", [
    ((np.zeros((4, 10)),), {}, r"inputs must have shape \(trials, time, n_in\); got \(4, 10\)"),
    ((np.zeros((4, 10, 2)), ["a", "b"]), {}, r"condition 'trial_type' must have one value per trial, shape \(4,\); got \(2,\)"),
    ((np.zeros((4, 10, 2)), {"stimulus": [1, 2, 3, 4]}), {}, r"conditions need a 'trial_type' column; got columns \['stimulus'\]"),
    ((np.zeros((4, 10, 2)), None, np.zeros((4, 9, 1))), {}, r"targets must have shape \(4, 10, n_out\) to match the inputs; got \(4, 9, 1\)"),
    ((np.zeros((4, 10, 2)),), {"input_names": ["x"]}, r"input_names must name the 2 input channels; got \('x',\)"),
    ((np.zeros((4, 10, 2)),), {"dt": 0}, r"dt must be > 0; got 0"),
])
def test_trials_reject_mismatched_input(args, kwargs, message):
    with pytest.raises(ValueError, match=message):
        Trials.from_arrays(*args, **kwargs)


@pytest.mark.parametrize("call, message", [
    (lambda: tasks.tdnms(0), "n_trials must be a positive integer; got 0"),
    (lambda: tasks.flipflop(5, pulse_prob=1.5), r"pulse_prob must be in \(0, 1\); got 1.5"),
    (lambda: tasks.flipflop(5, n_bits=0), "n_bits must be a positive integer; got 0"),
    (lambda: tasks.integrator(5, dt=-1), "T and dt must be > 0"),
])
def test_task_parameters_are_checked(call, message):
    with pytest.raises(ValueError, match=message):
        call()
