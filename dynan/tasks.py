"""Cognitive tasks: labelled trials for training and analysing recurrent networks.

Each task returns a :class:`Trials` object; :func:`score` measures how well a
network's outputs solve it. Every generator is seeded and reproducible.

Examples
--------
>>> from dynan import tasks
>>> trials = tasks.tdnms(30, seed=0)
>>> trials.inputs.shape, trials.input_names
((30, 200, 2), ('light', 'odor'))
>>> len(trials.select(trial_type="SL"))
10
"""

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True, eq=False, repr=False)
class Trials:
    """Labelled trials: inputs, targets, a condition table and epochs.

    Attributes
    ----------
    inputs : ndarray of shape (trials, time, n_in), float32
    conditions : dict of str -> ndarray of shape (trials,)
        The condition table, one column per key; always has ``trial_type``.
    targets : ndarray of shape (trials, time, n_out), float32, or None
    dt : float
        Time step in seconds.
    input_names : tuple of str
        One name per input channel.
    epochs : dict of str -> ndarray of shape (trials, 2), int
        ``[start, stop)`` time bins of each named epoch on each trial.
    task : str or None
        Name of the task that made the trials, if any.
    params : dict
        The task's parameters.
    """

    inputs: np.ndarray
    conditions: dict
    targets: np.ndarray = None
    dt: float = 1.0
    input_names: tuple = ()
    epochs: dict = field(default_factory=dict)
    task: str = None
    params: dict = field(default_factory=dict)

    def __post_init__(self):
        inputs = np.asarray(self.inputs, dtype=np.float32)
        if inputs.ndim != 3:
            raise ValueError(f"inputs must have shape (trials, time, n_in); got {inputs.shape}")
        n_trials, n_time, n_in = inputs.shape
        conditions = {k: np.asarray(v) for k, v in self.conditions.items()}
        if "trial_type" not in conditions:
            raise ValueError(f"conditions need a 'trial_type' column; got columns {sorted(conditions)}")
        for name, column in conditions.items():
            if column.shape != (n_trials,):
                raise ValueError(f"condition {name!r} must have one value per trial, shape "
                                 f"({n_trials},); got {column.shape}")
        targets = self.targets
        if targets is not None:
            targets = np.asarray(targets, dtype=np.float32)
            if targets.ndim != 3 or targets.shape[:2] != (n_trials, n_time):
                raise ValueError(f"targets must have shape ({n_trials}, {n_time}, n_out) to match "
                                 f"the inputs; got {targets.shape}")
        names = tuple(self.input_names) or tuple(f"input_{i}" for i in range(n_in))
        if len(names) != n_in:
            raise ValueError(f"input_names must name the {n_in} input channels; got {names}")
        epochs = {k: np.asarray(v, dtype=int) for k, v in self.epochs.items()}
        for name, bounds in epochs.items():
            if bounds.shape != (n_trials, 2):
                raise ValueError(f"epoch {name!r} must have shape ({n_trials}, 2); got {bounds.shape}")
        if not self.dt > 0:
            raise ValueError(f"dt must be > 0; got {self.dt!r}")
        for key, value in (("inputs", inputs), ("conditions", conditions), ("targets", targets),
                           ("input_names", names), ("epochs", epochs), ("dt", float(self.dt))):
            object.__setattr__(self, key, value)

    @classmethod
    def from_arrays(cls, inputs, conditions=None, targets=None, *, dt=1.0, input_names=()):
        """Trials from your own arrays.

        Parameters
        ----------
        inputs : array_like of shape (trials, time, n_in)
        conditions : dict of str -> array_like, or array_like of labels, optional
            The condition table (with a ``trial_type`` column), or one label per
            trial, taken as the trial type. Every trial is ``"all"`` if omitted.
        targets : array_like of shape (trials, time, n_out), optional
        dt : float, default 1.0
        input_names : sequence of str, optional

        Examples
        --------
        >>> trials = Trials.from_arrays(np.zeros((4, 10, 2)), ["a", "b", "a", "b"])
        >>> trials.trial_types
        ('a', 'b')
        """
        n_trials = np.shape(inputs)[0] if np.ndim(inputs) else 0
        if conditions is None:
            conditions = {"trial_type": np.full(n_trials, "all")}
        elif not isinstance(conditions, dict):
            conditions = {"trial_type": conditions}
        return cls(inputs, conditions, targets, dt=dt, input_names=input_names)

    def __len__(self):
        return self.inputs.shape[0]

    def __repr__(self):
        task = f" {self.task}" if self.task else ""
        return (f"<Trials{task}: {len(self)} trials x {self.n_time} bins (dt {self.dt} s), inputs "
                f"{list(self.input_names)}, types {list(self.trial_types)}>")

    def __getitem__(self, index):
        """The trials at an index, slice, index array or boolean mask."""
        index = np.arange(len(self))[index]
        index = np.atleast_1d(index)
        return Trials(
            self.inputs[index], {k: v[index] for k, v in self.conditions.items()},
            None if self.targets is None else self.targets[index], dt=self.dt,
            input_names=self.input_names, epochs={k: v[index] for k, v in self.epochs.items()},
            task=self.task, params=self.params)

    @property
    def n_time(self):
        """Number of time bins per trial."""
        return self.inputs.shape[1]

    @property
    def trial_types(self):
        """The distinct trial types, sorted."""
        return tuple(np.unique(self.conditions["trial_type"]).tolist())

    def select(self, **conditions):
        """The trials whose condition columns equal the given values.

        Examples
        --------
        >>> trials = tdnms(30, seed=0)
        >>> go = trials.select(go=True)
        >>> len(go), go.trial_types
        (20, ('LS', 'SL'))
        >>> len(trials.select(trial_type="SS", go=False))
        10
        """
        return self[condition_mask(self.conditions, conditions)]


