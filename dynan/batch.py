"""Batch analysis of many networks with Dask: one machine by default, a cluster when asked.

Each model gets its own :meth:`Analysis.analyze` run, as one Dask task, in its own
folder under the output folder; a summary table (CSV) collects one row per model.
Runs are resumable (a model whose folder already holds a complete analysis of the same
file with the same parameters is skipped) and isolated (a model that fails is reported
with its error and never stops the others).
"""

import csv
import glob
import os
from pathlib import Path

from tqdm.auto import tqdm

from .loading import file_sha256
from .stability import KINDS
from .summary import Summary

#: Columns of the summary table.
COLUMNS = ("path", "sha256", "status", "error", "task", "performance", "kind", "units", "gamma",
           "leak", "activation", *KINDS, "slow_points", "spectral_radius",
           "leading_time_constants", "time_constant_unit", "seconds", "folder")


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


def batch(models, out, *, task=None, workers=None, scheduler=None, n_trials=256, seed=0,
          n_inits=512, formats=("pdf", "svg", "png"), imports=(), progress=None):
    """Analyse many networks, one results folder each, and tabulate them.

    Parameters
    ----------
    models : sequence of str or path-like
        Model files, glob patterns (``"runs/*/model.keras"``) or text files listing models.
    out : path-like
        Folder for one subfolder per model (``<stem>-<sha256[:8]>``) and ``summary.csv``.
    task : str, optional
        Task of models that do not know theirs.
    workers : int, optional
        Worker processes of the local Dask cluster (default: one per core). Ignored with
        ``scheduler``.
    scheduler : str, optional
        Address of a running Dask scheduler (``tcp://host:8786``) to use instead of a
        local cluster.
    n_trials, seed, n_inits, formats
        As in :meth:`Analysis.analyze`.
    imports : sequence of str
        Modules (names or ``.py`` paths) imported on every worker before its models
        load: the user's own cells (see :func:`dynan.user_modules.import_modules`).
    progress : bool, optional
        Progress bar over models; by default only on a terminal.

    Returns
    -------
    list of dict
        The rows of ``summary.csv``, in the order of ``models``.

    Examples
    --------
    Starts a Dask cluster and analyses every model in full (not run here); a model
    that fails has status ``"error"``, one analysed by an earlier run ``"skipped"``:

    >>> rows = batch(["sweep/*.keras"], "sweep-results", workers=2)   # doctest: +SKIP
    >>> [row["status"] for row in rows]                                # doctest: +SKIP
    ['done', 'done', 'error']
    """
    from dask.distributed import Client, LocalCluster, as_completed

    paths = expand_models(models)
    if not paths:
        raise ValueError("no models to analyse")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    imports = [str(Path(m).resolve()) if m.endswith(".py") else m for m in map(str, imports)]
    params = {"task": task, "n_trials": n_trials, "seed": seed, "n_inits": n_inits,
              "formats": list(formats), "imports": imports}
    rows = {path: None for path in paths}
    todo = []
    for path in paths:
        row = _finished(path, out, params)
        if row is None:
            todo.append(path)
        else:
            rows[path] = row
    if todo:
        if scheduler is None:
            cluster = LocalCluster(n_workers=workers or os.cpu_count(), threads_per_worker=1,
                                   processes=True, host="127.0.0.1", dashboard_address=None)
            client = Client(cluster)
        else:
            cluster, client = None, Client(scheduler)
        try:
            futures = {client.submit(analyze_one, path, str(out), params, pure=False): path
                       for path in todo}
            bar = tqdm(total=len(paths), initial=len(paths) - len(todo), unit="model",
                       desc="batch", disable=None if progress is None else not progress)
            with bar:
                for future in as_completed(futures):
                    rows[futures[future]] = future.result()
                    bar.update(1)
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
    table = [rows[path] for path in paths]
    _write_table(out / "summary.csv", table)
    return table


def analyze_one(path, out, params):
    """Analyse one model into its folder under ``out``; a summary row, errors included.

    Runs on a Dask worker; any exception becomes the row's ``error``.
    """
    row = {"path": path, "status": "error"}
    try:
        row["sha256"] = file_sha256(path)
        folder = Path(out) / _folder_name(path, row["sha256"])
        row["folder"] = folder.name
        from .loading import load
        from .user_modules import import_modules

        import_modules(params["imports"])
        an = load(path)
        an.analyze(out=folder, task=params["task"], n_trials=params["n_trials"],
                   seed=params["seed"], n_inits=params["n_inits"], overwrite=True,
                   formats=tuple(params["formats"]), progress=False).close()
        summary = Summary.read(folder / "summary.json")
        summary.batch_parameters = params
        summary.write(folder / "summary.json")
        return _row(path, summary, "done", folder)
    except Exception as err:  # isolation: one model's failure is a row, not a crash
        row["error"] = f"{type(err).__name__}: {err}"
        return row


def _finished(path, out, params):
    """The row of a model already analysed with these parameters, or None."""
    try:
        sha = file_sha256(path)
    except OSError:
        return None
    folder = out / _folder_name(path, sha)
    try:
        summary = Summary.read(folder / "summary.json")
    except (OSError, ValueError, TypeError):
        return None
    if summary.model_sha256 != sha or summary.batch_parameters != params:
        return None
    return _row(path, summary, "skipped", folder)


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
