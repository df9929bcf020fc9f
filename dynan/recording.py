"""Record hidden trajectories of labelled trials into a results file."""

import json
from datetime import datetime, timezone

import numpy as np
from tqdm.auto import tqdm

from .h5 import SCHEMA_VERSION, write_column
from .simulate import check_inputs, noise_std, simulate
from .tasks import Trials
from .version import __version__

#: Compression of targets (mostly constant). Hidden states, outputs and noisy inputs are
#: nearly incompressible: gzip level 1 saved 17 % of a tDNMS recording at 4x the write time.
COMPRESSION = {"compression": "gzip", "compression_opts": 1, "shuffle": True}
#: Chunks hold whole trials, as many as fit in about 64 KiB (at least one).
CHUNK_BYTES = 2**16


def write_recording(f, analysis, trials, *, noise=False, seed=0, batch_size=None,
                    progress=None):
    """Run ``analysis`` over ``trials`` and write the recording into the open, new HDF5
    file ``f``: root attributes, ``/trials`` and, for networks with recurrent weights,
    ``/network``. States and outputs are written batch by batch as the run goes.
    """
    d = analysis.dynamics
    if not isinstance(trials, Trials):
        trials = Trials.from_arrays(trials)
    check_inputs(d, trials)
    std = noise_std(noise, d)
    n_trials, n_time, n_in = trials.inputs.shape
    f.attrs.update({
        "dynan_schema": SCHEMA_VERSION,
        "dynan_version": __version__,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "model_path": "" if analysis.source is None else str(analysis.source.resolve()),
        "model_sha256": analysis.sha256 or "",
        "layer_name": analysis.layer_name or "",
        "network": json.dumps(d.describe()),
        "state_parts": json.dumps([list(p) for p in d.state_parts]),
        "dt": trials.dt,
        "input_names": list(trials.input_names),
        "task": trials.task or "",
        "task_params": json.dumps(trials.params),
    })
    group = f.create_group("trials")
    conditions = group.create_group("conditions")
    for name, column in trials.conditions.items():
        write_column(conditions, name, column)
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
    group.attrs.update({"noise_std": std, "seed": -1 if seed is None else int(seed)})
    if "recurrent_weights" in d.capabilities:
        _write_weights(f.create_group("network"), d)

    with tqdm(total=n_trials, unit="trial", desc="record", disable=_hide(progress)) as bar:
        for rows, h, y in simulate(d, trials, noise=noise, seed=seed, batch_size=batch_size):
            hidden[rows] = np.ascontiguousarray(h, dtype=np.float32)
            outputs[rows] = np.ascontiguousarray(y, dtype=np.float32)
            bar.update(rows.stop - rows.start)


def _write_weights(group, d):
    for key in ("W_in", "W_rec", "b"):
        group.create_dataset(key, data=getattr(d, key))
    if d._readout is not None:
        group.create_dataset("W_out", data=d._readout.W)
        group.create_dataset("b_out", data=d._readout.b)
    group.attrs["orientation"] = "z = x @ W_in + h @ W_rec + b; y = h @ W_out + b_out"


def _hide(progress):
    """tqdm's ``disable``: None hides the bar when not on a terminal."""
    return None if progress is None else not progress
