"""Output folders: dynan writes only folders it made, one writer at a time, never over its inputs.

Every output folder dynan makes holds a marker file, :data:`MARKER`; ``overwrite``
replaces only a folder that has it. While a run writes an output folder, a lock file
beside it (``.NAME.lock``, via :mod:`filelock`) keeps every other dynan run out: a second
writer fails at once with the first one's PID, or waits for it with ``wait=True``.
"""

import os
import shutil
import uuid
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

#: File that marks a folder as made by dynan (its content: what made it).
MARKER = ".dynan"


class InUseError(OSError):
    """An output folder that another dynan process is writing."""


def mark(folder, what):
    """Mark ``folder`` as made by dynan (``what``: the command that made it)."""
    (Path(folder) / MARKER).write_text(f"made by dynan {what}\n")


def is_marked(folder):
    """Whether ``folder`` was made by dynan."""
    return (Path(folder) / MARKER).is_file()


def check_target(out, *, overwrite=False, inputs=()):
    """Refuse an output folder that would replace anything dynan did not make.

    Parameters
    ----------
    out : path-like
        The output folder.
    overwrite : bool
        Whether an existing ``out`` may be replaced; it must then be a folder made by dynan.
    inputs : sequence of path-like
        Input files (models) that must survive: ``out`` may not be one of them, be or
        contain the folder that holds one, or lie inside one.

    Raises
    ------
    FileExistsError
        ``out`` exists and may not be replaced.
    ValueError
        ``out`` would hold, replace or lie inside an input.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> models = Path(tempfile.mkdtemp())
    >>> (models / "m.keras").touch()
    >>> check_target(models / "m-results", inputs=[models / "m.keras"])   # beside: fine
    >>> check_target(models, overwrite=True, inputs=[models / "m.keras"])
    Traceback (most recent call last):
    ...
    ValueError: --out ... holds the input model ...m.keras; choose an output folder outside ...
    """
    out = Path(out).resolve()
    for source in inputs:
        source = Path(source).resolve()
        if out == source or out in source.parents:
            raise ValueError(f"--out {out} holds the input model {source}; choose an output "
                             f"folder outside {source.parent}")
        if source in out.parents:
            raise ValueError(f"--out {out} lies inside the input model {source}; choose an "
                             "output folder elsewhere")
    if not os.path.lexists(out):
        return
    if not overwrite:
        raise FileExistsError(f"{out} exists; pass --overwrite (overwrite=True) to replace it")
    if not out.is_dir() or not is_marked(out):
        raise FileExistsError(f"{out} was not made by dynan (it has no {MARKER} marker); "
                              "--overwrite replaces only dynan's own output folders: choose "
                              "a new --out")


@contextmanager
def exclusive(out, *, wait=False):
    """Hold the lock of output folder ``out`` for the block.

    Parameters
    ----------
    out : path-like
    wait : bool, default False
        Wait for another writer to finish instead of failing at once.

    Raises
    ------
    InUseError
        Another process holds the lock (and ``wait`` is False).

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> out = Path(tempfile.mkdtemp()) / "results"
    >>> with exclusive(out):
    ...     pass
    """
    out = Path(out).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    path = out.with_name(f".{out.name}.lock")
    owner = out.with_name(f".{out.name}.lock.pid")
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o644))  # the OS's own error if it cannot
    lock = FileLock(path, timeout=-1 if wait else 0, thread_local=False)
    try:
        lock.acquire()
    except Timeout:
        try:
            pid = owner.read_text().strip() or "?"
        except OSError:
            pid = "?"
        raise InUseError(f"{out} is in use by PID {pid} (another dynan run is writing it); "
                         "wait for it to finish, or pass --wait") from None
    try:
        owner.write_text(f"{os.getpid()}\n")
        yield out
    finally:  # the lock file stays: removing it would let a waiting writer lock a stale copy
        owner.unlink(missing_ok=True)
        lock.release()


@contextmanager
def staged(out, what):
    """A hidden work folder beside ``out`` for the block to fill; when the block ends
    without an error it is marked (``what`` made it) and put at ``out``, replacing an
    older ``out`` only then. Whatever happens, the work folder is gone afterwards.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> out = Path(tempfile.mkdtemp()) / "results"
    >>> with staged(out, "compare") as work:
    ...     _ = (work / "table.csv").write_text("a,b\\n")
    >>> sorted(p.name for p in out.iterdir())
    ['.dynan', 'table.csv']
    """
    out = Path(out)
    work = out.with_name(f".{out.name}.{uuid.uuid4().hex[:12]}.tmp")
    work.mkdir(parents=True)
    try:
        yield work
        mark(work, what)
        if out.exists():
            old = out.with_name(f".{out.name}.{uuid.uuid4().hex[:12]}.old")
            os.replace(out, old)
            os.replace(work, out)
            shutil.rmtree(old)
        else:
            os.replace(work, out)
    finally:
        if work.exists():
            shutil.rmtree(work)
