"""Loaded dynamics equal Keras's own forward pass, and their Jacobians equal finite differences."""

import keras
import numpy as np
import pytest
from conftest import fd_jacobians
from keras_models import N_IN, N_OUT, N_UNITS, RECURRENT_LAYERS, make_model

import dynan

EXPECTED_DYNAMICS = {
    "simple_rnn": dynan.LeakyDynamics, "leaky_rate": dynan.LeakyDynamics,
    "leaky_current": dynan.LeakyDynamics, "leaky_gelu": dynan.CellDynamics,
    "gru": dynan.CellDynamics, "lstm": dynan.CellDynamics, "custom_two_state": dynan.CellDynamics,
}
STATE_SIZE = {"lstm": 2 * N_UNITS, "custom_two_state": 2 * N_UNITS}


def keras_forward(model, inputs):
    """Outputs of the model and of its recurrent layer, from Keras itself."""
    rnn = next(lay for lay in model.layers if isinstance(lay, keras.layers.RNN))
    rates = keras.Model(model.input, rnn.output)(inputs)
    return np.asarray(model(inputs)), np.asarray(rates)


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
@pytest.mark.parametrize("kind", sorted(RECURRENT_LAYERS))
def test_loaded_dynamics_equal_keras_forward_pass(kind, suffix, tmp_path, rng):
    model = make_model(kind)
    path = tmp_path / f"{kind}{suffix}"
    model.save(path)
    inputs = rng.normal(size=(4, 25, N_IN)).astype("float32")
    expected_out, expected_rates = keras_forward(model, inputs)

    an = dynan.load(path)
    d = an.dynamics
    assert isinstance(d, EXPECTED_DYNAMICS[kind])
    assert (d.n_units, d.n_inputs, d.n_outputs) == (STATE_SIZE.get(kind, N_UNITS), N_IN, N_OUT)
    assert an.sha256 == dynan.loading.file_sha256(path) and an.source == path

    traj = an.run(inputs)
    np.testing.assert_allclose(traj.outputs, expected_out, atol=1e-5, rtol=0)
    np.testing.assert_allclose(d.rates(traj.hidden), expected_rates, atol=1e-5, rtol=0)


@pytest.mark.parametrize("kind", sorted(RECURRENT_LAYERS))
def test_jacobians_match_central_differences(kind, tmp_path, rng):
    path = tmp_path / "model.keras"
    make_model(kind).save(path)
    d = dynan.load(path).dynamics
    h = 0.5 * rng.normal(size=(3, d.n_units))
    x = rng.normal(size=(3, d.n_inputs))
    J_fd, B_fd = fd_jacobians(d.step, h, x)
    J, B = d.jacobian(h, x), d.input_jacobian(h, x)
    assert J.shape == (3, d.n_units, d.n_units) and B.shape == (3, d.n_units, d.n_inputs)
    np.testing.assert_allclose(J, J_fd, atol=1e-6, rtol=0)
    np.testing.assert_allclose(B, B_fd, atol=1e-6, rtol=0)


def test_model_without_readout_outputs_the_recurrent_layer(tmp_path, rng):
    model = make_model("leaky_current", readout=False)
    model.save(tmp_path / "m.keras")
    an = dynan.load(tmp_path / "m.keras")
    inputs = rng.normal(size=(2, 10, N_IN))
    np.testing.assert_allclose(an.run(inputs).outputs, np.asarray(model(inputs)), atol=1e-5)


def test_sequential_model_with_time_distributed_readout(tmp_path, rng):
    model = keras.Sequential([
        keras.Input((None, N_IN)),
        keras.layers.SimpleRNN(N_UNITS, return_sequences=True),
        keras.layers.TimeDistributed(keras.layers.Dense(N_OUT)),
    ])
    model.save(tmp_path / "seq.keras")
    an = dynan.load(tmp_path / "seq.keras")
    inputs = rng.normal(size=(2, 10, N_IN))
    np.testing.assert_allclose(an.run(inputs).outputs, np.asarray(model(inputs)), atol=1e-5)


@pytest.mark.parametrize("kind, parts", [
    ("gru", (("h", N_UNITS),)),
    ("lstm", (("h", N_UNITS), ("c", N_UNITS))),
    ("custom_two_state", (("state_0", N_UNITS), ("state_1", N_UNITS))),
])
def test_state_parts_follow_the_cell_state_order(tmp_path, kind, parts):
    make_model(kind).save(tmp_path / "m.keras")
    assert dynan.load(tmp_path / "m.keras").dynamics.state_parts == parts


def test_layer_argument_picks_one_of_several(tmp_path, rng):
    inputs = keras.Input((None, N_IN))
    first = keras.layers.GRU(5, return_sequences=True, name="first")(inputs)
    second = keras.layers.SimpleRNN(N_UNITS, return_sequences=True, name="second")(first)
    model = keras.Model(inputs, keras.layers.Dense(N_OUT)(second))
    model.save(tmp_path / "two.keras")
    an = dynan.load(tmp_path / "two.keras", layer="second")
    assert an.layer_name == "second" and an.dynamics.n_inputs == 5
    assert an.dynamics.n_outputs == N_OUT
    first_only = dynan.load(tmp_path / "two.keras", layer="first")
    assert first_only.dynamics.n_outputs == 5  # fed into another RNN, not a Dense readout
