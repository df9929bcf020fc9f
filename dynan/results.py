"""The results file: dynan's HDF5 memory of one analysed model.

Every analysis stage writes into one HDF5 file whose layout is documented in
``docs/results-file.md`` (checked against a real file when the docs build) and versioned
by the root attribute ``dynan_schema``. Plain ``h5py`` reads it without dynan. New files are written all or nothing (into a
temporary file beside the target, renamed over it only on success), and each
stage's group is stored all or nothing (:meth:`Results.store`).
"""

import json
from pathlib import Path

import h5py
import numpy as np

from . import h5
from .h5 import JSON_ATTRS, SCHEMA_VERSION
from .stages import REGISTRY
from .tasks import condition_mask

MODES = ("r", "r+")


class TrialArray:
    """A (trials, ...) dataset in a results file, read lazily.

    Slicing reads only what it selects; ``np.asarray(a)`` reads everything.
    Made by :class:`Results`; may stand for a selection of the file's trials.

    Examples
    --------
    >>> import dynan
    >>> an = dynan.load(dynan.example_model("tdnms_leaky"))
    >>> res = an.record(dynan.tasks.tdnms(30, seed=0))
    >>> res.hidden
    <TrialArray /trials/hidden shape=(30, 200, 128) dtype=float32>
    >>> res.hidden[:5, 100].shape            # five trials at time bin 100: reads only those
    (5, 128)
    >>> np.asarray(res.select(trial_type="SL").hidden).shape
    (10, 200, 128)
    """

    def __init__(self, results, name, index=None):
        self._results, self._name = results, name
        self.index = index

    @property
    def dataset(self):
        """The dataset, looked up in the file as it is now (a store reopens the file)."""
        return self._results.file[self._name]

    @property
    def shape(self):
        n = self.dataset.shape[0] if self.index is None else len(self.index)
        return (n,) + self.dataset.shape[1:]

    @property
    def dtype(self):
        return self.dataset.dtype

    @property
    def ndim(self):
        return self.dataset.ndim

    def __len__(self):
        return self.shape[0]

    def __repr__(self):
        return f"<TrialArray {self.dataset.name} shape={self.shape} dtype={self.dtype}>"

    def __getitem__(self, key):
        key = key if isinstance(key, tuple) else (key,)
        first, rest = key[0], key[1:]
        if self.index is None and isinstance(first, slice):
            return self.dataset[key]
        rows = np.arange(len(self))[first]
        if self.index is not None:
            rows = self.index[rows]
        if np.ndim(rows) == 0:
            return self.dataset[(int(rows),) + rest]
        unique, inverse = np.unique(rows, return_inverse=True)
        if len(unique) == 0:
            return np.empty((0,) + self.dataset[(slice(0, 0),) + rest].shape[1:], self.dtype)
        return self.dataset[(unique,) + rest][inverse]

    def __array__(self, dtype=None, copy=None):
        return np.asarray(self[:], dtype=dtype)