def condition_mask(table, conditions):
    """Boolean mask of the rows of a condition table whose columns equal ``conditions``."""
    mask = np.ones(len(table["trial_type"]), dtype=bool)
    for name, value in conditions.items():
        if name not in table:
            raise ValueError(f"no condition column {name!r}; columns are {sorted(table)}")
        mask &= table[name] == value
    return mask


# --- temporal delayed non-match-to-sample ----------------------------------------------------

#: Odor bins (inclusive) of each tDNMS trial type: (first odor, second odor).
TDNMS_ODORS = {"LS": ((30, 79), (110, 129)), "SL": ((30, 49), (80, 129)), "SS": ((30, 49), (80, 99))}
#: tDNMS response window (inclusive bins) and trial length.
TDNMS_RESPONSE, TDNMS_BINS = (131, 159), 200


def tdnms(n_trials, *, trial_types=("LS", "SL", "SS"), input_noise=0.15, dt=0.05, seed=0):
    """Temporal delayed non-match-to-sample (tDNMS) trials.

    Each trial has 200 bins and two input channels: ``light`` (a start cue in
    bins 0-2) and ``odor``, presented twice: long (L, 50 bins) or short (S, 20
    bins). LS: odor in bins 30-79 and 110-129; SL: 30-49 and 80-129; SS: 30-49
    and 80-99 (bins inclusive). The target is 1 in bins 131-159 on non-match
    trials (LS, SL: "go") and 0 everywhere else.

    Parameters
    ----------
    n_trials : int
        Trial types are balanced (as evenly as ``n_trials`` allows) and shuffled.
    trial_types : sequence of {"LS", "SL", "SS"}
    input_noise : float, default 0.15
        Standard deviation of Gaussian noise added to every input bin.
    dt : float, default 0.05
        Bin width in seconds (the task is defined in bins; this sets time units only).
    seed : int, default 0
        Seed of the random choices (the same seed gives the same trials).

    Returns
    -------
    Trials
        Conditions ``trial_type``, ``go``, ``first_odor_bins``, ``second_odor_bins``;
        epochs ``cue``, ``odor1``, ``delay``, ``odor2``, ``wait``, ``response``, ``iti``.
    """
    unknown = set(trial_types) - set(TDNMS_ODORS)
    if unknown or not trial_types:
        raise ValueError(f"trial_types must be drawn from {tuple(TDNMS_ODORS)}; got {trial_types!r}")
    rng = np.random.default_rng(seed)
    types = rng.permutation(np.resize(np.asarray(trial_types), _count(n_trials)))
    inputs = np.zeros((len(types), TDNMS_BINS, 2), dtype=np.float32)
    targets = np.zeros((len(types), TDNMS_BINS, 1), dtype=np.float32)
    inputs[:, 0:3, 0] = 1.0
    epochs = {name: np.zeros((len(types), 2), dtype=int)
              for name in ("cue", "odor1", "delay", "odor2", "wait", "response", "iti")}
    r0, r1 = TDNMS_RESPONSE
    for i, kind in enumerate(types):
        (a0, a1), (b0, b1) = TDNMS_ODORS[kind]
        inputs[i, a0:a1 + 1, 1] = inputs[i, b0:b1 + 1, 1] = 1.0
        targets[i, r0:r1 + 1, 0] = float(kind != "SS")
        for name, bounds in zip(epochs, [(0, 3), (a0, a1 + 1), (a1 + 1, b0), (b0, b1 + 1),
                                         (b1 + 1, r0), (r0, r1 + 1), (r1 + 1, TDNMS_BINS)]):
            epochs[name][i] = bounds
    inputs += rng.normal(0.0, input_noise, inputs.shape).astype(np.float32)
    odor_bins = {k: (v[0][1] - v[0][0] + 1, v[1][1] - v[1][0] + 1) for k, v in TDNMS_ODORS.items()}
    conditions = {"trial_type": types.astype(str), "go": types != "SS",
                  "first_odor_bins": np.array([odor_bins[k][0] for k in types], dtype=int),
                  "second_odor_bins": np.array([odor_bins[k][1] for k in types], dtype=int)}
    return Trials(inputs, conditions, targets, dt=dt, input_names=("light", "odor"), epochs=epochs,
                  task="tdnms", params={"trial_types": list(trial_types), "input_noise": input_noise,
                                        "dt": dt, "seed": seed})


