"""Batch analysis of many networks with Dask: one machine by default, a cluster when asked.

Each model gets its own :meth:`~dynan.Analysis.analyze` run, as one Dask task, in its own
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
from contextlib import contextmanager, suppress
from pathlib import Path

from tqdm.auto import tqdm

from . import output
from .loading import task_from_card, file_sha256
from .stability import KINDS
from .summary import Summary

#: Columns of the summary table.
COLUMNS = ("path", "sha256", "status", "error", "task", "performance", "kind", "units", "gamma",
           "leak", "activation", *KINDS, "outside", "slow_points", "spectral_radius",
           "leading_time_constants", "time_constant_unit", "seconds", "folder")

#: A model with a time limit runs in a child process: ``dynan analyze``
#: (:func:`dynan.cli.run`), called once dynan is imported (and TensorFlow, when Keras
#: will load the model) and a line on stdout says so, so that the time limit leaves out
#: start-up. The child runs in a session of its own; on Linux it gets SIGTERM when the
#: worker that started it dies.
_CHILD = """\
import sys
if sys.platform == "linux":
    import ctypes, signal
    ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
from pathlib import Path
from dynan import backend, loading
if loading._read_plain(Path(sys.argv[2])) is None:  # argv: -c analyze MODEL ...
    backend.setup()
from dynan.cli import run
print("ready", flush=True)
run()
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
            _check_regular(listing, "a list of models must be a regular text file")
            lines = [line.strip() for line in listing.read_text().splitlines()]
            found += [str(listing.parent / line) if not os.path.isabs(line) else line
                      for line in lines if line and not line.startswith("#")]
        else:
            found.append(item)
    return list(dict.fromkeys(str(Path(f).resolve()) for f in found))  # workers may run elsewhere


#: What ``figures`` draws for each model: panels for :meth:`~dynan.Analysis.analyze`, or no figures.
FIGURES = {"none": [], "overview": ["overview"], "all": None}


#: Job schedulers that ``cluster`` starts Dask workers on (dask-jobqueue's classes), and
#: the command each submits jobs with.
SCHEDULERS = {"slurm": ("SLURMCluster", "sbatch"), "pbs": ("PBSCluster", "qsub")}
#: Each job's resources unless ``cluster_options`` say otherwise: one worker, one core.
JOB_DEFAULTS = {"cores": 1, "processes": 1, "memory": "4GB", "walltime": "01:00:00"}


