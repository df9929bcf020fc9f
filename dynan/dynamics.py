"""The update map ``h_next = F(h, x)`` of a recurrent network and its Jacobians.

Everything downstream of loading talks to a :class:`Dynamics` only, never to
Keras. Leaky and vanilla networks get exact closed-form float64 NumPy code
(:class:`LeakyDynamics`); GRU, LSTM and any other Keras cell go through
TensorFlow autodiff in float64 behind the same interface (:class:`CellDynamics`).

Conventions: row vectors, as Keras stores weights, ``z = x @ W_in + h @ W_rec + b``
with ``W_in`` of shape (n_in, N) and ``W_rec`` of shape (N, N). Batched states are
(B, N), batched inputs (B, n_in); ``jacobian(h, x)[b, i, j] = d h_next_i / d h_j``.
"""

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

from . import activations
from .errors import ModelError

#: Where a leaky network's time-average sits (see :class:`LeakyDynamics`).
LEAKS = ("rate", "current")


def check_leak_args(gamma, noise_std, leak):
    """Refuse a leaky layer's ``gamma`` outside (0, 1], a ``noise_std`` that is not a
    finite number >= 0 (None is none), or a ``leak`` not in :data:`LEAKS`."""
    if gamma is None or not 0 < gamma <= 1:
        raise ValueError(f"gamma must be in (0, 1]; got {gamma!r}")
    if noise_std is not None and not (math.isfinite(noise_std) and noise_std >= 0):
        raise ValueError(f"noise_std must be a finite number >= 0; got {noise_std!r}")
    if leak not in LEAKS:
        raise ValueError(f"leak must be one of {LEAKS}; got {leak!r}")

#: What a :class:`Dynamics` may declare it can do (``Dynamics.capabilities``):
#:
#: - ``"recurrent_weights"``: ``W_in``, ``W_rec``, ``b``, ``gamma``, ``leak`` and
#:   ``activation`` describe the update (leaky and vanilla networks);
#: - ``"noise"``: :meth:`Dynamics.step` takes ``noise``;
#: - ``"state_readout"``: the output is a function of the state alone, :meth:`Dynamics.readout`.
CAPABILITIES = frozenset({"recurrent_weights", "noise", "state_readout"})


@dataclass(frozen=True)
class Readout:
    """A dense readout ``y = activation(r @ W + b)`` of the rates ``r``.

    Parameters
    ----------
    W : ndarray of shape (n_rates, n_out)
    b : ndarray of shape (n_out,)
    activation : callable
        Elementwise NumPy function.
    """

    W: np.ndarray
    b: np.ndarray
    activation: object = activations.ACTIVATIONS["linear"][0]

    def __call__(self, rates):
        return self.activation(rates @ self.W + self.b)


