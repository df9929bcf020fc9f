"""The ``dynan`` command line: ``analyze``, ``figures`` and ``info``."""

import argparse
import contextlib
import errno
import json
import os
import re
import signal
import sys
import threading
import traceback
import warnings
from pathlib import Path

from .version import __version__

FORMATS = ("pdf", "svg", "png")


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors in one line (no usage block)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser():
    """The argument parser of the ``dynan`` command."""
    parser = _Parser(
        prog="dynan",
        description="Dynamical-systems analysis of trained recurrent networks: record "
                    "trajectories, PCA by trial type, fixed and slow points, linearizations.",
    )
    parser.add_argument("--version", action="version", version=f"dynan {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    analyze = commands.add_parser(
        "analyze", help="analyse one trained network: results file, figures, summary.json",
        description="Record trials, PCA by trial type, spectra, fixed points and figure panels "
                    "for one network, into one folder.")
    analyze.add_argument("model", nargs="?", help="a .keras or .h5 model file, or a PyTorch "
                         ".pt/.pth (a state_dict with --torch-class, or TorchScript) (default: "
                         "the bundled tDNMS network)")
    analyze.add_argument("--task", help="task of the model, if it does not know it: "
                         "tdnms, flipflop or integrator")
    analyze.add_argument("--out", default="dynan-results", help="output folder "
                         "(default: %(default)s)")
    analyze.add_argument("--trials", type=_positive_int, default=256, help="trials to record "
                         "(default: %(default)s)")
    analyze.add_argument("--seed", type=int, default=0, help="seed of trials and starts")
    analyze.add_argument("--format", default=",".join(FORMATS), type=_formats,
                         help="figure formats, or none (default: %(default)s)")
    analyze.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    # a batch's child process: the batch's parameters, into the summary (JSON)
    analyze.add_argument("--batch-parameters", type=json.loads, help=argparse.SUPPRESS)
    analyze.add_argument("--torch-class", metavar="MODULE:CLASS", help="for a PyTorch "
                         "state_dict (.pt, .pth): the model's class, constructed with no "
                         "arguments (import its module with --import); a TorchScript archive "
                         "needs none")
    _panels_option(analyze)
    _import_option(analyze)

    batch = commands.add_parser(
        "batch", help="analyse many networks with Dask, one results folder each, plus a table",
        description="Run `analyze` for every model (paths, globs or text files listing them) on "
                    "a local Dask cluster, or on a running one with --scheduler; write one folder "
                    "per model and summary.csv. Finished models are skipped on a rerun; a model "
                    "that fails is reported in the table and never stops the others.")
    batch.add_argument("models", nargs="+", help="model files, glob patterns or .txt lists")
    batch.add_argument("--out", required=True, help="output folder")
    batch.add_argument("--task", help="task of models that do not know theirs")
    batch.add_argument("--workers", type=int, help="local worker processes (default: one per core)")
    batch.add_argument("--scheduler", help="address of a running Dask scheduler, "
                       "e.g. tcp://127.0.0.1:8786")
    batch.add_argument("--cluster", choices=("slurm", "pbs"), help="start the workers as "
                       "jobs of this scheduler (from its login node; needs dynan[cluster]); "
                       "--workers jobs")
    batch.add_argument("--cluster-option", dest="cluster_options", action="append", default=[],
                       metavar="KEY=VALUE", type=_key_value, help="a job's resources, e.g. "
                       "memory=16GB, walltime=02:00:00, queue=short; can be repeated")
    batch.add_argument("--trials", type=_positive_int, default=256, help="trials per model (default: %(default)s)")
    batch.add_argument("--seed", type=int, default=0, help="seed of trials and starts")
    batch.add_argument("--format", default=",".join(FORMATS), type=_formats,
                       help="figure formats (default: %(default)s)")
    batch.add_argument("--figures", default="overview", choices=("none", "overview", "all"),
                       help="figures of each model: its overview, every panel, or none "
                       "(default: %(default)s)")
    batch.add_argument("--timeout", type=_positive_seconds, help="seconds one model may "
                       "take; a model that takes longer is recorded as timed out and the "
                       "others go on (default: no limit)")
    _import_option(batch)

    figures = commands.add_parser("figures", help="draw the figure panels of a results file",
                                  description="Redraw every panel and the overview from a "
                                              "results file (no TensorFlow needed).")
    figures.add_argument("results", help="a results file (.h5)")
    figures.add_argument("--format", default=",".join(FORMATS), type=_formats,
                         help="figure formats (default: %(default)s)")
    figures.add_argument("--out", help="output folder (default: figures/ beside the file)")
    _panels_option(figures)
    _import_option(figures)

    report = commands.add_parser("report", help="write the HTML report of a results file",
                                 description="Write report.html: the summary tables, every "
                                             "panel and an interactive 3-D view of the state "
                                             "space, in one self-contained page.")
    report.add_argument("results", help="a results file (.h5)")
    report.add_argument("--out", help="the page to write (default: report.html beside the file)")

    compare = commands.add_parser(
        "compare", help="compare analysed networks: distances, an MDS map, shared structure",
        description="Read results files (or analyze and batch folders) and write, per metric, "
                    "the distances between the networks (comparison.h5, distances_<metric>.csv), "
                    "a table of the networks with their fixed-point structure (models.csv) and "
                    "an MDS map (embedding.*). Nothing is recomputed.")
    compare.add_argument("results", nargs="+", help="results files, analyze or batch folders, "
                         "or glob patterns")
    compare.add_argument("--out", required=True, help="output folder")
    compare.add_argument("--metric", default="topology", help="metric of the MDS map: "
                         "fixed_points, topology, cca, procrustes, or dsa (computed only when "
                         "chosen; needs dynan[dsa]) (default: %(default)s)")
    compare.add_argument("--color-by", default="task", help="column of models.csv that colours "
                         "the map: task, kind, topology_class, or a group of --pattern "
                         "(default: %(default)s)")
    compare.add_argument("--pattern", help="regular expression with named groups matched "
                         "against model file names, e.g. 'seed(?P<seed>\\d+)'; each group "
                         "becomes a column")
    compare.add_argument("--format", default=",".join(FORMATS), type=_formats,
                         help="formats of the map (default: %(default)s)")
    compare.add_argument("--overwrite", action="store_true", help="replace an existing --out")

    info = commands.add_parser("info", help="summarise a results file",
                               description="Model, trials, PCs, fixed points by stability and "
                                           "spectral radius of a results file.")
    info.add_argument("results", help="a results file (.h5)")
    for command in (analyze, batch, figures, report, compare, info):
        command.add_argument("--debug", action="store_true",
                             help="show the traceback of an error, not only its line")
    for command in (analyze, batch, compare):
        command.add_argument("--wait", action="store_true", help="when another dynan run is "
                             "writing --out, wait for it instead of failing at once")
    return parser


