"""Networks written in JAX: a pure step function and its parameters, analysed in float64.

For networks trained with JAX (the computation-thru-dynamics style: a params pytree
and ``h_next = step(params, h, x)``), :func:`from_jax` gives the same
:class:`~dynan.Analysis` as :func:`dynan.load` gives for a Keras model. The step is
vectorised with ``jax.vmap``, differentiated with ``jax.jacfwd`` (and ``jax.jvp`` /
``jax.vjp`` for Jacobian products) and compiled with ``jax.jit``, on float64 copies of
the parameters. ``import dynan`` does not import JAX; :func:`from_jax` does.

64-bit: every computation of :class:`JaxDynamics` runs inside JAX's scoped
``enable_x64`` context, so the float64 Jacobians that fixed points need do not turn
JAX's global 64-bit flag on for the rest of the user's program (training code that
relies on float32 defaults keeps them).

Examples
--------
>>> import numpy as np, jax.numpy as jnp
>>> from dynan.jax_networks import from_jax      # also dynan.from_jax
>>> def step(p, h, x):
...     return jnp.tanh(h @ p["W_rec"] + x @ p["W_in"] + p["b"])
>>> rng = np.random.default_rng(0)
>>> params = {"W_in": rng.normal(size=(2, 8)).astype(np.float32),
...           "W_rec": (rng.normal(size=(8, 8)) / 4).astype(np.float32),
...           "b": np.zeros(8, np.float32)}
>>> an = from_jax(step, params, n_units=8, n_inputs=2)
>>> an
<Analysis: JaxDynamics, 8 units, 2 inputs, 8 outputs>
>>> an.dynamics.jacobian(np.zeros(8), np.zeros(2)).dtype
dtype('float64')
"""

import contextlib
import functools
import numbers
import types

import numpy as np

from .analysis import Analysis
from .dynamics import Dynamics
from .errors import ModelError
from .loading import _weights

#: What a user without JAX is told, in one line.
NEEDS_JAX = 'from_jax needs JAX: pip install "dynan[jax]"'