class Dynamics(ABC):
    """The update map of a recurrent network, batched and in float64.

    Attributes
    ----------
    n_units : int
        Length ``N`` of the (flattened) state vector.
    n_inputs : int
        Number of input channels.
    n_outputs : int
        Size of :meth:`readout`'s output.
    state_parts : tuple of (str, int)
        Names and sizes of the parts of the state vector, in the order they are
        concatenated (one part ``("h", N)`` for leaky and vanilla networks).
    initial_state : ndarray of shape (N,)
        The state a trial starts from unless told otherwise.
    noise_std : float
        Standard deviation of the network's own noise (0 when it has none).
    capabilities : frozenset of str
        What these dynamics can do, from :data:`CAPABILITIES`; stages and panels ask
        this, never the attributes.
    reference : callable or None
        The source framework's own step, ``reference(h, x) -> (emitted, h_next)``
        in the precision the network was trained in, when loaded from one (what
        :func:`dynan.testing.check_dynamics` compares with).
    state_bounds : tuple of two ndarray (N,), or None
        Lower and upper bounds of a box that every step maps into itself, where the cell
        makes one (the ``h`` of tanh GRUs and LSTMs lies in [-1, 1]); None where unknown.
        The fixed-point search stays inside it: beyond it, saturated gates (a GRU's
        update gate equal to 1 in float64) make numerical fixed points that no trajectory
        can reach. Leaky networks declare none: their fixed points ``h = f(...)`` lie in
        the activation's range anyway, and no gate makes false ones.
    """

    n_units: int
    n_inputs: int
    n_outputs: int
    state_parts: tuple
    initial_state: np.ndarray
    noise_std: float = 0.0
    capabilities = frozenset({"state_readout"})
    reference = None
    state_bounds = None
    _readout = None  # a Readout applied to rates(h), or None for the rates themselves

    @property
    def has_readout(self):
        """Whether the network has a readout layer of its own (else its outputs are what the
        recurrent layer emits)."""
        return self._readout is not None

    def describe(self):
        """The network's kind and parameters, as stored in a results file (JSON-ready)."""
        return {"kind": type(self).__name__, "n_units": self.n_units, "n_inputs": self.n_inputs,
                "n_outputs": self.n_outputs, "noise_std": self.noise_std}

    def step(self, h, x, noise=None):
        """Advance states one time step.

        Parameters
        ----------
        h : array_like of shape (B, N) or (N,)
            States.
        x : array_like of shape (B, n_in) or (n_in,)
            Inputs; one vector is applied to every state.
        noise : array_like of shape (B, N), optional
            Added to the pre-activation (rate leak) or to the input current
            (current leak) before the update. Leaky and vanilla networks only.

        Returns
        -------
        ndarray, the same shape as ``h``
        """
        h, x, squeeze = self._batch(h, x)
        h_next = self._step(h, x, None if noise is None else np.asarray(noise, float))
        return h_next[0] if squeeze else h_next

    def jacobian(self, h, x):
        """Jacobian of the update with respect to the state.

        Returns
        -------
        ndarray of shape (B, N, N) (or (N, N) for one state)
            ``J[b, i, j] = d h_next_i / d h_j``.

        Examples
        --------
        >>> import dynan, numpy as np
        >>> an = dynan.from_weights(np.zeros((1, 2)), np.eye(2), np.zeros(2), gamma=0.5)
        >>> an.dynamics.jacobian(np.zeros(2), np.zeros(1))
        array([[1., 0.],
               [0., 1.]])
        """
        h, x, squeeze = self._batch(h, x)
        J = _in_batches(self._jacobian, h, x)
        return J[0] if squeeze else J

    def input_jacobian(self, h, x):
        """Jacobian of the update with respect to the input.

        Returns
        -------
        ndarray of shape (B, N, n_in) (or (N, n_in) for one state)
            ``B[b, i, k] = d h_next_i / d x_k``.
        """
        h, x, squeeze = self._batch(h, x)
        B = _in_batches(self._input_jacobian, h, x)
        return B[0] if squeeze else B

    def readout(self, h):
        """The network's output for states ``h`` (the recurrent layer's own
        output when the model has no dense readout).

        Only where the output is a function of the state alone (capability
        ``"state_readout"``); the outputs of a run are in :meth:`run_batch` for every network.
        """
        if "state_readout" not in self.capabilities:
            raise ValueError(f"the output of this {type(self).__name__} is not a function of the "
                             "state alone (its cell computes it in the step); use the outputs of a run")
        h = np.asarray(h, dtype=float)
        self._check_last_axis(h, self.n_units, "h")
        r = self.rates(h)
        return r if self._readout is None else self._readout(r)

    def trajectory(self, inputs, h0, noise=None):
        """States after each step of a batch of trials.

        Parameters
        ----------
        inputs : ndarray of shape (B, T, n_in)
        h0 : ndarray of shape (B, N)
        noise : ndarray of shape (B, T, N), optional
            Noise for each step, as in :meth:`~dynan.Dynamics.step`.

        Returns
        -------
        ndarray of shape (B, T, N)
        """
        hidden = np.empty(inputs.shape[:2] + (self.n_units,))
        h = h0
        for t in range(inputs.shape[1]):
            h = hidden[:, t] = self._step(h, inputs[:, t], None if noise is None else noise[:, t])
        return hidden

    def run_batch(self, inputs, h0, noise=None):
        """States and outputs after each step of a batch of trials.

        Parameters
        ----------
        inputs : ndarray of shape (B, T, n_in)
        h0 : ndarray of shape (B, N)
        noise : ndarray of shape (B, T, N), optional

        Returns
        -------
        hidden : ndarray of shape (B, T, N)
        outputs : ndarray of shape (B, T, n_out)
        """
        hidden = self.trajectory(inputs, h0, noise)
        return hidden, self.readout(hidden)

    def solve_newton(self, h, x, rhs):
        """Solve ``(dF/dh - I) delta = rhs`` for batches without forming the Jacobian,
        where the weights allow it; None otherwise (the caller then factorises)."""
        return None

    def tangent(self, h, x):
        """Products with the Jacobians ``J = dF/dh`` at states ``h`` (B, N) under inputs
        ``x`` (B, n_in), without forming them where the dynamics have a closed form.

        Returns
        -------
        callable
            ``apply(v, rows, transpose=False)``: ``J[rows] v`` (or ``J[rows]^T v``) for
            vectors ``v`` of shape (len(rows), N). This default forms the Jacobians once.
        """
        J = _in_batches(self._jacobian, h, x)

        def apply(v, rows, transpose=False):
            return np.einsum("bji,bj->bi" if transpose else "bij,bj->bi", J[rows], v)
        return apply

    def is_odd(self, x):
        """Whether ``F(-h, x) = -F(h, x)`` for every ``h``, for each input row of ``x``
        (B, n_in); the mirror image of a fixed point is then one too."""
        return np.zeros(len(x), dtype=bool)

    def symmetric_form(self, h, x):
        """``(S, v)`` with ``dF/dh = diag(v) S diag(v)^-1`` at states ``h`` (B, N), ``S``
        symmetric (B, N, N) and ``v`` (B, N) positive, where the dynamics have that form
        (symmetric recurrent weights and positive slopes, as in Hopfield networks): the
        Jacobians' eigenvalues are then real, and a symmetric solver finds them. None
        otherwise."""
        return None

    def solve_speed(self, h, x, G, lam):
        """Damped Newton steps on the speed ``q = 1/2 ||G||^2`` without forming its Hessian
        ``H``, where the weights allow it: ``-(H + lam max|diag H| I)^-1 grad q`` and
        ``grad q`` (each (B, N)), ``G = F(h, x) - h`` given, ``lam`` (B,); None otherwise
        (the search then factorises the Hessian of :meth:`speed_derivatives`)."""
        return None

    def speed_derivatives(self, h, x, G):
        """Gradient (B, N) and Hessian (B, N, N) of the speed ``q = 1/2 ||G||^2``,
        ``G = F(h, x) - h`` (given), where the dynamics have them in closed form;
        None otherwise (the search then uses Gauss-Newton)."""
        return None

    @abstractmethod
    def rates(self, h):
        """The recurrent layer's output for states ``h`` (what a readout reads)."""

    def _batch(self, h, x):
        h = np.asarray(h, dtype=float)
        x = np.asarray(x, dtype=float)
        self._check_last_axis(h, self.n_units, "h")
        self._check_last_axis(x, self.n_inputs, "x")
        squeeze = h.ndim == 1
        h = np.atleast_2d(h)
        if h.ndim != 2 or x.ndim > 2:
            raise ValueError(
                f"h must be (B, {self.n_units}) or ({self.n_units},) and x (B, {self.n_inputs}) "
                f"or ({self.n_inputs},); got h {h.shape} and x {x.shape}"
            )
        x = np.broadcast_to(x, (h.shape[0], self.n_inputs)) if x.ndim == 1 else x
        if x.shape[0] != h.shape[0]:
            raise ValueError(f"h and x hold different batch sizes: {h.shape[0]} and {x.shape[0]}")
        return h, x, squeeze

    @staticmethod
    def _check_last_axis(a, size, name):
        if a.ndim == 0 or a.shape[-1] != size:
            raise ValueError(f"{name} must have {size} values on its last axis; got shape {a.shape}")

    @abstractmethod
    def _step(self, h, x, noise): ...

    @abstractmethod
    def _jacobian(self, h, x): ...

    @abstractmethod
    def _input_jacobian(self, h, x): ...


