"""PyTorch networks: ``nn.RNN``, ``nn.GRU``, ``nn.LSTM`` (stacked), their cells, and any step module.

:func:`from_torch` turns a PyTorch module into an :class:`~dynan.Analysis`, as
:func:`dynan.from_weights` does for arrays; :func:`load_torch` reads a saved model
(a TorchScript archive, or a ``state_dict`` file and the class it belongs to) without
ever unpickling code.

What is analysed
----------------
- ``nn.RNN`` (tanh or relu), ``nn.GRU`` and ``nn.LSTM``, one or more layers,
  ``batch_first`` either way, with or without bias (unidirectional, no LSTM
  ``proj_size``), and ``nn.RNNCell``, ``nn.GRUCell``, ``nn.LSTMCell``: exact
  closed-form float64 NumPy dynamics (:class:`TorchRecurrentDynamics`). A one-layer
  ``nn.RNN`` or ``nn.RNNCell`` with no readout or an ``nn.Linear`` one becomes a
  :class:`~dynan.dynamics.LeakyDynamics` with ``gamma=1`` (``W_in = weight_ih.T``,
  ``W_rec = weight_hh.T``, ``b = bias_ih + bias_hh``), which also has the spectra of
  its weights.
- A model that holds one of those as a direct child (``self.rnn = nn.GRU(...)``,
  ``self.fc = nn.Linear(...)``, ``forward(x)`` over sequences): its recurrent child is
  analysed, read out by the ``nn.Linear`` child registered right after it.
- Any other module with the step signature ``forward(x, h) -> h_next`` (``x`` of shape
  (B, n_in), ``h`` and ``h_next`` (B, N)): differentiated by ``torch.func`` (``jacrev``
  under ``vmap``) on a float64 copy (:class:`TorchStepDynamics`). Its ``readout``
  attribute, when it is a module, is its readout. The user's module is never changed.

State layout
------------
The state vector concatenates the layers' states, first layer first; an LSTM layer's
state is ``[h, c]``. ``state_parts`` names them ``h`` (and ``c``) for one layer, and
``h0, c0, h1, c1, ...`` for several. The output (what a readout reads) is the last
layer's ``h``, as PyTorch's ``output`` is.

PyTorch conventions (column vectors, ``weight_ih`` of shape (gates * H, n_in)) are
turned into dynan's row vectors here: ``z = x @ weight_ih.T + h @ weight_hh.T + b``.
GRU gates are ordered r, z, n with ``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``
and ``h' = (1 - z) n + z h``; LSTM gates i, f, g, o.

``import dynan`` never imports PyTorch; these functions do, when called.
"""

import copy
import inspect
import pickle
import re
import warnings
import zipfile
from pathlib import Path

import numpy as np
from scipy.special import expit

from . import activations
from .dynamics import Dynamics, LeakyDynamics, Readout, box
from .errors import ModelError
from .loading import _weights

#: The PyTorch modules with closed-form dynamics.
KNOWN_MODULES = ("RNN", "GRU", "LSTM", "RNNCell", "GRUCell", "LSTMCell")
SUPPORTED = ("torch.nn.RNN, GRU and LSTM (unidirectional, any number of layers), RNNCell, "
             "GRUCell and LSTMCell, a model holding one of them as a direct child, and any "
             "module with a step forward(x, h) -> h_next")
_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "GRU": 3, "LSTM": 4}
_SKIPPED_CHILDREN = ("Dropout", "Identity")


def _require_torch(caller):
    try:
        import torch
    except ImportError as err:
        raise ImportError(f'{caller} needs PyTorch: pip install "dynan[torch]"') from err
    return torch


# --- public entry points ---------------------------------------------------------------------

