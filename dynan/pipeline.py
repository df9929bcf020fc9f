"""``analyze()``: record, then every stage of the registry that applies, then figures.

One writer: the results file is created once, in a hidden work folder beside the
output folder, and each stage's result is stored into it as the stage finishes (no
copies). Figures and ``summary.json`` are drawn from the finished file. The work
folder takes the output folder's place only when everything is done.
"""

import contextlib
import os
import time
from pathlib import Path

import numpy as np

from . import h5, output, tasks
from .recording import write_recording
from .results import Results
from .simulate import check_inputs
from .stages import STAGES
from .summary import Summary
from .tasks import Trials


def analyze(analysis, trials=None, out="dynan-results", *, task=None, n_trials=256, seed=0,
            n_inits=512, overwrite=False, formats=("pdf", "svg", "png"), panels=None,
            progress=None, options=None, wait=False, plotly_js=None, batch_parameters=None):
    """Run the whole analysis of one network; see :meth:`~dynan.Analysis.analyze`.

    ``options`` maps a stage name to keyword arguments for its ``run`` (e.g.
    ``{"pca": {"n_components": 5}}``); ``plotly_js`` is where the report loads plotly.js
    from (see :func:`dynan.report.write_report`); ``batch_parameters`` go into the summary
    (written before the folder is moved into place, so that a batch killed at any moment
    finds a model finished only with them). Everything is checked before any work starts:
    the output folder (see :func:`dynan.output.check_target`), the trials against the
    model's inputs and outputs. ``out`` is locked while it is written
    (:func:`dynan.output.exclusive`; ``wait`` waits for another writer).
    """
    out = Path(out)
    if formats:
        from .figures import check_panels

        panels = check_panels(panels)
    inputs = [] if analysis.source is None else [analysis.source]
    output.check_target(out, overwrite=overwrite, inputs=inputs)
    trials = _trials(analysis, trials, task, n_trials, seed)
    _check_trials(analysis.dynamics, trials)
    options = {"fixed_points": {"n_inits": n_inits, "seed": seed, "progress": progress},
               **(options or {})}
    with output.exclusive(out, wait=wait):
        output.check_target(out, overwrite=overwrite, inputs=inputs)  # as it is now, locked
        return _analyze(analysis, trials, out, seed, formats, panels, progress, options,
                        plotly_js, batch_parameters)


def _analyze(analysis, trials, out, seed, formats, panels, progress, options, plotly_js,
             batch_parameters):
    d = analysis.dynamics
    with output.staged(out, "analyze") as work, _helpers(formats, panels) as helpers:
        name = analysis.source.stem if analysis.source is not None else "network"
        path = work / f"{name}.h5"
        seconds, skipped = {}, {}
        with h5.new_file(path) as f:
            clock = time.perf_counter()
            write_recording(f, analysis, trials, seed=seed, progress=progress)
            seconds["record"] = round(time.perf_counter() - clock, 3)
            results = Results(f)
            for stage in STAGES:
                if not stage.applies(d):
                    skipped[stage.name] = (f"needs {', '.join(sorted(stage.requires))}, which "
                                           f"{type(d).__name__} does not have")
                    continue
                clock = time.perf_counter()
                result = stage.run(d, results, **options.get(stage.name, {}))
                results.store(stage.name, result)
                seconds[stage.name] = round(time.perf_counter() - clock, 3)
            performance = _score(trials, results.outputs)
        with Results(path) as results:
            if formats:
                from . import figures

                clock = time.perf_counter()
                figures.draw_all(results, work / "figures", formats, panels, helpers=helpers)
                seconds["figures"] = round(time.perf_counter() - clock, 3)
            summary = Summary.from_results(results, performance=performance, seconds=seconds,
                                           skipped=skipped, batch_parameters=batch_parameters)
        summary.write(work / "summary.json")
        from .report import write_report

        write_report(path, panels=bool(formats), plotly_js=plotly_js)  # reads summary.json
    return Results(out / path.name)


def _helpers(formats, panels):
    """Processes that will draw figures beside this one (:class:`dynan.figures.Helpers`),
    started now so that they are ready when the results are: one per spare core, at most
    one fewer than the figures."""
    if not formats:
        return contextlib.nullcontext()
    from .figures import Helpers

    return Helpers(max(0, min(os.cpu_count() or 1, len(panels)) - 1))


def _trials(analysis, trials, task, n_trials, seed):
    if trials is not None:
        return trials if isinstance(trials, Trials) else Trials.from_arrays(trials)
    name = task or analysis.task
    if name is None:
        raise ValueError("no trials given and the model's task is unknown: pass trials, or "
                         f"task=NAME (--task NAME) with NAME one of {sorted(tasks.TASKS)}")
    if name not in tasks.TASKS:
        raise ValueError(f"unknown task {name!r}; choose one of {sorted(tasks.TASKS)}")
    params = analysis.task_params if name == analysis.task else {}
    return tasks.TASKS[name](n_trials, **params, seed=seed)


def _check_trials(d, trials):
    """The trials against the model: input channels, and output channels when the model
    has a readout of its own (without one, its outputs are its states)."""
    if trials.inputs.shape[2] != d.n_inputs:
        raise ValueError(f"the trials have {trials.inputs.shape[2]} input channels "
                         f"{list(trials.input_names)}; the model takes {d.n_inputs}")
    check_inputs(d, trials)
    if trials.targets is not None and d.has_readout and trials.targets.shape[2] != d.n_outputs:
        task = f"task {trials.task!r}" if trials.task else "trials"
        raise ValueError(f"the {task} has {trials.targets.shape[2]} output channels; the "
                         f"model's readout has {d.n_outputs}: pass the model's own task "
                         f"(--task, one of {sorted(tasks.TASKS)})")


def _score(trials, outputs):
    """The task's score of the recorded outputs; None for unknown tasks, and for networks
    whose outputs are not shaped as the targets (no readout)."""
    if trials.task not in tasks.TASKS or trials.targets is None:
        return None
    if outputs.shape != trials.targets.shape:
        return None
    return tasks.score(trials, np.asarray(outputs))
