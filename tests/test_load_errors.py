"""Each bad input to dynan.load gets its own clear error, and loading never runs code from the file."""

import h5py
import keras
import numpy as np
import pytest
from keras_models import N_IN, make_model

import dynan
from dynan import ModelError


def save(model, path):
    model.save(path)
    return path


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no model file at .*absent.keras"):
        dynan.load(tmp_path / "absent.keras")


@pytest.mark.parametrize("name", ["notes.keras", "data.h5", "weights.weights.h5", "model.npz"])
def test_not_a_model_file(tmp_path, name):
    path = tmp_path / name
    if name == "notes.keras" or name == "model.npz":
        path.write_text("not a model")
    elif name == "data.h5":
        with h5py.File(path, "w") as f:
            f["x"] = np.arange(3)
    else:
        make_model("simple_rnn").save_weights(path)
    with pytest.raises(ModelError, match="is not a Keras model file: expected a .keras archive"):
        dynan.load(path)


def test_no_recurrent_layer(tmp_path):
    model = keras.Sequential([keras.Input((N_IN,)), keras.layers.Dense(4, name="hidden"),
                              keras.layers.Dense(1, name="out")])
    with pytest.raises(ModelError, match=r"no recurrent layer \(its layers are \['hidden', 'out'\]\)"):
        dynan.load(save(model, tmp_path / "mlp.keras"))


@pytest.fixture
def two_rnn_file(tmp_path):
    inputs = keras.Input((None, N_IN))
    x = keras.layers.GRU(4, return_sequences=True, name="first")(inputs)
    x = keras.layers.LSTM(4, return_sequences=True, name="second")(x)
    return save(keras.Model(inputs, keras.layers.Dense(1, name="readout")(x)), tmp_path / "two.keras")


def test_several_recurrent_layers_need_a_choice(two_rnn_file):
    with pytest.raises(ModelError, match=r"2 recurrent layers \['first', 'second'\]; choose one with layer=NAME"):
        dynan.load(two_rnn_file)


def test_layer_name_must_exist_and_be_recurrent(two_rnn_file):
    with pytest.raises(ModelError, match=r"no layer named 'third'; its layers are \[.*'first', 'second', 'readout'\]"):
        dynan.load(two_rnn_file, layer="third")
    with pytest.raises(ModelError, match="layer 'readout' is a Dense, not a recurrent layer; dynan analyses"):
        dynan.load(two_rnn_file, layer="readout")


def test_non_finite_weights(tmp_path):
    model = make_model("leaky_rate")
    weights = model.get_weights()
    weights[1][2, 3] = np.nan
    model.set_weights(weights)
    with pytest.raises(ModelError, match="weight .*recurrent_kernel has non-finite values"):
        dynan.load(save(model, tmp_path / "nan.keras"))


def test_unsupported_layer_type_names_the_supported_ones(tmp_path):
    inputs = keras.Input((None, N_IN))
    x = keras.layers.Bidirectional(keras.layers.SimpleRNN(4, return_sequences=True))(inputs)
    model = keras.Model(inputs, keras.layers.Dense(1)(x))
    with pytest.raises(ModelError, match=r"\(Bidirectional\) is not supported; dynan analyses "
                                         r"keras.layers.SimpleRNN, GRU and LSTM, dynan.layers.LeakyRNN"):
        dynan.load(save(model, tmp_path / "bidi.keras"))


@keras.saving.register_keras_serializable(package="dynan_tests")
class RateEmittingCell(keras.layers.Layer):
    """State is a current u; the cell emits tanh(u), not its state."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units, self.state_size = units, units

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], self.units), name="kernel")

    def call(self, inputs, states):
        u = 0.5 * states[0] + inputs @ self.kernel
        return keras.ops.tanh(u), [u]

    def get_config(self):
        return {**super().get_config(), "units": self.units}


def test_cell_that_emits_a_function_of_its_state_reads_out_through_the_cell(tmp_path, rng):
    inputs = keras.Input((None, N_IN))
    rnn_out = keras.layers.RNN(RateEmittingCell(4), return_sequences=True)(inputs)
    model = keras.Model(inputs, keras.layers.Dense(2)(rnn_out))
    model.set_weights([0.5 * rng.normal(size=w.shape) for w in model.get_weights()])
    an = dynan.load(save(model, tmp_path / "rate.keras"))
    assert "state_readout" not in an.dynamics.capabilities
    x = rng.normal(size=(3, 20, N_IN)).astype("float32")
    np.testing.assert_allclose(an.run(x).outputs, model.predict(x, verbose=0), atol=1e-5)
    with pytest.raises(ValueError, match="not a function of the state alone"):
        an.dynamics.readout(np.zeros(4))


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_loading_never_runs_code_from_the_file(tmp_path, suffix):
    marker = tmp_path / "code-ran"
    marker_name = str(marker)
    inputs = keras.Input((None, N_IN))
    x = keras.layers.SimpleRNN(4, return_sequences=True)(inputs)
    x = keras.layers.Lambda(lambda t: (open(marker_name, "w").close(), t)[1])(x)
    path = save(keras.Model(inputs, x), tmp_path / f"lambda{suffix}")
    marker.unlink()
    with pytest.raises(ModelError, match="could not load the Keras model.*Lambda.*arbitrary code"):
        dynan.load(path)
    assert not marker.exists()
