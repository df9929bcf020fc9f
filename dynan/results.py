"""The results file: dynan's HDF5 memory of one analysed model.

Every analysis stage writes into one HDF5 file whose layout is documented in
README.md ("Results file") and versioned by the root attribute ``dynan_schema``.
Plain ``h5py`` reads it without dynan. Files are written all or nothing: into a
temporary file beside the target, renamed over it only on success.
"""

import json
import os
import shutil
import uuid
from contextlib import contextmanager
from pathlib import Path

import h5py
import numpy as np

from .tasks import condition_mask

SCHEMA_VERSION = 1


@contextmanager
def atomic_h5(path, *, overwrite=False):
    """Open a new HDF5 file for writing that appears at ``path`` only when complete.

    The file is written beside ``path`` under a hidden temporary name and renamed
    over ``path`` when the block ends without error; on any error (or a kill) an
    existing file at ``path`` is left exactly as it was.

    Parameters
    ----------
    path : path-like
    overwrite : bool, default False
        Replace an existing file; without it an existing file is an error.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; pass overwrite=True to replace it")
    if not path.parent.is_dir():
        raise FileNotFoundError(f"cannot write {path}: folder {path.parent} does not exist")
    # A new name, created by HDF5 itself: truncating an existing file would make ext4 force
    # its blocks out on close (auto_da_alloc), which costs more than the whole write.
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        with h5py.File(tmp, "x") as f:
            yield f
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


@contextmanager
def rewrite_h5(path):
    """Change an existing HDF5 file all or nothing: a copy beside it is opened for writing
    and renamed over ``path`` when the block ends without error."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no file at {path}")
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        shutil.copyfile(path, tmp)
        with h5py.File(tmp, "r+") as f:
            yield f
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def replace_group(parent, name, write):
    """Call ``write`` on a new group ``name`` under ``parent``, replacing one already there."""
    if name in parent:
        del parent[name]
    write(parent.create_group(name))


def write_column(group, name, values):
    """Write a 1-D column; text as UTF-8 strings, numbers and booleans as they are."""
    values = np.asarray(values)
    if values.dtype.kind in "USO":
        return group.create_dataset(name, data=values.astype(str).astype(object),
                                    dtype=h5py.string_dtype())
    return group.create_dataset(name, data=values)


def read_column(dataset, index=slice(None)):
    """Read a column written by :func:`write_column` (text back as ``str``)."""
    if h5py.check_string_dtype(dataset.dtype) is not None:
        return dataset.asstr()[()][index].astype(str)
    return dataset[()][index]


class TrialArray:
    """A (trials, ...) dataset in a results file, read lazily.

    Slicing reads only what it selects; ``np.asarray(a)`` reads everything.
    Made by :class:`Results`; may stand for a selection of the file's trials.

    Examples
    --------
    >>> res.hidden[:5, 100]          # five trials at time bin 100   # doctest: +SKIP
    """

    def __init__(self, dataset, index=None):
        self.dataset = dataset
        self.index = index

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

    Attributes
    ----------
    file : h5py.File
        The open file, for anything the accessors below do not cover.

    Examples
    --------
    >>> with dynan.Results("tdnms.h5") as res:                     # doctest: +SKIP
    ...     sl = res.select(trial_type="SL")
    ...     mean_sl = sl.hidden[:].mean(axis=0)
    """

    def __init__(self, source, *, _index=None):
        if isinstance(source, h5py.File):
            self.file = source
        else:
            path = Path(source)
            if not path.is_file():
                raise FileNotFoundError(f"no results file at {path}")
            if not h5py.is_hdf5(path):
                raise ValueError(f"{path} is not an HDF5 file")
            self.file = h5py.File(path, "r")
        schema = self.file.attrs.get("dynan_schema")
        if schema is None:
            raise ValueError(f"{self.file.filename} is not a dynan results file (no dynan_schema attribute)")
        if int(schema) > SCHEMA_VERSION:
            raise ValueError(f"{self.file.filename} has results schema {schema}; this dynan reads "
                             f"up to {SCHEMA_VERSION}: upgrade dynan")
        self._index = _index

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
        return TrialArray(group[name], self._index) if name in group else None

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
        return {name: read_column(group[name], index) for name in group}

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

    def fixed_points(self, name="fixed_points"):
        """The fixed points stored under ``name`` (see :meth:`FixedPoints.save`)."""
        from .fixed_points import FixedPoints

        return FixedPoints.read(self._group(name))

    def pca(self):
        """The PCA stored by :meth:`Analysis.pca`."""
        from .pca import TrialPCA

        return TrialPCA.read(self._group("pca"))

    def spectrum(self):
        """The spectra stored by :meth:`Analysis.spectrum`."""
        from .spectrum import Spectrum

        return Spectrum.read(self._group("spectrum"))

    def _group(self, name):
        if name not in self.file:
            raise KeyError(f"{self.file.filename} holds no {name!r}; groups: {sorted(self.file)}")
        return self.file[name]

    def select(self, **conditions):
        """The results of the trials whose conditions equal the given values.

        Examples
        --------
        >>> res.select(trial_type="SL").hidden.shape               # doctest: +SKIP
        (100, 200, 128)
        """
        rows = np.flatnonzero(condition_mask(self.conditions, conditions))
        return Results(self.file, _index=rows if self._index is None else self._index[rows])

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


#: Root attributes stored as JSON text.
JSON_ATTRS = ("task_params", "state_parts", "network")
