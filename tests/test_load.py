"""Loaded dynamics equal Keras's own forward pass, and their Jacobians equal finite differences."""

import subprocess
import sys

import keras
import numpy as np
import pytest
from conftest import fd_jacobians
from keras_models import N_IN, N_OUT, N_UNITS, RECURRENT_LAYERS, make_model, randomize

import dynan
from dynan.layers import LeakyRNN

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


def _plain_models(tmp_path):
    """Plain networks (:func:`dynan.loading._read_plain` reads them without Keras) as users
    save them: functional and Sequential, with and without a readout or biases."""
    yield "functional_simple_rnn", make_model("simple_rnn")
    yield "functional_leaky_current", make_model("leaky_current")
    yield "functional_no_readout", make_model("leaky_rate", readout=False)
    sequential = keras.Sequential([
        keras.Input((None, N_IN)),
        LeakyRNN(N_UNITS, gamma=0.1, noise_std=0.02, use_bias=False, activation="softplus",
                 return_sequences=True, name="memory"),
        keras.layers.Dense(N_OUT, use_bias=False, name="out")])
    yield "sequential_no_bias", randomize(sequential, seed=3)


def test_plain_networks_load_without_keras_as_keras_loads_them(tmp_path, rng):
    h, x = rng.normal(size=(4, N_UNITS)), rng.normal(size=(4, N_IN))
    models = [(name, model, tmp_path / f"{name}.keras") for name, model in _plain_models(tmp_path)]
    models += [(name, None, dynan.example_model(name)) for name in
               ("tdnms_leaky", "flipflop_leaky", "integrator_leaky", "integrator_current")]
    for name, model, path in models:
        if model is not None:
            model.save(path)
        assert dynan.loading._read_plain(path) is not None, name
        plain, by_keras = dynan.load(path), dynan.loading._load_keras(path, None)
        assert plain.layer_name == by_keras.layer_name and plain.task == by_keras.task
        p, k = plain.dynamics, by_keras.dynamics
        assert p.describe() == k.describe(), name
        for attr in ("W_in", "W_rec", "b", "initial_state"):
            np.testing.assert_array_equal(getattr(p, attr), getattr(k, attr))
        h, x = rng.normal(size=(4, p.n_units)), rng.normal(size=(4, p.n_inputs))
        np.testing.assert_array_equal(p.readout(h), k.readout(h))
        for got, expected in zip(p.reference(h, x), k.reference(h, x)):  # Keras loads it now
            np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("kind", ["leaky_gelu", "gru", "lstm", "custom_two_state"])
def test_other_networks_are_left_to_keras(kind, tmp_path):
    make_model(kind).save(tmp_path / "m.keras")
    assert dynan.loading._read_plain(tmp_path / "m.keras") is None


def test_two_dense_layers_or_a_legacy_file_are_left_to_keras(tmp_path):
    model = keras.Sequential([keras.Input((None, N_IN)),
                              keras.layers.SimpleRNN(N_UNITS, return_sequences=True),
                              keras.layers.Dense(4), keras.layers.Dense(N_OUT)])
    for suffix in (".keras", ".h5"):
        model.save(tmp_path / f"m{suffix}")
        assert dynan.loading._read_plain(tmp_path / f"m{suffix}") is None
        assert dynan.load(tmp_path / f"m{suffix}").dynamics.n_outputs == 4


def test_analysing_a_bundled_model_never_imports_tensorflow(tmp_path):
    code = ("import sys, dynan\n"
            "an = dynan.load(dynan.example_model('integrator_leaky'))\n"
            f"an.analyze(out={str(tmp_path / 'out')!r}, n_trials=16, n_inits=64, formats=['png'],"
            " progress=False).close()\n"
            "print(sorted(m for m in ('tensorflow', 'keras', 'torch', 'jax') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split("\n")[-2] == "[]"