def from_jax(step, params, *, n_units, n_inputs, readout=None, initial_state=None,
             state_parts=None, task=None, task_params=None):
    """Analyse a network written in JAX as a pure step function.

    Parameters
    ----------
    step : callable
        ``step(params, h, x) -> h_next`` for one state: ``h`` of shape (N,), ``x`` of
        shape (n_in,), ``h_next`` of shape (N,). It must be a pure JAX function (it is
        traced by ``jax.jit``, ``jax.vmap`` and ``jax.jacfwd``); dynan batches it. Row
        vectors as everywhere in dynan, ``h @ W_rec``, though the step may use any
        orientation it likes.
    params : pytree
        The trained parameters (dicts, lists, tuples of arrays), passed to ``step`` as
        they are given. dynan computes on float64 copies of their floating-point leaves;
        the trained ones (float32, say) drive the ``reference`` of :class:`JaxDynamics`.
    n_units : int
        Length ``N`` of the state vector (all its parts, concatenated).
    n_inputs : int
        Number of input channels.
    readout : callable or (W_out, b_out), optional
        The network's output: a pure JAX function ``readout(params, h) -> y`` of one
        state (N,) returning (n_out,), or a pair of arrays for ``y = h @ W_out + b_out``
        with ``W_out`` of shape (N, n_out) or, reading the state's first part only,
        (N_0, n_out); ``b_out`` may be None. Without it the outputs are the state's
        first part.
    initial_state : array_like of shape (N,), optional
        The state every trial starts from (computation-thru-dynamics keeps it in
        ``params["h0"]``); zeros by default.
    state_parts : sequence of (str, int), optional
        Names and sizes of the parts of the state, in order, summing to ``N`` (e.g.
        ``[("h", 64), ("c", 64)]`` for an LSTM-like step); one part ``("h", N)`` by
        default. The first part is what the network emits without a readout.
    task : str, optional
        Name of the task the network was trained on (see :data:`dynan.tasks.TASKS`),
        so that :meth:`~dynan.Analysis.analyze` can make trials.
    task_params : dict, optional
        Keyword arguments of that task's generator (e.g. ``{"T": 2.0}``).

    Returns
    -------
    Analysis
        Its ``dynamics`` is a :class:`JaxDynamics`.

    Raises
    ------
    ImportError
        JAX is not installed.
    ValueError
        Bad sizes, parameters with NaN or inf, or a step (or readout) that fails on a
        state of shape (N,) and an input of shape (n_in,) or returns the wrong shape.
    ModelError
        The step does not compute in float64 on float64 parameters (it casts to a
        fixed lower precision).

    Examples
    --------
    A two-layer network whose state is both layers' activity:

    >>> import numpy as np, jax.numpy as jnp
    >>> from dynan.jax_networks import from_jax
    >>> def step(p, h, x):
    ...     h1, h2 = h[:6], h[6:]
    ...     h1 = jnp.tanh(h1 @ p["W1"] + x @ p["U"])
    ...     return jnp.concatenate([h1, jnp.tanh(h2 @ p["W2"] + h1 @ p["V"])])
    >>> rng = np.random.default_rng(0)
    >>> params = {"W1": rng.normal(size=(6, 6)) / 3, "U": rng.normal(size=(1, 6)),
    ...           "W2": rng.normal(size=(4, 4)) / 3, "V": rng.normal(size=(6, 4))}
    >>> an = from_jax(step, params, n_units=10, n_inputs=1,
    ...               state_parts=[("layer1", 6), ("layer2", 4)],
    ...               readout=lambda p, h: h[6:].sum(keepdims=True))
    >>> an.run(np.ones((3, 20, 1))).outputs.shape
    (3, 20, 1)
    """
    dynamics = JaxDynamics(step, params, n_units=n_units, n_inputs=n_inputs, readout=readout,
                           initial_state=initial_state, state_parts=state_parts)
    return Analysis(dynamics, layer_name=dynamics.describe()["step"], task=task,
                    task_params=task_params)


def _jax():
    """``(jax, jax.numpy)``, or the one-line ImportError."""
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        raise ImportError(NEEDS_JAX) from None
    return jax, jnp


def _x64(jax):
    """JAX's scoped 64-bit context: ``jax.enable_x64`` in recent JAX,
    ``jax.experimental.enable_x64`` in older (0.4.30, say)."""
    scoped = vars(jax).get("enable_x64")
    if scoped is not None:
        return scoped(True)
    from jax.experimental import enable_x64

    return enable_x64()


def _bucket(n):
    """The batch size a batch of ``n`` is padded to, so that each compiled function is
    compiled for a handful of sizes: powers of two from 8 to 256, then multiples of 256."""
    if n <= 256:
        return max(8, 1 << max(0, n - 1).bit_length())
    return -(-n // 256) * 256


def _count(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer; got {value!r}")
    return int(value)


def _first_line(err):
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0][:300] if text else ''}"


