"""Batch analysis of many networks with Dask: one machine by default, a cluster when asked.

Each model gets its own :meth:`Analysis.analyze` run, as one Dask task, in its own
folder under the output folder; a summary table (CSV) collects one row per model, with
its ``status``:

``done``
    analysed by this run;
``skipped``
    its folder already holds a complete analysis of the same file with the same
    parameters, by an earlier run (runs are resumable);
``duplicate``
    the same content (SHA-256, and the same task from its card) as a model earlier in
    the list, which alone is analysed: the row names it and its ``folder``;
``error``
    it failed, and ``error`` says why; a failure never stops the other models;
``timeout``
    it took longer than ``timeout`` seconds and was stopped; the others go on.

Everything is checked before any work starts: every model must be a regular file, and
the output folder may not hold or lie inside one. The output folder is dynan's (see
:mod:`dynan.output`): a new or empty one is marked, a non-empty one must be dynan's
(an earlier batch's, to resume), and it is locked for the whole batch.
"""

import csv
import glob
import json
import logging
import os
import shutil
import signal
import stat
import subprocess
import sys
from contextlib import suppress
from pathlib import Path

from tqdm.auto import tqdm

from . import output
from .loading import _task_from_card, file_sha256
from .stability import KINDS
from .summary import Summary

#: Columns of the summary table.
COLUMNS = ("path", "sha256", "status", "error", "task", "performance", "kind", "units", "gamma",
           "leak", "activation", *KINDS, "slow_points", "spectral_radius",
           "leading_time_constants", "time_constant_unit", "seconds", "folder")

#: A model with a time limit runs in a child process: ``dynan analyze``
#: (:func:`dynan.cli.main`), started once TensorFlow is imported and a line on stdout
#: says so, so that the time limit leaves out start-up. On Linux the child gets SIGTERM
#: when the worker that started it dies (it runs in a session of its own).
_CHILD = """\
import sys
if sys.platform == "linux":
    import ctypes, signal
    ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
from dynan import backend
backend.setup()
print("ready", flush=True)
from dynan.cli import main
sys.exit(main(sys.argv[1:]))
"""

#: Seconds a timed-out child has to clean up after SIGTERM before SIGKILL.
_GRACE = 5
def expand_models(models):
    """Model paths from paths, glob patterns and text files that list models (one per line,
    ``#`` for comments), in order and without repeats.

    Returns absolute paths (the workers may run in other folders).

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> folder = Path(tempfile.mkdtemp())
    >>> for name in ("a.keras", "b.keras", "c.keras"):
    ...     (folder / name).touch()
    >>> _ = (folder / "first.txt").write_text("# analyse these first\\nc.keras\\n")
    >>> paths = expand_models([folder / "first.txt", folder / "*.keras"])
    >>> [Path(path).name for path in paths]
    ['c.keras', 'a.keras', 'b.keras']
    """
    found = []
    for item in models:
        item = str(item)
        if any(c in item for c in "*?["):
            matches = sorted(glob.glob(item, recursive=True))
            if not matches:
                raise FileNotFoundError(f"no model file matches {item!r}")
            found += matches
        elif item.endswith((".txt", ".lst")):
            listing = Path(item)
            lines = [line.strip() for line in listing.read_text().splitlines()]
            found += [str(listing.parent / line) if not os.path.isabs(line) else line
                      for line in lines if line and not line.startswith("#")]
        else:
            found.append(item)
    return list(dict.fromkeys(str(Path(f).resolve()) for f in found))  # workers may run elsewhere


@@BODY@@

def _folder_name(path, sha):
    return f"{Path(path).stem}-{sha[:8]}"


def _row(path, summary, status, folder):
    network = summary.network
    return {
        "path": path, "sha256": summary.model_sha256, "status": status, "error": "",
        "task": summary.task, "performance": summary.performance, "kind": network.get("kind"),
        "units": network.get("n_units"), "gamma": network.get("gamma"),
        "leak": network.get("leak"), "activation": network.get("activation"), **summary.counts,
        "spectral_radius": summary.spectral_radius,
        "leading_time_constants": " ".join(f"{t:.4g}" for t in summary.leading_time_constants),
        "time_constant_unit": summary.time_constant_unit,
        "seconds": summary.seconds["total"], "folder": Path(folder).name,
    }


def _write_table(path, rows):
    """Write the summary table all or nothing."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS, restval="")
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, path)