def from_torch(module, *, readout=None, n_inputs=None, initial_state=None, task=None,
               task_params=None):
    """Analyse a PyTorch recurrent network.

    Parameters
    ----------
    module : torch.nn.Module
        ``nn.RNN``, ``nn.GRU``, ``nn.LSTM``, ``nn.RNNCell``, ``nn.GRUCell``,
        ``nn.LSTMCell`` (eager or TorchScript); a model holding one of them as a
        direct child; or a step module, ``forward(x, h) -> h_next`` with ``x``
        (B, n_in) and ``h`` (B, N). See the module's notes for the state layout.
    readout : torch.nn.Module, optional
        Applied to the network's output (the last layer's ``h``; the whole state of a
        step module): an ``nn.Linear`` (read into a float64 :class:`~dynan.dynamics.Readout`)
        or any module (run on a float64 copy). By default: the ``nn.Linear`` child
        after the recurrent child of a model, a step module's ``readout`` attribute,
        or none (the outputs are then the recurrent output itself).
    n_inputs : int, optional
        Input size of a step module, when it has no ``input_size`` attribute; checked
        against ``input_size`` for the others.
    initial_state : array_like of shape (N,), optional
        The state trials start from; zeros by default (PyTorch's default ``h0``). For a
        step module without a ``hidden_size`` attribute it also gives ``N``.
    task : str, optional
        Name of the task the network was trained on (see :data:`dynan.tasks.TASKS`),
        so that :meth:`~dynan.Analysis.analyze` can make trials.
    task_params : dict, optional
        Keyword arguments of that task's generator (e.g. ``{"n_time": 64}``).

    Returns
    -------
    Analysis
        Its ``dynamics.reference`` runs the module itself, in its own precision, which
        :func:`dynan.testing.check_dynamics` compares with.

    Raises
    ------
    ImportError
        PyTorch is not installed.
    ValueError
        A module dynan cannot analyse (bidirectional, LSTM with ``proj_size``, a
        step module whose float64 copy cannot compute in float64, ...), in one line.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from dynan.torch_networks import from_torch
    >>> _ = torch.manual_seed(0)
    >>> an = from_torch(torch.nn.GRU(3, 16, batch_first=True), readout=torch.nn.Linear(16, 3))
    >>> an
    <Analysis: TorchRecurrentDynamics, 16 units, 3 inputs, 3 outputs>
    >>> an.dynamics.jacobian(np.zeros(16), np.zeros(3)).shape
    (16, 16)

    Stacked layers' states are concatenated, an LSTM layer's as ``[h, c]``:

    >>> from_torch(torch.nn.LSTM(3, 8, num_layers=2)).dynamics.state_parts
    (('h0', 8), ('c0', 8), ('h1', 8), ('c1', 8))
    """
    from .analysis import Analysis

    torch = _require_torch("from_torch")
    if not isinstance(module, torch.nn.Module):
        raise ValueError(f"from_torch takes a torch.nn.Module; got {type(module).__name__}")
    if readout is not None and not isinstance(readout, torch.nn.Module):
        raise ValueError(f"readout must be a torch.nn.Module (e.g. nn.Linear); got "
                         f"{type(readout).__name__}")
    name = _module_name(module)
    rnn, default_readout, layer_name = _recurrent_part(module)
    readout = readout if readout is not None else default_readout
    if rnn is None:
        dynamics = TorchStepDynamics(module, readout=readout, n_inputs=n_inputs,
                                     initial_state=initial_state)
    else:
        dynamics = _known_dynamics(rnn, readout, n_inputs, initial_state)
    return Analysis(dynamics, layer_name=layer_name or name, task=task, task_params=task_params)


def load_torch(path, *, torch_class=None, readout=None):
    """Load a saved PyTorch model for analysis, without unpickling code.

    Parameters
    ----------
    path : str or path-like
        A TorchScript archive (``torch.jit.save(torch.jit.script(model), path)``), which
        needs no class; or a ``state_dict`` file (``torch.save(model.state_dict(), path)``,
        also a checkpoint dict holding it under ``"state_dict"`` or ``"model_state_dict"``),
        read with ``torch.load(path, weights_only=True)`` into ``torch_class``.
    torch_class : type or str, optional
        The model's class (a ``torch.nn.Module`` subclass, or ``"module:ClassName"`` of an
        importable module) for a ``state_dict``. It must construct with no arguments
        (give its parameters defaults); the weights are then loaded with
        ``load_state_dict(strict=True)``.
    readout : torch.nn.Module, optional
        As in :func:`from_torch`.

    Returns
    -------
    Analysis
        With ``source``, ``sha256``, and the task from a card ``NAME.json`` beside the
        file (``{"task": "flipflop", "task_params": {...}}``) when there is one.

    Raises
    ------
    FileNotFoundError
        No file at ``path``.
    ModelError
        A full-module pickle (``torch.save(model)``: unpickling it would run code from
        the file), a ``state_dict`` without ``torch_class``, weights that do not fit the
        class, or a file PyTorch cannot read; in one line.

    Examples
    --------
    >>> import os, tempfile, torch
    >>> from dynan.torch_networks import load_torch
    >>> class Net(torch.nn.Module):      # in your own module, given as --torch-class module:Net
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.rnn = torch.nn.LSTM(3, 8, batch_first=True)
    ...         self.fc = torch.nn.Linear(8, 2)
    >>> folder = tempfile.mkdtemp()
    >>> torch.save(Net().state_dict(), os.path.join(folder, "net.pt"))
    >>> load_torch(os.path.join(folder, "net.pt"), torch_class=Net)
    <Analysis from 'net.pt': TorchRecurrentDynamics, 16 units, 3 inputs, 2 outputs>
    """
    from .loading import file_sha256, task_from_card

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no model file at {path}")
    torch = _require_torch("load_torch")
    if _is_torchscript(path):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)  # TorchScript, from torch 2.10
                module = torch.jit.load(str(path), map_location="cpu")
        except Exception as err:  # TorchScript raises RuntimeError and others
            raise ModelError(f"could not load the TorchScript archive {path}: "
                             f"{_first_line(err)}") from err
    else:
        module = _module_from_state_dict(path, _read_state_dict(path, torch), torch_class)
    task, task_params = task_from_card(path)
    an = from_torch(module, readout=readout, task=task, task_params=task_params)
    an.source, an.sha256 = path, file_sha256(path)
    return an


def resolve_class(spec):
    """The class named by ``"module:ClassName"`` (the module imported by name, or a ``.py`` path).

    Examples
    --------
    >>> resolve_class("collections:OrderedDict")
    <class 'collections.OrderedDict'>

    Raises
    ------
    ValueError
        Not of that form, the module cannot be imported, or it has no such class.
    """
    import importlib

    module_name, sep, class_name = str(spec).rpartition(":")
    if not sep or not module_name or not class_name:
        raise ValueError(f"a torch class must be given as module:ClassName; got {spec!r}")
    if module_name.endswith(".py"):
        from .user_modules import _import_path

        try:
            module = _import_path(Path(module_name))
        except Exception as err:  # the user's code may raise anything
            raise ValueError(f"cannot import {module_name} for the torch class {spec!r}: "
                             f"{type(err).__name__}: {_first_line(err)}") from err
    else:
        try:
            module = importlib.import_module(module_name)
        except Exception as err:  # the user's code may raise anything
            raise ValueError(f"cannot import {module_name!r} for the torch class {spec!r}: "
                             f"{type(err).__name__}: {_first_line(err)}") from err
    cls = getattr(module, class_name, None)
    if not isinstance(cls, type):
        raise ValueError(f"module {module_name!r} has no class {class_name!r}")
    return cls