def box(parts, ranges):
    """``state_bounds`` from each state part's range, ``(low, high)`` or None (unbounded);
    None when every part is unbounded.

    Examples
    --------
    >>> box((("h", 2), ("c", 1)), [(-1, 1), None])
    (array([ -1.,  -1., -inf]), array([ 1.,  1., inf]))
    """
    if all(r is None for r in ranges):
        return None
    return tuple(np.concatenate([np.full(size, (-np.inf, np.inf)[k] if r is None else r[k],
                                         dtype=float) for (_, size), r in zip(parts, ranges)])
                 for k in (0, 1))


#: ``symmetric_form`` needs every slope above SLOPE_FLOOR times the largest.
SLOPE_FLOOR = 1e-6


class LeakyDynamics(Dynamics):
    """Closed-form leaky rate or current network (vanilla RNN when ``gamma=1``).

    ``leak="rate"`` averages after the activation (Keras SimpleRNN when gamma is 1)::

        h_next = (1 - gamma) * h + gamma * f(x @ W_in + h @ W_rec + b + noise)

    ``leak="current"`` averages before it (Plaut et al. 1996, eq. 15); the state
    ``u`` is the input current and the rates are ``f(u)``::

        u_next = (1 - gamma) * u + gamma * (f(u) @ W_rec + x @ W_in + b + noise)

    Parameters
    ----------
    W_in : ndarray of shape (n_in, N)
    W_rec : ndarray of shape (N, N)
    b : ndarray of shape (N,)
    gamma : float in (0, 1]
    activation : str
        A name from :data:`dynan.activations.ACTIVATIONS`.
    leak : {"rate", "current"}
    readout : Readout, optional
    noise_std : float
    initial_state : ndarray of shape (N,), optional
        Zeros unless given.
    """

    def __init__(self, W_in, W_rec, b, *, gamma=1.0, activation="tanh", leak="rate",
                 readout=None, noise_std=0.0, initial_state=None):
        self.W_in = np.asarray(W_in, dtype=float)
        self.W_rec = np.asarray(W_rec, dtype=float)
        self._W_rec_T = np.ascontiguousarray(self.W_rec.T)  # rows of J, contiguous
        self._W_W_T = self.W_rec @ self.W_rec.T
        self._low_rank = None  # (U, V, c) with W_rec = U V^T + c I, False if not; found lazily
        self._symmetric = None  # the symmetric W_rec where it is one, False if not; found lazily
        self.b = np.asarray(b, dtype=float)
        self.gamma = float(gamma)
        self.activation = activation
        self.leak = leak
        self.noise_std = float(noise_std)
        self._f, self._df = activations.get(activation)
        self._readout = readout
        self.n_inputs, self.n_units = self.W_in.shape
        self.n_outputs = self.n_units if readout is None else readout.W.shape[1]
        self.state_parts = (("h" if leak == "rate" else "u", self.n_units),)
        self.initial_state = (np.zeros(self.n_units) if initial_state is None
                              else np.asarray(initial_state, dtype=float))

    capabilities = frozenset({"recurrent_weights", "noise", "state_readout"})

    def describe(self):
        return {**super().describe(), "gamma": self.gamma, "leak": self.leak,
                "activation": self.activation}

    def rates(self, h):
        return h if self.leak == "rate" else self._f(np.asarray(h, dtype=float))

    def solve_newton(self, h, x, rhs):
        """Woodbury's identity where ``W_rec`` is low rank plus a multiple of the identity
        (Hopfield and low-rank networks): ``O(N r^2)`` per state instead of ``O(N^3)``."""
        low_rank = self._low_rank_form()
        if low_rank is None:
            return None
        U, V, c = low_rank  # W_rec = U V^T + c I, so W_rec^T = V U^T + c I
        rate = self.leak == "rate"
        d = self._df(self._drive(h, x) if rate else h)
        delta = c * d - 1  # the diagonal part of (dF/dh - I) / gamma
        if np.any(np.abs(delta) < 1e-8):
            return None
        # rate: D W^T - I = Delta + (D V) U^T; current: W^T D - I = Delta + V (D U)^T
        w = d / delta
        a = rhs / delta
        K = np.eye(U.shape[1]) + np.matmul((U * w[:, :, None]).transpose(0, 2, 1), V)
        y = np.linalg.solve(K, ((a if rate else d * a) @ U)[..., None])[..., 0]
        back = y @ V.T
        return (a - (w * back if rate else back / delta)) / self.gamma

    def solve_speed(self, h, x, G, lam):
        """Woodbury's identity where ``W_rec = U V^T + c I`` is low rank plus a multiple of
        the identity (rate leak): ``H / g^2 = Delta + P C P^T`` with ``P = [U, (cE - D) V]``
        of rank 2r, ``E = diag(d^2 + G f''/g)``, ``Delta = c^2 E - 2 c D + I``, ``C = [[V^T E V,
        I], [I, 0]]``: ``O(N r^2)`` per state instead of ``O(N^3)``."""
        second = activations.SECOND_DERIVATIVES.get(self.activation)
        if self.leak != "rate" or second is None:
            return None
        low_rank = self._low_rank_form()
        if low_rank is None:
            return None
        U, V, c = low_rank
        g, r = self.gamma, U.shape[1]
        z = self._drive(h, x)
        d = self._df(z)
        gradient = g * ((d * G) @ self._W_rec_T - G)
        e = d ** 2 + G * second(z) / g
        Z = (c * e - d)[:, :, None] * V
        M = np.einsum("ni,bn,nj->bij", V, e, V)
        delta = c * c * e - 2 * c * d + 1
        diagonal = delta + np.sum((U @ M) * U, axis=2) + 2 * np.sum(U * Z, axis=2)
        shifted = delta + (lam * np.abs(diagonal).max(axis=1))[:, None]
        if not np.all(np.abs(shifted) > 1e-8 * np.abs(shifted).max(axis=1, keepdims=True)):
            return None
        P = np.concatenate([np.broadcast_to(U, Z.shape), Z], axis=2)
        scaled = P / shifted[:, :, None]
        K = np.einsum("bnk,bnl->bkl", P, scaled)
        K[:, :r, r:] += np.eye(r)
        K[:, r:, :r] += np.eye(r)
        K[:, r:, r:] -= M
        a = -gradient / (g * g * shifted)
        y = np.linalg.solve(K, np.einsum("bnk,bn->bk", P, a)[..., None])[..., 0]
        return a - np.einsum("bnk,bk->bn", scaled, y), gradient

    def _low_rank_form(self):
        """``(U, V, c)`` with ``W_rec = U V^T + c I`` of low rank, or None; found once."""
        if self._low_rank is None:
            self._low_rank = _low_rank_plus_scalar(self.W_rec)
        return self._low_rank or None

    def tangent(self, h, x):
        """``O(N^2)`` products: ``J v = (1 - g) v + g d (v W_rec)`` (rate leak) or
        ``(1 - g) v + g (d v) W_rec`` (current leak), ``d`` the activation's slope."""
        g = self.gamma
        rate = self.leak == "rate"
        d = g * self._df(self._drive(h, x) if rate else h)

        def apply(v, rows, transpose=False):
            if rate != transpose:
                out = d[rows] * (v @ (self._W_rec_T if transpose else self.W_rec))
            else:
                out = (d[rows] * v) @ (self._W_rec_T if transpose else self.W_rec)
            return out + (1 - g) * v
        return apply

    def symmetric_form(self, h, x):
        """Where ``W_rec`` is symmetric and every slope ``d`` positive: ``S = (1 - g) I +
        g D^1/2 W_rec D^1/2``, with ``v = d^1/2`` (rate leak) or ``d^-1/2`` (current leak)."""
        if self._symmetric is None:
            W = self.W_rec
            scale = np.abs(W).max() or 1.0
            self._symmetric = (W + W.T) / 2 if np.abs(W - W.T).max() <= 1e-12 * scale else False
        if self._symmetric is False:
            return None
        d = self._df(self._drive(h, x) if self.leak == "rate" else h)
        if not np.all(d > SLOPE_FLOOR * d.max(axis=1, keepdims=True)):
            return None  # a (nearly) saturated unit: the similarity would be ill-conditioned
        g, root = self.gamma, np.sqrt(d)
        S = g * root[:, :, None] * self._symmetric * root[:, None, :]
        diagonal = np.arange(self.n_units)
        S[:, diagonal, diagonal] += 1 - g
        return S, (root if self.leak == "rate" else 1 / root)

    def is_odd(self, x):
        if self.activation not in activations.ODD:
            return np.zeros(len(x), dtype=bool)
        return np.all(np.asarray(x, dtype=float) @ self.W_in + self.b == 0, axis=1)

    def speed_derivatives(self, h, x, G):
        second = activations.SECOND_DERIVATIVES.get(self.activation)
        if second is None:
            return None
        g, W, W_T = self.gamma, self.W_rec, self._W_rec_T
        diagonal = np.arange(self.n_units)
        if self.leak == "rate":
            # dG/dh = g (D W^T - I): gradient g (W (d G) - G); Hessian
            # g^2 (W diag(d^2 + G f''/g) W^T - W D - D W^T + I), as d2G_i = g f''(z_i) w_i w_i^T
            z = self._drive(h, x)
            d = self._df(z)
            gradient = g * ((d * G) @ W_T - G)
            WD = W * d[:, None, :]
            H = np.matmul(W * (d ** 2 + G * second(z) / g)[:, None, :], W_T)
            H -= WD + WD.transpose(0, 2, 1)
        else:
            # dG/du = g (W^T D - I): gradient g (d (W G) - G); Hessian
            # g^2 (D W W^T D - D W - W^T D + I) + g diag(f''(u) (W G)), as d2G_i = g diag(f'' W[:, i])
            d = self._df(h)
            WG = G @ W_T
            gradient = g * (d * WG - G)
            DW = d[:, :, None] * W
            H = d[:, :, None] * self._W_W_T * d[:, None, :] - DW - DW.transpose(0, 2, 1)
            H[:, diagonal, diagonal] += second(h) * WG / g
        H[:, diagonal, diagonal] += 1
        return gradient, g ** 2 * H

    def _drive(self, h, x):
        """Everything inside the activation (rate) or the leak (current)."""
        return x @ self.W_in + self.rates(h) @ self.W_rec + self.b

    def _advance(self, h, external):
        """One step given the external drive ``x @ W_in + b (+ noise)``."""
        z = external + self.rates(h) @ self.W_rec
        g = self.gamma
        return (1 - g) * h + g * (self._f(z) if self.leak == "rate" else z)

    def _step(self, h, x, noise):
        external = x @ self.W_in + self.b
        return self._advance(h, external if noise is None else external + noise)

    def trajectory(self, inputs, h0, noise=None):
        # time-major: the drive of all steps in one product, and contiguous rows per step
        external = np.ascontiguousarray(inputs.transpose(1, 0, 2)) @ self.W_in + self.b
        if noise is not None:
            external += noise.transpose(1, 0, 2)
        hidden = np.empty_like(external)
        h = h0
        for t in range(len(external)):
            h = hidden[t] = self._advance(h, external[t])
        return hidden.transpose(1, 0, 2)

    def _jacobian(self, h, x):
        g = self.gamma
        if self.leak == "rate":
            J = (g * self._df(self._drive(h, x)))[:, :, None] * self._W_rec_T
        else:
            J = (g * self._W_rec_T) * self._df(h)[:, None, :]
        diagonal = np.arange(self.n_units)
        J[:, diagonal, diagonal] += 1 - g
        return J

    def _input_jacobian(self, h, x):
        g = self.gamma
        if self.leak == "rate":
            return g * self._df(self._drive(h, x))[:, :, None] * self.W_in.T
        return np.broadcast_to(g * self.W_in.T, (h.shape[0], self.n_units, self.n_inputs)).copy()


