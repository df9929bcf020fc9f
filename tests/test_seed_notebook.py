"""Models saved with the seed notebook's LeakyRNN load without the notebook's code.

A subprocess registers a stand-in for the notebook's layer (same registered
names, config keys, variable order and semantics: time-averaging after the
activation, noise added at inference too), trains nothing, saves the model and
its noise-free forward pass. This process never sees that code.
"""

import json
import subprocess
import sys
import textwrap
import zipfile

import keras
import numpy as np
import pytest

import dynan

STAND_IN = textwrap.dedent('''
    import os, sys
    os.environ["KERAS_BACKEND"] = "tensorflow"
    import numpy as np, keras, tensorflow as tf

    @keras.saving.register_keras_serializable(package="leaky")
    class LeakyRNNCell(keras.layers.SimpleRNNCell):
        def __init__(self, *args, **kwargs):
            self._gamma = kwargs.pop("gamma")
            self._noise_std = kwargs.pop("noise_std")
            super().__init__(*args, **kwargs)

        def call(self, inputs, states, training=None):
            prev = states[0] if isinstance(states, (list, tuple)) else states
            z = inputs @ self.kernel + self.bias
            if self._noise_std is not None:          # noise at inference too, one draw per step
                z = z + tf.random.normal((self.units,), stddev=self._noise_std)
            z = self.activation(z + prev @ self.recurrent_kernel)
            out = (1 - self._gamma) * prev + self._gamma * z
            return out, [out] if isinstance(states, (list, tuple)) else out

        def get_config(self):
            return {**super().get_config(), "gamma": self._gamma, "noise_std": self._noise_std}

    @keras.saving.register_keras_serializable(package="leaky")
    class LeakyRNN(keras.layers.SimpleRNN):
        def __init__(self, units, activation="tanh", use_bias=True, dropout=0.0,
                     recurrent_dropout=0.0, seed=None, gamma=None, noise_std=None,
                     kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                     bias_initializer="zeros", kernel_regularizer=None, recurrent_regularizer=None,
                     bias_regularizer=None, activity_regularizer=None, kernel_constraint=None,
                     recurrent_constraint=None, bias_constraint=None, **kwargs):
            cell = LeakyRNNCell(units, activation=activation, use_bias=use_bias, seed=seed,
                                dropout=dropout, recurrent_dropout=recurrent_dropout,
                                dtype=kwargs.get("dtype"), trainable=kwargs.get("trainable", True),
                                name="leaky_rnn_cell", gamma=gamma, noise_std=noise_std)
            keras.layers.RNN.__init__(self, cell, **kwargs)
            self._gamma, self._noise_std = gamma, noise_std

        def get_config(self):
            return {**super().get_config(), "gamma": self._gamma, "noise_std": self._noise_std}

    out = sys.argv[1]
    model = keras.Sequential([keras.Input((None, 2)),
                              LeakyRNN(16, gamma=0.2, noise_std=0.1, return_sequences=True),
                              keras.layers.Dense(1, activation="sigmoid")])
    rng = np.random.default_rng(7)
    model.set_weights([0.7 * rng.normal(size=w.shape) for w in model.get_weights()])
    model.save(out + "/notebook.keras")
    model.save(out + "/notebook.h5")
    inputs = rng.normal(size=(5, 40, 2)).astype("float32")
    noisy = np.asarray(model(inputs))
    model.layers[0].cell._noise_std = None
    hidden = np.asarray(model.layers[0](inputs))
    np.savez(out + "/reference.npz", inputs=inputs, hidden=hidden, outputs=np.asarray(model(inputs)),
             noisy=noisy, recurrent_kernel=model.get_weights()[1])
''')


@pytest.fixture(scope="module")
def notebook_files(tmp_path_factory):
    out = tmp_path_factory.mktemp("notebook")
    result = subprocess.run([sys.executable, "-c", STAND_IN, str(out)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    return out


def test_file_has_the_notebook_format(notebook_files):
    with zipfile.ZipFile(notebook_files / "notebook.keras") as archive:
        config = json.loads(archive.read("config.json"))
    layer = config["config"]["layers"][1]
    assert layer["registered_name"] == "leaky>LeakyRNN"
    assert {"gamma", "noise_std", "units", "activation"} <= set(layer["config"])
    assert keras.saving.get_registered_object("leaky>LeakyRNN") is None  # never imported here


@pytest.mark.parametrize("name", ["notebook.keras", "notebook.h5"])
def test_notebook_model_loads_with_equal_dynamics(notebook_files, name):
    ref = np.load(notebook_files / "reference.npz")
    an = dynan.load(notebook_files / name)
    d = an.dynamics
    assert isinstance(d, dynan.LeakyDynamics)
    assert (d.gamma, d.noise_std, d.leak, d.activation) == (pytest.approx(0.2), pytest.approx(0.1),
                                                            "rate", "tanh")
    np.testing.assert_allclose(d.W_rec, ref["recurrent_kernel"], rtol=0, atol=0)
    traj = an.run(ref["inputs"])
    np.testing.assert_allclose(traj.hidden, ref["hidden"], atol=1e-5, rtol=0)
    np.testing.assert_allclose(traj.outputs, ref["outputs"], atol=1e-5, rtol=0)
    assert np.abs(ref["noisy"] - ref["outputs"]).max() > 1e-3  # the stand-in was noisy at inference


def test_notebook_noise_is_used_only_when_asked(notebook_files):
    an = dynan.load(notebook_files / "notebook.keras")
    inputs = np.load(notebook_files / "reference.npz")["inputs"]
    clean = an.run(inputs).hidden
    noisy = an.run(inputs, noise=True, seed=3).hidden
    assert np.abs(noisy - clean).max() > 1e-3
    np.testing.assert_array_equal(noisy, an.run(inputs, noise=True, seed=3).hidden)
