"""Record hidden trajectories of labelled trials into a results file."""

import json
import uuid
from contextlib import nullcontext
from datetime import datetime, timezone

import h5py
import numpy as np
from tqdm.auto import tqdm

from . import results
from .analysis import _noise_std
from .tasks import Trials

#: Compression of targets (mostly constant). Hidden states, outputs and noisy inputs are
#: nearly incompressible: gzip level 1 saved 17 % of a tDNMS recording at 4x the write time.
COMPRESSION = {"compression": "gzip", "compression_opts": 1, "shuffle": True}
#: Chunks hold whole trials, as many as fit in about 64 KiB (at least one).
CHUNK_BYTES = 2**16


def record(analysis, trials, path=None, *, noise=False, seed=None, batch_size=None,
           overwrite=False, progress=None):
    """Run ``analysis`` over ``trials`` and write a results file; see :meth:`Analysis.record`."""
    if not isinstance(trials, Trials):
        trials = Trials.from_arrays(trials)
    analysis._check_inputs(trials)
    if path is None:
        target = nullcontext(h5py.File(f"dynan-{uuid.uuid4().hex}.h5", "w", driver="core",
                                       backing_store=False))
    else:
        target = results.atomic_h5(path, overwrite=overwrite)
    with target as f:
        _write(f, analysis, trials, noise=noise, seed=seed, batch_size=batch_size,
               progress=progress)
        if path is None:
            return results.Results(f)
    return results.Results(path)


def _write(f, analysis, trials, *, noise, seed, batch_size, progress):
    d = analysis.dynamics
    from . import __version__

    n_trials, n_time, n_in = trials.inputs.shape
    f.attrs.update({
        "dynan_schema": results.SCHEMA_VERSION,
        "dynan_version": __version__,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "model_path": "" if analysis.source is None else str(analysis.source.resolve()),
        "model_sha256": analysis.sha256 or "",
        "layer_name": analysis.layer_name or "",
        "network": json.dumps(network_description(d)),
        "state_parts": json.dumps([list(p) for p in d.state_parts]),
        "dt": trials.dt,
        "input_names": list(trials.input_names),
        "task": trials.task or "",
        "task_params": json.dumps(trials.params),
    })
    group = f.create_group("trials")
    conditions = group.create_group("conditions")
    for name, column in trials.conditions.items():
        results.write_column(conditions, name, column)
    epochs = group.create_group("epochs")
    for name, bounds in trials.epochs.items():
        epochs.create_dataset(name, data=bounds)

    def per_trial(name, width, dims, data=None, compression=None):
        trials_per_chunk = min(n_trials, max(1, CHUNK_BYTES // (4 * n_time * width)))
        ds = group.create_dataset(name, shape=(n_trials, n_time, width), dtype=np.float32,
                                  chunks=(trials_per_chunk, n_time, width), data=data,
                                  **(compression or {}))
        ds.attrs["dims"] = dims
        return ds

    per_trial("inputs", n_in, ["trial", "time", "input"], trials.inputs)
    if trials.targets is not None:
        per_trial("targets", trials.targets.shape[2], ["trial", "time", "output"], trials.targets,
                  COMPRESSION)
    hidden = per_trial("hidden", d.n_units, ["trial", "time", "state"])
    outputs = per_trial("outputs", d.n_outputs, ["trial", "time", "output"])
    group.attrs.update({"noise_std": _noise_std(noise, d.noise_std),
                        "seed": -1 if seed is None else int(seed)})

    with tqdm(total=n_trials, unit="trial", desc="record", disable=_hide(progress)) as bar:
        for rows, h, y in analysis.simulate(trials, noise=noise, seed=seed, batch_size=batch_size):
            hidden[rows] = np.ascontiguousarray(h, dtype=np.float32)
            outputs[rows] = np.ascontiguousarray(y, dtype=np.float32)
            bar.update(rows.stop - rows.start)


def network_description(dynamics):
    """The network's kind and parameters, as stored in a results file."""
    out = {"kind": type(dynamics).__name__, "n_units": dynamics.n_units,
           "n_inputs": dynamics.n_inputs, "n_outputs": dynamics.n_outputs,
           "noise_std": dynamics.noise_std}
    for name in ("gamma", "leak", "activation"):
        if hasattr(dynamics, name):
            out[name] = getattr(dynamics, name)
    return out


def _hide(progress):
    """tqdm's ``disable``: None hides the bar when not on a terminal."""
    return None if progress is None else not progress
