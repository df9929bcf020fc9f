"""The analysis object that wraps one trained network."""

from typing import NamedTuple

import numpy as np

from .tasks import Trials


class Trajectories(NamedTuple):
    """States and outputs of a run over trials.

    Attributes
    ----------
    hidden : ndarray of shape (trials, time, N)
        The state after each time step (the flattened state for multi-part cells).
    outputs : ndarray of shape (trials, time, n_out)
        The network's output at each time step.
    """

    hidden: np.ndarray
    outputs: np.ndarray


class Analysis:
    """A trained recurrent network under analysis.

    Made by :func:`dynan.load` or :func:`dynan.from_weights`.

    Attributes
    ----------
    dynamics : Dynamics
        The network's update map and its Jacobians.
    source : pathlib.Path or None
        The model file, when loaded from one.
    sha256 : str or None
        SHA-256 of the model file.
    layer_name : str or None
        Name of the analysed recurrent layer.
    task, task_params : str or None, dict
        The task the network was trained on, when known (the bundled models know
        theirs, from the card beside the model file).
    results : Results or None
        The latest recording, which :meth:`pca`, :meth:`fixed_points` and
        :meth:`spectrum` analyse and write into.

    Examples
    --------
    >>> import dynan, numpy as np
    >>> rng = np.random.default_rng(0)
    >>> an = dynan.from_weights(rng.normal(size=(2, 16)), rng.normal(size=(16, 16)) / 4,
    ...                         np.zeros(16), gamma=0.2)
    >>> traj = an.run(np.ones((3, 50, 2)))
    >>> traj.hidden.shape
    (3, 50, 16)
    """

    def __init__(self, dynamics, *, source=None, sha256=None, layer_name=None, task=None,
                 task_params=None):
        self.dynamics = dynamics
        self.source = source
        self.sha256 = sha256
        self.layer_name = layer_name
        self.task = task
        self.task_params = task_params or {}
        self.results = None

    def __repr__(self):
        d = self.dynamics
        where = f" from {self.source.name!r}" if self.source is not None else ""
        return (f"<Analysis{where}: {type(d).__name__}, {d.n_units} units, "
                f"{d.n_inputs} inputs, {d.n_outputs} outputs>")

    def run(self, inputs, *, h0=None, noise=False, seed=None, batch_size=None):
        """Run the network over trials, noise-free unless asked.

        Parameters
        ----------
        inputs : Trials or array_like of shape (trials, time, n_in)
        h0 : array_like of shape (N,) or (trials, N), optional
            Initial state; the network's own (usually zeros) by default.
        noise : bool or float, default False
            ``True`` adds the network's own noise (``dynamics.noise_std``); a
            number sets the standard deviation. Leaky and vanilla networks only.
        seed : int, optional
            Seed of the noise. Each trial draws from its own stream, so a trial's
            noise depends on the seed and its position only, not on batching.
        batch_size : int, optional
            Trials computed at once; by default about 32 MB of states.

        Returns
        -------
        Trajectories
            ``hidden`` (trials, time, N) and ``outputs`` (trials, time, n_out).
        """
        inputs = self._check_inputs(inputs)
        n_trials, n_time, _ = inputs.shape
        hidden = np.empty((n_trials, n_time, self.dynamics.n_units))
        outputs = np.empty((n_trials, n_time, self.dynamics.n_outputs))
        for rows, h, y in self.simulate(inputs, h0=h0, noise=noise, seed=seed, batch_size=batch_size):
            hidden[rows], outputs[rows] = h, y
        return Trajectories(hidden, outputs)

    def record(self, trials, path=None, *, noise=False, seed=None, batch_size=None,
               overwrite=False, progress=None):
        """Run the network over labelled trials and write everything to a results file.

        Inputs, hidden states, outputs, targets and the condition table are written
        batch by batch as the run goes, so memory stays flat however many trials
        there are. The file appears only when complete (see :func:`dynan.results.atomic_h5`).

        Parameters
        ----------
        trials : Trials or array_like of shape (trials, time, n_in)
        path : path-like, optional
            The results file (``.h5``). Without it the file lives in memory.
        noise, seed, batch_size
            As in :meth:`run`.
        overwrite : bool, default False
            Replace an existing file at ``path``.
        progress : bool, optional
            Show a progress bar; by default only on a terminal.

        Returns
        -------
        Results
            The file, open for reading; its arrays read lazily.

        Examples
        --------
        >>> res = an.record(dynan.tasks.tdnms(300, seed=0), "tdnms.h5")    # doctest: +SKIP
        >>> res.select(trial_type="SL").hidden[:10, 150]                     # doctest: +SKIP
        """
        from .recording import record

        self.results = record(self, trials, path, noise=noise, seed=seed, batch_size=batch_size,
                              overwrite=overwrite, progress=progress)
        return self.results

    def fixed_points(self, inputs=None, *, initial_states=None, n_inits=1024, noise_scale=0.01,
                     seed=None, **options):
        """Find fixed and slow points, with their linearization.

        Parameters
        ----------
        inputs : array_like (n_in,) or (n_inits, n_in), or dict of str -> (n_in,), optional
            Constant input of the search: zeros by default; one vector for every
            start; one per start; or one per named condition (e.g. ``{"odor on":
            [0, 1], "odor off": [0, 0]}``), each searched from every start and
            labelled with its name.
        initial_states : array_like (n_inits, N), optional
            Starts; by default ``n_inits`` states drawn at random from the last
            recording (:meth:`record`) plus Gaussian noise of ``noise_scale``.
        n_inits : int, default 1024
        noise_scale : float, default 0.01
        seed : int, optional
            Seed of the draw and the noise.
        **options
            Passed to :func:`dynan.fixed_points.find_fixed_points` (``tol``,
            ``max_slow_q``, ``unique_tol``, ...). The time step ``dt`` defaults to
            the recording's.

        Returns
        -------
        FixedPoints
            With ``slow_points`` attached; ``fps.save(path)`` stores them.

        Examples
        --------
        >>> an.record(dynan.tasks.tdnms(256, seed=0), "tdnms.h5")        # doctest: +SKIP
        >>> fps = an.fixed_points({"odor on": [0, 1], "odor off": [0, 0]})   # doctest: +SKIP
        """
        from .fixed_points import find_fixed_points

        d = self.dynamics
        rng = np.random.default_rng(seed)
        if initial_states is None:
            if self.results is None:
                raise ValueError("no recording to draw initial states from: call "
                                 "record(trials) first, or pass initial_states")
            hidden = self.results.hidden
            trial = np.sort(rng.integers(len(hidden), size=n_inits))
            time = rng.integers(hidden.shape[1], size=n_inits)
            unique, where = np.unique(trial, return_inverse=True)
            initial_states = hidden[unique][where, time] + rng.normal(
                scale=noise_scale, size=(n_inits, d.n_units))
            options.setdefault("dt", float(self.results.attrs.get("dt", 1.0)))
        starts = np.asarray(initial_states, dtype=float)
        labels = None
        if isinstance(inputs, dict):
            names = list(inputs)
            vectors = np.array([np.broadcast_to(np.asarray(inputs[k], dtype=float), d.n_inputs)
                                for k in names])
            labels = np.repeat(names, len(starts))
            inputs = np.repeat(vectors, len(starts), axis=0)
            starts = np.tile(starts, (len(names), 1))
        return find_fixed_points(d, starts, inputs, labels=labels, **options)

    def analyze(self, trials=None, out="dynan-results", *, task=None, n_trials=256, seed=0,
                n_inits=512, overwrite=False, formats=("pdf", "svg", "png"), progress=None):
        """Record, PCA by trial type, spectra, fixed points, linearization and figures, in one call.

        Fixed points are sought under zero input and under the constant input of each
        task epoch (epochs with equal inputs merged, e.g. tDNMS odor on / odor off).
        Everything is written into a hidden folder beside ``out`` and moved into place
        only when complete, so a failed or interrupted run leaves earlier results as
        they were.

        Parameters
        ----------
        trials : Trials or array_like, optional
            By default ``n_trials`` fresh trials of the model's task (or ``task``).
        out : path-like, default "dynan-results"
            Folder for ``<model>.h5``, ``figures/`` and ``summary.json``.
        task : str, optional
            Task name, for models that do not know theirs.
        n_trials, seed : int
        n_inits : int, default 512
            Starts per input condition for the fixed-point search.
        overwrite : bool, default False
            Replace an existing ``out``.
        formats : sequence of str, default ("pdf", "svg", "png")
        progress : bool, optional

        Returns
        -------
        Results
            The results file in ``out``.

        Examples
        --------
        >>> res = dynan.load(dynan.example_model("tdnms_leaky")).analyze()   # doctest: +SKIP
        """
        from .pipeline import analyze

        return analyze(self, trials, out, task=task, n_trials=n_trials, seed=seed,
                       n_inits=n_inits, overwrite=overwrite, formats=formats, progress=progress)

    def pca(self, *, n_components=10, fit_on="all", by="trial_type", batch_size=None):
        """PCA of the recorded hidden states, by trial type (or any condition columns).

        Stored in the recording's results file under ``/pca``.

        Parameters
        ----------
        n_components : int, default 10
        fit_on : {"all", "condition_means"}, default "all"
            Every trial and time bin, or the mean trajectory of each group (the
            common choice in papers).
        by : str or sequence of str, default "trial_type"
            Condition column(s) that define the groups.
        batch_size : int, optional
            Trials read at once.

        Returns
        -------
        TrialPCA

        Examples
        --------
        >>> an.record(dynan.tasks.tdnms(300, seed=0), "tdnms.h5")       # doctest: +SKIP
        >>> p = an.pca(n_components=3, fit_on="condition_means")         # doctest: +SKIP
        >>> p.transform(fps.xstar)                                       # doctest: +SKIP
        """
        from .pca import pca_by_condition

        if self.results is None:
            raise ValueError("no recording to analyse: call record(trials) first")
        result = pca_by_condition(self.results, n_components=n_components, fit_on=fit_on, by=by,
                                  batch_size=batch_size)
        self._store("pca", result.write)
        return result

    def spectrum(self):
        """Eigenspectra of ``W_rec`` and of the leaky update's linear map.

        Leaky and vanilla networks only. Stored in the recording's results file
        under ``/spectrum`` when there is one; time constants are in seconds when
        the recording knows ``dt``.

        Returns
        -------
        Spectrum
        """
        from .spectrum import spectrum

        d = self.dynamics
        if not hasattr(d, "W_rec"):
            raise ValueError(f"spectrum needs a leaky or vanilla network (recurrent weights "
                             f"W_rec); this one has {type(d).__name__} dynamics")
        dt = None if self.results is None else float(self.results.attrs["dt"])
        result = spectrum(d.W_rec, d.gamma, dt)
        if self.results is not None:
            self._store("spectrum", result.write)
        return result

    def _store(self, name, write):
        """Write group ``name`` into the recording's results file, replacing it."""
        from .results import Results, replace_group, rewrite_h5

        path = self.results.path
        if path is None:  # in memory
            replace_group(self.results.file, name, write)
            return
        self.results.close()
        try:
            with rewrite_h5(path) as f:
                replace_group(f, name, write)
        finally:
            self.results = Results(path)

    def simulate(self, inputs, *, h0=None, noise=False, seed=None, batch_size=None):
        """Yield ``(rows, hidden, outputs)`` batch by batch: the engine of :meth:`run`.

        ``rows`` is the slice of trials, ``hidden`` the (B, T, N) float64 states and
        ``outputs`` the (B, T, n_out) readout.
        """
        d = self.dynamics
        inputs = self._check_inputs(inputs)
        n_trials, n_time, _ = inputs.shape
        h0 = d.initial_state if h0 is None else np.asarray(h0, dtype=float)
        if h0.shape not in ((d.n_units,), (n_trials, d.n_units)):
            raise ValueError(f"h0 must have shape ({d.n_units},) or ({n_trials}, {d.n_units}); "
                             f"got {h0.shape}")
        h0 = np.broadcast_to(h0, (n_trials, d.n_units))
        std = _noise_std(noise, d.noise_std)
        streams = np.random.SeedSequence(seed).spawn(n_trials) if std else None
        if batch_size is None:
            batch_size = max(1, 2**22 // (n_time * d.n_units))
        elif not (isinstance(batch_size, (int, np.integer)) and batch_size >= 1):
            raise ValueError(f"batch_size must be a positive integer; got {batch_size!r}")
        for start in range(0, n_trials, batch_size):
            rows = slice(start, min(start + batch_size, n_trials))
            xi = None if not std else np.stack([
                np.random.default_rng(s).normal(scale=std, size=(n_time, d.n_units))
                for s in streams[rows]])
            hidden = d.trajectory(np.asarray(inputs[rows], dtype=float), np.array(h0[rows]), xi)
            yield rows, hidden, d.readout(hidden)

    def _check_inputs(self, inputs):
        n_in = self.dynamics.n_inputs
        inputs = np.asarray(inputs.inputs if isinstance(inputs, Trials) else inputs)
        if inputs.ndim != 3 or inputs.shape[2] != n_in:
            raise ValueError(f"inputs must have shape (trials, time, {n_in}); got {inputs.shape}")
        return inputs


def _noise_std(noise, own_std):
    if noise is True:
        if own_std == 0:
            raise ValueError("this network has no noise of its own (noise_std is 0); "
                             "pass noise=<standard deviation> instead of noise=True")
        return own_std
    if noise is False or noise is None:
        return 0.0
    if not (np.isscalar(noise) and np.isfinite(noise) and noise >= 0):
        raise ValueError(f"noise must be True, False or a number >= 0; got {noise!r}")
    return float(noise)