#: Jacobians are computed for at most this many values (B N^2) at once. Automatic
#: differentiation holds several times its result in intermediates: 256 Jacobians of a
#: 256-unit GRU at once took 3 GB and three times as long as 16 at a time.
JACOBIAN_ELEMENTS = 2**20


def _in_batches(jacobian, h, x):
    """``jacobian(h, x)`` for (B, N) states in batches of ``JACOBIAN_ELEMENTS`` values."""
    size = max(1, JACOBIAN_ELEMENTS // h.shape[1] ** 2)
    if len(h) <= size:
        return jacobian(h, x)
    return np.concatenate([jacobian(h[s:s + size], x[s:s + size])
                           for s in range(0, len(h), size)])


class CellDynamics(Dynamics):
    """Any Keras recurrent cell, differentiated by TensorFlow in float64.

    The cell is rebuilt in float64 with the trained weights, its sublayers too
    (those created without a dtype follow the float64 policy of the rebuild); a cell
    that still computes in float32 is refused with the fix (see
    :func:`rebuild_float64`). Its state parts are concatenated into one vector in
    the order of ``cell.state_size``: for ``LSTM`` that is ``[h, c]``, for ``GRU``
    and ``SimpleRNN`` just ``[h]``. When the cell emits its first state part, the
    readout reads that part (capability ``"state_readout"``); when it emits
    another function of its state (``LayerNorm(state)``, a projection), the
    outputs of a run go through the cell's own output computation.

    Parameters
    ----------
    cell : keras.layers.Layer
        A built recurrent cell (``layer.cell`` of a Keras ``RNN``).
    n_inputs : int
    readout : Readout, optional
    initial_state : ndarray of shape (N,), optional

    Attributes
    ----------
    reference : KerasCellReference
        The trained cell's own step in its own precision (what
        :func:`dynan.testing.check_dynamics` compares with).
    state_bounds : tuple of two ndarray (N,), or None
        For Keras's own GRU, LSTM and SimpleRNN cells with a bounded activation and gates
        in [0, 1], the range of ``h`` (an LSTM's ``c`` is unbounded); None for other cells,
        their subclasses included.
    """

    def __init__(self, cell, n_inputs, *, readout=None, initial_state=None):
        import keras
        import tensorflow as tf

        sizes = [int(s) for s in keras.tree.flatten(cell.state_size)]
        self.cell = rebuild_float64(cell, n_inputs)
        self.reference = KerasCellReference(cell)
        self.n_inputs = int(n_inputs)
        self.n_units = int(sum(sizes))
        names = (["h"] if len(sizes) == 1 else ["h", "c"] if isinstance(cell, keras.layers.LSTMCell)
                 else [f"state_{i}" for i in range(len(sizes))])
        self.state_parts = tuple(zip(names, sizes))
        self.state_bounds = box(self.state_parts, _keras_ranges(cell, len(sizes)))
        self._readout = readout
        self.initial_state = (np.zeros(self.n_units) if initial_state is None
                              else np.asarray(initial_state, dtype=float))

        def f(h, x):
            out, new = self.cell(x, tf.split(h, sizes, axis=1), training=False)
            return out, tf.concat(keras.tree.flatten(new), axis=1)

        def jac(h, x):
            with tf.GradientTape(persistent=True) as tape:
                tape.watch([h, x])
                h_next = f(h, x)[1]
            return tape.batch_jacobian(h_next, h), tape.batch_jacobian(h_next, x)

        spec = [tf.TensorSpec([None, self.n_units], tf.float64),
                tf.TensorSpec([None, self.n_inputs], tf.float64)]

        def scan(h, inputs):  # time-major inputs: what the cell emits and its states, each step
            first = f(h, inputs[0])[0]
            return tf.scan(lambda done, x: f(done[1], x), inputs, initializer=(first, h))

        def jvp(h, x, v):
            with tf.autodiff.ForwardAccumulator(h, v) as accumulator:
                h_next = f(h, x)[1]
            return accumulator.jvp(h_next)

        def vjp(h, x, v):
            with tf.GradientTape() as tape:
                tape.watch(h)
                h_next = f(h, x)[1]
            return tape.gradient(h_next, h, output_gradients=v)

        self._f = tf.function(f, input_signature=spec)
        self._jac = tf.function(jac, input_signature=spec)
        self._products = {transpose: tf.function(g, input_signature=[*spec, spec[0]])
                          for transpose, g in ((False, jvp), (True, vjp))}
        self._scan = tf.function(scan, input_signature=[
            spec[0], tf.TensorSpec([None, None, self.n_inputs], tf.float64)])
        _check_precision(self, cell)
        emitted = self._emit(self.initial_state[None], np.zeros((1, self.n_inputs)))
        self.n_emitted = emitted.shape[1]
        self.capabilities = (frozenset({"state_readout"}) if self._emits_first_state()
                             else frozenset())
        self.n_outputs = self.n_emitted if readout is None else readout.W.shape[1]

    def _emits_first_state(self):
        """Whether the cell's output equals the first part of its new state."""
        rng = np.random.default_rng(0)
        h = rng.normal(size=(3, self.n_units))
        x = rng.normal(size=(3, self.n_inputs))
        out, new = (a.numpy() for a in self._f(h, x))
        size = self.state_parts[0][1]
        return out.shape == (3, size) and np.allclose(out, new[:, :size], rtol=0, atol=1e-12)

    def _emit(self, h, x):
        return self._f(h, x)[0].numpy()

    def rates(self, h):
        return np.asarray(h, dtype=float)[..., : self.state_parts[0][1]]

    def trajectory(self, inputs, h0, noise=None):
        return self._run(inputs, h0, noise)[0]

    def run_batch(self, inputs, h0, noise=None):
        if "state_readout" in self.capabilities:
            return super().run_batch(inputs, h0, noise)
        hidden, emitted = self._run(inputs, h0, noise)
        return hidden, emitted if self._readout is None else self._readout(emitted)

    def _run(self, inputs, h0, noise):
        """The states and what the cell emits (B, T, ...) after each step of a run, in one
        TensorFlow loop (a call per step costs a millisecond)."""
        _no_noise(noise)
        B, T, _ = inputs.shape
        if T == 0:
            return np.empty((B, 0, self.n_units)), np.empty((B, 0, self.n_emitted))
        emitted, hidden = self._scan(np.asarray(h0, dtype=float),
                                     np.asarray(inputs, dtype=float).transpose(1, 0, 2))
        return tuple(np.ascontiguousarray(a.numpy().transpose(1, 0, 2)) for a in (hidden, emitted))

    def _step(self, h, x, noise):
        _no_noise(noise)
        return self._f(h, x)[1].numpy()

    def _jacobian(self, h, x):
        return self._jac(h, x)[0].numpy()

    def _input_jacobian(self, h, x):
        return self._jac(h, x)[1].numpy()

    def tangent(self, h, x):
        """Products ``J v`` by forward-mode and ``J^T v`` by reverse-mode differentiation
        of the step, without forming the Jacobians (one step's cost each, where a
        Jacobian costs N of them)."""
        h, x = np.asarray(h, dtype=float), np.asarray(x, dtype=float)

        def apply(v, rows, transpose=False):
            return self._products[transpose](h[rows], x[rows], np.asarray(v, dtype=float)).numpy()
        return apply


def _keras_ranges(cell, n_parts):
    """The range of each state part of a Keras cell, or None (unbounded or unknown).

    ``SimpleRNNCell``: ``h = f(...)``; ``GRUCell``: ``h`` a gate's average of itself and
    ``f(...)``; ``LSTMCell``: ``h = o f(c)``, ``c`` unbounded. Each needs its activation
    ``f`` bounded (:data:`dynan.activations.RANGES`) and its gates in [0, 1]; other
    cells, their subclasses included, have unknown ranges.
    """
    import keras.layers as L

    f = activations.RANGES.get(getattr(getattr(cell, "activation", None), "__name__", None))
    gates = getattr(getattr(cell, "recurrent_activation", None), "__name__", None) in (
        "sigmoid", "hard_sigmoid")
    kind = type(cell)
    if kind is L.SimpleRNNCell or (kind is L.GRUCell and gates):
        return [f]
    if kind is L.LSTMCell and gates and f is not None:
        return [(min(0.0, f[0]), max(0.0, f[1])), None]
    return [None] * n_parts


def _no_noise(noise):
    if noise is not None:
        raise ValueError("noise can be added to leaky and vanilla (SimpleRNN) networks only")


class KerasCellReference:
    """A trained Keras cell's own step, in its own precision (float32 as trained).

    ``reference(h, x)`` returns ``(y, h_next)`` as float64 arrays for (B, N) states
    ``h`` (parts concatenated) and (B, n_in) inputs ``x``: ``y`` is what the cell
    emits, through the model's ``Dense`` readout when it has one.

    Parameters
    ----------
    cell : keras.layers.Layer
    readout : keras.layers.Dense, optional
    """

    def __init__(self, cell, readout=None):
        import keras

        self.cell = cell
        self.readout = readout
        self.sizes = [int(s) for s in keras.tree.flatten(cell.state_size)]

    def __call__(self, h, x):
        import keras

        dtype = keras.backend.standardize_dtype(self.cell.compute_dtype)
        states = np.split(np.asarray(h, dtype=dtype), np.cumsum(self.sizes)[:-1], axis=1)
        out, new = self.cell(np.asarray(x, dtype=dtype), states, training=False)
        if self.readout is not None:
            out = self.readout(out)
        new = np.concatenate([keras.ops.convert_to_numpy(s) for s in keras.tree.flatten(new)], axis=1)
        return keras.ops.convert_to_numpy(out).astype(float), new.astype(float)


def rebuild_float64(cell, n_inputs):
    """A float64 copy of a built Keras cell, with its trained weights.

    The copy is made from the cell's config under a float64 dtype policy, so
    sublayers created without a dtype compute in float64 too.

    Raises
    ------
    ModelError
        Where a weight stays in another precision (a sublayer created with a
        fixed ``dtype``), with the one-line fix.
    """
    import keras

    before = keras.config.dtype_policy()
    keras.config.set_dtype_policy("float64")
    try:
        copy = type(cell).from_config({**cell.get_config(), "dtype": "float64"})
        copy.build((None, n_inputs))
    finally:
        keras.config.set_dtype_policy(before)
    low = [w.path for w in copy.weights if keras.backend.standardize_dtype(w.dtype) != "float64"]
    if low:
        raise ModelError(_precision_message(cell, f"weight {low[0]} stays in lower precision"))
    copy.set_weights(cell.get_weights())
    return copy


def _precision_message(cell, what):
    return (f"cell {type(cell).__name__} cannot run in float64 ({what}): create its sublayers "
            f"with dtype=self.dtype_policy (e.g. keras.layers.Dense(n, dtype=self.dtype_policy)) "
            f"and re-save the model")


def _check_precision(dynamics, cell, rtol=1e-5):
    """The float64 step computes in float64 and agrees with the trained cell's own step."""
    rng = np.random.default_rng(0)
    h = dynamics.initial_state + rng.normal(scale=0.5, size=(8, dynamics.n_units))
    x = rng.normal(size=(8, dynamics.n_inputs))
    try:
        out, new = dynamics._f(h, x)
    except Exception as err:  # TensorFlow refuses mixed float32 / float64 arithmetic
        raise ModelError(_precision_message(cell, str(err).splitlines()[0][:120])) from err
    if out.dtype.name != "float64" or new.dtype.name != "float64":
        raise ModelError(_precision_message(cell, f"its step returns {out.dtype.name}"))
    ref_out, ref_new = dynamics.reference(h, x)
    scale = max(1.0, float(np.max(np.abs(ref_new))))
    error = float(np.max(np.abs(new.numpy() - ref_new))) / scale
    if error > rtol:
        raise ModelError(_precision_message(
            cell, f"its float64 step differs from the trained step by {error:.1e} relative"))


def _low_rank_plus_scalar(W, max_rank_fraction=0.25):
    """``(U, V, c)`` with ``W = U V^T + c I`` and rank at most a quarter of N, or False.

    ``c`` is the eigenvalue that fills the rest of the spectrum (zero for a plainly
    low-rank matrix; minus the diagonal of a Hopfield matrix). Full-rank matrices are ruled
    out first on a sample of ``m = N/4 + 16`` columns (0.06 s instead of 0.9 s at 1,024
    units): ``W[:, S] - c I[:, S]`` has rank r too, and ``c`` fills the spectrum of
    ``W[S, S]`` where ``r < m/2``, so ranks above about N/8 may be missed.
    """
    N = len(W)
    scale = np.abs(W).max() or 1.0
    m = N // 4 + 16
    if m < N:
        sample = np.sort(np.random.default_rng(0).choice(N, m, replace=False))
        c = _filling_eigenvalue(W[np.ix_(sample, sample)], scale)
        if c is None:
            return False
        block = W[:, sample]  # (a copy)
        block[sample, np.arange(m)] -= c
        s = np.linalg.svd(block, compute_uv=False)
        if np.sum(s > 1e-10 * max(s[0], scale)) == m:
            return False
    c = _filling_eigenvalue(W, scale)
    if c is None:
        return False
    U_s, s, Vt = np.linalg.svd(W - c * np.eye(N))
    r = int(np.sum(s > 1e-10 * max(s[0], scale)))
    if r > max_rank_fraction * N:
        return False
    root = np.sqrt(s[:r])
    return U_s[:, :r] * root, Vt[:r].T * root, c


def _filling_eigenvalue(W, scale):
    """The median eigenvalue of ``W`` where it is real (within 1e-9 ``scale``), else None."""
    median = np.median(np.linalg.eigvals(W))
    return float(np.real(median)) if abs(np.imag(median)) <= 1e-9 * scale else None