class JaxDynamics(Dynamics):
    """A network given as a pure JAX step function, batched and in float64.

    Made by :func:`from_jax` (see its parameters). The step is batched with
    ``jax.vmap`` and compiled with ``jax.jit``; Jacobians come from ``jax.jacfwd``,
    Jacobian products (:meth:`tangent`) from ``jax.jvp`` and ``jax.vjp``, and the
    gradient and Hessian of the speed (:meth:`speed_derivatives`) from ``jax.grad`` and
    ``jax.hessian``, all on float64 copies of the parameters. Batches are padded to a few
    sizes (powers of two from 8 to 256, then multiples of 256) so that each function is
    compiled a few times, not once per batch size (runs step by step, so that a run of
    any length needs no compilation of its own).

    Attributes
    ----------
    params : pytree
        The float64 copy of the parameters that the analysis computes with.
    reference : JaxReference
        The user's step (and readout) on the parameters as given, in their own
        precision (what :func:`dynan.testing.check_dynamics` compares with).
    """

    capabilities = frozenset({"state_readout"})

    def __init__(self, step, params, *, n_units, n_inputs, readout=None, initial_state=None,
                 state_parts=None):
        jax, jnp = _jax()
        if not callable(step):
            raise ValueError(f"step must be a function step(params, h, x) -> h_next; got "
                             f"{type(step).__name__}")
        self.n_units = _count(n_units, "n_units")
        self.n_inputs = _count(n_inputs, "n_inputs")
        N = self.n_units
        self.state_parts = _state_parts(state_parts, N)
        first = self.state_parts[0][1]
        readout_fn, readout_params = _readout(readout, N, first)
        self._step_fn, self._readout_fn = step, readout_fn
        self._name = getattr(step, "__qualname__", type(step).__name__)
        self.initial_state = (np.zeros(N) if initial_state is None
                              else _weights(initial_state, "initial_state", (N,)))
        trained = (params, readout_params)
        _check_finite(trained)
        with _x64(jax):
            self.params, self._readout_params = jax.tree_util.tree_map(
                lambda a: _float64(jnp, a), trained)
        self._fns = _cached(_compiled, step, readout_fn)
        self._check()
        self.reference = JaxReference(step, readout_fn, params, readout_params, first)

    def describe(self):
        return {**super().describe(), "step": self._name}

    def _check(self):
        """The step and readout run on one state and input, with the right shapes, in float64."""
        N, n_in = self.n_units, self.n_inputs
        h, x = self.initial_state[None], np.zeros((1, n_in))
        try:
            h_next = self._call(self._fns.f, h, x)
        except Exception as err:  # JAX raises many types for a function it cannot trace or run
            raise ValueError(f"step(params, h, x) failed on a state of shape ({N},) and an input "
                             f"of shape ({n_in},) (check n_units and n_inputs; the step must be a "
                             f"pure JAX function of one state): {_first_line(err)}") from err
        if h_next.shape != (1, N):
            raise ValueError(f"step(params, h, x) must return the next state, shape ({N},); got "
                             f"shape {h_next.shape[1:]}")
        if h_next.dtype != np.float64:
            raise ModelError(f"step(params, h, x) returns {h_next.dtype} on float64 parameters and "
                             "states; it must not cast to a fixed precision (write "
                             "x.astype(h.dtype), not x.astype(jnp.float32))")
        self._readout = self._readout_fn  # None, or the readout function (has_readout)
        if self._readout_fn is None:
            self.n_outputs = self.state_parts[0][1]
            return
        try:
            y = self._call(self._fns.y, h)
        except Exception as err:
            raise ValueError(f"readout(params, h) failed on a state of shape ({N},): "
                             f"{_first_line(err)}") from err
        if y.ndim != 2:
            raise ValueError(f"readout(params, h) must return a vector, shape (n_out,); got "
                             f"shape {y.shape[1:]}")
        self.n_outputs = y.shape[1]

    def _params(self):
        return (self.params, self._readout_params)

    def _call(self, fn, *arrays):
        """``fn(params, *arrays)`` over the rows of ``arrays``, padded to a bucket size,
        in float64; a writable NumPy array."""
        jax, _ = _jax()
        n = len(arrays[0])
        size = _bucket(n)
        if n == 0:  # JAX runs empty batches too, but why compile for them
            arrays = tuple(np.zeros((size, *a.shape[1:])) for a in arrays)
        elif size != n:
            arrays = tuple(np.concatenate([a, np.broadcast_to(a[:1], (size - n, *a.shape[1:]))])
                           for a in arrays)
        with _x64(jax):
            out = fn(self._params(), *(np.asarray(a, dtype=np.float64) for a in arrays))
            if isinstance(out, tuple):
                return tuple(np.array(o)[:n] for o in out)
            return np.array(out)[:n]

    def rates(self, h):
        return np.asarray(h, dtype=float)[..., : self.state_parts[0][1]]

    def readout(self, h):
        """The network's output for states ``h`` (..., N): ``readout(params, h)``, or the
        state's first part when there is no readout."""
        h = np.asarray(h, dtype=float)
        self._check_last_axis(h, self.n_units, "h")
        if self._readout_fn is None:
            return self.rates(h)
        y = self._call(self._fns.y, h.reshape(-1, self.n_units))
        return y.reshape(*h.shape[:-1], self.n_outputs)

    def tangent(self, h, x):
        """Jacobian products by ``jax.jvp`` (``J v``) and ``jax.vjp`` (``J^T v``), without
        forming the Jacobians."""
        h, x = np.asarray(h, dtype=float), np.asarray(x, dtype=float)

        def apply(v, rows, transpose=False):
            return self._call(self._fns.vjp if transpose else self._fns.jvp, h[rows], x[rows],
                              np.asarray(v, dtype=float))
        return apply

    def speed_derivatives(self, h, x, G):
        """Exact gradient and Hessian of ``q = 1/2 ||F(h, x) - h||^2`` by ``jax.grad`` and
        ``jax.hessian`` (``G`` is recomputed, not used)."""
        return self._call(self._fns.speed, h, x)

    def _step(self, h, x, noise):
        _no_noise(noise)
        return self._call(self._fns.f, h, x)

    def _jacobian(self, h, x):
        return self._call(self._fns.J, h, x)

    def _input_jacobian(self, h, x):
        return self._call(self._fns.B, h, x)


