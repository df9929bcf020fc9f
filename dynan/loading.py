"""Turn a trained network into an :class:`~dynan.Analysis`: Keras model files or weight arrays.

Loading never executes code from a model file: Keras ``safe_mode`` stays on, so
``Lambda`` layers and other pickled Python code are refused.
"""

import hashlib
import json
import re
import zipfile
import zlib
from pathlib import Path

import numpy as np

from . import activations
from .analysis import Analysis
from .dynamics import (CellDynamics, KerasCellReference, LeakyDynamics, Readout,
                       check_leak_args)
from .errors import ModelError
from .simulate import real_array

SUPPORTED_LAYERS = (
    "keras.layers.SimpleRNN, GRU and LSTM, dynan.layers.LeakyRNN, the seed notebook's "
    "LeakyRNN (leaky>LeakyRNN), and keras.layers.RNN around any cell whose states are vectors"
)


def load(path, *, layer=None):
    """Load a trained Keras model for analysis.

    Parameters
    ----------
    path : str or path-like
        A ``.keras`` archive or a legacy ``.h5`` full-model file (``model.save``).
    layer : str, optional
        Name of the recurrent layer to analyse; needed when the model has several.

    Returns
    -------
    Analysis
        Its ``dynamics`` is the recurrent layer's update map; the readout is the
        ``Dense`` layer right after the recurrent layer, if there is one. Models
        with layers before the recurrent one are analysed from the recurrent
        layer's own inputs.

    Raises
    ------
    FileNotFoundError
        No file at ``path``.
    ModelError
        Not a Keras model file, no (or an unsupported) recurrent layer, several
        recurrent layers and no ``layer=``, or non-finite weights.

    Notes
    -----
    Supported: Keras ``SimpleRNN``, ``GRU``, ``LSTM``, :class:`dynan.layers.LeakyRNN`,
    the seed notebook's ``LeakyRNN`` (read without its code; its noise is kept as
    ``dynamics.noise_std`` and used only when a run asks for noise), and
    ``keras.layers.RNN`` around a user's cell, whose module must be imported first
    so that its class is registered. Leaky and vanilla cells with a standard
    activation get closed-form dynamics; the others TensorFlow autodiff. A plain
    network (input, one of those cells, at most one ``Dense``, in a chain) is read from
    its ``.keras`` archive without importing Keras or TensorFlow; its
    ``dynamics.reference`` loads the model through Keras when first called.

    Examples
    --------
    >>> import dynan, numpy as np
    >>> an = dynan.load(dynan.example_model("flipflop_leaky"))   # or your "model.keras"
    >>> an
    <Analysis from 'flipflop_leaky.keras': LeakyDynamics, 64 units, 3 inputs, 3 outputs>
    >>> an.dynamics.jacobian(np.zeros(64), np.zeros(3)).shape
    (64, 64)
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no model file at {path}")
    _check_model_file(path)
    plain = _read_plain(path)
    if plain is not None and layer in (None, plain[0]):
        dynamics = plain[1]
        dynamics.reference = _KerasReference(path, plain[0])
        return _analysis(path, dynamics, plain[0])
    return _load_keras(path, layer)


def _load_keras(path, layer):
    """:func:`load` through Keras's own loading."""
    from . import layers  # sets up Keras before it is imported

    import keras

    try:
        model = keras.saving.load_model(
            path, custom_objects=layers.SEED_NOTEBOOK_OBJECTS, compile=False, safe_mode=True)
    except Exception as err:  # Keras raises many types; all mean "cannot read this model"
        raise ModelError(_load_error(path, str(err))) from err
    rnn = _recurrent_layer(model, layer)
    readout_layer = _dense_after(model, rnn)
    for lay in (rnn, readout_layer):
        for w in lay.weights if lay is not None else ():
            if not np.all(np.isfinite(keras.ops.convert_to_numpy(w))):
                raise ModelError(f"{path}: weight {w.path} has non-finite values (NaN or inf)")
    dynamics = dynamics_from_layer(rnn, readout=None if readout_layer is None
                                   else _readout_from_dense(readout_layer))
    dynamics.reference = KerasCellReference(rnn.cell, readout_layer)
    return _analysis(path, dynamics, rnn.name)