# --- closed-form dynamics of torch's own recurrent modules -----------------------------------

class TorchRecurrentDynamics(Dynamics):
    """Closed-form float64 dynamics of ``nn.RNN``, ``nn.GRU``, ``nn.LSTM`` (stacked) and their cells.

    Row vectors: each layer computes its gates ``u @ W_ih.T + b_ih`` and
    ``h @ W_hh.T + b_hh`` from its input ``u`` (the network's input for the first layer,
    the previous layer's new ``h`` for the others) and its own state, as PyTorch does.
    The Jacobians are exact: per layer in closed form, chained through the stack.
    ``state_bounds``: each layer's ``h`` lies in [-1, 1] ([0, inf) for ``RNN_RELU``).

    Parameters
    ----------
    mode : {"RNN_TANH", "RNN_RELU", "GRU", "LSTM"}
    layers : list of tuple (W_ih, W_hh, b_ih, b_hh)
        PyTorch's weights of each layer as float arrays: ``W_ih`` (gates * H, n_u),
        ``W_hh`` (gates * H, H), biases (gates * H,) (zeros for ``bias=False``).
    readout : Readout or callable, optional
        Applied to the last layer's ``h``.
    initial_state : ndarray of shape (N,), optional
    module : str
        The PyTorch class, for :meth:`describe`.
    """

    capabilities = frozenset({"state_readout"})

    def __init__(self, mode, layers, *, readout=None, initial_state=None, module=None):
        if mode not in _GATES:
            raise ValueError(f"mode must be one of {sorted(_GATES)}; got {mode!r}")
        self.mode = mode
        self.module = module or mode
        self.layers = []
        for W_ih, W_hh, b_ih, b_hh in layers:
            W_ih, W_hh = (np.ascontiguousarray(w, dtype=float) for w in (W_ih, W_hh))
            self.layers.append({"W_ih": W_ih, "W_hh": W_hh, "W_ih_T": np.ascontiguousarray(W_ih.T),
                                "W_hh_T": np.ascontiguousarray(W_hh.T),
                                "b_ih": np.asarray(b_ih, dtype=float),
                                "b_hh": np.asarray(b_hh, dtype=float)})
        self.hidden_size = H = self.layers[0]["W_hh"].shape[1]
        self.n_inputs = self.layers[0]["W_ih"].shape[1]
        self.num_layers = len(self.layers)
        self._part = 2 * H if mode == "LSTM" else H
        self.n_units = self.num_layers * self._part
        names = ["h", "c"] if mode == "LSTM" else ["h"]
        if self.num_layers > 1:
            names = [f"{n}{k}" for k in range(self.num_layers) for n in names]
        self.state_parts = tuple((n, H) for n in names)
        if mode.startswith("RNN"):
            self._f, self._df = activations.get("tanh" if mode == "RNN_TANH" else "relu")
        h_range = (0.0, np.inf) if mode == "RNN_RELU" else (-1.0, 1.0)  # c: unbounded
        self.state_bounds = box(self.state_parts, [h_range if n.startswith("h") else None
                                                   for n, _ in self.state_parts])
        self._readout = readout
        self.n_outputs = H if readout is None else _output_size(readout, H)
        self.initial_state = (np.zeros(self.n_units) if initial_state is None
                              else np.asarray(initial_state, dtype=float))

    def describe(self):
        return {**super().describe(), "torch_module": self.module, "mode": self.mode,
                "num_layers": self.num_layers, "hidden_size": self.hidden_size}

    def rates(self, h):
        start = (self.num_layers - 1) * self._part
        return np.asarray(h, dtype=float)[..., start: start + self.hidden_size]

    def _step(self, h, x, noise):
        if noise is not None:
            raise ValueError("noise can be added to leaky and vanilla networks only")
        return self._forward(h, x, False)[0]

    def _jacobian(self, h, x):
        return self._forward(h, x, True)[1]

    def _input_jacobian(self, h, x):
        return self._forward(h, x, True)[2]

    def _forward(self, h, x, jac):
        """Next states and, with ``jac``, the Jacobians (B, N, N) and (B, N, n_in)."""
        B, part, H = len(h), self._part, self.hidden_size
        new = np.empty((B, self.n_units))
        J = np.zeros((B, self.n_units, self.n_units)) if jac else None
        Jx = np.empty((B, self.n_units, self.n_inputs)) if jac else None
        u = x
        for k, w in enumerate(self.layers):
            rows = slice(k * part, (k + 1) * part)
            s_next, A, Bu = _layer(self.mode, w, h[:, rows], u, jac, self._f_pair())
            new[:, rows] = s_next
            if jac:
                if k == 0:
                    J[:, rows, rows] = A
                    Jx[:, rows] = Bu
                else:  # u is the previous layer's new h: chain through it
                    below = slice((k - 1) * part, (k - 1) * part + H)
                    J[:, rows, : k * part] = np.matmul(Bu, J[:, below, : k * part])
                    J[:, rows, rows] = A
                    Jx[:, rows] = np.matmul(Bu, Jx[:, below])
            u = s_next[:, :H]
        return new, J, Jx

    def _f_pair(self):
        return (self._f, self._df) if self.mode.startswith("RNN") else None