def batch(models, out, *, task=None, workers=None, scheduler=None, cluster=None,
          cluster_options=None, n_trials=256, seed=0, n_inits=512,
          formats=("pdf", "svg", "png"), figures="overview", imports=(), progress=None,
          timeout=None, wait=False):
    """Analyse many networks, one results folder each, and tabulate them.

    Parameters
    ----------
    models : sequence of str or path-like
        Model files, glob patterns (``"runs/*/model.keras"``) or text files listing models.
        Each must be a regular file; the same file twice (by resolved path) counts once,
        and a file with the same content as an earlier one is a ``"duplicate"``.
    out : path-like
        Folder for one subfolder per model (``<stem>-<sha256[:8]>``), ``summary.csv``,
        ``index.html`` (a page linking each model's report) and ``plotly.min.js``, which
        the reports share (see :func:`dynan.report.write_report`; with ``timeout`` each
        report embeds its own):
        new, empty, or made by dynan (an earlier batch's, which is resumed); never one
        that holds or lies inside a model.
    task : str, optional
        Task of models that do not know theirs.
    workers : int, optional
        Worker processes of the local Dask cluster (default: one per core). Ignored with
        ``scheduler``.
    scheduler : str, optional
        Address of a running Dask scheduler (``tcp://host:8786``) to use instead of a
        local cluster.
    cluster : {"slurm", "pbs"}, optional
        Start the workers as jobs of this scheduler (through dask-jobqueue: ``pip install
        "dynan[cluster]"``), from its login node; ``workers`` jobs (default: one per
        model, at most 32), each as ``cluster_options`` say.
    cluster_options : dict, optional
        Keyword arguments of dask-jobqueue's cluster (``cores``, ``memory``, ``walltime``,
        ``queue``, ``account``, ``job_extra_directives`` ...), over :data:`JOB_DEFAULTS`.
    n_trials, seed, n_inits, formats
        As in :meth:`~dynan.Analysis.analyze`.
    figures : {"overview", "all", "none"}, default "overview"
        Each model's figures: the overview alone (the figures take most of an analysis),
        every panel, or none.
    imports : sequence of str
        Modules (names or ``.py`` paths) imported on every worker before its models
        load: the user's own cells (see :func:`dynan.user_modules.import_modules`).
    progress : bool, optional
        Progress bar over models; by default only on a terminal.
    timeout : float, optional
        Seconds one model's analysis may take (its process start-up not counted). Each
        model then runs in a child process (``dynan analyze``), which is stopped at the
        deadline (SIGTERM, SIGKILL 5 s later) and its partial work removed; its row is
        ``"timeout"``. The child process takes ``n_inits`` 512 and at least one format.
    wait : bool, default False
        When another dynan run is writing ``out``, wait for it instead of raising
        :class:`dynan.output.InUseError`.

    Returns
    -------
    list of dict
        The rows of ``summary.csv``, in the order of ``models``. When two or more models
        are analysed, ``comparison/`` holds their comparison (:mod:`dynan.compare`).

    Raises
    ------
    ValueError
        A model that is not a regular file, an ``out`` that holds or lies inside a model,
        an unknown ``figures``, or ``timeout`` with other ``n_inits``.
    FileExistsError
        ``out`` exists and is not an empty folder nor one made by dynan.
    dynan.output.InUseError
        Another dynan run is writing ``out`` (and ``wait`` is False).

    Examples
    --------
    Starts a Dask cluster and analyses every model in full (not run here); a model
    that fails has status ``"error"``, one analysed by an earlier run ``"skipped"``:

    >>> rows = batch(["sweep/*.keras"], "sweep-results", workers=2)   # doctest: +SKIP
    >>> [row["status"] for row in rows]                                # doctest: +SKIP
    ['done', 'done', 'error']
    """
    paths = expand_models(models)
    if not paths:
        raise ValueError("no models to analyse")
    for path in paths:
        _check_regular(path)
    if figures not in FIGURES:
        raise ValueError(f"figures must be one of {', '.join(FIGURES)}; got {figures!r}")
    if cluster is not None:
        job_cluster(cluster, cluster_options, start=False)  # checks, before any work
    if timeout is not None and n_inits != 512:
        raise ValueError("with a timeout every model runs as `dynan analyze`, which takes "
                         f"n_inits 512; got {n_inits}")
    out = Path(out)
    _check_out(out, paths)
    imports = [str(Path(m).resolve()) if m.endswith(".py") else m for m in map(str, imports)]
    formats = list(formats) if FIGURES[figures] != [] else []
    params = {"task": task, "n_trials": n_trials, "seed": seed, "n_inits": n_inits,
              "formats": formats, "panels": FIGURES[figures], "imports": imports}
    with output.exclusive(out, wait=wait):
        if not output.is_marked(out):
            out.mkdir(parents=True, exist_ok=True)
            output.mark(out, "batch")
        rows, todo = _plan(paths, out, params)
        started = None
        if todo:
            from .report import write_plotly_js

            write_plotly_js(out)  # one copy for every report
            bar = tqdm(total=len(paths), initial=len(paths) - len(todo), unit="model",
                       desc="batch", disable=None if progress is None else not progress)
            with bar, _quiet_dask():
                started = _run(todo, rows, out, params, timeout, workers, scheduler,
                               (cluster, cluster_options), bar)
        with _closing(started):
            table = [rows[path] for path in paths]
            _write_table(out / "summary.csv", table)
            _write_index(out, table)
            _compare(out, table, formats)
    return table


def _compare(out, table, formats):
    """Compare the analysed models into ``out/comparison`` (replacing an earlier one)."""
    from . import compare

    folders = dict.fromkeys(row["folder"] for row in table
                            if row["status"] in ("done", "skipped") and row.get("folder"))
    if len(folders) < 2:
        return
    comparison = compare.compare([out / folder for folder in folders], progress=False)
    compare.write(comparison, out / "comparison", formats=formats, overwrite=True)