def _analysis(path, dynamics, layer_name):
    task, task_params = task_from_card(path)
    return Analysis(dynamics, source=path, sha256=file_sha256(path), layer_name=layer_name,
                    task=task, task_params=task_params)


#: The recurrent layers :func:`_read_plain` reads without Keras: (module, class, registered
#: name) of their config, and whether they are leaky.
_PLAIN_RECURRENT = {("dynan.layers", "LeakyRNN", "dynan>LeakyRNN"): True,
                    ("keras.layers", "SimpleRNN", None): False}


def _read_plain(path):
    """``(layer name, LeakyDynamics)`` of a plain network read straight from its ``.keras``
    archive, without Keras: input -> :class:`dynan.layers.LeakyRNN` or ``SimpleRNN`` with
    a standard activation -> at most one ``Dense`` readout, in a chain, ``Sequential``
    or functional. Importing Keras (and TensorFlow) takes seconds, more than analysing
    a small network. None for any other model, which Keras loads."""
    import h5py

    if path.suffix.lower() != ".keras":
        return None
    try:
        with zipfile.ZipFile(path) as archive:
            layers = _chain(json.loads(archive.read("config.json")))
            if layers is None:
                return None
            with archive.open("model.weights.h5") as weights, h5py.File(weights, "r") as f:
                groups = _weight_groups(f)
        return None if groups is None else _plain_dynamics(layers, groups)
    except (OSError, KeyError, ValueError, TypeError, AttributeError, zipfile.BadZipFile):
        return None  # damaged, or out of range: Keras's loading says what is wrong


def _plain_dynamics(layers, groups):
    rnn, dense = layers[0], (layers[1] if len(layers) > 1 else None)
    key = (rnn.get("module"), rnn.get("class_name"), rnn.get("registered_name"))
    cfg = rnn.get("config", {})
    leak = {}
    if _PLAIN_RECURRENT.get(key):  # out of range: a ValueError, and Keras's loading says why
        leak = {name: cfg.get(name) for name in ("gamma", "leak", "noise_std")}
        check_leak_args(leak["gamma"], leak["noise_std"], leak["leak"])
    cells = [v for g, v in groups.items() if g[1] == "cell"]
    denses = [v for g, v in groups.items() if g[1] is None]
    if (key not in _PLAIN_RECURRENT or cfg.get("go_backwards")
            or not _standard(cfg.get("activation")) or len(cells) != 1
            or len(denses) != (dense is not None)):
        return None
    n = cfg.get("units")
    W_in, W_rec, *b = cells[0]  # a ValueError when fewer than two
    if (W_rec.shape != (n, n) or W_in.shape[1:] != (n,) or [x.shape for x in b] != [(n,)] * len(b)
            or len(b) != bool(cfg.get("use_bias")) or not _finite(cells[0])):
        return None  # not finite: Keras's loading names the weight
    readout = None
    if dense is not None:
        readout = _plain_readout(dense, denses[0], n)
        if readout is None:
            return None
    return cfg.get("name"), LeakyDynamics(W_in, W_rec, b[0] if b else np.zeros(n),
                                          activation=cfg["activation"], readout=readout, **leak)


def _standard(activation):
    return isinstance(activation, str) and activation in activations.ACTIVATIONS


def _finite(arrays):
    return all(np.all(np.isfinite(a)) for a in arrays)


def _chain(config):
    """The layers after the input of a ``Sequential`` or functional model that is one
    chain (each layer fed by the one before, the last one the output), or None."""
    inner = config.get("config", {})
    layers = inner.get("layers", [])
    if not layers or layers[0].get("class_name") != "InputLayer":
        return None
    if config.get("class_name") == "Functional":
        previous = layers[0].get("name")
        for lay in layers[1:]:
            nodes = lay.get("inbound_nodes", [])
            args = nodes[0].get("args", []) if len(nodes) == 1 else []
            if (len(args) != 1 or not isinstance(args[0], dict)
                    or args[0].get("config", {}).get("keras_history", [None])[0] != previous
                    or any(v not in (None, False) for v in nodes[0].get("kwargs", {}).values())):
                return None
            previous = lay.get("name")
        if inner.get("output_layers") not in ([previous, 0, 0], [[previous, 0, 0]]):
            return None
    elif config.get("class_name") != "Sequential":
        return None
    return layers[1:] if len(layers) in (2, 3) else None