def _layer(mode, w, s, u, jac, f_pair):
    """One layer's step from state ``s`` (B, part) and input ``u`` (B, n_u): the next state
    and, with ``jac``, ``d s'/d s`` (B, part, part) and ``d s'/d u`` (B, part, n_u)."""
    W_ih, W_hh = w["W_ih"], w["W_hh"]
    H = W_hh.shape[1]
    gi = u @ w["W_ih_T"] + w["b_ih"]
    h = s[:, :H]
    gh = h @ w["W_hh_T"] + w["b_hh"]
    diagonal = np.arange(H)
    if mode.startswith("RNN"):
        f, df = f_pair
        z = gi + gh
        new = f(z)
        if not jac:
            return new, None, None
        d = df(z)[:, :, None]
        return new, d * W_hh, d * W_ih
    if mode == "GRU":  # torch: r, z, n; n = tanh(i_n + r * (W_hn h + b_hn)); h' = n + z (h - n)
        r = expit(gi[:, :H] + gh[:, :H])
        z = expit(gi[:, H:2 * H] + gh[:, H:2 * H])
        a = gh[:, 2 * H:]
        n = np.tanh(gi[:, 2 * H:] + r * a)
        new = n + z * (h - n)
        if not jac:
            return new, None, None
        through_n = (1 - z) * (1 - n ** 2)
        # d h'/d(pre-activations of r, z, n), each (B, H); then times the gate's weight rows
        gates = np.stack([through_n * a * r * (1 - r), (h - n) * z * (1 - z), through_n], axis=1)
        A = _gate_product(gates[:, :2], W_hh[:2 * H]) + _gate_product(
            (through_n * r)[:, None], W_hh[2 * H:])
        A[:, diagonal, diagonal] += z
        return new, A, _gate_product(gates, W_ih)
    # LSTM: i, f, g, o; c' = f c + i g; h' = o tanh(c')
    c = s[:, H:]
    pre = gi + gh
    i, f, o = expit(pre[:, :H]), expit(pre[:, H:2 * H]), expit(pre[:, 3 * H:])
    g = np.tanh(pre[:, 2 * H:3 * H])
    c_new = f * c + i * g
    tc = np.tanh(c_new)
    new = np.concatenate([o * tc, c_new], axis=1)
    if not jac:
        return new, None, None
    dc = np.stack([g * i * (1 - i), c * f * (1 - f), i * (1 - g ** 2), np.zeros_like(c)], axis=1)
    through_c = o * (1 - tc ** 2)
    dh = dc * through_c[:, None]
    dh[:, 3] = tc * o * (1 - o)
    A = np.zeros((len(s), 2 * H, 2 * H))
    A[:, :H, :H] = _gate_product(dh, W_hh)
    A[:, H:, :H] = _gate_product(dc, W_hh)
    A[:, :H, H:][:, diagonal, diagonal] = through_c * f
    A[:, H:, H:][:, diagonal, diagonal] = f
    Bu = np.concatenate([_gate_product(dh, W_ih), _gate_product(dc, W_ih)], axis=1)
    return new, A, Bu


def _gate_product(d, W):
    """``sum_k diag(d[:, k]) W_k``: ``d`` (B, K, H) the slopes through each of K gates,
    ``W`` (K * H, n) their stacked weight rows; (B, H, n)."""
    B, K, H = d.shape
    return np.einsum("bkh,khn->bhn", d, W.reshape(K, H, -1), optimize=False)


# --- any step module, through torch.func --------------------------------------------------------