def tdnms_decisions(outputs):
    """Go (True) / no-go decisions: mean output in bins 131-159 above 0.5."""
    r0, r1 = TDNMS_RESPONSE
    return np.asarray(outputs)[:, r0:r1 + 1, 0].mean(axis=1) > 0.5


# --- N-bit flip-flop -------------------------------------------------------------------------

def flipflop(n_trials, *, n_bits=3, n_time=100, pulse_prob=0.05, dt=0.01, seed=0):
    """N-bit flip-flop memory trials (Sussillo & Barak 2013).

    Each input channel carries sparse +1 / -1 pulses (one bin long, probability
    ``pulse_prob`` per bin and channel, sign at random). The target on each
    channel holds the sign of its most recent pulse, and 0 before the first.

    Parameters
    ----------
    n_trials : int
    n_bits : int, default 3
    n_time : int, default 100
    pulse_prob : float in (0, 1), default 0.05
    dt : float, default 0.01
        Bin width in seconds (time units only).
    seed : int, default 0
        Seed of the random choices (the same seed gives the same trials).

    Returns
    -------
    Trials
        Conditions ``trial_type`` (the final memory, e.g. ``"+-+"``, ``0`` for a
        bit never set) and ``n_pulses``; epoch ``trial``.
    """
    n_trials = _count(n_trials)
    if not (isinstance(n_bits, (int, np.integer)) and n_bits >= 1):
        raise ValueError(f"n_bits must be a positive integer; got {n_bits!r}")
    if not (isinstance(n_time, (int, np.integer)) and n_time >= 1):
        raise ValueError(f"n_time must be a positive integer; got {n_time!r}")
    if not 0 < pulse_prob < 1:
        raise ValueError(f"pulse_prob must be in (0, 1); got {pulse_prob!r}")
    rng = np.random.default_rng(seed)
    pulses = rng.random((n_trials, n_time, n_bits)) < pulse_prob
    signs = rng.choice(np.array([-1.0, 1.0], dtype=np.float32), size=pulses.shape)
    inputs = np.where(pulses, signs, 0.0).astype(np.float32)
    targets = _hold_last_pulse(inputs)
    final = np.array(["".join({1.0: "+", -1.0: "-", 0.0: "0"}[v] for v in row) for row in targets[:, -1]])
    conditions = {"trial_type": final, "n_pulses": pulses.sum(axis=(1, 2))}
    return Trials(inputs, conditions, targets, dt=dt,
                  input_names=tuple(f"bit_{i}" for i in range(n_bits)),
                  epochs={"trial": np.tile([0, n_time], (n_trials, 1))}, task="flipflop",
                  params={"n_bits": n_bits, "n_time": n_time, "pulse_prob": pulse_prob, "dt": dt,
                          "seed": seed})


def _last_pulse(inputs):
    """Time bin of the most recent nonzero input on each channel, -1 before the first."""
    t = np.arange(inputs.shape[1])[None, :, None]
    return t, np.maximum.accumulate(np.where(inputs != 0, t, -1), axis=1)


