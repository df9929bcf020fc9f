"""``analyze()``: record, PCA, spectra, fixed points and figures in one call."""

import json
import os
import shutil
import time
import uuid
from pathlib import Path

import numpy as np

from . import tasks
from .results import Results
from .tasks import Trials


def analyze(analysis, trials=None, out="dynan-results", *, task=None, n_trials=256, seed=0,
            n_inits=512, n_components=10, overwrite=False, formats=("pdf", "svg", "png"),
            progress=None):
    """Run the whole analysis of one network; see :meth:`Analysis.analyze`."""
    out = Path(out)
    if out.exists() and not overwrite:
        raise FileExistsError(f"{out} exists; pass overwrite=True (--overwrite) to replace it")
    trials = _trials(analysis, trials, task, n_trials, seed)
    d = analysis.dynamics
    if trials.inputs.shape[2] != d.n_inputs:
        raise ValueError(f"the trials have {trials.inputs.shape[2]} input channels "
                         f"{list(trials.input_names)}; the model takes {d.n_inputs}")
    work = out.with_name(f".{out.name}.{uuid.uuid4().hex[:12]}.tmp")
    work.mkdir(parents=True)
    try:
        name = analysis.source.stem if analysis.source is not None else "network"
        path = work / f"{name}.h5"
        timings = {}

        def stage(label, fn, *args, **kwargs):
            start = time.perf_counter()
            value = fn(*args, **kwargs)
            timings[label] = round(time.perf_counter() - start, 3)
            return value

        stage("record", analysis.record, trials, path, seed=seed, progress=progress)
        if hasattr(d, "W_rec"):
            analysis._store("network", lambda g: _write_weights(g, d))
        pca = stage("pca", analysis.pca, n_components=min(n_components, d.n_units),
                    fit_on="condition_means")
        spectrum = stage("spectrum", analysis.spectrum) if hasattr(d, "W_rec") else None
        conditions = epoch_inputs(trials)
        fps = stage("fixed_points", analysis.fixed_points, conditions, n_inits=n_inits, seed=seed,
                    progress=progress)
        analysis._store("fixed_points", fps.write)
        from . import figures

        stage("figures", figures.draw_all, path, work / "figures", formats)
        outputs = np.asarray(analysis.results.outputs)
        summary = _summary(analysis, trials, outputs, pca, spectrum, fps, conditions, timings)
        (work / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        analysis.results.close()
        _swap(work, out)
    except BaseException:
        res = analysis.results
        if res is not None and res.path is not None and work in res.path.parents:
            res.close()  # it lived in the discarded folder
            analysis.results = None
        raise
    finally:
        if work.exists():
            shutil.rmtree(work)
    analysis.results = Results(out / path.name)
    return analysis.results


def epoch_inputs(trials, decimals=1):
    """Constant inputs of a task's epochs: the mean input of each epoch, rounded, with
    epochs of equal input merged (``"delay/wait"``); zero input is always included."""
    found = {}
    for epoch, bounds in trials.epochs.items():
        means = [trials.inputs[i, a:b].mean(axis=0) for i, (a, b) in enumerate(bounds) if b > a]
        if means:
            vector = tuple(np.round(np.mean(means, axis=0), decimals) + 0.0)
            found.setdefault(vector, []).append(epoch)
    zero = tuple(np.zeros(trials.inputs.shape[2]))
    found.setdefault(zero, ["zero input"])
    return {"/".join(names): np.array(vector) for vector, names in found.items()}


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


def _write_weights(group, d):
    for key in ("W_in", "W_rec", "b"):
        group.create_dataset(key, data=getattr(d, key))
    if d._readout is not None:
        group.create_dataset("W_out", data=d._readout.W)
        group.create_dataset("b_out", data=d._readout.b)
    group.attrs["orientation"] = "z = x @ W_in + h @ W_rec + b; y = h @ W_out + b_out"


def _summary(analysis, trials, outputs, pca, spectrum, fps, conditions, timings):
    d = analysis.dynamics
    by_label = {}
    for label in conditions:
        mask = fps.labels == label
        stability = fps.stability[mask]
        by_label[label] = {
            "input": [float(v) for v in conditions[label]],
            **{s: int(np.sum(stability == s)) for s in ("stable", "marginal", "saddle", "unstable")},
            "slow_points": int(np.sum(fps.slow_points.labels == label)),
        }
    summary = {
        "model": None if analysis.source is None else str(analysis.source),
        "model_sha256": analysis.sha256,
        "task": trials.task, "task_params": trials.params, "n_trials": len(trials),
        "performance": (tasks.score(trials, outputs)
                        if trials.task in tasks.TASKS and trials.targets is not None else None),
        "network": {"kind": type(d).__name__, "n_units": d.n_units,
                    **{k: getattr(d, k) for k in ("gamma", "leak", "activation") if hasattr(d, k)}},
        "pca_explained_variance_ratio": [round(float(r), 4) for r in pca.explained_variance_ratio_],
        "fixed_points": by_label,
        "n_fixed_points": len(fps), "n_slow_points": len(fps.slow_points),
        "seconds": {**timings, "total": round(sum(timings.values()), 3)},
    }
    if spectrum is not None:
        tau = spectrum.time_constants if spectrum.dt is not None else spectrum.time_constants_steps
        summary["spectral_radius"] = spectrum.spectral_radius
        summary["leading_time_constants"] = [float(t) for t in np.sort(tau[tau > 0])[::-1][:3]]
        summary["time_constant_unit"] = "s" if spectrum.dt is not None else "steps"
    return summary


def _swap(work, out):
    """Put the finished folder ``work`` at ``out``, replacing an older one only now."""
    if out.exists():
        old = out.with_name(f".{out.name}.{uuid.uuid4().hex[:12]}.old")
        os.replace(out, old)
        os.replace(work, out)
        shutil.rmtree(old)
    else:
        os.replace(work, out)