class TorchStepDynamics(Dynamics):
    """Any PyTorch module with the step ``forward(x, h) -> h_next``, differentiated by
    ``torch.func`` in float64.

    A deep copy of the module is converted with ``.double()`` and put in eval mode (the
    user's module is not touched); steps run on it without autograd, Jacobians with
    ``torch.func.vmap(torch.func.jacrev(...))`` (or, for a module that ``vmap`` cannot
    run, one backward pass per unit, which assumes the rows of a batch do not interact).

    Parameters
    ----------
    module : torch.nn.Module
        ``forward(x, h)`` with ``x`` (B, n_in) and ``h`` (B, N), returning ``h_next``
        (B, N). Tensors it creates must follow its inputs' dtype (``torch.zeros_like(h)``,
        ``h.new_zeros(...)``) and fixed tensors it holds must be parameters or buffers,
        so that ``.double()`` converts them.
    readout : torch.nn.Module, optional
        Applied to the state.
    n_inputs : int, optional
        Default: ``module.input_size``.
    initial_state : array_like of shape (N,), optional
        Zeros of ``module.hidden_size`` by default.
    """

    capabilities = frozenset({"state_readout"})

    def __init__(self, module, *, readout=None, n_inputs=None, initial_state=None):
        torch = _require_torch("from_torch")
        self.module = _float64_copy(module)
        self.module_name = _module_name(module)
        for key, value in self.module.state_dict().items():
            if value.is_floating_point() and not bool(torch.isfinite(value).all()):
                raise ModelError(f"{self.module_name} weight {key} has non-finite values "
                                 "(NaN or inf)")
        self.n_inputs = _size(n_inputs, getattr(module, "input_size", None), "n_inputs",
                              "input_size", module)
        if initial_state is not None:
            initial_state = _weights(initial_state, "initial_state", (None,), "(N,)")
            if initial_state.size == 0:
                raise ValueError("initial_state must have shape (N,) with N >= 1; got (0,)")
        N = _size(None if initial_state is None else len(initial_state),
                  getattr(module, "hidden_size", None), "initial_state (its length)",
                  "hidden_size", module)
        if initial_state is not None and len(initial_state) != N:
            raise ValueError(f"initial_state has {len(initial_state)} values but "
                             f"{self.module_name}.hidden_size is {N}")
        self.n_units = N
        self.state_parts = (("h", N),)
        self.initial_state = np.zeros(N) if initial_state is None else initial_state
        self._readout = _readout_from(readout, N)
        self.n_outputs = N if self._readout is None else _output_size(self._readout, N)
        self.reference = TorchReference(module, "step", (N,), readout=readout)
        self._check_step()

        def f(h, x):
            return self.module(x[None], h[None])[0]

        func = torch.func
        self._jac_h = func.vmap(func.jacrev(f, argnums=0))
        self._jac_x = func.vmap(func.jacrev(f, argnums=1))
        self._vmap = True
        probe_h = torch.as_tensor(self.initial_state[None].repeat(2, 0))
        probe_x = torch.zeros(2, self.n_inputs, dtype=torch.float64)
        try:
            self._jac_h(probe_h, probe_x)
        except Exception:  # torch.func cannot run this module (in-place ops, .item(), ...)
            self._vmap = False

    def describe(self):
        return {**super().describe(), "torch_module": self.module_name}

    def rates(self, h):
        return np.asarray(h, dtype=float)

    def _tensors(self, h, x):
        import torch

        return (torch.from_numpy(np.array(h, dtype=float)),
                torch.from_numpy(np.array(x, dtype=float)))

    def _step(self, h, x, noise):
        import torch

        if noise is not None:
            raise ValueError("noise can be added to leaky and vanilla networks only")
        h, x = self._tensors(h, x)
        with torch.no_grad():
            return self.module(x, h).numpy().copy()

    def _jacobian(self, h, x):
        if self._vmap:
            return self._jac_h(*self._tensors(h, x)).detach().numpy().copy()
        return self._autograd_jacobians(h, x)[0]

    def _input_jacobian(self, h, x):
        import torch

        if self._vmap:
            h, x = self._tensors(h, x)
            return self._jac_x(h, x).detach().numpy().copy()
        return self._autograd_jacobians(h, x)[1]

    def _autograd_jacobians(self, h, x):
        """Both Jacobians by one backward pass per unit (rows of a batch independent)."""
        import torch

        h, x = (t.clone().requires_grad_(True) for t in self._tensors(h, x))
        with torch.enable_grad():
            out = self.module(x, h)
            J = np.empty((len(h), self.n_units, self.n_units))
            Jx = np.empty((len(h), self.n_units, self.n_inputs))
            for i in range(self.n_units):
                gh, gx = torch.autograd.grad(out[:, i].sum(), (h, x), retain_graph=True,
                                             allow_unused=True)
                J[:, i] = 0.0 if gh is None else gh.numpy()
                Jx[:, i] = 0.0 if gx is None else gx.numpy()
        return J, Jx

    def _check_step(self, rtol=1e-5):
        """The float64 copy steps in float64, to (B, N), as the module itself does."""
        import torch

        rng = np.random.default_rng(0)
        h = self.initial_state + rng.normal(scale=0.5, size=(4, self.n_units))
        x = rng.normal(size=(4, self.n_inputs))
        name = self.module_name
        try:
            h_t, x_t = self._tensors(h, x)
            with torch.no_grad():
                out = self.module(x_t, h_t)
        except Exception as err:
            raise ModelError(f"{name}.forward(x, h) fails on x (B, {self.n_inputs}) and h "
                             f"(B, {self.n_units}) in float64: {_first_line(err)}; a step module "
                             f"returns h_next from forward(x, h), and keeps its fixed tensors "
                             f"as parameters or buffers so that .double() converts them") from err
        if not isinstance(out, torch.Tensor) or tuple(out.shape) != (4, self.n_units):
            what = (f"shape {tuple(out.shape)}" if isinstance(out, torch.Tensor)
                    else type(out).__name__)
            raise ModelError(f"{name}.forward(x, h) must return h_next alone, a tensor (B, "
                             f"{self.n_units}); it returned {what}")
        if out.dtype != torch.float64:
            raise ModelError(f"{name} computes in {out.dtype} after .double(): create tensors "
                             "with the dtype of the inputs (torch.zeros_like(h)) and keep fixed "
                             "tensors as parameters or buffers")
        _, ref = self.reference(h, x)
        scale = max(1.0, float(np.max(np.abs(ref))))
        error = float(np.max(np.abs(out.numpy() - ref))) / scale
        if not error <= rtol:
            raise ModelError(f"the float64 copy of {name} steps differently from the module "
                             f"itself ({error:.1e} relative): its forward must be deterministic "
                             "in eval mode and use no float32 constants")


# --- the module's own step, in its own precision ---------------------------------------------