def _cached(make, *functions):
    """``make(*functions)``, made once per functions (when they are hashable)."""
    try:
        hash(functions)
    except TypeError:  # an unhashable callable object
        return make(*functions)
    return _CACHE(make, *functions)


@functools.lru_cache(maxsize=64)
def _CACHE(make, *functions):
    return make(*functions)


def _compiled(step, read):
    """The jit-compiled, batched functions of a step (and readout) function, shared by every
    :class:`JaxDynamics` of the same functions: networks of one architecture (seeds, sweeps)
    compile once. Each takes the parameters ``P = (params, readout params)`` first."""
    jax, jnp = _jax()

    def f(P, h, x):
        return step(P[0], h, x)

    def q(P, h, x):
        G = f(P, h, x) - h
        return 0.5 * jnp.sum(G * G)

    def batched(fn, *axes):
        return jax.jit(jax.vmap(fn, in_axes=(None, *axes)))

    return types.SimpleNamespace(
        f=batched(f, 0, 0),
        J=batched(jax.jacfwd(f, argnums=1), 0, 0),
        B=batched(jax.jacfwd(f, argnums=2), 0, 0),
        jvp=batched(lambda P, h, x, v: jax.jvp(lambda s: f(P, s, x), (h,), (v,))[1], 0, 0, 0),
        vjp=batched(lambda P, h, x, v: jax.vjp(lambda s: f(P, s, x), h)[1](v)[0], 0, 0, 0),
        speed=batched(lambda P, h, x: (jax.grad(q, argnums=1)(P, h, x),
                                       jax.hessian(q, argnums=1)(P, h, x)), 0, 0),
        y=None if read is None else batched(
            lambda P, h: read(P[0] if P[1] is None else P[1], h), 0))


def _reference_step(step, readout, n_first):
    """The batched, compiled ``(P, h, x) -> (y, h_next)`` of :class:`JaxReference`."""
    jax, _ = _jax()

    def f(P, h, x):
        h_next = step(P[0], h, x)
        if readout is None:
            return h_next[:n_first], h_next
        return readout(P[0] if P[1] is None else P[1], h_next), h_next

    return jax.jit(jax.vmap(f, in_axes=(None, 0, 0)))


def _dense(p, h):
    """The readout ``h[:n] @ W_out + b_out`` of a (W_out, b_out) pair ``p``, W_out (n, n_out)."""
    W, b = p
    return h[:W.shape[0]] @ W + b