def _weight_groups(f):
    """The weights of each layer of a ``model.weights.h5``, ``{(group, "cell" or None):
    [arrays in order]}``; None when it holds weights elsewhere."""
    import h5py

    groups, found = {}, []
    layers = f.get("layers", {})
    layers.visititems(lambda name, obj: found.append(name) if isinstance(obj, h5py.Dataset) else None)
    for name, group in layers.items():
        for part in ("cell", None):
            where = group.get(f"{part}/vars" if part else "vars", {})
            if len(where):
                groups[name, part] = [np.asarray(where[k], dtype=float) for k in sorted(where, key=int)]
    return groups if sum(map(len, groups.values())) == len(found) else None


def _plain_readout(layer, weights, n):
    """The :class:`~dynan.dynamics.Readout` of a ``Dense`` layer's config and weights, or
    None for another layer or a Dense with another activation."""
    cfg = layer.get("config", {})
    W, *b = weights
    units = cfg.get("units")
    if ((layer.get("module"), layer.get("class_name")) != ("keras.layers", "Dense")
            or not _standard(cfg.get("activation")) or W.shape != (n, units)
            or [x.shape for x in b] != [(units,)] * len(b) or len(b) != bool(cfg.get("use_bias"))
            or not _finite(weights)):
        return None
    return Readout(W, b[0] if b else np.zeros(units), activations.ACTIVATIONS[cfg["activation"]][0])


class _KerasReference:
    """The trained cell's own step (:class:`~dynan.dynamics.KerasCellReference`) of a model
    that :func:`load` read without Keras: Keras loads the model at the first call."""

    def __init__(self, path, layer):
        self.path, self.layer = path, layer
        self._step = None

    def __call__(self, h, x):
        if self._step is None:
            self._step = _load_keras(self.path, self.layer).dynamics.reference
        return self._step(h, x)


def from_weights(W_in, W_rec, b, *, gamma=1.0, activation="tanh", leak="rate",
                 W_out=None, b_out=None, h0=None):
    """Analyse a leaky or vanilla network given as plain arrays.

    For networks trained in other frameworks. Keras orientation (row vectors)::

        z = x @ W_in + h @ W_rec + b
        h_next = (1 - gamma) * h + gamma * activation(z)        (leak="rate")
        y = h @ W_out + b_out

    PsychRNN and most column-vector code store ``W_rec`` as (post, pre), the
    transpose of this: pass ``W_rec.T`` (and ``W_in.T``, ``W_out.T``).

    Parameters
    ----------
    W_in : array_like of shape (n_in, N)
    W_rec : array_like of shape (N, N)
    b : array_like of shape (N,)
    gamma : float in (0, 1], default 1.0
        Time step over time constant; 1 is a vanilla RNN.
    activation : str, default "tanh"
        One of :data:`dynan.activations.ACTIVATIONS`.
    leak : {"rate", "current"}, default "rate"
        Where the time-average sits; see :class:`dynan.dynamics.LeakyDynamics`.
    W_out : array_like of shape (N, n_out), optional
    b_out : array_like of shape (n_out,), optional
        Zeros when ``W_out`` is given without it.
    h0 : array_like of shape (N,), optional
        Initial state of every trial; zeros by default.

    Returns
    -------
    Analysis

    Examples
    --------
    >>> import numpy as np, dynan
    >>> an = dynan.from_weights(np.ones((1, 3)), 0.5 * np.eye(3), np.zeros(3), gamma=0.1)
    >>> an.dynamics.n_units
    3
    """
    W_rec = _weights(W_rec, "W_rec", (None, None), "(N, N)")
    n = W_rec.shape[0]
    if W_rec.shape != (n, n) or n == 0:
        raise ValueError(f"W_rec must be square, (N, N) with N >= 1 units; got {W_rec.shape}")
    W_in = _weights(W_in, "W_in", (None, n), f"(n_in, {n})")
    b = _weights(b, "b", (n,))
    check_leak_args(gamma, None, leak)
    activations.get(activation)
    readout = None
    if W_out is not None:
        W_out = _weights(W_out, "W_out", (n, None), f"({n}, n_out)")
        b_out = np.zeros(W_out.shape[1]) if b_out is None else _weights(
            b_out, "b_out", (W_out.shape[1],))
        readout = Readout(W_out, b_out)
    elif b_out is not None:
        raise ValueError("b_out was given without W_out")
    h0 = None if h0 is None else _weights(h0, "h0", (n,))
    dynamics = LeakyDynamics(W_in, W_rec, b, gamma=gamma, activation=activation, leak=leak,
                             readout=readout, initial_state=h0)
    return Analysis(dynamics)