def _write_index(out, table):
    """``index.html``: every model's row, linking its report where it has one."""
    from .report import write_index

    pages = [out / row["folder"] / "report.html" if row.get("folder") else None for row in table]
    write_index([{"name": Path(row["path"]).name, "status": row["status"],
                  "error": row.get("error", ""), "report": page if page and page.exists() else None}
                 for row, page in zip(table, pages)], out / "index.html")


def _check_regular(path, allowed="a model must be a regular .keras or .h5 file"):
    """Refuse a path that is not a regular file, before anything opens it (a FIFO would
    hang)."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        what = "does not exist"
    else:
        if stat.S_ISREG(mode):
            return
        what = ("is a folder" if stat.S_ISDIR(mode) else "is a FIFO" if stat.S_ISFIFO(mode)
                else "is a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
                else "is a socket" if stat.S_ISSOCK(mode) else "is not a regular file")
    raise ValueError(f"{path} {what}; {allowed}")


def _check_out(out, paths):
    """Refuse an ``out`` that holds or lies inside a model, or that exists and is neither
    an empty folder nor one made by dynan."""
    try:
        output.check_target(out, overwrite=True, inputs=paths)
    except FileExistsError:  # there, and not dynan's: only an empty folder will do
        if not out.is_dir() or any(out.iterdir()):
            raise FileExistsError(f"--out {out} exists and was not made by dynan (it has no "
                                  f"{output.MARKER} marker); choose a new or empty "
                                  "folder") from None


def _plan(paths, out, params):
    """The rows known before any analysis (skipped, duplicate, unreadable) and the
    models left to analyse."""
    rows, first, todo = {}, {}, []
    for path in paths:
        try:
            sha = file_sha256(path)
        except OSError as err:
            rows[path] = {"path": path, "status": "error", "error": f"{type(err).__name__}: {err}"}
            continue
        key = (sha, json.dumps(task_from_card(Path(path)), sort_keys=True))  # card: the task
        if key in first:
            rows[path] = {"path": path, "sha256": sha, "status": "duplicate",
                          "error": f"same content as {first[key]}",
                          "folder": _folder_name(first[key], sha)}
            continue
        first[key] = path
        rows[path] = _finished(path, sha, out, params)
        if rows[path] is None:
            todo.append((path, sha))
    return rows, todo


def job_cluster(kind, options=None, *, start=True):
    """A dask-jobqueue cluster of ``kind`` (:data:`SCHEDULERS`) with ``options`` over
    :data:`JOB_DEFAULTS`, not yet scaled; with ``start=False`` only the checks: that
    dask-jobqueue is installed and the scheduler's submit command is here.

    Examples
    --------
    >>> job_cluster("condor", start=False)
    Traceback (most recent call last):
    ...
    ValueError: cluster must be one of slurm, pbs; got 'condor'
    """
    import shutil

    if kind not in SCHEDULERS:
        raise ValueError(f"cluster must be one of {', '.join(SCHEDULERS)}; got {kind!r}")
    name, submit = SCHEDULERS[kind]
    try:
        import dask_jobqueue
    except ImportError:
        raise ValueError(f"--cluster {kind} needs dask-jobqueue: pip install \"dynan[cluster]\""
                         ) from None
    if shutil.which(submit) is None:
        raise ValueError(f"--cluster {kind} submits jobs with {submit}, which is not on this "
                         f"machine: run the batch on a {kind.upper()} login node")
    if start:
        return getattr(dask_jobqueue, name)(**{**JOB_DEFAULTS, **(options or {})})


def _run(todo, rows, out, params, timeout, workers, scheduler, jobs, bar):
    """Analyse ``todo`` (path, sha256) on a Dask cluster, filling ``rows``; returns the
    cluster it started, still open (None with ``scheduler``)."""
    from dask.distributed import Client, LocalCluster, as_completed

    cluster = None
    if jobs[0] is not None:
        cluster = job_cluster(*jobs)
        cluster.scale(jobs=workers or min(len(todo), 32))
    elif scheduler is None:
        cluster = LocalCluster(n_workers=workers or os.cpu_count(), threads_per_worker=1,
                               processes=True, host="127.0.0.1", dashboard_address=None,
                               silence_logs=logging.CRITICAL)
    try:
        with Client(cluster or scheduler) as client:
            futures = {client.submit(analyze_one, path, sha, str(out), params, timeout,
                                     pure=False): path for path, sha in todo}
            for future in as_completed(futures):
                rows[futures[future]] = future.result()
                bar.update(1)
    except BaseException:
        if cluster is not None:
            cluster.close()
        raise
    return cluster  # the caller closes it (:func:`_closing`)


@contextmanager
def _closing(cluster):
    """Close the cluster that :func:`_run` started (if any) while the block runs: its
    workers, with TensorFlow loaded, take seconds to exit. Waits for them at the end."""
    import threading

    closer = threading.Thread(target=cluster.close) if cluster is not None else None
    if closer is not None:
        closer.start()
    try:
        yield
    finally:
        if closer is not None:
            closer.join()


@contextmanager
def _quiet_dask():
    """Keep Dask's log lines (e.g. "Worker process still alive") off the terminal."""
    logger = logging.getLogger("distributed")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def analyze_one(path, sha, out, params, timeout=None):
    """Analyse one model (SHA-256 ``sha``) into its folder under ``out``; a summary row,
    errors included.

    Runs on a Dask worker: in its process, or with ``timeout`` in a child process stopped
    at the deadline (row status ``"timeout"``). Any exception becomes the row's ``error``.
    """
    folder = Path(out) / _folder_name(path, sha)
    row = {"path": path, "sha256": sha, "status": "error", "folder": folder.name}
    try:
        if timeout is None:
            _analyze_here(path, folder, params)
        else:
            _analyze_in_child(path, folder, params, timeout)
        return _row(path, Summary.read(folder / "summary.json"), "done", folder)
    except _Failed as err:
        row.update(status=err.status, error=str(err))
    except Exception as err:  # isolation: one model's failure is a row, not a crash
        row["error"] = f"{type(err).__name__}: {err}"
    return row