class Results:
    """A results file, open for reading.

    Parameters
    ----------
    source : path-like or h5py.File
        A results file written by dynan.
    mode : {"r", "r+"}, default "r"
        ``"r+"`` also lets :meth:`store` add results.

    Attributes
    ----------
    file : h5py.File
        The open file, for anything the accessors below do not cover.

    Examples
    --------
    A recording written by :meth:`Analysis.record`, opened again:

    >>> import dynan, os, tempfile
    >>> an = dynan.load(dynan.example_model("tdnms_leaky"))
    >>> path = os.path.join(tempfile.mkdtemp(), "tdnms.h5")
    >>> an.record(dynan.tasks.tdnms(30, seed=0), path).close()
    >>> with dynan.Results(path) as res:
    ...     sl = res.select(trial_type="SL")
    ...     mean_sl = sl.hidden[:].mean(axis=0)
    >>> mean_sl.shape                                       # (time, units)
    (200, 128)
    """

    def __init__(self, source, mode="r", *, _index=None):
        self._parent = None  # a selection's: the Results it selects from
        self._opened = not isinstance(source, (h5py.File, Results))  # by this, from a path
        if isinstance(source, Results):
            self._parent = source
        elif isinstance(source, h5py.File):
            self._file = source
        else:
            if mode not in MODES:
                raise ValueError(f"mode must be one of {MODES}; got {mode!r}")
            path = Path(source)
            if not path.is_file():
                raise FileNotFoundError(f"no results file at {path}")
            if not h5py.is_hdf5(path):
                raise ValueError(f"{path} is not an HDF5 file")
            self._file = _open(path, mode)
        try:
            schema = self.file.attrs.get("dynan_schema")
        except Exception as err:  # h5py raises several types for a damaged header
            raise ValueError(f"{self.file.filename} is damaged and cannot be read "
                             f"({_detail(err)})") from err
        if schema is None:
            raise ValueError(f"{self.file.filename} is not a dynan results file (no dynan_schema attribute)")
        if int(schema) > SCHEMA_VERSION:
            raise ValueError(f"{self.file.filename} has results schema {schema}; this dynan reads "
                             f"up to {SCHEMA_VERSION}: upgrade dynan")
        self._index = _index

    @property
    def file(self):
        """The open ``h5py.File`` (a selection's is its whole file's)."""
        return self._file if self._parent is None else self._parent.file

    @property
    def path(self):
        """Path of the file (None when it lives in memory)."""
        return None if self.file.driver == "core" else Path(self.file.filename)

    @property
    def attrs(self):
        """The file's root attributes as Python values (JSON ones decoded)."""
        out = {}
        for key, value in self.file.attrs.items():
            value = value.tolist() if isinstance(value, np.ndarray | np.generic) else value
            out[key] = json.loads(value) if key in JSON_ATTRS else value
        return out

    def _trial_array(self, name):
        group = self.file["trials"]
        return TrialArray(self, f"trials/{name}", self._index) if name in group else None

    @property
    def inputs(self):
        """Inputs, (trials, time, n_in)."""
        return self._trial_array("inputs")

    @property
    def hidden(self):
        """Hidden states after each step, (trials, time, N)."""
        return self._trial_array("hidden")

    @property
    def outputs(self):
        """Network outputs, (trials, time, n_out)."""
        return self._trial_array("outputs")

    @property
    def targets(self):
        """Task targets, (trials, time, n_out), or None."""
        return self._trial_array("targets")

    @property
    def conditions(self):
        """The condition table: column name -> (trials,) array."""
        index = slice(None) if self._index is None else self._index
        group = self.file["trials/conditions"]
        return {name: h5.read_column(group[name], index) for name in group}

    @property
    def epochs(self):
        """Epoch bounds: name -> (trials, 2) ``[start, stop)`` bins."""
        index = slice(None) if self._index is None else self._index
        group = self.file["trials/epochs"]
        return {name: group[name][()][index] for name in group}

    @property
    def trial_types(self):
        """The distinct trial types, sorted."""
        return tuple(np.unique(self.conditions["trial_type"]).tolist())

    def get(self, name):
        """The result of stage ``name`` (see :data:`dynan.STAGES`), read from its group.

        Examples
        --------
        >>> import dynan
        >>> an = dynan.load(dynan.example_model("flipflop_leaky"))
        >>> res = an.record(dynan.tasks.flipflop(8, seed=0))
        >>> fps = an.fixed_points(n_inits=32)             # stored in the recording
        >>> res.get("fixed_points")
        <FixedPoints: 19 (8 stable, 11 saddle); 0 slow points>
        """
        if name not in REGISTRY:
            raise KeyError(f"no stage {name!r}; stages are {sorted(REGISTRY)}")
        return REGISTRY[name].result.read(self._group(name))

    def store(self, name, result):
        """Store ``result`` as group ``name``, replacing what was there, all or nothing.

        The file must be open for writing (``mode="r+"``, as :meth:`Analysis.record`
        opens it); nothing else in the file is changed. A file this object opened from
        a path is written by :func:`dynan.h5.replace_group` (closed, copied, stored into
        and put back, then reopened), so that even a kill leaves it whole; a handle you
        opened yourself, or a file in memory, is written in place.
        """
        self.require_writable()
        if not (self._opened and self.path is not None):
            return h5.store_group(self.file, name, result.write)
        path = self.path
        self.file.close()
        try:
            h5.replace_group(path, name, result.write)
        finally:
            self._file = _open(path, "r+")

    def require_writable(self):
        """Raise a ValueError that says how to reopen, unless the file is open for writing."""
        if self.file.mode != "r+":
            raise ValueError(f"{self.file.filename} is open read-only; open it with "
                             f"dynan.Results(path, mode='r+') to store results in it")

    def check(self):
        """Read everything once: the trials and every stored stage's result.

        Raises
        ------
        ValueError
            A group or dataset is missing or cannot be read (a truncated, damaged or
            incomplete file), naming it.

        Examples
        --------
        >>> import dynan
        >>> an = dynan.load(dynan.example_model("flipflop_leaky"))
        >>> an.record(dynan.tasks.flipflop(8, seed=0)).check()
        """
        where = self.file.filename
        try:
            missing = [name for name in REQUIRED if name not in self.file]
            if not missing:
                self.attrs
                self.file.visititems(_read_dataset)
                shapes = {name: self.file["trials"][name].shape
                          for name in ("inputs", "hidden", "outputs")}
                if any(len(shape) != 3 or shape[:2] != shapes["inputs"][:2]
                       for shape in shapes.values()):
                    raise ValueError(f"trial arrays of inconsistent shapes {shapes}")
                if {len(v) for v in self.conditions.values()} - {len(self)}:
                    raise ValueError("condition columns of the wrong length")
                for name in REGISTRY:
                    if name in self.file:
                        self.get(name)
        except Exception as err:  # any failure to read means a damaged file
            raise ValueError(f"{where} is damaged and cannot be read ({_detail(err)}); rerun "
                             "dynan analyze to make it again") from err
        if missing:
            raise ValueError(f"{where} lacks the group {missing[0]!r}: it is not a complete "
                             "dynan results file; rerun dynan analyze to make it again")

    def __contains__(self, name):
        return name in self.file

    def fixed_points(self, name="fixed_points"):
        """The fixed points stored under ``name`` (see :meth:`FixedPoints.save`)."""
        return REGISTRY["fixed_points"].result.read(self._group(name))

    def topology(self):
        """The fixed-point graph stored by the topology stage, as a :class:`networkx.DiGraph`
        (``get("topology")`` gives the branches too; see :class:`dynan.topology.Topology`)."""
        return self.get("topology").graph()

    def pca(self):
        """The PCA stored by :meth:`Analysis.pca`."""
        return self.get("pca")

    def spectrum(self):
        """The spectra stored by :meth:`Analysis.spectrum`."""
        return self.get("spectrum")

    def _group(self, name):
        if name not in self.file:
            raise KeyError(f"{self.file.filename} holds no {name!r}; groups: {sorted(self.file)}")
        return self.file[name]

    def select(self, **conditions):
        """The results of the trials whose conditions equal the given values.

        Examples
        --------
        >>> import dynan
        >>> an = dynan.load(dynan.example_model("tdnms_leaky"))
        >>> res = an.record(dynan.tasks.tdnms(30, seed=0))
        >>> res.select(trial_type="SL")
        <dynan.Results memory: 10 trials, types ['SL']>
        >>> res.select(trial_type="SL").hidden.shape
        (10, 200, 128)
        >>> len(res.select(go=True)), len(res.select(go=True, trial_type="SS"))
        (20, 0)
        """
        rows = np.flatnonzero(condition_mask(self.conditions, conditions))
        return Results(self, _index=rows if self._index is None else self._index[rows])

    def __len__(self):
        return self.file["trials/inputs"].shape[0] if self._index is None else len(self._index)

    def __repr__(self):
        where = self.path or "memory"
        return f"<dynan.Results {where}: {len(self)} trials, types {list(self.trial_types)}>"

    def close(self):
        """Close the file."""
        self.file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()



#: Groups and datasets every results file has.
REQUIRED = ("trials", "trials/inputs", "trials/hidden", "trials/outputs", "trials/conditions")


def _read_dataset(name, obj):
    """Read a dataset in full (for :meth:`Results.check`)."""
    if isinstance(obj, h5py.Dataset):
        try:
            obj[()]
        except Exception as err:
            raise ValueError(f"dataset {name!r} cannot be read: {err}") from err


def _open(path, mode):
    """``h5py.File(path, mode)``, with h5py's many-line errors as one line."""
    try:
        return h5py.File(path, mode)
    except OSError as err:
        if err.errno is not None or "unable to lock file" in str(err):
            raise  # permission, locking: the CLI describes those
        raise ValueError(f"{path} is a damaged HDF5 file (truncated or corrupt) and cannot be "
                         f"opened ({_detail(err)})") from err


def _detail(err):
    """An exception's text in one line, shortened."""
    return " ".join(str(err).split())[:200] or type(err).__name__
