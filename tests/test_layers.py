"""dynan.layers.LeakyRNN: Keras semantics, serialization, noise and argument checks."""

import keras
import numpy as np
import pytest

from dynan.layers import LeakyRNN, LeakyRNNCell


def test_config_round_trip_keeps_every_argument():
    layer = LeakyRNN(5, gamma=0.3, noise_std=0.2, leak="current", activation="sigmoid",
                     dropout=0.1, kernel_initializer="he_normal", return_sequences=True, name="net")
    clone = LeakyRNN.from_config(layer.get_config())
    assert (clone.units, clone.gamma, clone.noise_std, clone.leak) == (5, 0.3, 0.2, "current")
    assert clone.cell.dropout == 0.1 and clone.return_sequences and clone.name == "net"
    assert keras.activations.serialize(clone.activation) == "sigmoid"
    assert isinstance(clone.cell.kernel_initializer, keras.initializers.HeNormal)
    assert clone.get_config() == layer.get_config()


def test_gamma_one_is_simple_rnn(rng):
    leaky = LeakyRNN(6, gamma=1.0, return_sequences=True)
    simple = keras.layers.SimpleRNN(6, return_sequences=True)
    x = rng.normal(size=(2, 15, 3)).astype("float32")
    leaky.build(x.shape)
    simple.build(x.shape)
    leaky.set_weights(simple.get_weights())
    np.testing.assert_allclose(leaky(x), simple(x), atol=1e-6)


def test_current_leak_emits_the_activation_of_its_state(rng):
    layer = LeakyRNN(4, gamma=0.5, leak="current", activation="tanh", return_state=True)
    out, u = layer(rng.normal(size=(3, 10, 2)).astype("float32"))
    np.testing.assert_allclose(out, np.tanh(u), atol=1e-6)


def test_noise_only_in_training(rng):
    layer = LeakyRNN(8, gamma=0.2, noise_std=0.5, return_sequences=True, seed=0)
    x = rng.normal(size=(2, 20, 3)).astype("float32")
    inference = np.asarray(layer(x))
    np.testing.assert_array_equal(inference, layer(x, training=False))
    assert np.abs(np.asarray(layer(x, training=True)) - inference).max() > 1e-2


@pytest.mark.parametrize("kwargs, message", [
    ({"gamma": 0}, r"gamma must be in \(0, 1\]; got 0"),
    ({"gamma": 1.2}, r"gamma must be in \(0, 1\]; got 1.2"),
    ({"noise_std": -0.1}, "noise_std must be a finite number >= 0; got -0.1"),
    ({"leak": "both"}, r"leak must be one of \('rate', 'current'\); got 'both'"),
])
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        LeakyRNN(4, **kwargs)
    with pytest.raises(ValueError, match=message):
        LeakyRNNCell(4, **kwargs)


def test_trains_and_reloads_with_plain_keras(tmp_path, rng):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((None, 1)),
                              LeakyRNN(16, gamma=0.5, noise_std=0.05, return_sequences=True),
                              keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    x = rng.normal(size=(64, 10, 1)).astype("float32")
    y = np.cumsum(x, axis=1) / 3  # integrate the input
    history = model.fit(x, y, epochs=30, batch_size=32, verbose=0)
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]
    model.save(tmp_path / "m.keras")
    reloaded = keras.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(reloaded(x), model(x), atol=1e-6)