def dynamics_from_layer(rnn, readout=None):
    """The :class:`~dynan.dynamics.Dynamics` of a built Keras recurrent layer.

    Parameters
    ----------
    rnn : keras.layers.RNN
    readout : Readout, optional

    Returns
    -------
    LeakyDynamics or CellDynamics
    """
    import keras

    from .layers import LeakyRNNCell

    cell = rnn.cell
    sizes = keras.tree.flatten(cell.state_size)
    if rnn.go_backwards or not all(isinstance(s, int) for s in sizes):
        raise ModelError(f"layer {rnn.name!r} ({type(rnn).__name__}) is not supported "
                         f"(backwards or non-vector states); dynan analyses {SUPPORTED_LAYERS}")
    n_inputs = rnn.input.shape[-1]
    h0 = np.concatenate([keras.ops.convert_to_numpy(s)[0] for s in rnn.get_initial_state(1)])
    activation = _activation_name(getattr(cell, "activation", None))
    if isinstance(cell, LeakyRNNCell) or type(cell) is keras.layers.SimpleRNNCell:
        if activation in activations.ACTIVATIONS:
            W_in, W_rec = (keras.ops.convert_to_numpy(w) for w in (cell.kernel, cell.recurrent_kernel))
            b = np.zeros(cell.units) if cell.bias is None else keras.ops.convert_to_numpy(cell.bias)
            leaky = isinstance(cell, LeakyRNNCell)
            return LeakyDynamics(
                W_in, W_rec, b, activation=activation, readout=readout, initial_state=h0,
                gamma=cell.gamma if leaky else 1.0, leak=cell.leak if leaky else "rate",
                noise_std=cell.noise_std if leaky else 0.0)
    return CellDynamics(cell, n_inputs, readout=readout, initial_state=h0)


def example_model(name):
    """Path of a bundled example model (see ``data/README.md`` for their cards).

    Parameters
    ----------
    name : str
        ``"tdnms_leaky"``, ``"flipflop_leaky"``, ``"integrator_leaky"`` or
        ``"integrator_current"``.

    Examples
    --------
    >>> import dynan
    >>> dynan.example_model("flipflop_leaky").name
    'flipflop_leaky.keras'
    >>> an = dynan.load(dynan.example_model("flipflop_leaky"))
    >>> an.task, an.task_params                          # from the card beside the model
    ('flipflop', {'n_bits': 3, 'n_time': 100, 'pulse_prob': 0.05, 'dt': 0.01})
    """
    from importlib.resources import files

    folder = files("dynan.data")
    names = sorted(p.name.removesuffix(".keras") for p in folder.iterdir() if p.name.endswith(".keras"))
    if name not in names:
        raise ValueError(f"no example model {name!r}; choose one of {names}")
    return Path(str(folder / f"{name}.keras"))


def _load_error(path, text):
    """One line for Keras's many-line loading errors; names the class to import when one
    is missing."""
    missing = re.search(r"Could not locate class '([\w.]+)'", text)
    if missing:
        name = missing.group(1)
        module = re.search(rf"'module': '([\w.]+)', 'class_name': '{re.escape(name)}'", text)
        where = f" (module {module.group(1)!r})" if module else ""
        return (f"{path} uses the class {name!r}{where}, which is not imported: pass "
                f"--import MODULE (a name or a .py path), or import it before dynan.load")
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return f"could not load the Keras model in {path}: {first[:400]}"


def task_from_card(path):
    """The task named in the model's card (``NAME.json`` beside it), if there is one."""
    card = path.with_suffix(".json")
    try:
        content = json.loads(card.read_text())
        return str(content["task"]), dict(content.get("task_params", {}))
    except (OSError, ValueError, KeyError, TypeError):
        return None, {}


