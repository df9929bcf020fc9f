"""Small Keras models of every supported layer type, for the tests."""

import keras
import numpy as np

from dynan.layers import LeakyRNN

N_IN, N_UNITS, N_OUT = 3, 7, 2


@keras.saving.register_keras_serializable(package="dynan_tests")
class AdaptingCell(keras.layers.Layer):
    """A user's own cell with two state tensors: activity h and adaptation a."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.state_size = [units, units]
        self.output_size = units

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], self.units), name="kernel")
        self.recurrent_kernel = self.add_weight(shape=(self.units, self.units), name="recurrent_kernel")
        self.bias = self.add_weight(shape=(self.units,), name="bias", initializer="zeros")

    def call(self, inputs, states):
        h, a = states
        z = inputs @ self.kernel + h @ self.recurrent_kernel + self.bias - a
        h_new = 0.8 * h + 0.2 * keras.ops.tanh(z)
        a_new = 0.9 * a + 0.1 * h_new * h_new
        return h_new, [h_new, a_new]

    def get_config(self):
        return {**super().get_config(), "units": self.units}


RECURRENT_LAYERS = {
    "simple_rnn": lambda: keras.layers.SimpleRNN(N_UNITS, return_sequences=True),
    "leaky_rate": lambda: LeakyRNN(N_UNITS, gamma=0.3, noise_std=0.1, return_sequences=True),
    "leaky_current": lambda: LeakyRNN(N_UNITS, gamma=0.25, leak="current", activation="sigmoid",
                                      return_sequences=True),
    "leaky_gelu": lambda: LeakyRNN(N_UNITS, gamma=0.5, activation="gelu", return_sequences=True),
    "gru": lambda: keras.layers.GRU(N_UNITS, return_sequences=True),
    "lstm": lambda: keras.layers.LSTM(N_UNITS, return_sequences=True),
    "custom_two_state": lambda: keras.layers.RNN(AdaptingCell(N_UNITS), return_sequences=True),
}


def randomize(model, seed=0, scale=0.6):
    """Give every weight random values, so that the dynamics are far from linear."""
    rng = np.random.default_rng(seed)
    model.set_weights([scale * rng.normal(size=w.shape) for w in model.get_weights()])
    return model


#: Smaller weights where an unbounded activation would let float32 Keras drift.
WEIGHT_SCALE = {"leaky_gelu": 0.3}


def make_model(kind, *, readout=True, seed=0):
    """An input -> recurrent layer -> Dense(sigmoid) model with random weights."""
    inputs = keras.Input((None, N_IN))
    rnn = RECURRENT_LAYERS[kind]()
    x = rnn(inputs)
    outputs = keras.layers.Dense(N_OUT, activation="sigmoid")(x) if readout else x
    return randomize(keras.Model(inputs, outputs), seed, WEIGHT_SCALE.get(kind, 0.6))
