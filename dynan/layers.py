"""Leaky recurrent Keras layers: ``LeakyRNNCell`` and ``LeakyRNN``.

Importing this module imports Keras (TensorFlow backend). The layers are
registered as ``dynan>LeakyRNNCell`` and ``dynan>LeakyRNN``, so a saved model
loads with plain ``keras.saving.load_model`` once ``dynan.layers`` is imported,
and with :func:`dynan.load` always.

Examples
--------
>>> import keras
>>> from dynan.layers import LeakyRNN
>>> model = keras.Sequential([
...     keras.Input((None, 2)),
...     LeakyRNN(64, gamma=0.2, noise_std=0.05, return_sequences=True),
...     keras.layers.Dense(1),
... ])
"""

import inspect

from .backend import setup
from .dynamics import check_leak_args

keras = setup()
ops = keras.ops

#: Arguments of ``keras.layers.SimpleRNNCell`` that ``LeakyRNN`` hands to its cell.
_CELL_ARGS = frozenset(inspect.signature(keras.layers.SimpleRNNCell.__init__).parameters) - {
    "self", "units", "kwargs"}


@keras.saving.register_keras_serializable(package="dynan")
class LeakyRNNCell(keras.layers.SimpleRNNCell):
    """Cell of a leaky (time-averaged) recurrent network.

    ``leak="rate"`` averages after the activation (gamma 1 is SimpleRNN)::

        h_next = (1 - gamma) * h + gamma * activation(x @ kernel + h @ recurrent_kernel + bias + noise)

    ``leak="current"`` averages before it (Plaut et al. 1996, eq. 15); the
    state is the input current ``u`` and the cell emits ``activation(u)``::

        u_next = (1 - gamma) * u + gamma * (activation(u) @ recurrent_kernel + x @ kernel + bias + noise)

    Parameters
    ----------
    units : int
    gamma : float in (0, 1], default 0.2
        Time step over time constant, ``dt / tau``.
    noise_std : float, default 0
        Standard deviation of Gaussian noise added during training only.
    leak : {"rate", "current"}, default "rate"
    **kwargs
        Any argument of ``keras.layers.SimpleRNNCell`` (activation, initializers,
        regularizers, constraints, dropout, seed, ...).
    """

    def __init__(self, units, gamma=0.2, noise_std=0.0, leak="rate", **kwargs):
        check_leak_args(gamma, noise_std, leak)
        super().__init__(units, **kwargs)
        self.gamma = float(gamma)
        self.noise_std = float(noise_std or 0.0)
        self.leak = leak

    def call(self, sequence, states, training=False):
        nested = isinstance(states, (list, tuple))
        prev = states[0] if nested else states
        recurrent_in = prev if self.leak == "rate" else self.activation(prev)
        dp_mask = self.get_dropout_mask(sequence)
        rec_dp_mask = self.get_recurrent_dropout_mask(recurrent_in)
        if training and dp_mask is not None:
            sequence = sequence * dp_mask
        if training and rec_dp_mask is not None:
            recurrent_in = recurrent_in * rec_dp_mask
        z = ops.matmul(sequence, self.kernel) + ops.matmul(recurrent_in, self.recurrent_kernel)
        if self.bias is not None:
            z = z + self.bias
        if training and self.noise_std > 0:
            z = z + keras.random.normal(ops.shape(z), stddev=self.noise_std,
                                        seed=self.seed_generator, dtype=z.dtype)
        g = self.gamma
        if self.leak == "rate":
            new = (1 - g) * prev + g * self.activation(z)
            output = new
        else:
            new = (1 - g) * prev + g * z
            output = self.activation(new)
        return output, [new] if nested else new

    def get_config(self):
        return {**super().get_config(), "gamma": self.gamma,
                "noise_std": self.noise_std, "leak": self.leak}


@keras.saving.register_keras_serializable(package="dynan")
class LeakyRNN(keras.layers.RNN):
    """Leaky recurrent layer: ``keras.layers.RNN`` over a :class:`LeakyRNNCell`.

    Takes the arguments of ``keras.layers.SimpleRNN`` plus ``gamma``,
    ``noise_std`` and ``leak`` (see :class:`LeakyRNNCell`). With ``gamma=1``,
    ``leak="rate"`` and no noise it computes exactly what SimpleRNN computes.

    Parameters
    ----------
    units : int
    gamma : float in (0, 1], default 0.2
    noise_std : float, default 0
    leak : {"rate", "current"}, default "rate"
    activation : str or callable, default "tanh"
        Any Keras activation.
    **kwargs
        Any other argument of ``keras.layers.SimpleRNN``: initializers,
        regularizers, constraints, dropout, recurrent_dropout, seed,
        return_sequences, return_state, go_backwards, stateful, unroll, name, ...

    Examples
    --------
    >>> layer = LeakyRNN(8, gamma=0.1, leak="current", activation="sigmoid")
    >>> layer.cell.gamma
    0.1
    """

    def __init__(self, units, gamma=0.2, noise_std=0.0, leak="rate", activation="tanh", **kwargs):
        cell_kwargs = {k: kwargs.pop(k) for k in list(kwargs) if k in _CELL_ARGS}
        cell = LeakyRNNCell(
            units, gamma=gamma, noise_std=noise_std, leak=leak, activation=activation,
            dtype=kwargs.get("dtype"), trainable=kwargs.get("trainable", True),
            name="leaky_rnn_cell", **cell_kwargs,
        )
        super().__init__(cell, **kwargs)
        self.input_spec = keras.layers.InputSpec(ndim=3)

    @property
    def units(self):
        return self.cell.units

    @property
    def gamma(self):
        return self.cell.gamma

    @property
    def noise_std(self):
        return self.cell.noise_std

    @property
    def leak(self):
        return self.cell.leak

    @property
    def activation(self):
        return self.cell.activation

    def get_config(self):
        config = super().get_config()
        del config["cell"]
        cell_config = self.cell.get_config()
        for key in ("name", "dtype", "trainable"):
            cell_config.pop(key, None)
        return {**config, **cell_config}

    @classmethod
    def from_config(cls, config):
        """The layer that ``get_config()`` describes (Keras calls it when loading)."""
        return cls(**config)


#: Classes that read models saved with the seed notebook's ``LeakyRNN``
#: (registered there as ``leaky>LeakyRNN`` / ``leaky>LeakyRNNCell``; SimpleRNN's
#: config plus ``gamma`` and ``noise_std``; time-averaging after the activation).
SEED_NOTEBOOK_OBJECTS = {"leaky>LeakyRNN": LeakyRNN, "leaky>LeakyRNNCell": LeakyRNNCell}