def _import_option(parser):
    parser.add_argument("--import", dest="imports", action="append", default=[],
                        metavar="MODULE", help="import a module (a name or a .py path) first, "
                        "e.g. the one that defines your own cell; can be repeated")


def _key_value(text):
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"must be KEY=VALUE; got {text!r}")
    value = value.strip()
    return key.strip(), int(value) if value.isdigit() else value


def _positive_int(text):
    if not text.strip().isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1; got {text!r}")
    return int(text)


def _positive_seconds(text):
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds; got {text!r}")
    return value


def _panels_option(command):
    command.add_argument("--panels", type=_panels, help="panels to draw, comma-separated "
                         "(default: every panel and the overview)")


def _panels(text):
    from .figures import check_panels

    try:
        return check_panels([p.strip() for p in text.split(",") if p.strip()])
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _formats(text):
    if text.strip().lower() == "none":
        return ()
    formats = tuple(f.strip().lower() for f in text.split(",") if f.strip())
    unknown = sorted(set(formats) - set(FORMATS))
    if unknown or not formats:
        raise argparse.ArgumentTypeError(f"unknown format {', '.join(unknown) or repr(text)}; "
                                         f"choose from {', '.join(FORMATS)}, or none")
    return formats


def main(argv=None):
    """Run the ``dynan`` command; returns its exit code.

    0 on success; 2 for a user mistake or an OS error (one line on stderr: the problem,
    the value and what is allowed); 1 for an internal error; 130 after Ctrl-C (SIGINT),
    143 after SIGTERM. ``--debug`` adds the traceback.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    # dynan has no warnings of its own; others' are not the user's (nor its child processes')
    warnings.simplefilter("ignore")
    os.environ["PYTHONWARNINGS"] = "ignore"
    try:
        with _stop_on_signals():
            return COMMANDS[args.command](args)
    except BrokenPipeError:  # the reader of stdout went away (`dynan info F | head`): fine
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (KeyboardInterrupt, Terminated) as err:
        code = 143 if isinstance(err, Terminated) else 130
        what = "terminated" if code == 143 else "interrupted"
        _fail(args, f"{what}; temporary files removed, earlier results left as they were")
        return code
    except USER_ERRORS as err:
        _fail(args, f"error: {describe_error(err)}")
        return 2
    except Exception as err:
        cause = _system_error_behind(err)
        if cause is not None:  # e.g. a library failing while it cleans up after a full disk
            _fail(args, f"error: {describe_error(cause)}")
            return 2
        _fail(args, f"internal error: {type(err).__name__}: {_first_line(err)} (a bug in "
                    "dynan: rerun with --debug and report the traceback)")
        return 1


def run():
    """The console script: :func:`main`, then exit. After an interrupt the process ends at
    once (``os._exit``; everything is already cleaned up), skipping TensorFlow's second-long
    teardown."""
    code = main()
    if code in (130, 143):
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


#: Exceptions that mean a mistake in what dynan was given, or a refusal by the system.
USER_ERRORS = (OSError, ValueError, KeyError, EOFError, MemoryError)


class Terminated(BaseException):
    """Raised in the main thread by SIGTERM, so that cleanup runs as for Ctrl-C."""


@contextlib.contextmanager
def _stop_on_signals():
    """SIGTERM raises :class:`Terminated` in the main thread (as SIGINT raises
    KeyboardInterrupt), so that cleanup runs; and an interrupt that Python would swallow,
    raised inside a weakref callback or a ``__del__`` (where exceptions are only printed),
    is signalled again, so that the run still stops."""
    def handler(signum, frame):
        raise Terminated()

    def unraisable(info):
        if info.exc_type is not None and issubclass(info.exc_type, (KeyboardInterrupt, Terminated)):
            signum = signal.SIGTERM if issubclass(info.exc_type, Terminated) else signal.SIGINT
            # a moment later, from another thread: not inside this callback again
            threading.Timer(0.05, os.kill, (os.getpid(), signum)).start()
        else:
            hook(info)

    previous = signal.signal(signal.SIGTERM, handler)
    hook, sys.unraisablehook = sys.unraisablehook, unraisable
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
        sys.unraisablehook = hook


def _system_error_behind(err):
    """The OS error (one with an errno) that ``err`` was raised while handling, if any."""
    seen = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        if isinstance(err, OSError) and err.errno is not None:
            return err
        err = err.__cause__ or err.__context__
    return None


def _fail(args, message):
    if args.debug:
        traceback.print_exc()
    print(f"dynan {args.command}: {message}", file=sys.stderr)


def describe_error(err):
    """One line for a user error or OS error: what went wrong, where, and what to do.

    Examples
    --------
    >>> import errno
    >>> describe_error(OSError(errno.ENOSPC, "No space left on device", "/data/out"))
    'no space left on device while writing /data/out: free some space or choose another --out; earlier results were left as they were'
    >>> describe_error(KeyError("no stage 'x'"))
    "no stage 'x'"
    """
    if isinstance(err, KeyError) and err.args:
        return str(err.args[0])
    if isinstance(err, OSError) and err.errno is not None:  # the system's, not dynan's own
        code = err.errno
        where = err.filename or _filename_in_text(str(err)) or "the output"
        if code == errno.ENOSPC:
            return (f"no space left on device while writing {where}: free some space or choose "
                    "another --out; earlier results were left as they were")
        if code in (errno.EACCES, errno.EPERM):
            return f"permission denied: {where}: choose a file or folder you may read and write"
        if code == errno.EROFS:
            return f"read-only file system: {where}: choose an --out on a writable file system"
        if code in (errno.EAGAIN, errno.EWOULDBLOCK) or "unable to lock file" in str(err):
            return (f"{where} is locked by another process: wait for it to finish, "
                    "or close the file there")
        if code == errno.EEXIST:
            return f"{where} exists and is not a folder: choose another --out"
        if code == errno.ENOTDIR:
            return f"not a folder: {where}: part of the path is a file"
        if code == errno.EISDIR:
            return f"{where} is a folder; a file is needed here"
    if isinstance(err, OSError) and err.strerror and err.filename:
        return f"{err.strerror.lower()}: {err.filename}"
    return _first_line(err)


def _first_line(err):
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    return (lines[0] if lines else type(err).__name__)[:500]


def _filename_in_text(text):
    found = re.search(r"filename = '([^']+)'", text)
    return found.group(1) if found else None


def _analyze(args):
    import dynan

    from .output import check_target
    from .pipeline import analyze
    from .summary import Summary
    from .user_modules import import_modules

    model = Path(args.model) if args.model else dynan.example_model("tdnms_leaky")
    # what can be checked without the model first: a mistake costs no TensorFlow start
    if not model.is_file():
        raise FileNotFoundError(f"no model file at {model}")
    if args.task is not None and args.task not in dynan.tasks.TASKS:
        raise ValueError(f"unknown task {args.task!r}; choose one of {sorted(dynan.tasks.TASKS)}")
    check_target(args.out, overwrite=args.overwrite, inputs=[model])
    torch = model.suffix.lower() in (".pt", ".pth") or args.torch_class
    import_modules(args.imports, keras=not torch)
    if torch:
        from .torch_networks import load_torch

        an = load_torch(model, torch_class=args.torch_class)
    else:
        an = dynan.load(model)
    with analyze(an, out=args.out, task=args.task, n_trials=args.trials, seed=args.seed,
                 overwrite=args.overwrite, formats=args.format, panels=args.panels,
                 wait=args.wait, batch_parameters=args.batch_parameters) as res:
        summary = Summary.read(Path(args.out) / "summary.json")
        print(f"analysed {Path(model).name}: results in {res.path}, figures in "
              f"{Path(args.out) / 'figures'}, report {Path(args.out) / 'report.html'}, "
              f"{summary.seconds['total']:.1f} s")
        print(_describe(res))
    return 0


def _batch(args):
    from .batch import batch

    rows = batch(args.models, args.out, task=args.task, workers=args.workers,
                 scheduler=args.scheduler, cluster=args.cluster,
                 cluster_options=dict(args.cluster_options), n_trials=args.trials, seed=args.seed,
                 formats=args.format, figures=args.figures, imports=args.imports,
                 timeout=args.timeout, wait=args.wait)
    counts = {s: sum(r["status"] == s for r in rows)
              for s in ("done", "skipped", "duplicate", "error", "timeout")}
    print(f"{len(rows)} models: {counts['done']} analysed, {counts['skipped']} already done, "
          f"{counts['duplicate']} duplicates, {counts['error']} failed, {counts['timeout']} "
          f"timed out; table in {Path(args.out) / 'summary.csv'}")
    for row in rows:
        if row["status"] in ("error", "timeout"):
            print(f"  {'failed' if row['status'] == 'error' else 'timed out'}: {row['path']}: "
                  f"{row['error']}")
    comparison = Path(args.out) / "comparison"
    if comparison.is_dir():
        from . import compare

        print(compare.describe(compare.read(comparison)))
        print(f"comparison in {comparison}")
    return 0


def _figures(args):
    from . import figures
    from .results import Results
    from .user_modules import import_modules

    if not args.format:
        raise ValueError(f"--format none draws nothing; choose from {', '.join(FORMATS)}")
    import_modules(args.imports)
    path = Path(args.results)
    with Results(path) as res:
        res.check()
        out = Path(args.out) if args.out else path.parent / "figures"
        written = figures.draw_all(res, out, args.format, args.panels)
    print(f"{len(written)} files in {out}")
    return 0


def _report(args):
    from .report import write_report
    from .results import Results

    with Results(args.results) as res:
        res.check()
        page = write_report(res, args.out)
    print(f"report in {page}")
    return 0


def _compare(args):
    from . import compare

    comparison = compare.compare(args.results, pattern=args.pattern,
                                 metrics=[*compare.DEFAULT_METRICS, args.metric])
    out = compare.write(comparison, args.out, metric=args.metric, color_by=args.color_by,
                        formats=args.format, overwrite=args.overwrite, wait=args.wait)
    print(compare.describe(comparison, args.metric, args.color_by))
    print(f"tables, distances and the map in {out}")
    return 0


def _info(args):
    from .results import Results

    with Results(args.results) as res:
        res.check()
        print(_describe(res))
    return 0


def _describe(res):
    """A readable summary of a results file."""
    from .bifurcations import NAMES
    from .summary import Summary

    a = res.attrs
    network = a.get("network", {})
    unit = "s" if float(a.get("dt", 1.0)) != 1.0 else "steps"  # of every time constant
    lines = [
        f"results file  {res.path}",
        f"model         {a.get('model_path') or '(from weights)'}  sha256 {a.get('model_sha256', '')[:12]}",
        f"network       {network.get('kind')}, {network.get('n_units')} units"
        + "".join(f", {k} {network[k]}" for k in ("gamma", "leak", "activation") if k in network),
        f"task          {a.get('task') or 'unknown'}, dt {a.get('dt')} s",
        f"trials        {len(res)}: " + ", ".join(
            f"{t} ({len(res.select(trial_type=t))})" for t in res.trial_types),
    ]
    if "pca" in res:
        ratio = res.pca().explained_variance_ratio_
        lines.append(f"PCA           {len(ratio)} components; PC1-3 explain "
                     + ", ".join(f"{r:.1%}" for r in ratio[:3]))
    if "fixed_points" in res:
        fps = res.fixed_points()
        for label in sorted(set(fps.labels.tolist())) or [""]:
            sub = fps[(fps.labels == label) & ~fps.outside]
            counts = ", ".join(f"{int((sub.stability == s).sum())} {s}"
                               for s in ("stable", "marginal", "saddle", "unstable")
                               if (sub.stability == s).any())
            slow_points = fps.slow_points
            slow = int(((slow_points.labels == label) & ~slow_points.outside).sum())
            outside = int(((fps.labels == label) & fps.outside).sum()) + int(
                ((slow_points.labels == label) & slow_points.outside).sum())
            lines.append(f"fixed points  [{label or 'all'}] {len(sub)} ({counts or 'none'}); "
                         f"{slow} slow points" + (f"; {outside} fixed or slow points outside "
                                                  "the visited region" if outside else ""))
    if "fixed_points" in res:
        summary = Summary.from_results(res)
        for label, points in summary.attractor_time_constants.items():
            slowest = max(points, key=lambda p: p["time_constants"][:1] or [0])
            lines.append(f"memory        [{label}] {len(points)} attractors; slowest modes "
                         + ", ".join(f"{t:.3g}" for t in slowest["time_constants"])
                         + f" {unit} (point {slowest['point']}, {slowest['stability']})")
        if summary.spectrum_time_constants:
            lines.append("              W_rec's linear map alone: " + ", ".join(
                f"{t:.3g}" for t in summary.spectrum_time_constants) + f" {unit}")
    if "manifolds" in res:
        for man in res.get("manifolds").rows():
            lines.append(f"manifold      [{man['label'] or 'all'}] "
                         f"{'closed' if man['closed'] else 'open'} {man['dimension']}-D, length "
                         f"{man['length']:.3g}, {man['extent']:.0%} of the visited range; memory "
                         f"time {man['shortest_memory_time']:.3g}-{man['memory_time']:.3g} {unit}")
    if "topology" in res:
        c = res.get("topology").counts()
        far = f"; {c['outside_saddles']} saddles outside the visited region" if c["outside_saddles"] else ""
        lines.append(f"topology      {c['saddles']} saddles, {c['branches']} unstable branches: "
                     f"{c['fixed_point']} reach a fixed point, {c['cycle']} a cycle, "
                     f"{c['outside']} leave the visited "
                     f"region, {c['unresolved']} unresolved{far}" if c["branches"] else
                     f"topology      no saddles{far}")
    if "cycles" in res:
        for row in res.get("cycles").rows():
            seconds = f" ({row['period']:.3g} s)" if unit == "s" else ""
            what = (f"largest Lyapunov exponent {row['lyapunov_across']:.3g} per step"
                    if row["kind"] == "chaos" else
                    f"period {row['period_steps']:.6g} steps{seconds}, amplitude "
                    f"{row['amplitude']:.3g}, residual {row['residual']:.1e}")
            lines.append(f"cycle         [{row['label'] or 'all'}] {row['kind']}: {what}")
    if "continuation" in res:
        for row in res.get("continuation").rows():
            met = ", ".join(f"{row[kind]} {NAMES[kind][row[kind] > 1]} (first at s = "
                            f"{row['first_s'][kind]:.3g})" for kind in row["first_s"])
            lines.append(f"continuation  [{row['path']}] {row['branches']} "
                         f"branch{'es' * (row['branches'] != 1)} from zero input: "
                         f"{met or 'no bifurcation'}")
    if "spectrum" in res:
        s = res.spectrum()
        lines.append(f"spectrum      spectral radius {s.spectral_radius:.3f} "
                     f"(leaky map {s.spectral_radius_map:.4f}), Henrici {s.henrici_relative:.3f}")
    if "linearization" in res:
        lin = res.get("linearization")
        lines.append(f"attractor     {lin.attractor_label}; slowest time constants "
                     + ", ".join(f"{t:.3g}" for t in lin.time_constants[:3]) + f" {unit}")
    return "\n".join(lines)


COMMANDS = {"analyze": _analyze, "batch": _batch, "figures": _figures, "report": _report,
            "compare": _compare, "info": _info}