class TorchReference:
    """A PyTorch module's own step in its own precision (float32 as trained).

    ``reference(h, x)`` returns ``(y, h_next)`` as float64 arrays for (B, N) states and
    (B, n_in) inputs: ``y`` is what the network emits (the last layer's ``h``, or the
    step module's new state), through the readout when there is one. Runs on a copy of
    the module in eval mode, on the CPU.

    Parameters
    ----------
    module : torch.nn.Module
    kind : {"stack", "cell", "step"}
        ``nn.RNN/GRU/LSTM``, their cells, or a step module.
    sizes : tuple of int
        The sizes of the state parts PyTorch takes (per layer for a stack: ``(H,)``,
        ``(H, H)`` for ``[h, c]``).
    lstm : bool
    num_layers : int
    batch_first : bool
    readout : torch.nn.Module, optional
    """

    def __init__(self, module, kind, sizes, *, lstm=False, num_layers=1, batch_first=False,
                 readout=None):
        self.module = _eval_copy(module)
        self.readout = None if readout is None else _eval_copy(readout)
        self.kind, self.sizes, self.lstm = kind, sizes, lstm
        self.num_layers, self.batch_first = num_layers, batch_first
        self.dtype = _dtype(module)

    def __call__(self, h, x):
        import torch

        h = torch.from_numpy(np.array(h, dtype=float)).to(self.dtype)
        x = torch.from_numpy(np.array(x, dtype=float)).to(self.dtype)
        with torch.no_grad():
            if self.kind == "step":
                new = self.module(x, h)
                out, parts = new, [new]
            elif self.kind == "cell":
                if self.lstm:
                    H = self.sizes[0]
                    parts = list(self.module(x, (h[:, :H], h[:, H:])))
                else:
                    parts = [self.module(x, h)]
                out = parts[0]
            else:
                out, parts = self._stack(h, x)
            if self.readout is not None:
                out = _call(self.readout, out.to(_dtype(self.readout)))
        new = torch.cat(parts, dim=1)
        return out.double().numpy().copy(), new.double().numpy().copy()

    def _stack(self, h, x):
        L, part = self.num_layers, sum(self.sizes)
        states = h.reshape(len(h), L, part).transpose(0, 1)  # (L, B, part)
        H = self.sizes[0]
        seq = x[:, None] if self.batch_first else x[None]
        if self.lstm:
            out, (hn, cn) = _call(self.module, seq, (states[..., :H].contiguous(),
                                                      states[..., H:].contiguous()))
            parts = [t for k in range(L) for t in (hn[k], cn[k])]
        else:
            out, hn = _call(self.module, seq, states.contiguous())
            parts = [hn[k] for k in range(L)]
        return (out[:, 0] if self.batch_first else out[0]), parts


class TorchReadout:
    """A PyTorch readout module run on a float64 copy: ``readout(rates)`` for rates of
    any leading shape (..., n) returns float64 outputs (..., n_out)."""

    def __init__(self, module):
        self.module = _float64_copy(module)
        self.name = _module_name(module)

    def __call__(self, rates):
        import torch

        r = np.asarray(rates, dtype=float)
        with torch.no_grad():
            y = _call(self.module, torch.from_numpy(np.array(r.reshape(-1, r.shape[-1]))))
        return y.numpy().reshape(*r.shape[:-1], -1).copy()


# --- helpers ------------------------------------------------------------------------------------

def _known_kind(module):
    """The name in :data:`KNOWN_MODULES` of a torch recurrent module (eager, or TorchScript of
    torch's own class), or None."""
    import torch

    nn = torch.nn
    if isinstance(module, torch.jit.ScriptModule):
        name = getattr(module, "original_name", None)
        try:
            qualified = module._c._type().qualified_name()
        except Exception:  # not every scripted object exposes its type
            return None
        return name if name in KNOWN_MODULES and "torch.nn.modules.rnn" in qualified else None
    for cls in (nn.RNN, nn.GRU, nn.LSTM, nn.RNNCell, nn.GRUCell, nn.LSTMCell):
        if isinstance(module, cls):  # a subclass that rewrites forward is a step module
            return cls.__name__ if type(module).forward is cls.forward else None
    return None


def _module_name(module):
    return getattr(module, "original_name", None) or type(module).__name__


def _recurrent_part(module):
    """``(recurrent module or None for a step module, default readout, layer name)``.

    In this order: a torch recurrent module itself; a model with one ``nn.RNN/GRU/LSTM``
    child; a step module (``forward`` requires exactly ``x`` and ``h``); a model with one
    cell child; a step module whose ``h`` has a default (``forward(x, h=None)``).
    """
    if _known_kind(module) is not None:
        return module, None, _module_name(module)
    children = list(module.named_children())
    recurrent = [k for k, (_, child) in enumerate(children) if _known_kind(child) is not None]
    sequence = [k for k in recurrent if not _known_kind(children[k][1]).endswith("Cell")]
    required, accepted = _arguments(module)
    if len(recurrent) == 1 and (sequence or required != 2):
        k = recurrent[0]
        following = [child for _, child in children[k + 1:]
                     if _module_name(child) not in _SKIPPED_CHILDREN][:1]
        readout = following[0] if following and _linear(following[0]) is not None else None
        return children[k][1], readout, children[k][0]
    if required == 2 or (not recurrent and required is not None and required <= 2 <= accepted):
        import torch

        own = getattr(module, "readout", None)
        return None, own if isinstance(own, torch.nn.Module) else None, _module_name(module)
    found = (f"{len(recurrent)} recurrent children ({', '.join(children[k][0] for k in recurrent)})"
             if recurrent else "no recurrent child")
    raise ValueError(f"cannot analyse {_module_name(module)}: it is not a torch recurrent module, "
                     f"its forward does not take (x, h), and it has {found}; dynan analyses "
                     f"{SUPPORTED}")


