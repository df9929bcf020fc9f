"""Recurrent cells written the way users write them, for ``keras.layers.RNN``.

Each cell follows the Keras guides on writing a recurrent cell from scratch: it
sets ``state_size`` (and ``output_size``), creates its weights in ``build`` and
steps once in ``call(inputs, states)``, returning ``output, new_states``. Every
class is registered for serialization, so a model that uses one reloads with
``keras.saving.load_model(path)`` once this module has been imported.

Examples
--------
>>> import keras
>>> from user_cells import LSTMStyleCell
>>> model = keras.Sequential([
...     keras.Input((None, 3)),
...     keras.layers.RNN(LSTMStyleCell(16), return_sequences=True),
...     keras.layers.Dense(3),
... ])
"""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="user_cells")
class LSTMStyleCell(keras.layers.Layer):
    """A long short-term memory cell written from scratch.

    The four gates come from one kernel, one recurrent kernel and one bias::

        i, f, g, o = split(x @ kernel + h @ recurrent_kernel + bias, 4)
        c_new = sigmoid(f) * c + sigmoid(i) * tanh(g)
        h_new = sigmoid(o) * tanh(c_new)

    Parameters
    ----------
    units : int
        Number of hidden units.
    **kwargs
        Passed to :class:`keras.layers.Layer`.

    Attributes
    ----------
    state_size : list of int
        ``[units, units]``: the hidden state h and the cell state c.
    """

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.state_size = [units, units]
        self.output_size = units

    def build(self, input_shape):
        self.kernel = self.add_weight(
            shape=(input_shape[-1], 4 * self.units), initializer="glorot_uniform", name="kernel")
        self.recurrent_kernel = self.add_weight(
            shape=(self.units, 4 * self.units), initializer="orthogonal", name="recurrent_kernel")
        self.bias = self.add_weight(shape=(4 * self.units,), initializer="zeros", name="bias")

    def call(self, inputs, states):
        h, c = states
        z = ops.matmul(inputs, self.kernel) + ops.matmul(h, self.recurrent_kernel) + self.bias
        i, f, g, o = ops.split(z, 4, axis=-1)
        c = ops.sigmoid(f) * c + ops.sigmoid(i) * ops.tanh(g)
        h = ops.sigmoid(o) * ops.tanh(c)
        return h, [h, c]

    def get_config(self):
        return {**super().get_config(), "units": self.units}


@keras.saving.register_keras_serializable(package="user_cells")
class TimeAveragedDense(keras.layers.Layer):
    """A leaky current cell: the state is a current u, the output a rate tanh(u).

    ::

        u_new = (1 - tau) * u + tau * (tanh(u) @ recurrent_kernel + x @ kernel + bias)
        output = tanh(u_new)

    The output is not the state.

    Parameters
    ----------
    units : int
        Number of hidden units.
    tau : float, default 0.2
        Time step over time constant, in (0, 1].
    **kwargs
        Passed to :class:`keras.layers.Layer`.
    """

    def __init__(self, units, tau=0.2, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.tau = tau
        self.state_size = units
        self.output_size = units

    def build(self, input_shape):
        self.kernel = self.add_weight(
            shape=(input_shape[-1], self.units), initializer="glorot_uniform", name="kernel")
        self.recurrent_kernel = self.add_weight(
            shape=(self.units, self.units), initializer="orthogonal", name="recurrent_kernel")
        self.bias = self.add_weight(shape=(self.units,), initializer="zeros", name="bias")

    def call(self, inputs, states):
        u = states[0]
        drive = (ops.matmul(ops.tanh(u), self.recurrent_kernel) + ops.matmul(inputs, self.kernel)
                 + self.bias)
        u_new = (1.0 - self.tau) * u + self.tau * drive
        return ops.tanh(u_new), [u_new]

    def get_config(self):
        return {**super().get_config(), "units": self.units, "tau": self.tau}


@keras.saving.register_keras_serializable(package="user_cells")
class NormedTwoPartCell(keras.layers.Layer):
    """A cell with a fast part a and a slow part b, read out through a layer norm.

    ::

        a_new = tanh(x @ kernel + b @ recurrent_kernel + bias)
        b_new = 0.9 * b + 0.1 * a_new
        output = LayerNormalization(b_new)

    The output is a function of the second state, not the first.

    Parameters
    ----------
    units : int
        Number of hidden units in each part.
    **kwargs
        Passed to :class:`keras.layers.Layer`.

    Attributes
    ----------
    state_size : list of int
        ``[units, units]``: the fast part a and the slow part b.
    norm : keras.layers.LayerNormalization
        Normalizes the slow part into the output.
    """

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.state_size = [units, units]
        self.output_size = units
        self.norm = keras.layers.LayerNormalization()

    def build(self, input_shape):
        self.kernel = self.add_weight(
            shape=(input_shape[-1], self.units), initializer="glorot_uniform", name="kernel")
        self.recurrent_kernel = self.add_weight(
            shape=(self.units, self.units), initializer="orthogonal", name="recurrent_kernel")
        self.bias = self.add_weight(shape=(self.units,), initializer="zeros", name="bias")
        self.norm.build((input_shape[0], self.units))

    def call(self, inputs, states):
        a, b = states
        a_new = ops.tanh(ops.matmul(inputs, self.kernel) + ops.matmul(b, self.recurrent_kernel)
                         + self.bias)
        b_new = 0.9 * b + 0.1 * a_new
        return self.norm(b_new), [a_new, b_new]

    def get_config(self):
        return {**super().get_config(), "units": self.units}


@keras.saving.register_keras_serializable(package="user_cells")
class DenseSublayerCell(keras.layers.Layer):
    """A vanilla recurrent cell made of two ``Dense`` sublayers.

    ::

        h_new = tanh(input_dense(x) + recurrent_dense(h))

    The sublayers are created without a dtype, as most users write them: they follow
    the global dtype policy, not the cell's.

    Parameters
    ----------
    units : int
        Number of hidden units.
    **kwargs
        Passed to :class:`keras.layers.Layer`.

    Attributes
    ----------
    input_dense : keras.layers.Dense
        Input weights and bias.
    recurrent_dense : keras.layers.Dense
        Recurrent weights, without bias.
    """

    #: dtype of the sublayers (None: the global policy).
    sublayer_dtype = None

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.state_size = units
        self.output_size = units
        self.input_dense = keras.layers.Dense(units, dtype=self.sublayer_dtype)
        self.recurrent_dense = keras.layers.Dense(units, use_bias=False, dtype=self.sublayer_dtype)

    def build(self, input_shape):
        self.input_dense.build(input_shape)
        self.recurrent_dense.build((input_shape[0], self.units))

    def call(self, inputs, states):
        h = ops.tanh(self.input_dense(inputs) + self.recurrent_dense(states[0]))
        return h, [h]

    def get_config(self):
        return {**super().get_config(), "units": self.units}


@keras.saving.register_keras_serializable(package="user_cells")
class PinnedFloat32Cell(DenseSublayerCell):
    """:class:`DenseSublayerCell` with its sublayers pinned to float32.

    The sublayers are created with ``dtype="float32"``, so they stay float32
    whatever dtype the cell itself is given: a cell that cannot be analysed in
    float64 until its author passes ``dtype=self.dtype_policy`` instead.
    """

    sublayer_dtype = "float32"
