"""The ``dynan`` command line: ``analyze``, ``figures`` and ``info``."""

import argparse
import sys
from pathlib import Path

from . import __version__

FORMATS = ("pdf", "svg", "png")


def build_parser():
    """The argument parser of the ``dynan`` command."""
    parser = argparse.ArgumentParser(
        prog="dynan",
        description="Dynamical-systems analysis of trained recurrent networks: record "
                    "trajectories, PCA by trial type, fixed and slow points, linearizations.",
    )
    parser.add_argument("--version", action="version", version=f"dynan {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    analyze = commands.add_parser(
        "analyze", help="analyse one trained network: results file, figures, summary.json",
        description="Record trials, PCA by trial type, spectra, fixed points and figure panels "
                    "for one network, into one folder.")
    analyze.add_argument("model", nargs="?", help="a .keras or .h5 model file (default: the "
                         "bundled tDNMS network)")
    analyze.add_argument("--task", help="task of the model, if it does not know it: "
                         "tdnms, flipflop or integrator")
    analyze.add_argument("--out", default="dynan-results", help="output folder "
                         "(default: %(default)s)")
    analyze.add_argument("--trials", type=int, default=256, help="trials to record "
                         "(default: %(default)s)")
    analyze.add_argument("--seed", type=int, default=0, help="seed of trials and starts")
    analyze.add_argument("--format", default=",".join(FORMATS), type=_formats,
                         help="figure formats (default: %(default)s)")
    analyze.add_argument("--overwrite", action="store_true", help="replace an existing --out")
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
    batch.add_argument("--trials", type=int, default=256, help="trials per model (default: %(default)s)")
    batch.add_argument("--seed", type=int, default=0, help="seed of trials and starts")
    batch.add_argument("--format", default=",".join(FORMATS), type=_formats,
                       help="figure formats (default: %(default)s)")
    _import_option(batch)

    figures = commands.add_parser("figures", help="draw the figure panels of a results file",
                                  description="Redraw every panel and the overview from a "
                                              "results file (no TensorFlow needed).")
    figures.add_argument("results", help="a results file (.h5)")
    figures.add_argument("--format", default=",".join(FORMATS), type=_formats,
                         help="figure formats (default: %(default)s)")
    figures.add_argument("--out", help="output folder (default: figures/ beside the file)")
    _import_option(figures)

    info = commands.add_parser("info", help="summarise a results file",
                               description="Model, trials, PCs, fixed points by stability and "
                                           "spectral radius of a results file.")
    info.add_argument("results", help="a results file (.h5)")
    return parser


def _import_option(parser):
    parser.add_argument("--import", dest="imports", action="append", default=[],
                        metavar="MODULE", help="import a module (a name or a .py path) first, "
                        "e.g. the one that defines your own cell; can be repeated")


def _formats(text):
    formats = tuple(f.strip().lower() for f in text.split(",") if f.strip())
    unknown = sorted(set(formats) - set(FORMATS))
    if unknown or not formats:
        raise argparse.ArgumentTypeError(f"unknown format {', '.join(unknown) or repr(text)}; "
                                         f"choose from {', '.join(FORMATS)}")
    return formats


def main(argv=None):
    """Run the ``dynan`` command; returns its exit code (2 for a user mistake)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        commands = {"analyze": _analyze, "batch": _batch, "figures": _figures, "info": _info}
        return commands[args.command](args)
    except (FileNotFoundError, FileExistsError, ValueError, KeyError) as err:
        message = err.args[0] if isinstance(err, KeyError) and err.args else err
        print(f"dynan {args.command}: error: {message}", file=sys.stderr)
        return 2


def _analyze(args):
    import dynan

    from .summary import Summary
    from .user_modules import import_modules

    import_modules(args.imports)
    model = args.model or dynan.example_model("tdnms_leaky")
    an = dynan.load(model)
    with an.analyze(out=args.out, task=args.task, n_trials=args.trials, seed=args.seed,
                    overwrite=args.overwrite, formats=args.format) as res:
        summary = Summary.read(Path(args.out) / "summary.json")
        print(f"analysed {Path(model).name}: results in {res.path}, figures in "
              f"{Path(args.out) / 'figures'}, {summary.seconds['total']:.1f} s")
        print(_describe(res))
    return 0


def _batch(args):
    from .batch import batch

    rows = batch(args.models, args.out, task=args.task, workers=args.workers,
                 scheduler=args.scheduler, n_trials=args.trials, seed=args.seed,
                 formats=args.format, imports=args.imports)
    counts = {s: sum(r["status"] == s for r in rows) for s in ("done", "skipped", "error")}
    print(f"{len(rows)} models: {counts['done']} analysed, {counts['skipped']} already done, "
          f"{counts['error']} failed; table in {Path(args.out) / 'summary.csv'}")
    for row in rows:
        if row["status"] == "error":
            print(f"  failed: {row['path']}: {row['error']}")
    return 0


def _figures(args):
    from . import figures
    from .results import Results
    from .user_modules import import_modules

    import_modules(args.imports)
    path = Path(args.results)
    with Results(path) as res:
        out = Path(args.out) if args.out else path.parent / "figures"
        written = figures.draw_all(res, out, args.format)
    print(f"{len(written)} files in {out}")
    return 0


def _info(args):
    from .results import Results

    with Results(args.results) as res:
        print(_describe(res))
    return 0


def _describe(res):
    """A readable summary of a results file."""
    a = res.attrs
    network = a.get("network", {})
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
            sub = fps[fps.labels == label]
            counts = ", ".join(f"{int((sub.stability == s).sum())} {s}"
                               for s in ("stable", "marginal", "saddle", "unstable")
                               if (sub.stability == s).any())
            slow = int((fps.slow_points.labels == label).sum())
            lines.append(f"fixed points  [{label or 'all'}] {len(sub)} ({counts or 'none'}); "
                         f"{slow} slow points")
    if "spectrum" in res:
        s = res.spectrum()
        lines.append(f"spectrum      spectral radius {s.spectral_radius:.3f} "
                     f"(leaky map {s.spectral_radius_map:.4f}), Henrici {s.henrici_relative:.3f}")
    if "linearization" in res:
        lin = res.get("linearization")
        unit = "s" if float(a.get("dt", 1.0)) != 1.0 else "steps"
        lines.append(f"attractor     {lin.attractor_label}; slowest time constants "
                     + ", ".join(f"{t:.3g}" for t in lin.time_constants[:3]) + f" {unit}")
    return "\n".join(lines)