def _arguments(module):
    """How many positional arguments ``module.forward`` requires and accepts (None, 0 when
    it cannot tell)."""
    import torch

    if isinstance(module, torch.jit.ScriptModule):
        try:
            arguments = module.forward.schema.arguments[1:]
        except AttributeError:
            return None, 0
        return sum(not a.has_default_value() for a in arguments), len(arguments)
    try:
        parameters = inspect.signature(module.forward).parameters.values()
    except (TypeError, ValueError):
        return None, 0
    positional = [p for p in parameters if p.kind in (inspect.Parameter.POSITIONAL_ONLY,
                                                       inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    accepted = (float("inf") if any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in parameters)
                else len(positional))
    return sum(p.default is p.empty for p in positional), accepted


def _known_dynamics(rnn, readout, n_inputs, initial_state):
    """Closed-form dynamics of a torch recurrent module, with its reference."""
    kind = _known_kind(rnn)
    mode, layers, batch_first = _torch_weights(rnn, kind)
    H = layers[0][1].shape[1]
    n_in = layers[0][0].shape[1]
    if n_inputs is not None and int(n_inputs) != n_in:
        raise ValueError(f"n_inputs={n_inputs} but the {kind} takes {n_in} inputs")
    N = len(layers) * (2 * H if mode == "LSTM" else H)
    if initial_state is not None:
        initial_state = _weights(initial_state, "initial_state", (N,),
                                 f"({N},) for this {kind} (its layers' states concatenated)")
    linear = None if readout is None else _linear(readout)
    if readout is not None and linear is None:
        _check_readout_input(readout, H)
    if linear is not None and linear[0].shape[0] != H:
        raise ValueError(f"the readout takes {linear[0].shape[0]} values but the {kind}'s "
                         f"output (its last layer's h) has {H}")
    readout_np = None if readout is None else (Readout(*linear) if linear is not None
                                                else TorchReadout(readout))
    if mode.startswith("RNN") and len(layers) == 1 and (readout is None or linear is not None):
        W_ih, W_hh, b_ih, b_hh = layers[0]
        dynamics = LeakyDynamics(W_ih.T, W_hh.T, b_ih + b_hh, gamma=1.0,
                                 activation="tanh" if mode == "RNN_TANH" else "relu",
                                 readout=readout_np, initial_state=initial_state)
    else:
        dynamics = TorchRecurrentDynamics(mode, layers, readout=readout_np,
                                          initial_state=initial_state, module=kind)
    lstm = mode == "LSTM"
    dynamics.reference = TorchReference(
        rnn, "cell" if kind.endswith("Cell") else "stack", (H, H) if lstm else (H,), lstm=lstm,
        num_layers=len(layers), batch_first=bool(batch_first), readout=readout)
    return dynamics


def _torch_weights(rnn, kind):
    """``(mode, [(W_ih, W_hh, b_ih, b_hh) per layer], batch_first)`` in float64."""
    state = {k: v.detach().cpu().double().numpy() for k, v in rnn.state_dict().items()}
    for key, value in state.items():
        if not np.all(np.isfinite(value)):
            raise ModelError(f"{kind} weight {key} has non-finite values (NaN or inf)")
    if kind.endswith("Cell"):
        mode = {"GRUCell": "GRU", "LSTMCell": "LSTM"}.get(kind) or (
            "RNN_" + str(getattr(rnn, "nonlinearity", "tanh")).upper())
        suffixes, batch_first = [""], False
    else:
        if getattr(rnn, "bidirectional", False):
            raise ModelError(f"{kind} with bidirectional=True is not supported: dynan analyses "
                             "unidirectional networks (a bidirectional layer runs backwards in time)")
        if getattr(rnn, "proj_size", 0):
            raise ModelError(f"LSTM with proj_size={rnn.proj_size} is not supported: dynan "
                             "analyses LSTMs without projections")
        mode = str(rnn.mode)
        suffixes, batch_first = [f"_l{k}" for k in range(int(rnn.num_layers))], rnn.batch_first
    if mode not in _GATES:
        raise ModelError(f"{kind} with mode {mode!r} is not supported; dynan analyses {SUPPORTED}")
    layers = []
    for suffix in suffixes:
        W_ih, W_hh = state[f"weight_ih{suffix}"], state[f"weight_hh{suffix}"]
        zeros = np.zeros(W_hh.shape[0])
        layers.append((W_ih, W_hh, state.get(f"bias_ih{suffix}", zeros),
                       state.get(f"bias_hh{suffix}", zeros)))
    return mode, layers, batch_first


def _linear(module):
    """``(W, b)`` of an ``nn.Linear`` (eager or TorchScript) in dynan's orientation
    (W of shape (in, out)), or None for any other module."""
    import torch

    is_linear = (isinstance(module, torch.nn.Linear) and type(module).forward is torch.nn.Linear.forward
                 ) or (isinstance(module, torch.jit.ScriptModule)
                       and getattr(module, "original_name", None) == "Linear")
    if not is_linear:
        return None
    state = {k: v.detach().cpu().double().numpy() for k, v in module.state_dict().items()}
    W = state["weight"].T
    b = state.get("bias", np.zeros(W.shape[1]))
    if not (np.all(np.isfinite(W)) and np.all(np.isfinite(b))):
        raise ModelError("the readout's weights have non-finite values (NaN or inf)")
    return np.ascontiguousarray(W), b


def _readout_from(readout, n):
    if readout is None:
        return None
    linear = _linear(readout)
    if linear is not None:
        if linear[0].shape[0] != n:
            raise ValueError(f"the readout takes {linear[0].shape[0]} values but the state has {n}")
        return Readout(*linear)
    _check_readout_input(readout, n)
    return TorchReadout(readout)


def _check_readout_input(readout, n):
    try:
        TorchReadout(readout)(np.zeros((1, n)))
    except Exception as err:
        raise ValueError(f"the readout {_module_name(readout)} cannot be applied to the "
                         f"network's output (B, {n}): {_first_line(err)}") from err


def _output_size(readout, n):
    if isinstance(readout, Readout):
        return readout.W.shape[1]
    return int(readout(np.zeros((1, n))).shape[-1])


def _size(given, attribute, what, attribute_name, module):
    if given is not None:
        if attribute is not None and int(attribute) != int(given):
            raise ValueError(f"{what} gives {given} but {_module_name(module)}.{attribute_name} "
                             f"is {attribute}")
        return int(given)
    if attribute is None:
        raise ValueError(f"{_module_name(module)} has no {attribute_name} attribute: pass "
                         f"{what.split(' ')[0]}= to from_torch")
    return int(attribute)


def _float64_copy(module):
    """A float64, eval-mode CPU deep copy of ``module`` whose parameters need no gradients."""
    return _copy(module, float64=True)


def _eval_copy(module):
    """An eval-mode CPU deep copy of ``module``, in its own precision."""
    return _copy(module, float64=False)


def _copy(module, float64):
    import torch

    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore", UserWarning)  # .grad of script modules' parameters
        copied = copy.deepcopy(module).cpu()
        if float64:
            copied = copied.double()
        copied.eval()
    for p in copied.parameters():
        if p.is_leaf:  # a script module's deep copy holds non-leaf parameters
            p.requires_grad_(False)
    return copied


def _dtype(module):
    import torch

    for p in list(module.parameters()) + list(module.buffers()):
        if p.is_floating_point():
            return p.dtype
    return torch.float32


def _call(module, *args):
    """Call a module, also a TorchScript ``nn.RNN/GRU/LSTM``, whose forward is overloaded."""
    forward = getattr(module, "forward", None)
    if forward is None:
        return module.forward__0(*args)
    return module(*args)


def _first_line(err):
    text = str(err).strip()
    line = next((s.strip() for s in text.splitlines() if s.strip()), type(err).__name__)
    return line[:300]


def _is_torchscript(path):
    """A TorchScript archive: a zip file holding ``code/`` and ``constants.pkl``."""
    if not zipfile.is_zipfile(path):
        return False
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError):
        return False
    return any(n.endswith("/constants.pkl") for n in names) and any("/code/" in n for n in names)