def _hold_last_pulse(inputs):
    """Sign of the most recent nonzero input on each channel (0 before the first)."""
    _, last = _last_pulse(inputs)
    held = np.take_along_axis(inputs, np.maximum(last, 0), axis=1)
    return np.where(last >= 0, held, 0.0).astype(np.float32)


def flipflop_settled(inputs, delay=5):
    """Mask of (trial, time, bit) bins at least ``delay`` bins after that bit's latest pulse."""
    t, last = _last_pulse(inputs)
    return (last >= 0) & (t - last >= delay)


# --- white-noise integrator ------------------------------------------------------------------

def integrator(n_trials, *, T=1.0, dt=0.04, bias_scale=0.01, noise_scale=0.025, seed=0):
    """White-noise integration trials (the BrainPy integrator example).

    Each trial's input is a constant bias plus white noise; the target is its
    running sum (the ``* dt`` left off, as in BrainPy, to keep it of order 1)::

        bias = bias_scale * 2 * (z - 0.5),  z ~ N(0, 1) per trial
        x_t = bias + noise_scale / sqrt(dt) * eps_t,  eps_t ~ N(0, 1)
        target_t = x_0 + ... + x_t

    Parameters
    ----------
    n_trials : int
    T : float, default 1.0
        Trial duration in seconds; ``round(T / dt)`` bins.
    dt : float, default 0.04
    bias_scale, noise_scale : float
        BrainPy's example calls these ``mean`` (0.025) and ``scale`` (0.01).
    seed : int, default 0
        Seed of the random choices (the same seed gives the same trials).

    Returns
    -------
    Trials
        Conditions ``trial_type`` (``"positive"`` / ``"negative"``: the sign of
        the final integral) and ``bias``; epoch ``integrate``.
    """
    n_trials = _count(n_trials)
    if not (T > 0 and dt > 0 and round(T / dt) >= 1):
        raise ValueError(f"T and dt must be > 0 with at least one bin; got T={T!r}, dt={dt!r}")
    n_time = int(round(T / dt))
    rng = np.random.default_rng(seed)
    bias = bias_scale * 2.0 * (rng.normal(size=(n_trials, 1, 1)) - 0.5)
    inputs = (bias + noise_scale / np.sqrt(dt) * rng.normal(size=(n_trials, n_time, 1))).astype(np.float32)
    targets = np.cumsum(inputs, axis=1, dtype=np.float64).astype(np.float32)
    conditions = {"trial_type": np.where(targets[:, -1, 0] >= 0, "positive", "negative"),
                  "bias": bias[:, 0, 0]}
    return Trials(inputs, conditions, targets, dt=dt, input_names=("input",),
                  epochs={"integrate": np.tile([0, n_time], (n_trials, 1))}, task="integrator",
                  params={"T": T, "dt": dt, "bias_scale": bias_scale, "noise_scale": noise_scale,
                          "seed": seed})


# --- scoring ---------------------------------------------------------------------------------

def score(trials, outputs):
    """How well ``outputs`` solve the task that made ``trials`` (1 is perfect).

    - tdnms: fraction of correct go / no-go decisions (:func:`tdnms_decisions`).
    - flipflop: fraction of bits with the target's sign from 5 bins after each
      pulse on (bins before a bit's first pulse are not scored).
    - integrator: R^2 between outputs and targets over all bins.

    Parameters
    ----------
    trials : Trials
    outputs : array_like of shape (trials, time, n_out)

    Returns
    -------
    float
    """
    outputs = np.asarray(outputs)
    if trials.task not in TASKS:
        raise ValueError(f"trials come from task {trials.task!r}; score knows {sorted(TASKS)}")
    if outputs.shape != trials.targets.shape:
        raise ValueError(f"outputs must have the targets' shape {trials.targets.shape}; got {outputs.shape}")
    if trials.task == "tdnms":
        return float(np.mean(tdnms_decisions(outputs) == trials.conditions["go"]))
    if trials.task == "flipflop":
        settled = flipflop_settled(trials.inputs)
        return float(np.mean(np.sign(outputs[settled]) == trials.targets[settled]))
    residual = np.sum((outputs - trials.targets) ** 2)
    return float(1.0 - residual / np.sum((trials.targets - trials.targets.mean()) ** 2))


#: Task name -> trial generator.
TASKS = {"tdnms": tdnms, "flipflop": flipflop, "integrator": integrator}


def _count(n_trials):
    if not (isinstance(n_trials, (int, np.integer)) and n_trials >= 1):
        raise ValueError(f"n_trials must be a positive integer; got {n_trials!r}")
    return int(n_trials)
