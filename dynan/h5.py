"""Low-level HDF5 helpers every result uses: columns, new files all or nothing, groups
stored all or nothing.

Nothing here knows about stages or results; result classes and :class:`dynan.Results`
build on it. Nothing is pickled: datasets and attributes only.
"""

import os
import uuid
from contextlib import contextmanager
from pathlib import Path

import h5py
import numpy as np

#: Version of the results-file layout (root attribute ``dynan_schema``).
SCHEMA_VERSION = 1
#: Root attributes stored as JSON text.
JSON_ATTRS = ("task_params", "state_parts", "network")


@contextmanager
def new_file(path, *, overwrite=False):
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
        # free space is tracked across sessions, so groups stored again reuse their space
        with h5py.File(tmp, "x", fs_strategy="fsm", fs_persist=True) as f:
            f.attrs["dynan_schema"] = SCHEMA_VERSION
            try:
                yield f
            except BaseException:
                # HDF5 flushes its caches on close; on a full disk that flush fails inside
                # the library. The file is going anyway: empty it first, so nothing is left
                # to flush and the space comes back now.
                os.truncate(tmp, 0)
                raise
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def store_group(parent, name, write):
    """Call ``write`` on a new group ``name`` under ``parent``, replacing one already there,
    all or nothing against errors.

    The group is written under a temporary name and takes ``name`` only once complete
    (an error on the way removes it and leaves the old group as it was). The file is
    changed in place and flushed: for a file that is being made (:func:`new_file`) or
    lives in memory. HDF5 is not safe against a kill in the middle of a write; a file that
    exists goes through :func:`replace_group`.
    """
    tmp = f".{name}.{uuid.uuid4().hex[:8]}.tmp"
    try:
        write(parent.create_group(tmp))
        if name in parent:
            del parent[name]
        parent.move(tmp, name)
    finally:
        if tmp in parent:
            del parent[tmp]
    parent.file.flush()


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


def replace_group(path, name, write):
    """:func:`store_group` into the file at ``path``, safe against errors and kills alike.

    The group is stored into a copy of the file beside it, which then replaces the file
    (``os.replace``): whatever happens, the file at ``path`` is the old one or the new
    one, never a mix. The file must not be open for writing elsewhere.
    """
    import shutil

    path = Path(path)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        shutil.copyfile(path, tmp)
        shutil.copymode(path, tmp)
        with h5py.File(tmp, "r+") as f:
            store_group(f, name, write)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


class Table:
    """What a result of per-row columns and arrays needs to be stored: ``write`` and
    ``read`` from three class attributes.

    A dataclass subclass lists ``COLUMNS`` (1-D, text or numbers, written with
    :func:`write_column`) and ``ARRAYS`` (plain datasets), and has a ``dt`` field, stored
    as an attribute with its ``DESCRIPTION``.
    """

    COLUMNS = ()
    ARRAYS = ()
    DESCRIPTION = ""

    def write(self, group):
        """Write as plain datasets (no pickle)."""
        for name in self.COLUMNS:
            write_column(group, name, getattr(self, name))
        for name in self.ARRAYS:
            group.create_dataset(name, data=getattr(self, name))
        group.attrs.update({"dt": self.dt, "description": self.DESCRIPTION})

    @classmethod
    def read(cls, group):
        """Read what :meth:`write` wrote."""
        return cls(**{name: read_column(group[name]) for name in group},
                   dt=float(group.attrs["dt"]))
