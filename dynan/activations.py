"""Activation functions and their derivatives in float64 NumPy.

The names and formulas are Keras's, so that a closed-form network computes
exactly what its Keras layer computes.
"""

import numpy as np
from scipy.special import expit

_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def _sigmoid_grad(z):
    s = expit(z)
    return s * (1.0 - s)


def _silu_grad(z):
    s = expit(z)
    return s * (1.0 + z * (1.0 - s))


#: name -> (function, derivative), both elementwise on float64 arrays.
ACTIVATIONS = {
    "linear": (lambda z: z, np.ones_like),
    "tanh": (np.tanh, lambda z: 1.0 - np.tanh(z) ** 2),
    "sigmoid": (expit, _sigmoid_grad),
    "relu": (lambda z: np.maximum(z, 0.0), lambda z: (z > 0).astype(z.dtype)),
    "softplus": (lambda z: np.logaddexp(0.0, z), expit),
    "softsign": (lambda z: z / (1.0 + np.abs(z)), lambda z: 1.0 / (1.0 + np.abs(z)) ** 2),
    "elu": (
        lambda z: np.where(z > 0, z, np.expm1(np.minimum(z, 0.0))),
        lambda z: np.where(z > 0, 1.0, np.exp(np.minimum(z, 0.0))),
    ),
    "selu": (
        lambda z: _SELU_SCALE * np.where(z > 0, z, _SELU_ALPHA * np.expm1(np.minimum(z, 0.0))),
        lambda z: _SELU_SCALE * np.where(z > 0, 1.0, _SELU_ALPHA * np.exp(np.minimum(z, 0.0))),
    ),
    "exponential": (np.exp, np.exp),
    "silu": (lambda z: z * expit(z), _silu_grad),
}
ACTIVATIONS["swish"] = ACTIVATIONS["silu"]

def _tanh_second(z):
    t = np.tanh(z)
    return -2.0 * t * (1.0 - t ** 2)


def _sigmoid_second(z):
    s = expit(z)
    return s * (1.0 - s) * (1.0 - 2.0 * s)


def _silu_second(z):
    s = expit(z)
    return s * (1.0 - s) * (2.0 + z * (1.0 - 2.0 * s))


#: The odd activations, f(-z) = -f(z).
ODD = frozenset({"linear", "tanh", "softsign"})

#: The bounded activations' ranges: a state that such an activation produces, or that a
#: gate averages with it (GRU), stays within its range.
RANGES = {"tanh": (-1.0, 1.0), "softsign": (-1.0, 1.0), "sigmoid": (0.0, 1.0)}

#: name -> second derivative, for the activations whose first derivative is smooth.
SECOND_DERIVATIVES = {
    "linear": np.zeros_like,
    "tanh": _tanh_second,
    "sigmoid": _sigmoid_second,
    "softplus": _sigmoid_grad,
    "softsign": lambda z: -2.0 * np.sign(z) / (1.0 + np.abs(z)) ** 3,
    "elu": lambda z: np.where(z > 0, 0.0, np.exp(np.minimum(z, 0.0))),
    "exponential": np.exp,
    "silu": _silu_second,
    "swish": _silu_second,
}


def get(name):
    """Return ``(function, derivative)`` for an activation name.

    Parameters
    ----------
    name : str
        A Keras activation name, e.g. ``"tanh"``.

    Examples
    --------
    >>> f, df = get("tanh")
    >>> float(df(np.zeros(1))[0])
    1.0
    """
    if name not in ACTIVATIONS:
        raise ValueError(
            f"activation {name!r} has no closed form in dynan; "
            f"choose one of {sorted(ACTIVATIONS)}"
        )
    return ACTIVATIONS[name]
