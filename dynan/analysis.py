"""The analysis object that wraps one trained network."""

import uuid
from typing import NamedTuple

import h5py
import numpy as np

from . import h5
from .recording import write_recording
from .results import Results
from .simulate import check_inputs, simulate
from .stages import REGISTRY


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

    Made by :func:`dynan.load` or :func:`dynan.from_weights`. The stage methods
    (:meth:`pca`, :meth:`spectrum`, :meth:`fixed_points`, :meth:`linearization`)
    analyse a recording: the one given as ``results``, or else the latest made by
    :meth:`record`, and store their result in it, each group all or nothing (see
    :meth:`dynan.Results.store`). The file must be open for writing, as :meth:`record`
    opens it (or ``dynan.Results(path, mode="r+")``); the ``Results`` handle stays
    open and valid.

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
    recording : Results or None
        The latest recording made by :meth:`record` (the handle it returned).

    Examples
    --------
    >>> import dynan, numpy as np
    >>> rng = np.random.default_rng(0)
    >>> an = dynan.from_weights(rng.normal(size=(2, 16)), rng.normal(size=(16, 16)) / 4,
    ...                         np.zeros(16), gamma=0.2)
    >>> traj = an.run(np.ones((3, 50, 2)))
    >>> traj.hidden.shape
    (3, 50, 16)
    >>> res = an.record(dynan.Trials.from_arrays(np.ones((4, 50, 2))))   # in memory
    >>> an.fixed_points(n_inits=16)
    <FixedPoints: 1 (1 stable); 0 slow points>
    """

    def __init__(self, dynamics, *, source=None, sha256=None, layer_name=None, task=None,
                 task_params=None):
        self.dynamics = dynamics
        self.source = source
        self.sha256 = sha256
        self.layer_name = layer_name
        self.task = task
        self.task_params = task_params or {}
        self.recording = None

    def __repr__(self):
        d = self.dynamics
        where = f" from {self.source.name!r}" if self.source is not None else ""
        return (f"<Analysis{where}: {type(d).__name__}, {d.n_units} units, "
                f"{d.n_inputs} inputs, {d.n_outputs} outputs>")

    def run(self, inputs, *, h0=None, noise=False, seed=0, batch_size=None):
        """Run the network over trials, noise-free unless asked.

        Parameters
        ----------
        inputs : Trials or array_like of shape (trials, time, n_in)
        h0 : array_like of shape (N,) or (trials, N), optional
            Initial state; the network's own (usually zeros) by default.
        noise : bool or float, default False
            ``True`` adds the network's own noise (``dynamics.noise_std``); a
            number sets the standard deviation. Leaky and vanilla networks only.
        seed : int, default 0
            Seed of the noise. Each trial draws from its own stream, so a trial's
            noise depends on the seed and its position only, not on batching.
        batch_size : int, optional
            Trials computed at once; by default about 32 MB of states.

        Returns
        -------
        Trajectories
            ``hidden`` (trials, time, N) and ``outputs`` (trials, time, n_out).
        """
        inputs = check_inputs(self.dynamics, inputs)
        n_trials, n_time, _ = inputs.shape
        hidden = np.empty((n_trials, n_time, self.dynamics.n_units))
        outputs = np.empty((n_trials, n_time, self.dynamics.n_outputs))
        for rows, h, y in self.simulate(inputs, h0=h0, noise=noise, seed=seed, batch_size=batch_size):
            hidden[rows], outputs[rows] = h, y
        return Trajectories(hidden, outputs)

    def simulate(self, inputs, *, h0=None, noise=False, seed=0, batch_size=None):
        """Yield ``(rows, hidden, outputs)`` batch by batch: the engine of :meth:`run`
        (see :func:`dynan.simulate.simulate`)."""
        return simulate(self.dynamics, inputs, h0=h0, noise=noise, seed=seed,
                        batch_size=batch_size)

    def record(self, trials, path=None, *, noise=False, seed=0, batch_size=None,
               overwrite=False, progress=None):
        """Run the network over labelled trials and write everything to a results file.

        Inputs, hidden states, outputs, targets and the condition table are written
        batch by batch as the run goes, so memory stays flat however many trials
        there are. The file appears only when complete (see :func:`dynan.h5.new_file`).

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
            The file, open for reading and for the stage methods to store into
            (``mode="r+"``); its arrays read lazily. Also kept as ``recording``.

        Examples
        --------
        >>> import dynan
        >>> an = dynan.load(dynan.example_model("tdnms_leaky"))
        >>> res = an.record(dynan.tasks.tdnms(30, seed=0))        # in memory
        >>> res
        <dynan.Results memory: 30 trials, types ['LS', 'SL', 'SS']>
        >>> res.select(trial_type="SL").hidden[:5, 150].shape     # five SL trials at bin 150
        (5, 128)

        Given a path, the recording is a file, to open again later with :class:`Results`:

        >>> import os, tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), "tdnms.h5")
        >>> res = an.record(dynan.tasks.tdnms(30, seed=0), path)
        >>> res.path.name, len(dynan.Results(path))
        ('tdnms.h5', 30)
        """
        options = {"noise": noise, "seed": seed, "batch_size": batch_size, "progress": progress}
        if path is None:
            f = h5py.File(f"dynan-{uuid.uuid4().hex}.h5", "w", driver="core", backing_store=False)
            write_recording(f, self, trials, **options)
            self.recording = Results(f)
        else:
            with h5.new_file(path, overwrite=overwrite) as f:
                write_recording(f, self, trials, **options)
            self.recording = Results(path, mode="r+")
        return self.recording

    def pca(self, results=None, *, n_components=10, fit_on="all", by="trial_type",
            batch_size=None):
        """PCA of the recorded hidden states, by trial type (or any condition columns).

        Parameters
        ----------
        results : Results, optional
            The recording; the latest :meth:`record` by default. Stored there under
            ``/pca``.
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
        >>> import dynan
        >>> an = dynan.load(dynan.example_model("tdnms_leaky"))
        >>> res = an.record(dynan.tasks.tdnms(30, seed=0))
        >>> p = an.pca(n_components=3, fit_on="condition_means")
        >>> p
        <TrialPCA: 3 components (...), fit on condition_means, 3 groups by ['trial_type']>
        >>> p.condition_means[p.group("SL")].shape                # mean SL trajectory: (time, PC)
        (200, 3)
        >>> fps = an.fixed_points(n_inits=32)
        >>> p.transform(fps.xstar).shape                          # fixed points in PC space
        (1, 3)
        """
        return self._stage("pca", results, n_components=n_components, fit_on=fit_on, by=by,
                           batch_size=batch_size)

    def spectrum(self, results=None):
        """Eigenspectra of ``W_rec`` and of the leaky update's linear map.

        Leaky and vanilla networks only (capability ``"recurrent_weights"``); for
        every network, :meth:`linearization` gives the Jacobian's counterparts. Time
        constants are in seconds when the recording knows ``dt``.

        Returns
        -------
        Spectrum
        """
        from .spectra import spectrum

        results = results if results is not None else self.recording
        if results is None and "recurrent_weights" in self.dynamics.capabilities:
            return spectrum(self.dynamics.W_rec, self.dynamics.gamma)
        return self._stage("spectrum", results)

    def fixed_points(self, inputs=None, *, results=None, initial_states=None, n_inits=1024,
                     noise_scale=0.01, seed=0, **options):
        """Find fixed and slow points, with their linearization.

        Parameters
        ----------
        inputs : "epochs", array_like (n_in,) or (n_inits, n_in), or dict of str -> (n_in,), optional
            Constant input of the search: zeros by default; ``"epochs"`` for each
            task epoch's input and zero; one vector for every start; one per start;
            or one per named condition (e.g. ``{"odor on": [0, 1], "odor off": [0,
            0]}``), each searched from every start and labelled with its name.
        results : Results, optional
            The recording the starts are drawn from; the latest :meth:`record` by
            default. Stored there under ``/fixed_points``.
        initial_states : array_like (n_inits, N), optional
            Starts; by default ``n_inits`` states drawn at random from the recording
            plus Gaussian noise of ``noise_scale``.
        n_inits : int, default 1024
        noise_scale : float, default 0.01
        seed : int or None, default 0
            Seed of the draw and the noise.
        **options
            Passed to :func:`dynan.find_fixed_points` (``tol``,
            ``max_slow_q``, ``unique_tol``, ...). The time step ``dt`` defaults to
            the recording's.

        Returns
        -------
        FixedPoints
            With ``slow_points`` attached.

        Examples
        --------
        >>> import dynan
        >>> an = dynan.load(dynan.example_model("tdnms_leaky"))
        >>> res = an.record(dynan.tasks.tdnms(30, seed=0))
        >>> fps = an.fixed_points({"odor on": [0, 1], "odor off": [0, 0]}, n_inits=32)
        >>> fps
        <FixedPoints: 2 (1 stable, 1 saddle); 1 slow points>
        >>> fps.labels.tolist(), fps.stability.tolist()
        (['odor off', 'odor on'], ['saddle', 'stable'])
        >>> res.fixed_points().labels.tolist()                   # stored in the recording
        ['odor off', 'odor on']
        """
        options.update(inputs=inputs, initial_states=initial_states, n_inits=n_inits,
                       noise_scale=noise_scale, seed=seed)
        if results is None and self.recording is None and initial_states is not None:
            from .fixed_points import fixed_points_stage

            return fixed_points_stage(self.dynamics, None, **options)  # nothing to store into
        return self._stage("fixed_points", results, **options)

    def linearization(self, results=None, **options):
        """Jacobians along each trial type's mean trajectory and at the main attractor.

        Every network; the fixed points stored in the recording, when there are
        any, give the main attractor. See :func:`dynan.linearization.linearize`.

        Returns
        -------
        Linearization
        """
        return self._stage("linearization", results, **options)

    def topology(self, results=None, **options):
        """Trace every saddle's unstable manifold to where it leads: the fixed-point graph.

        Needs the fixed points stored in the recording (:meth:`fixed_points`). See
        :func:`dynan.topology.topology`.

        Returns
        -------
        Topology
            ``.graph()`` gives it as a :class:`networkx.DiGraph`.
        """
        return self._stage("topology", results, **options)

    def manifolds(self, results=None, **options):
        """Trace line and ring attractors and slow manifolds through the marginal points.

        Needs the fixed points stored in the recording (:meth:`fixed_points`). See
        :func:`dynan.manifolds.manifolds`.

        Returns
        -------
        Manifolds
        """
        return self._stage("manifolds", results, **options)

    def cycles(self, results=None, **options):
        """Find the periodic orbits, invariant circles and chaos of the network under zero
        input and each epoch's input.

        Needs the fixed points stored in the recording (:meth:`fixed_points`): their
        search's starts are among the cycles'. See :func:`dynan.cycles.cycles`.

        Returns
        -------
        Cycles
        """
        return self._stage("cycles", results, **options)

    def continuation(self, results=None, **options):
        """Follow the fixed points from zero input to each epoch's input (and along the
        task's own paths), recording the bifurcations met on the way.

        Needs the fixed points stored in the recording (:meth:`fixed_points`). See
        :func:`dynan.bifurcations.continuation_stage`; :func:`dynan.continuation` follows
        any path.

        Returns
        -------
        Continuation
        """
        return self._stage("continuation", results, **options)

    def analyze(self, trials=None, out="dynan-results", *, task=None, n_trials=256, seed=0,
                n_inits=512, overwrite=False, formats=("pdf", "svg", "png"), panels=None,
                progress=None, wait=False):
        """Record, PCA by trial type, spectra, fixed points, linearization, topology and figures, in one call.

        Runs every stage of :data:`dynan.STAGES` that applies to the network.
        Fixed points are sought under zero input and under the constant input of each
        task epoch (epochs with equal inputs merged, e.g. tDNMS odor on / odor off).
        Everything is written into a hidden folder beside ``out`` and moved into place
        only when complete, so a failed or interrupted run leaves earlier results as
        they were. Everything is checked before any work starts, and ``out`` is locked
        while it is written (see :mod:`dynan.output`).

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
            Replace an existing ``out``, which must be a folder made by dynan (one
            holding the marker :data:`dynan.output.MARKER`).
        formats : sequence of str, default ("pdf", "svg", "png")
            Figure formats; empty for no figures.
        panels : sequence of str, optional
            The panels to draw (names of :data:`dynan.figures.PANELS` and
            ``"overview"``); by default all.
        progress : bool, optional
        wait : bool, default False
            When another process is writing ``out``, wait for it instead of raising
            :class:`dynan.output.InUseError`.

        Returns
        -------
        Results
            The results file in ``out``, open for reading.

        Examples
        --------
        A quick run: few trials and starts, no figures (the defaults take longer):

        >>> import dynan, os, tempfile
        >>> an = dynan.load(dynan.example_model("tdnms_leaky"))
        >>> out = os.path.join(tempfile.mkdtemp(), "tdnms")
        >>> res = an.analyze(out=out, n_trials=30, n_inits=32, formats=())
        >>> sorted(os.listdir(out))
        ['.dynan', 'report.html', 'summary.json', 'tdnms_leaky.h5']
        >>> sorted(res.file)
        ['continuation', 'cycles', 'fixed_points', 'linearization', 'manifolds', 'network', 'pca', 'spectrum', 'topology', 'trials']
        """
        from .pipeline import analyze

        return analyze(self, trials, out, task=task, n_trials=n_trials, seed=seed,
                       n_inits=n_inits, overwrite=overwrite, formats=formats, panels=panels,
                       progress=progress, wait=wait)

    def _stage(self, name, results, **options):
        """Run stage ``name`` on a recording and store its result there when writable."""
        stage = REGISTRY[name]
        if not stage.applies(self.dynamics):
            raise ValueError(
                f"{name} needs a network with {', '.join(sorted(stage.requires))}; this "
                f"{type(self.dynamics).__name__} has {sorted(self.dynamics.capabilities) or 'none'}")
        results = results if results is not None else self.recording
        if results is None:
            raise ValueError(f"no recording to analyse: call record(trials) first, or pass "
                             f"results=dynan.Results(path)")
        results.require_writable()  # before the work, not after
        result = stage.run(self.dynamics, results, **options)
        results.store(name, result)
        return result