class _Failed(Exception):
    """A model's child process failed (``status`` "error") or ran out of time ("timeout")."""

    def __init__(self, message, status="error"):
        super().__init__(message)
        self.status = status


def _analyze_here(path, folder, params):
    from .loading import load
    from .pipeline import analyze
    from .report import PLOTLY_JS
    from .user_modules import import_modules

    import_modules(params["imports"])
    analyze(load(path), None, folder, task=params["task"], n_trials=params["n_trials"],
            seed=params["seed"], n_inits=params["n_inits"], overwrite=True,
            formats=tuple(params["formats"]), panels=params["panels"], progress=False,
            plotly_js=f"../{PLOTLY_JS}", batch_parameters=params).close()


def _analyze_in_child(path, folder, params, timeout):
    command = [sys.executable, "-c", _CHILD, "analyze", path, "--out", str(folder),
               "--overwrite", "--trials", str(params["n_trials"]), "--seed",
               str(params["seed"]), "--format", ",".join(params["formats"]) or "none",
               "--batch-parameters", json.dumps(params)]
    if params["panels"]:
        command += ["--panels", ",".join(params["panels"])]
    if params["task"] is not None:
        command += ["--task", params["task"]]
    for module in params["imports"]:
        command += ["--import", module]
    with subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, errors="replace",
                          start_new_session=True) as child:
        child.stdout.readline()  # "ready" (or nothing, if it ended): the clock starts now
        try:
            errors = child.communicate(timeout=timeout)[1]
        except subprocess.TimeoutExpired:
            _stop(child)
            for work in folder.parent.glob(f".{glob.escape(folder.name)}.*.tmp"):
                shutil.rmtree(work, ignore_errors=True)  # left by SIGKILL
            raise _Failed(f"took longer than --timeout {timeout:g} s", "timeout") from None
    if child.returncode != 0:
        lines = [line.strip() for line in errors.splitlines() if line.strip()]
        message = lines[-1] if lines else f"exited with code {child.returncode}"
        raise _Failed(message.removeprefix("dynan analyze: ").removeprefix("error: "))


def _stop(child):
    """End the child's process group: SIGTERM (dynan cleans up and exits), then SIGKILL."""
    with suppress(ProcessLookupError):
        os.killpg(child.pid, signal.SIGTERM)
    try:
        child.communicate(timeout=_GRACE)
    except subprocess.TimeoutExpired:
        with suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGKILL)
        child.communicate()


def _finished(path, sha, out, params):
    """The row of a model already analysed with these parameters, or None."""
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