def _read_state_dict(path, torch):
    """The ``state_dict`` in a file, read with ``weights_only=True``; a pickled module refused."""
    try:
        content = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        found = re.search(r"(?:GLOBAL|Unsupported class) ([\w.]+)", str(err))  # torch >= 2.4, older
        if found is None:  # not a pickle of objects: a damaged or foreign file
            raise ModelError(f"could not read {path} as a PyTorch file: "
                             f"{' '.join(str(err).split())[:200]}") from err
        raise ModelError(
            f"{path} holds a pickled Python object ({found.group(1)}; what torch.save(model) "
            "writes), which dynan does not load because unpickling runs code from the file: "
            "save model.state_dict() and pass its class (torch_class= / --torch-class "
            "module:ClassName), or save TorchScript (torch.jit.save(torch.jit.script(model), "
            "path))") from err
    except Exception as err:  # a file that is not a PyTorch file at all, or a damaged one
        raise ModelError(f"could not read {path} as a PyTorch file: {_first_line(err)}") from err
    def is_state_dict(d):
        return isinstance(d, dict) and d and all(isinstance(v, torch.Tensor) for v in d.values())

    if isinstance(content, dict) and not is_state_dict(content):
        for key in ("state_dict", "model_state_dict"):
            if is_state_dict(content.get(key)):
                return content[key]
    if not is_state_dict(content):
        raise ModelError(f"{path} holds a {type(content).__name__}, not a state_dict (a dict of "
                         "tensors, torch.save(model.state_dict(), path)) nor a TorchScript archive")
    return content


def _module_from_state_dict(path, state, torch_class):
    import torch

    if torch_class is None:
        raise ModelError(f"{path} holds weights alone (a state_dict): pass the model's class, "
                         "torch_class= (on the command line --torch-class module:ClassName), "
                         "one that constructs with no arguments")
    if isinstance(torch_class, str):
        torch_class = resolve_class(torch_class)
    if not (isinstance(torch_class, type) and issubclass(torch_class, torch.nn.Module)):
        raise ValueError(f"torch_class must be a torch.nn.Module subclass; got {torch_class!r}")
    try:
        module = torch_class()
    except TypeError as err:
        raise ModelError(f"{torch_class.__name__} must construct with no arguments (give its "
                         f"parameters defaults) to load a state_dict: {_first_line(err)}") from err
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as err:
        text = " ".join(str(err).split())
        raise ModelError(f"the weights in {path} do not fit {torch_class.__name__}: "
                         f"{text[:400]}") from err
    return module