def file_sha256(path):
    """SHA-256 hex digest of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _check_model_file(path):
    """Refuse what is not a Keras model file, and complex weights (which Keras would cast
    to real without a word)."""
    import h5py

    suffix = path.suffix.lower()
    if suffix == ".keras" and zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as archive:
                if "config.json" in archive.namelist():
                    if "model.weights.h5" in archive.namelist():
                        with archive.open("model.weights.h5") as weights, \
                                h5py.File(weights, "r") as f:
                            _check_real(path, f)
                    return
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as err:
            raise ModelError(f"{path} is a damaged .keras archive: "
                             f"{' '.join(str(err).split())[:200]}") from err
    elif suffix in (".h5", ".hdf5"):
        if h5py.is_hdf5(path):
            with h5py.File(path, "r") as f:
                if "model_config" in f.attrs:
                    _check_real(path, f)
                    return
    raise ModelError(
        f"{path} is not a Keras model file: expected a .keras archive or a legacy .h5 "
        "full-model file written by model.save(); for weights alone use dynan.from_weights")


def _check_real(path, f):
    """Refuse a weights file with complex datasets."""
    import h5py

    def visit(name, obj):
        if isinstance(obj, h5py.Dataset) and obj.dtype.kind == "c":
            raise ModelError(f"{path}: weight {name} is complex ({obj.dtype}); dynan analyses "
                             "real networks")

    f.visititems(visit)


def _recurrent_layer(model, name):
    import keras

    recurrent = [lay for lay in model.layers
                 if isinstance(lay, (keras.layers.RNN, keras.layers.Bidirectional))]
    if name is not None:
        names = [lay.name for lay in model.layers]
        if name not in names:
            raise ModelError(f"the model has no layer named {name!r}; its layers are {names}")
        rnn = model.get_layer(name)
        if rnn not in recurrent:
            raise ModelError(f"layer {name!r} is a {type(rnn).__name__}, not a recurrent layer; "
                             f"dynan analyses {SUPPORTED_LAYERS}")
    elif not recurrent:
        raise ModelError(f"the model has no recurrent layer (its layers are "
                         f"{[lay.name for lay in model.layers]}); dynan analyses {SUPPORTED_LAYERS}")
    elif len(recurrent) > 1:
        raise ModelError(f"the model has {len(recurrent)} recurrent layers "
                         f"{[lay.name for lay in recurrent]}; choose one with layer=NAME")
    else:
        rnn = recurrent[0]
    if not isinstance(rnn, keras.layers.RNN):
        raise ModelError(f"layer {rnn.name!r} ({type(rnn).__name__}) is not supported; "
                         f"dynan analyses {SUPPORTED_LAYERS}")
    return rnn


def _dense_after(model, rnn):
    """The Dense (or TimeDistributed Dense) layer fed by ``rnn``, if any."""
    import keras

    if isinstance(model, keras.Sequential):
        following = model.layers[model.layers.index(rnn) + 1:][:1]
    else:
        following = [lay for lay in model.layers if lay is not rnn and lay.input is rnn.output]
    for lay in following:
        inner = lay.layer if isinstance(lay, keras.layers.TimeDistributed) else lay
        return inner if isinstance(inner, keras.layers.Dense) else None
    return None


def _readout_from_dense(dense):
    import keras

    W = keras.ops.convert_to_numpy(dense.kernel).astype(float)
    b = (np.zeros(W.shape[1]) if dense.bias is None
         else keras.ops.convert_to_numpy(dense.bias).astype(float))
    name = _activation_name(dense.activation)
    if name in activations.ACTIVATIONS:
        fn = activations.ACTIVATIONS[name][0]
    else:
        def fn(z, keras_fn=dense.activation):
            return keras.ops.convert_to_numpy(keras_fn(z)).astype(float)
    return Readout(W, b, fn)


def _activation_name(fn):
    import keras

    if fn is None:
        return None
    name = keras.activations.serialize(fn)
    return name if isinstance(name, str) else None


def _weights(value, name, shape, shape_text=None):
    """``value`` as a finite real float array of ``shape`` (None matches any size)."""
    a = real_array(value, name)
    if a.ndim != len(shape) or any(s is not None and s != d for s, d in zip(shape, a.shape)):
        expected = shape_text or str(tuple(shape)).replace("None", "any")
        raise ValueError(f"{name} must have shape {expected}; got {a.shape}")
    return a