class JaxReference:
    """The user's step and readout on the parameters as given, in their own precision.

    ``reference(h, x)`` returns ``(y, h_next)`` as float64 arrays for (B, N) states and
    (B, n_in) inputs: states and inputs are cast to the parameters' dtype (float32 as
    trained, usually) before the step, and ``y`` is the readout of ``h_next`` (its first
    part without a readout). Float32 parameters run under JAX's settings as they are
    (32-bit unless the user turned 64-bit on), float64 ones under 64-bit.
    """

    def __init__(self, step, readout, params, readout_params, n_first):
        jax, jnp = _jax()
        leaves = [np.asarray(a) for a in jax.tree_util.tree_leaves((params, readout_params))]
        floating = [a.dtype for a in leaves if jnp.issubdtype(a.dtype, jnp.floating)]
        with _x64(jax):  # without 64-bit JAX would say float32 for float64 parameters
            self.dtype = np.dtype(jnp.result_type(*floating) if floating else np.float64)
        self.params = (params, readout_params)
        self._f = _cached(_reference_step, step, readout, n_first)

    def __call__(self, h, x):
        jax, _ = _jax()
        context = _x64(jax) if self.dtype == np.float64 else contextlib.nullcontext()
        with context:
            y, h_next = self._f(self.params, np.asarray(h, dtype=self.dtype),
                                np.asarray(x, dtype=self.dtype))
            return np.asarray(y, dtype=float), np.asarray(h_next, dtype=float)


def _no_noise(noise):
    if noise is not None:
        raise ValueError("noise can be added to leaky and vanilla (SimpleRNN) networks only; "
                         "add it inside a JAX step as an input if the network needs it")


def _float64(jnp, a):
    """A float64 copy of a floating-point leaf; other leaves as they are."""
    array = np.asarray(a)
    if not jnp.issubdtype(array.dtype, jnp.floating):
        return a
    return jnp.asarray(np.array(array, dtype=np.float64))


def _check_finite(tree):
    jax, jnp = _jax()
    flat, _ = jax.tree_util.tree_flatten_with_path(tree)
    for path, leaf in flat:
        array = np.asarray(leaf)
        where = ("readout" if path[0].idx == 1 else "params") + jax.tree_util.keystr(path[1:])
        if array.dtype.kind == "c":
            raise ValueError(f"{where} is complex ({array.dtype}); dynan analyses real networks")
        if jnp.issubdtype(array.dtype, jnp.floating) and not np.all(np.isfinite(array)):
            raise ValueError(f"{where} has "
                             f"{int(array.size - np.isfinite(array).sum())} non-finite values "
                             "(NaN or inf); all must be finite")


def _state_parts(parts, n):
    if parts is None:
        return (("h", n),)
    try:
        parts = tuple((str(name), int(size)) for name, size in parts)
    except (TypeError, ValueError):
        raise ValueError(f"state_parts must be (name, size) pairs, e.g. [('h', 64), ('c', 64)]; "
                         f"got {parts!r}") from None
    if not parts or any(size < 1 for _, size in parts) or sum(s for _, s in parts) != n:
        raise ValueError(f"state_parts must be (name, size) pairs with positive sizes summing "
                         f"to n_units={n}; got {list(parts)}")
    return parts


def _readout(readout, n, first):
    """``(readout(P, h), readout params)`` from the user's readout argument."""
    if readout is None:
        return None, None
    if callable(readout):
        return readout, None
    if not isinstance(readout, (tuple, list)) or len(readout) != 2:
        raise ValueError("readout must be a function readout(params, h) -> y or a pair "
                         f"(W_out, b_out); got {type(readout).__name__}")
    W = np.asarray(readout[0])
    if W.ndim != 2 or W.shape[0] not in (n, first) or W.dtype.kind not in "iuf":
        rows = f"{n}" if n == first else f"{n} (the whole state) or {first} (its first part)"
        raise ValueError(f"W_out must be real, of shape (n_units, n_out) with {rows} rows; "
                         f"got shape {W.shape}")
    b = np.zeros(W.shape[1], W.dtype) if readout[1] is None else np.asarray(readout[1])
    if b.shape != (W.shape[1],):
        raise ValueError(f"b_out must have shape ({W.shape[1]},); got {b.shape}")
    return _dense, (W, b)
