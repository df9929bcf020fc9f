"""Fixed and slow points of a network's dynamics, and the linearization around them.

The search solves ``G(h) = F(h, x) - h = 0`` from every start at once with a
Newton method on the exact Jacobian, globalised by a backtracking (Armijo) line search
on the speed ``q(h) = 1/2 ||G(h)||^2``. Its steps are solved in single precision (about
twice as fast; the double-precision residual ``G`` decides convergence), and each root
it reaches is polished by one double-precision step. A start ends as

- a **fixed point** once ``max|F(h, x) - h| <= tol`` (1e-10 by default): every
  reported fixed point meets this bound;
- a **slow point candidate** when Newton stalls (its step has to be cut to 1/16
  or less four times in a row, or cannot lower ``q`` at all, as happens where
  ``dG/dh`` is nearly singular) or runs out of iterations. Candidates with ``q``
  within ten times ``max_slow_q`` are taken to a local minimum of ``q`` by a
  damped Newton method on ``q`` itself, with its exact Hessian where the dynamics
  give it in closed form (``Dynamics.speed_derivatives``; Levenberg-Marquardt otherwise). Minima with ``q``
  above numerical zero and at most ``max_slow_q`` are the slow points, reported
  apart with their ``q``; a candidate that reaches ``tol`` joins the fixed points;
- **merged** into a fixed point already found under its input, once it comes within
  ``MERGE_RADIUS`` (1e-3) spreads of the starts of it: it was on its way there, and
  trained networks send many starts into each basin.

Where the update is odd, ``F(-h, x) = -F(h, x)`` (an odd activation such as tanh and
no external drive, as in Hopfield and random networks without biases), the mirror
image of every point found is a point too: the search adds the mirrors it did not
reach, each checked against ``tol``.

Then the search looks for points that the starts missed (``complete``): from beside each
saddle, along its leading unstable modes, where neighbouring points lie, it runs Newton's
method deflated by the points already found (Farrell, Birkisson & Funke 2015: Newton on
``m(h) G(h)``, ``m = prod_i (||h - r_i||^-2 + 1)``, which they repel), in rounds from the
saddles found last.

Points closer than ``unique_tol`` (2-norm; ``slow_unique_tol`` for slow points) are
one point, represented by the one with the lowest ``q``. No other rule removes points.

The linear algebra runs in cache-sized chunks on two threads. Where the dynamics can
solve Newton's systems without the Jacobian (``Dynamics.solve_newton``: Woodbury's
identity for weights that are low rank plus a multiple of the identity, as in Hopfield
and low-rank networks), they do. Above ``DENSE_UNITS`` units, Newton's systems are
solved by GMRES on Jacobian products (``Dynamics.tangent``) wherever it converges, as
loosely as the distance from a root allows (inexact Newton). It converges quickly where
the Jacobian has few eigenvalues near or beyond the unit circle (trained networks);
elsewhere (chaotic networks, where GMRES soon shows it would not) the systems are
factorised. Each point keeps its leading modes, computed by ARPACK; equal Jacobians are
decomposed once. Where the recurrent weights are symmetric (Hopfield networks), each
Jacobian is similar to a symmetric matrix (``Dynamics.symmetric_form``), whose
eigendecomposition is about six times faster.
"""

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields

import numpy as np
from tqdm.auto import tqdm

from . import h5, stability
from .stability import FIXED_TOL, KINDS, MARGINAL_TOL, MAX_SLOW_Q
from .threads import one_blas_thread

#: Newton stalls after SHORT_STREAK iterations in a row whose step was cut below SHORT_STEP
#: (steps are cut by 4 at a time: below 1/4 means to 1/16 or less).
SHORT_STEP, SHORT_STREAK = 1 / 4, 4
#: The minimisation of q stops where EDGE_STREAK steps in a row, each damped 4 times more
#: than the last, would have left the dynamics' ``state_bounds``: q falls only beyond
#: them, where no trajectory goes. (Steps projected onto the bounds instead crawl along
#: their edge: on a user's 256-unit GRU, 86 s and 318 slow points against 23 s and 158.)
EDGE_STREAK = 3
#: Jacobian entries handled at once: chunks this small stay in cache (and in the heap).
CHUNK_ELEMENTS = 2**20
#: Above this many units, Newton's systems are solved by GMRES on Jacobian products
#: (O(N^2) each, KRYLOV_DIM at most per step) instead of dense factorisations (O(N^3)).
DENSE_UNITS = 256
KRYLOV_DIM, KRYLOV_RTOL = 60, 1e-10
#: Inexact Newton (Eisenstat & Walker 1996): GMRES stops at a relative residual of
#: ``min(KRYLOV_FORCING, ||G||)`` (at least KRYLOV_RTOL), loose far from a root, where an
#: exact step is wasted, and ever tighter near one, which keeps convergence quadratic.
KRYLOV_FORCING = 1e-2
#: GMRES stops early (the step is then factorised) where, a quarter of KRYLOV_DIM in, its
#: rate so far would leave a relative residual above KRYLOV_HOPELESS after KRYLOV_DIM.
KRYLOV_HOPELESS = 1e-6
#: Above DENSE_UNITS units, fixed points keep their leading modes by modulus: at least
#: this many, and all that grow or are marginal (see ``_leading``).
LEADING_MODES = 16
#: Newton stops an iterate that comes within MERGE_RADIUS spreads of the starts of a root
#: already found under its input: it was on its way there.
MERGE_RADIUS = 1e-3
#: Completion: deflated Newton from beside each saddle, COMPLETION_STEP spreads of the
#: starts along each of its COMPLETION_MODES leading unstable modes, both ways, for at most
#: COMPLETION_ROUNDS rounds (each from the saddles the last one found).
COMPLETION_STEP, COMPLETION_MODES, COMPLETION_ROUNDS = 0.05, 2, 3
#: A search expected to take longer than this (seconds) says first how long and how much
#: memory, on its progress bar and to the ``dynan.fixed_points`` logger.
LONG_SEARCH = 10.0
#: Newton iterations per start for that estimate: 7 to 10 were measured on random networks
#: of 256 to 1,024 units, most starts stalling far from a root.
ITERS_PER_START = 10

_log = logging.getLogger(__name__)


@dataclass(eq=False)
class FixedPoints:
    """Fixed (or slow) points with their linearization, one row per point.

    Field names follow FixedPointFinder where they fit.

    Attributes
    ----------
    xstar : ndarray (K, N)
        The points.
    x_init : ndarray (K, N)
        The start each point was found from.
    inputs : ndarray (K, n_in)
        The constant input of each point's search.
    F_xstar : ndarray (K, N)
        ``F(xstar, inputs)``.
    qstar : ndarray (K,)
        Speed ``q = 1/2 ||F(x) - x||^2``; ``speed`` is ``||F(x) - x||``.
    dq : ndarray (K,)
        Decrease of ``q`` in the last iteration.
    n_iters : ndarray (K,)
        Iterations taken.
    J_xstar : ndarray (K, N, N)
        Jacobian ``dF/dh`` at each point.
    eigval_J_xstar : ndarray (K, M), complex
        Its eigenvalues, sorted by decreasing modulus: all of them (``M = N``) up to
        ``DENSE_UNITS`` units; above, the leading ones, which include every growing and
        marginal mode and the slowest decaying ones (``M`` at least ``LEADING_MODES``).
    eigvec_J_xstar : ndarray (K, N, M), complex
        Right eigenvectors, in columns.
    left_eigvec_J_xstar : ndarray (K, N, M), complex
        Left eigenvectors, in columns, scaled so that ``L^H R = I``.
    dFdu : ndarray (K, N, n_in)
        Input Jacobian ``dF/du`` (B of the linear model).
    dt : float
        Time step (s) for the time constants; 1 means time in steps.
    labels : ndarray (K,) of str
        The name of each point's input condition ("" when unnamed).
    distance : ndarray (K,)
        Distance to the nearest recorded state, in spreads of the recording (see
        :func:`visited_region`); NaN when the search knew no recording.

    Derived: ``is_stable``, ``n_unstable``, ``stability``, ``outside``,
    ``time_constants``, ``speed``, ``input_coupling``. Rows are selected with ``fps[mask]`` or
    ``fps[2:5]``; ``fps.slow_points`` holds the slow points of the same search.
    """

    xstar: np.ndarray
    x_init: np.ndarray
    inputs: np.ndarray
    F_xstar: np.ndarray
    qstar: np.ndarray
    dq: np.ndarray
    n_iters: np.ndarray
    J_xstar: np.ndarray
    eigval_J_xstar: np.ndarray
    eigvec_J_xstar: np.ndarray
    left_eigvec_J_xstar: np.ndarray
    dFdu: np.ndarray
    labels: np.ndarray
    dt: float = 1.0
    marginal_tol: float = MARGINAL_TOL
    slow_points: "FixedPoints" = None
    distance: np.ndarray = None

    def __post_init__(self):
        if self.distance is None:
            self.distance = np.full(len(self.xstar), np.nan)

    def __len__(self):
        return len(self.xstar)

    def __getitem__(self, index):
        index = np.arange(len(self))[index]
        index = np.atleast_1d(index)
        picked = {f.name: getattr(self, f.name)[index] for f in fields(self) if f.name in ARRAYS}
        return FixedPoints(**picked, dt=self.dt, marginal_tol=self.marginal_tol)

    def __repr__(self):
        counts = ", ".join(f"{np.sum(self.stability == s)} {s}" for s in KINDS
                           if np.any(self.stability == s))
        outside = f", {self.outside.sum()} outside the visited region" if self.outside.any() else ""
        slow = "" if self.slow_points is None else f"; {len(self.slow_points)} slow points"
        return f"<FixedPoints: {len(self)} ({counts or 'none'}{outside}){slow}>"

    @property
    def speed(self):
        """``||F(x) - x||`` of each point."""
        return np.sqrt(2 * self.qstar)

    @property
    def n_unstable(self):
        """Number of unstable modes (see :mod:`dynan.stability`)."""
        return stability.n_unstable(self.eigval_J_xstar, self.marginal_tol)

    @property
    def stability(self):
        """``"stable"``, ``"marginal"``, ``"saddle"`` or ``"unstable"``, as defined in
        :mod:`dynan.stability`."""
        return stability.classify(self.eigval_J_xstar, self.marginal_tol)

    @property
    def outside(self):
        """Whether each point lies outside the visited region (farther than
        :data:`dynan.stability.OUTSIDE` spreads from every recorded state)."""
        return self.distance > stability.OUTSIDE

    @property
    def is_stable(self):
        """Every mode decays (``stability == "stable"``)."""
        return self.stability == "stable"

    @property
    def time_constants(self):
        """``-dt / ln|lambda|`` of each mode (K, N): seconds when ``dt`` is; negative
        for growing modes, inf for ``|lambda| = 1``."""
        return stability.time_constants(self.eigval_J_xstar, self.dt)

    @property
    def input_coupling(self):
        """How strongly each input drives each mode: ``L^H dF/du``, (K, N, n_in)."""
        return np.einsum("kim,kin->kmn", self.left_eigvec_J_xstar.conj(), self.dFdu)

    def readout_coupling(self, dynamics, eps=1e-6):
        """How strongly each mode shows in the readout: ``dy/dh R``, (K, n_out, N).

        ``dy/dh`` is taken by central differences of ``dynamics.readout``.
        """
        C = _readout_jacobian(dynamics, self.xstar, eps)
        return np.einsum("koi,kim->kom", C, self.eigvec_J_xstar)

    def prediction_error(self, dynamics, *, steps=10, radius=1e-2, n_samples=16, seed=0):
        """Relative error of the linear model's prediction from nearby states.

        From ``n_samples`` states at distance ``radius`` around each point, runs the
        true dynamics and the linear model ``d_k = J^k d_0`` for ``steps`` steps
        under the point's input, and returns the mean of
        ``||(h_k - x*) - d_k|| / ||h_k - x*||``, shape (K, steps).
        """
        rng = np.random.default_rng(seed)
        K, N = self.xstar.shape
        d0 = rng.normal(size=(K, n_samples, N))
        d0 *= radius / np.linalg.norm(d0, axis=2, keepdims=True)
        h = (self.xstar[:, None] + d0).reshape(K * n_samples, N)
        x = np.repeat(self.inputs, n_samples, axis=0)
        lin = d0
        errors = np.empty((K, steps))
        for k in range(steps):
            h = dynamics.step(h, x)
            lin = np.einsum("kij,ksj->ksi", self.J_xstar, lin)
            true = h.reshape(K, n_samples, N) - self.xstar[:, None]
            errors[:, k] = np.mean(np.linalg.norm(true - lin, axis=2)
                                   / np.linalg.norm(true, axis=2), axis=1)
        return errors

    def save(self, path, name="fixed_points"):
        """Store in an HDF5 results file under ``name``, replacing what was there.

        The group is written all or nothing, in place (see :func:`dynan.h5.store_group`);
        without a file at ``path``, a new file holding only these points is written.

        Examples
        --------
        >>> import dynan, os, tempfile
        >>> d = dynan.from_weights(np.zeros((1, 2)), 0.5 * np.eye(2), np.zeros(2)).dynamics
        >>> fps = find_fixed_points(d, np.ones((4, 2)))
        >>> path = os.path.join(tempfile.mkdtemp(), "points.h5")
        >>> fps.save(path)                                 # a new file holding only these
        >>> dynan.Results(path).fixed_points()
        <FixedPoints: 1 (1 stable); 0 slow points>

        Into a recording, under a name of your own (here the points that eight flip-flop
        trials settle into: one stable point for each of the six memories they end in):

        >>> an = dynan.load(dynan.example_model("flipflop_leaky"))
        >>> path = os.path.join(tempfile.mkdtemp(), "flipflop.h5")
        >>> res = an.record(dynan.tasks.flipflop(8, seed=0), path)
        >>> res.trial_types
        ('+++', '++-', '+-+', '+--', '-++', '-+-')
        >>> fps = find_fixed_points(an.dynamics, res.hidden[:, -1], np.zeros(3))
        >>> fps.save(path, name="final_states")
        >>> res.fixed_points("final_states")
        <FixedPoints: 6 (6 stable); 0 slow points>
        """
        from pathlib import Path

        import h5py

        path = Path(path)
        if path.exists():
            with h5py.File(path, "r+") as f:
                h5.store_group(f, name, self.write)
        else:
            with h5.new_file(path) as f:
                h5.store_group(f, name, self.write)

    @classmethod
    def load(cls, path, name="fixed_points"):
        """Read fixed points stored by :meth:`save`."""
        import h5py

        with h5py.File(path, "r") as f:
            return cls.read(f[name])

    def write(self, group):
        """Write into an HDF5 group (plain datasets; no pickle)."""
        for name in ARRAYS:
            value = getattr(self, name)
            if name == "labels":
                h5.write_column(group, name, value)
            else:
                group.create_dataset(name, data=value)
        group.attrs.update({"dt": self.dt, "marginal_tol": self.marginal_tol,
                            "n_points": len(self), "description": DESCRIPTION})
        if self.slow_points is not None:
            self.slow_points.write(group.create_group("slow_points"))

    @classmethod
    def read(cls, group):
        """Read what :meth:`write` wrote."""
        arrays = {name: h5.read_column(group[name]) if name == "labels" else group[name][()]
                  for name in ARRAYS if name in group}  # files before `distance` lack it
        slow = cls.read(group["slow_points"]) if "slow_points" in group else None
        return cls(**arrays, dt=float(group.attrs["dt"]),
                   marginal_tol=float(group.attrs["marginal_tol"]), slow_points=slow)


ARRAYS = ("xstar", "x_init", "inputs", "F_xstar", "qstar", "dq", "n_iters", "J_xstar",
          "eigval_J_xstar", "eigvec_J_xstar", "left_eigvec_J_xstar", "dFdu", "labels",
          "distance")
DESCRIPTION = ("fixed points of h -> F(h, inputs); J_xstar[k, i, j] = dF_i/dh_j; eigenvectors in "
               "columns, left ones scaled so that L^H R = I")


def find_fixed_points(dynamics, initial_states, inputs=None, *, tol=FIXED_TOL,
                      max_slow_q=MAX_SLOW_Q, unique_tol=1e-6, slow_unique_tol=1e-3, max_iters=50,
                      dt=1.0, marginal_tol=MARGINAL_TOL, labels=None, complete=True,
                      progress=None):
    """Find the fixed and slow points of ``dynamics`` from the given starts.

    Parameters
    ----------
    dynamics : Dynamics
    initial_states : array_like (B, N)
    inputs : array_like (n_in,) or (B, n_in), optional
        Constant input of each search; zeros by default.
    tol : float, default 1e-10
        A fixed point has ``max|F(h, x) - h| <= tol``.
    max_slow_q : float, default 1e-4
        Slow points (local minima of ``q`` above numerical zero) are kept when
        their ``q`` is at most this.
    unique_tol : float, default 1e-6
        Fixed points closer than this (2-norm) under the same input are one point.
    slow_unique_tol : float, default 1e-3
        The same for slow points, which lie in flat valleys of ``q`` and are
        located less sharply.
    max_iters : int, default 50
        Iterations per phase (Newton on G, then the minimisation of q).
    dt : float, default 1.0
        Time step for the time constants.
    marginal_tol : float, default 1e-2
        ``|lambda|`` within this of 1 counts as marginal.
    labels : array_like (B,) of str, optional
        A name for each start's input condition.
    complete : bool, default True
        Look for the points that the starts missed: deflated Newton (the points found
        repel it) from beside each saddle along its leading unstable modes, where
        neighbouring points lie (see :data:`COMPLETION_STEP`).
    progress : bool, optional
        Progress bar; by default only on a terminal.

    Returns
    -------
    FixedPoints
        The unique fixed points, with ``slow_points`` attached.

    Examples
    --------
    >>> import numpy as np, dynan
    >>> d = dynan.from_weights(np.zeros((1, 2)), 0.5 * np.eye(2), np.zeros(2)).dynamics
    >>> fps = find_fixed_points(d, np.random.default_rng(0).normal(size=(8, 2)))
    >>> fps.xstar.round(12) + 0.0
    array([[0., 0.]])
    """
    h0 = np.array(initial_states, dtype=float)
    if h0.ndim != 2 or h0.shape[1] != dynamics.n_units:
        raise ValueError(f"initial_states must have shape (B, {dynamics.n_units}); got {h0.shape}")
    B = len(h0)
    x = np.zeros(dynamics.n_inputs) if inputs is None else np.asarray(inputs, dtype=float)
    if x.shape not in ((dynamics.n_inputs,), (B, dynamics.n_inputs)):
        raise ValueError(f"inputs must have shape ({dynamics.n_inputs},) or ({B}, "
                         f"{dynamics.n_inputs}); got {x.shape}")
    x = np.array(np.broadcast_to(x, (B, dynamics.n_inputs)))
    labels = np.full(B, "") if labels is None else np.asarray(labels).astype(str)
    for name, value in (("tol", tol), ("max_slow_q", max_slow_q), ("unique_tol", unique_tol),
                        ("slow_unique_tol", slow_unique_tol)):
        if not (np.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be a positive number; got {value!r}")

    with tqdm(total=2 * max_iters, desc="fixed points", unit="iter",
              disable=None if progress is None else not progress) as bar, \
            one_blas_thread(), ThreadPoolExecutor(2) as pool:
        solver = _Solver(dynamics, x, tol, pool)
        seconds, nbytes = solver.estimate(h0)
        _check_memory(nbytes, f"the search from {B} starts of {dynamics.n_units} units")
        if seconds > LONG_SEARCH:
            note = f"about {_duration(seconds)}, {nbytes / 2**30:.1f} GiB"
            bar.set_postfix_str(note)
            _log.info("fixed points from %d starts of %d units: %s", B, dynamics.n_units, note)
        _, _, spread = visited_region(h0[None])  # the starts' spread
        h, it, converged, dq, merged = solver.newton(h0, max_iters, bar,
                                                     merge_radius=MERGE_RADIUS * spread)
        candidates = ~converged & ~merged & (solver.q(h, slice(None)) <= 10 * max_slow_q)
        h_lm, it_lm, conv_lm, dq_lm, merged_lm = solver.minimize_speed(
            h[candidates], candidates, max_iters, bar, slow_unique_tol)
        h[candidates], it[candidates], dq[candidates] = h_lm, it[candidates] + it_lm, dq_lm
        converged[np.flatnonzero(candidates)[conv_lm]] = True
        q = solver.q(h, slice(None))
        slow = candidates & ~converged & (q <= max_slow_q)
        slow[np.flatnonzero(candidates)[merged_lm]] = False
        h, x, h0, q, dq, it, labels, converged, slow = _add_mirrors(
            dynamics, tol, h, x, h0, q, dq, it, labels, converged, slow)
        bar.update(bar.total - bar.n)
        fixed = _linearize(dynamics, h, x, h0, q, dq, it, labels, converged, unique_tol, dt,
                           marginal_tol, pool)
        if complete:
            fixed = _complete(solver, fixed, COMPLETION_STEP * spread, unique_tol, max_iters, pool)
        fixed.slow_points = _linearize(dynamics, h, x, h0, q, dq, it, labels, slow,
                                       slow_unique_tol, dt, marginal_tol, pool)
    return fixed


def fixed_points_stage(dynamics, results, *, inputs="epochs", initial_states=None, n_inits=512,
                       noise_scale=0.01, seed=0, progress=None, **options):
    """The fixed-point stage: search from states of a recording, under named inputs.

    Parameters
    ----------
    dynamics : Dynamics
    results : Results
        A recording: the starts are drawn from its hidden states, ``dt`` is its.
    inputs : "epochs", None, array_like (n_in,) or (n_inits, n_in), or dict, default "epochs"
        ``"epochs"``: the constant input of each task epoch of the recording and zero
        input (:func:`epoch_inputs`); None: zero input; one vector for every start;
        one per start; or one per named condition (``{"odor on": [0, 1]}``), each
        searched from every start and labelled with its name.
    initial_states : array_like (n_inits, N), optional
        Starts; by default ``n_inits`` recorded states drawn at random plus Gaussian
        noise of ``noise_scale``.
    n_inits : int, default 512
    noise_scale : float, default 0.01
    seed : int or None, default 0
        Seed of the draw and the noise.
    progress : bool, optional
    **options
        Passed to :func:`find_fixed_points`; ``dt`` is the recording's, and
        ``marginal_tol`` is by default :func:`dynan.stability.marginal_tol_for` its trial
        length.

    Returns
    -------
    FixedPoints
    """
    n_in = dynamics.n_inputs
    if isinstance(inputs, str) and inputs == "epochs":
        inputs = epoch_inputs(np.asarray(results.inputs), results.epochs)
    if initial_states is None:
        initial_states = recorded_starts(results.hidden, n_inits, noise_scale, seed)
    starts = np.asarray(initial_states, dtype=float)
    labels = None
    if isinstance(inputs, dict):
        names = list(inputs)
        vectors = np.array([np.broadcast_to(np.asarray(inputs[k], dtype=float), n_in)
                            for k in names])
        labels = np.repeat(names, len(starts))
        inputs = np.repeat(vectors, len(starts), axis=0)
        starts = np.tile(starts, (len(names), 1))
    if results is not None:
        options.setdefault("dt", float(results.attrs["dt"]))
        options.setdefault("marginal_tol", stability.marginal_tol_for(results.hidden.shape[1]))
    fps = find_fixed_points(dynamics, starts, inputs, labels=labels, progress=progress, **options)
    if results is not None:
        visited, _, scale = visited_region(results.hidden)
        for points in (fps, fps.slow_points):
            points.distance = distance_to(points.xstar, visited) / scale
    return fps


#: Bytes of recorded states that :func:`visited_region` reads at once.
READ_BYTES = 2**26


def visited_region(hidden, max_states=20000):
    """The recorded states (at most ``max_states``, evenly spaced in time), their mean and
    their spread: the root-mean-square distance of the states from the mean.

    Parameters
    ----------
    hidden : array_like (trials, time, N)

    Returns
    -------
    states : ndarray (S, N)
    center : ndarray (N,)
    scale : float
    """
    n_trials, n_time, N = hidden.shape
    stride = min(n_time, max(1, int(np.ceil(n_trials * n_time / max_states))))
    block = max(1, READ_BYTES // (n_time * N * 8))  # whole trials: strided reads are slow
    states = np.concatenate([np.asarray(hidden[a:a + block])[:, stride - 1::stride]
                             for a in range(0, n_trials, block)]).astype(float).reshape(-1, N)
    center = states.mean(axis=0)
    scale = float(np.sqrt(np.mean(np.sum((states - center) ** 2, axis=1))))
    return states, center, scale or 1.0


def distance_to(points, states, chunk=256):
    """Distance from each point (K, N) to the nearest of ``states`` (S, N)."""
    out = np.empty(len(points))
    squared = np.sum(states**2, axis=1)
    for start in range(0, len(points), chunk):
        p = points[start:start + chunk]
        d2 = np.sum(p**2, axis=1)[:, None] - 2 * p @ states.T + squared[None]
        out[start:start + chunk] = np.sqrt(np.maximum(d2.min(axis=1), 0))
    return out


def recorded_starts(hidden, n_inits, noise_scale=0.01, seed=0):
    """``n_inits`` states drawn at random from a recording's (trials, time, N) hidden
    states, plus Gaussian noise of ``noise_scale``; trials are read once each."""
    rng = np.random.default_rng(seed)
    n_trials, n_time, N = hidden.shape
    trial = np.sort(rng.integers(n_trials, size=n_inits))
    time = rng.integers(n_time, size=n_inits)
    starts = np.empty((n_inits, N))
    block = max(1, READ_BYTES // (n_time * N * 8))  # runs of whole trials: fancy reads are slow
    for a in np.unique(trial // block) * block:
        mine = np.flatnonzero((trial >= a) & (trial < a + block))
        starts[mine] = np.asarray(hidden[a:a + block])[trial[mine] - a, time[mine]]
    return starts + rng.normal(scale=noise_scale, size=(n_inits, N))


def epoch_inputs(inputs, epochs, decimals=1):
    """Constant inputs of a task's epochs, by name.

    The mean input of each epoch, rounded to ``decimals``, with epochs of equal input
    merged (``"delay/wait"``); zero input is always included.

    Parameters
    ----------
    inputs : ndarray (trials, time, n_in)
    epochs : dict of str -> ndarray (trials, 2)
        ``[start, stop)`` bins of each epoch in each trial.

    Examples
    --------
    >>> x = np.zeros((2, 4, 1)); x[:, 2:] = 1
    >>> epoch_inputs(x, {"cue": np.array([[2, 4], [2, 4]])})
    {'cue': array([1.]), 'zero input': array([0.])}
    """
    found = {}
    for epoch, bounds in epochs.items():
        means = [inputs[i, a:b].mean(axis=0) for i, (a, b) in enumerate(bounds) if b > a]
        if means:
            vector = tuple(np.round(np.mean(means, axis=0), decimals) + 0.0)
            found.setdefault(vector, []).append(epoch)
    zero = tuple(np.zeros(inputs.shape[2]))
    found.setdefault(zero, ["zero input"])
    return {"/".join(names): np.array(vector) for vector, names in found.items()}


class _Solver:
    """Batched Newton on ``G(h) = F(h, x) - h`` and on the speed ``q = 1/2 ||G||^2``."""

    def __init__(self, dynamics, x, tol, pool):
        self.d, self.x, self.tol, self.pool = dynamics, x, tol, pool
        self.diagonal = np.arange(dynamics.n_units)
        self.krylov_ok = np.ones(len(x), dtype=bool)  # GMRES has not failed this start yet

    def clip(self, h):
        """States moved into the dynamics' ``state_bounds`` (copies)."""
        bounds = self.d.state_bounds
        return h.copy() if bounds is None else np.clip(h, *bounds)

    def inside(self, h):
        """Whether each state lies in the dynamics' ``state_bounds`` (all do without)."""
        bounds = self.d.state_bounds
        if bounds is None:
            return np.ones(len(h), dtype=bool)
        return np.all((h >= bounds[0]) & (h <= bounds[1]), axis=1)

    def estimate(self, h):
        """Seconds and bytes that a search from the states ``h`` should take: one Newton
        step timed on two of them (one per thread, after a first step), ``ITERS_PER_START``
        for each; the memory of the states and of each thread's largest chunk. Small
        searches (under ~1e10 flops) are not timed."""
        B, N = h.shape
        half = -(-B // 2)
        chunk = 3 * max(1, min(CHUNK_ELEMENTS // N ** 2, half)) * N * N  # dense, per thread
        if N > DENSE_UNITS:
            basis = (KRYLOV_DIM + 1) * N
            chunk = max(chunk, max(1, min(CHUNK_ELEMENTS * 32 // basis, half)) * basis)
        nbytes = 8 * (12 * B * N + 2 * chunk)
        if B * N ** 3 < 1e10:
            return 0.0, nbytes
        probe = _Solver(self.d, self.x[:2], self.tol, self.pool)  # leaves this one as it was
        rows = np.arange(min(2, B))
        seconds = []
        for _ in range(2):  # the first step may set things up once (low-rank weights' SVD)
            start = time.perf_counter()
            probe.newton_steps(h[rows], rows, probe.G(h[rows], rows))
            seconds.append(time.perf_counter() - start)
        return seconds[-1] * ITERS_PER_START * B / 2, nbytes

    def G(self, h, rows):
        return self.d._step(h, self.x[rows], None) - h  # shapes are known good here

    def q(self, h, rows):
        return 0.5 * np.sum(self.G(h, rows) ** 2, axis=1)

    def JG(self, h, rows):
        J = self.d._jacobian(h, self.x[rows])  # shapes are known good here
        J[:, self.diagonal, self.diagonal] -= 1
        return J

    def newton_steps(self, h, rows, G, exact=False):
        """Newton steps ``-dG/dh^-1 G``: by the dynamics' own solver where they have one
        (Woodbury's identity for low-rank weights); above ``DENSE_UNITS`` units by GMRES
        where it converges (:meth:`krylov`); else by factorising each system, in single
        precision unless ``exact``."""
        step = self.d.solve_newton(h, self.x[rows], -G)
        if step is not None:
            return step
        if self.d.n_units <= DENSE_UNITS:
            return self.directions(h, rows, G, exact=exact)
        tried = np.flatnonzero(self.krylov_ok[rows])
        step = np.empty_like(G)
        step[tried], solved = self.krylov(h[tried], rows[tried], G[tried])
        self.krylov_ok[rows[tried[~solved]]] = False
        dense = np.flatnonzero(~self.krylov_ok[rows])
        if len(dense):
            step[dense] = self.directions(h[dense], rows[dense], G[dense], exact=exact)
        return step

    def directions(self, h, rows, G, lam=None, exact=False):
        """Newton steps ``-dG/dh^-1 G`` or, given damping ``lam``, damped Newton steps on
        q, ``-(H + lam max|diag H| I)^-1 J^T G`` with H the Hessian of q (its Gauss-Newton
        part ``J^T J`` where the dynamics have no closed form), and the gradient of q.
        Newton's systems are solved in single precision unless ``exact``.

        Computed in chunks small enough to stay in cache, spread over two threads
        (NumPy and LAPACK release the GIL); singular systems fall back to least squares.
        """

        def chunk(s):
            if lam is None:
                A, b, grad = self.JG(h[s], rows[s]), -G[s], None
            else:
                fast = self.d.solve_speed(h[s], self.x[rows[s]], G[s], lam[s])
                if fast is not None:
                    return fast
                derivatives = self.d.speed_derivatives(h[s], self.x[rows[s]], G[s])
                if derivatives is None:  # Gauss-Newton
                    J = self.JG(h[s], rows[s])
                    grad = np.einsum("bji,bj->bi", J, G[s])
                    A = np.matmul(J.transpose(0, 2, 1), J)
                else:
                    grad, A = derivatives
                b = -grad
                diag = np.abs(A[:, self.diagonal, self.diagonal])
                A[:, self.diagonal, self.diagonal] += (lam[s] * diag.max(axis=1))[:, None]
            return (_solve(A, b) if lam is not None or exact else _solve_single(A, b)), grad

        size = max(1, min(CHUNK_ELEMENTS // self.d.n_units ** 2, -(-len(h) // 2)))  # both threads
        parts = list(self.pool.map(chunk, [slice(i, i + size) for i in range(0, len(h), size)]))
        steps = np.concatenate([p[0] for p in parts])
        return steps if lam is None else (steps, np.concatenate([p[1] for p in parts]))

    def krylov(self, h, rows, G):
        """Newton steps by GMRES on ``(dF/dh - I) s = -G`` from ``s = 0`` with the
        dynamics' Jacobian products (``O(N^2)`` each): the steps, and whether each
        reached a residual of ``min(KRYLOV_FORCING, ||G||) ||G||`` (inexact Newton; at
        least ``KRYLOV_RTOL ||G||``) within ``KRYLOV_DIM`` products (it
        does quickly where the Jacobian is far from having eigenvalue 1, as in trained
        networks; chaotic ones have many eigenvalues outside the unit circle, and are
        factorised instead). Rows are split over the two threads."""
        apply = self.d.tangent(h, self.x[rows])

        def chunk(part):
            B, N = len(part), self.d.n_units
            m = min(N, KRYLOV_DIM)
            beta = np.linalg.norm(G[part], axis=1)
            goal = np.clip(beta, KRYLOV_RTOL, KRYLOV_FORCING) * beta
            solved = np.zeros(B, dtype=bool)
            V = np.empty((B, m + 1, N))
            V[:, 0] = -G[part] / np.maximum(beta, 1e-300)[:, None]
            H = np.zeros((B, m + 1, m))
            steps = np.zeros((B, N))
            active = np.flatnonzero(beta > 0)
            for k in range(m):
                basis = V[active, :k + 1]
                w = apply(basis[:, k], part[active]) - basis[:, k]
                for _ in range(2):  # classical Gram-Schmidt, twice
                    c = np.einsum("bjn,bn->bj", basis, w)
                    w -= np.einsum("bjn,bj->bn", basis, c)
                    H[active, :k + 1, k] += c
                norm = np.linalg.norm(w, axis=1)
                H[active, k + 1, k] = norm
                V[active, k + 1] = w / np.maximum(norm, 1e-300)[:, None]
                # min ||beta e1 - H y||: with H = QR, the residual is |beta Q[0, k + 1]|
                Q, R = np.linalg.qr(H[active, :k + 2, :k + 1], mode="complete")
                rhs = beta[active, None] * Q[:, 0, :]
                done = np.abs(rhs[:, k + 1]) <= goal[active]
                if done.any():
                    finished = active[done]
                    y = _solve(R[done, :k + 1], rhs[done, :k + 1])
                    steps[finished] = np.einsum("bjn,bj->bn", V[finished, :k + 1], y)
                    solved[finished] = True
                # give up where the rate so far, kept up, would not come near the goal
                rate = np.abs(rhs[:, k + 1]) / np.maximum(beta[active], 1e-300)
                hopeless = (k + 1 >= KRYLOV_DIM // 4) & (rate ** (m / (k + 1)) > np.maximum(
                    KRYLOV_HOPELESS, goal[active] / np.maximum(beta[active], 1e-300)))
                active = active[~done & ~hopeless]
                if not len(active):
                    break
            return steps, solved

        # both threads, and a Krylov basis of at most CHUNK_ELEMENTS * 32 numbers each
        size = max(1, min(CHUNK_ELEMENTS * 32 // ((KRYLOV_DIM + 1) * self.d.n_units),
                          -(-len(h) // 2)))
        done = list(self.pool.map(chunk, [np.arange(i, min(i + size, len(h)))
                                          for i in range(0, len(h), size)]))
        if not done:
            return np.empty_like(G), np.zeros(0, dtype=bool)
        return np.concatenate([p[0] for p in done]), np.concatenate([p[1] for p in done])

    def line_search(self, h, rows, step, G0, q0, deflation=None):
        """Backtrack from the full Newton step until q (times ``m^2`` under deflation)
        falls enough (Armijo, the slope of q along a Newton step being ``-2 q``) at a state
        within the dynamics' ``state_bounds``; returns the new states, their G, whether
        each step succeeded and the step fractions."""
        log_m0 = 0 if deflation is None else deflation.log_m(h, rows)
        alpha = np.ones(len(h))
        new_h, new_G = h.copy(), G0.copy()
        todo = np.arange(len(h))
        ok_all = np.zeros(len(h), dtype=bool)
        for _ in range(10):
            trial = h[todo] + alpha[todo, None] * step[todo]
            G = self.G(trial, rows[todo])
            q = 0.5 * np.sum(G ** 2, axis=1)
            if deflation is None:
                ok = (q <= q0[todo] * (1 - 2e-4 * alpha[todo])) & self.inside(trial)
            else:
                ok = (np.log(np.maximum(q, 1e-300)) + 2 * deflation.log_m(trial, rows[todo])
                      <= np.log(np.maximum(q0[todo], 1e-300)) + 2 * log_m0[todo]
                      + np.log1p(-2e-4 * alpha[todo])) & self.inside(trial)
            new_h[todo[ok]], new_G[todo[ok]], ok_all[todo[ok]] = trial[ok], G[ok], True
            todo = todo[~ok]
            if not len(todo):
                break
            alpha[todo] /= 4
        return new_h, new_G, ok_all, alpha

    def newton(self, h, max_iters, bar, deflation=None, merge_radius=0.0):
        """Damped Newton from every start; with a :class:`_Deflation`, on the deflated
        residual, so that the roots it knows repel. An iterate that comes within
        ``merge_radius`` of a root already found under its input stops there, merged:
        it was on its way to that root (many starts share a basin in trained networks).
        Starts are moved into the dynamics' ``state_bounds``, and steps that would leave
        them are cut. Returns the states, iterations, whether each converged, its last
        fall in q and whether it was merged."""
        B = len(h)
        h = self.clip(h)
        it, dq, short = np.zeros(B, dtype=int), np.zeros(B), np.zeros(B, dtype=int)
        converged, merged = np.zeros(B, dtype=bool), np.zeros(B, dtype=bool)
        roots = np.zeros(0, dtype=int)
        rows = np.arange(B)
        G = self.G(h, rows)
        for k in range(max_iters + 1):
            done = np.max(np.abs(G), axis=1) <= self.tol
            converged[rows[done]] = True
            self._polish(h, rows[done], G[done])
            new = rows[done]
            if merge_radius > 0 and len(roots) and len(new):  # the known ones add nothing
                new = new[~_within(h[new], self.x[new], h[roots], self.x[roots], merge_radius)]
            roots = np.concatenate([roots, new])
            rows, G = rows[~done], G[~done]
            if merge_radius > 0 and len(roots) and len(rows):
                near = _within(h[rows], self.x[rows], h[roots], self.x[roots], merge_radius)
                merged[rows[near]] = True
                rows, G = rows[~near], G[~near]
            if not len(rows) or k == max_iters:
                break
            bar.update(1)
            step = self.newton_steps(h[rows], rows, G)
            if deflation is not None:
                step = deflation.step(h[rows], rows, step)
            q0 = 0.5 * np.sum(G ** 2, axis=1)
            h_new, G_new, ok, alpha = self.line_search(h[rows], rows, step, G, q0, deflation)
            dq[rows] = q0 - 0.5 * np.sum(G_new ** 2, axis=1)
            h[rows], it[rows] = h_new, it[rows] + 1
            short[rows] = np.where(alpha < SHORT_STEP, short[rows] + 1, 0)
            ok &= short[rows] < SHORT_STREAK  # the others have stalled
            rows, G = rows[ok], G_new[ok]
        return h, it, converged, dq, merged

    def _polish(self, h, rows, G):
        """One more Newton step, in double precision, from the roots ``h[rows]`` (in
        place) where it lowers ``max|G|``: roots as exact as double precision allows,
        not merely within ``tol``."""
        if not len(rows):
            return
        trial = h[rows] + self.newton_steps(h[rows], rows, G, exact=True)
        better = np.max(np.abs(self.G(trial, rows)), axis=1) < np.max(np.abs(G), axis=1)
        h[rows[better]] = trial[better]

    def minimize_speed(self, h, candidates, max_iters, bar, merge_tol):
        """Damped Newton on q from ``h`` (the candidates' states) to a local minimum
        within the dynamics' ``state_bounds``, or near their edge (:data:`EDGE_STREAK`).
        Iterates that come within ``merge_tol`` of one with a lower q are merged into it."""
        B = len(h)
        h = h.copy()
        rows_all = np.flatnonzero(candidates)
        it, dq = np.zeros(B, dtype=int), np.zeros(B)
        converged, merged = np.zeros(B, dtype=bool), np.zeros(B, dtype=bool)
        lam = np.full(B, 1e-3)
        edge = np.zeros(B, dtype=int)  # steps in a row that would have left the state bounds
        active = np.arange(B)
        G = self.G(h, rows_all)
        for _ in range(max_iters):
            bar.update(1)
            done = np.max(np.abs(G[active]), axis=1) <= self.tol
            converged[active[done]] = True
            active = active[~done]
            if not len(active):
                break
            rows = rows_all[active]
            step, g = self.directions(h[active], rows, G[active], lam[active])
            trial = h[active] + step
            inside = self.inside(trial)
            G_trial = self.G(trial, rows)
            q0 = 0.5 * np.sum(G[active] ** 2, axis=1)
            q1 = 0.5 * np.sum(G_trial ** 2, axis=1)
            better = (q1 < q0) & inside
            take = active[better]
            h[take], G[take], dq[take] = trial[better], G_trial[better], (q0 - q1)[better]
            lam[take] /= 2
            lam[active[~better]] *= 4
            it[active] += 1
            # a local minimum: q stops falling, or the gradient vanishes, or (where q falls
            # only beyond the state bounds) the steps keep leaving them
            small_step = np.linalg.norm(step, axis=1) <= 1e-9 * (1 + np.linalg.norm(trial, axis=1))
            edge[active] = np.where(inside, 0, edge[active] + 1)
            flat = (~better & (lam[active] > 1e6)) | (better & small_step) | \
                   (np.linalg.norm(g, axis=1) <= 1e-12 * (1 + np.sqrt(q0))) | \
                   (edge[active] >= EDGE_STREAK)
            active = active[~flat]
            by_q = active[np.argsort(np.sum(G[active] ** 2, axis=1))]
            kept = np.array(_unique(h[by_q], self.x[rows_all[by_q]], merge_tol, by_q), dtype=int)
            merged[np.setdiff1d(active, kept)] = True
            active = np.sort(kept)
        done = np.max(np.abs(G), axis=1) <= self.tol
        return h, it, converged | done, dq, merged & ~done


class _Deflation:
    """Deflation of known roots (Farrell, Birkisson & Funke 2015): Newton on
    ``m(h) G(h)`` with ``m = prod_i (||h - r_i||^-2 + 1)`` over the roots ``r_i`` known
    under the same input, which keeps it from converging to them. Its steps are the
    plain Newton steps ``s`` divided by ``1 - s . grad log m``.

    Parameters
    ----------
    roots : ndarray (K, N)
    root_inputs : ndarray (K, n_in)
    x : ndarray (B, n_in)
        The input of each row of the search.
    """

    def __init__(self, roots, root_inputs, x):
        self.roots = roots
        self.same = np.all(x[:, None, :] == root_inputs[None], axis=2)  # (B, K)
        self.squared = np.sum(roots ** 2, axis=1)

    def _terms(self, h, rows):
        d2 = np.sum(h ** 2, axis=1)[:, None] - 2 * h @ self.roots.T + self.squared[None]
        d2 = np.maximum(d2, 1e-300)
        return d2, np.where(self.same[rows], 1 / d2 + 1, 1.0)

    def log_m(self, h, rows):
        return np.sum(np.log(self._terms(h, rows)[1]), axis=1)

    def step(self, h, rows, step):
        d2, m = self._terms(h, rows)
        c = np.where(self.same[rows], -2 / (d2 ** 2 * m), 0.0)  # grad log m = sum c_i (h - r_i)
        grad = c.sum(axis=1)[:, None] * h - c @ self.roots
        scale = 1 - np.sum(grad * step, axis=1)
        return step / np.where(np.abs(scale) > 1e-12, scale, 1.0)[:, None]


def _complete(solver, fixed, step, unique_tol, max_iters, pool):
    """``fixed`` and the points found by deflated Newton from ``x* +/- step v`` for each
    saddle ``x*`` and each of its ``COMPLETION_MODES`` leading modes ``v`` that grow (real
    parts), all points known repelling; rounds go on from the saddles found last."""
    d, sources, parts = solver.d, fixed, [fixed]
    known, known_inputs = fixed.xstar, fixed.inputs
    for _ in range(COMPLETION_ROUNDS):
        vals = sources.eigval_J_xstar[:, :COMPLETION_MODES]
        k, j = np.nonzero(np.abs(vals) > 1 + sources.marginal_tol)
        if not len(k):
            break
        v = sources.eigvec_J_xstar[k, :, j].real
        v *= step / np.maximum(np.linalg.norm(v, axis=1), 1e-300)[:, None]
        h0 = np.concatenate([sources.xstar[k] + v, sources.xstar[k] - v])
        x = np.concatenate([sources.inputs[k]] * 2)
        labels = np.concatenate([sources.labels[k]] * 2)
        search = _Solver(d, x, solver.tol, pool)
        with tqdm(disable=True) as bar:
            h, it, converged, dq, _ = search.newton(h0, max_iters, bar,
                                                    _Deflation(known, known_inputs, x))
        q = search.q(h, slice(None))
        none = np.zeros(len(h), dtype=bool)
        h, x, h0, q, dq, it, labels, converged, _ = _add_mirrors(
            d, solver.tol, h, x, h0, q, dq, it, labels, converged, none)
        for vector in np.unique(x, axis=0):  # not the points known (mirrors may be)
            rows = np.flatnonzero(np.all(x == vector, axis=1))
            same = known[np.all(known_inputs == vector, axis=1)]
            if len(same):
                converged[rows] &= distance_to(h[rows], same) > unique_tol
        if not converged.any():
            break
        sources = _linearize(d, h, x, h0, q, dq, it, labels, converged, unique_tol, fixed.dt,
                             fixed.marginal_tol, pool)
        parts.append(sources)
        known = np.concatenate([known, sources.xstar])
        known_inputs = np.concatenate([known_inputs, sources.inputs])
    return _join(parts, pool)


def _within(points, inputs, others, other_inputs, radius):
    """Which of ``points`` lie within ``radius`` (2-norm) of one of ``others`` under the
    same input."""
    d2 = (np.sum(points ** 2, axis=1)[:, None] - 2 * points @ others.T
          + np.sum(others ** 2, axis=1)[None])
    same = np.all(inputs[:, None, :] == other_inputs[None], axis=2)
    return np.any((d2 <= radius ** 2) & same, axis=1)


def _join(parts, pool):
    """The points of ``parts`` (FixedPoints) in turn, grouped by label as :func:`_linearize`
    groups them; leading modes (above ``DENSE_UNITS`` units) recomputed to as many for all."""
    if len(parts) == 1:
        return parts[0]
    M = max(points.eigval_J_xstar.shape[1] for points in parts)
    columns = []
    for points in parts:
        column = {name: getattr(points, name) for name in ARRAYS}
        if column["eigval_J_xstar"].shape[1] < M:
            found = list(pool.map(lambda j: _leading(j, points.marginal_tol, M), points.J_xstar))
            for i, name in enumerate(("eigval_J_xstar", "eigvec_J_xstar", "left_eigvec_J_xstar")):
                column[name] = np.stack([f[i][..., :M] for f in found])
        columns.append(column)
    order = np.argsort(np.concatenate([c["labels"] for c in columns]), kind="stable")
    joined = {name: np.concatenate([c[name] for c in columns]) for name in ARRAYS}
    if np.any(order != np.arange(len(order))):  # (copies of large arrays only if needed)
        joined = {name: value[order] for name, value in joined.items()}
    return FixedPoints(**joined, dt=parts[0].dt, marginal_tol=parts[0].marginal_tol)


def _add_mirrors(dynamics, tol, h, x, h0, q, dq, it, labels, converged, slow):
    """Append the mirror image of every fixed and slow point whose update is odd.

    When ``F(-h, x) = -F(h, x)`` (an odd activation and no external drive), ``-x*`` is a
    fixed (slow) point whenever ``x*`` is; each mirror is checked against ``tol`` all
    the same, and duplicates of points already found go at the uniqueness step.
    """
    rows = np.flatnonzero((converged | slow) & dynamics.is_odd(x))
    if not len(rows):
        return h, x, h0, q, dq, it, labels, converged, slow
    mirror = -h[rows]
    G = dynamics.step(mirror, x[rows]) - mirror
    ok = np.where(converged[rows], np.max(np.abs(G), axis=1) <= tol, True)
    rows, mirror, q_mirror = rows[ok], mirror[ok], 0.5 * np.sum(G[ok] ** 2, axis=1)
    join = lambda a, b: np.concatenate([a, b])  # noqa: E731
    return (join(h, mirror), join(x, x[rows]), join(h0, -h0[rows]), join(q, q_mirror),
            join(dq, dq[rows]), join(it, it[rows]), join(labels, labels[rows]),
            join(converged, converged[rows]), join(slow, slow[rows]))


def _linearize(dynamics, h, x, h0, q, dq, it, labels, keep, unique_tol, dt, marginal_tol, pool):
    """Unique points among ``keep``, with Jacobians and eigendecompositions."""
    idx = np.flatnonzero(keep)
    idx = idx[np.lexsort((q[idx], labels[idx]))]  # lowest q first within each condition
    chosen = []
    for group in np.unique(labels[idx]):
        members = idx[labels[idx] == group]
        chosen.extend(_unique(h[members], x[members], unique_tol, members))
    idx = np.array(sorted(chosen, key=lambda i: (labels[i], q[i])), dtype=int)
    K, N = len(idx), dynamics.n_units
    _check_memory(3 * K * N * N * 8, f"the Jacobians of {K} points of {N} units")
    if K:
        J = dynamics.jacobian(h[idx], x[idx])
        B_in = dynamics.input_jacobian(h[idx], x[idx])
        F = dynamics.step(h[idx], x[idx])
        # equal Jacobians (mirror images in odd networks) are decomposed once
        first = {}
        which = np.array([first.setdefault(j.tobytes(), k) for k, j in enumerate(J)])
        vals, right, left = _modes(J, which, marginal_tol, pool,
                                   lambda rows: dynamics.symmetric_form(h[idx[rows]], x[idx[rows]]))
    else:
        J, B_in, F = np.empty((0, N, N)), np.empty((0, N, dynamics.n_inputs)), np.empty((0, N))
        vals, right, left = np.empty((0, N), complex), np.empty((0, N, N), complex), np.empty((0, N, N), complex)
    return FixedPoints(
        xstar=h[idx], x_init=h0[idx], inputs=x[idx], F_xstar=F, qstar=q[idx], dq=dq[idx],
        n_iters=it[idx], J_xstar=J, eigval_J_xstar=vals, eigvec_J_xstar=right,
        left_eigvec_J_xstar=left, dFdu=B_in, labels=labels[idx], dt=dt, marginal_tol=marginal_tol)


def _free_memory():
    """Bytes of memory free for new work (Linux's MemAvailable), or None elsewhere."""
    try:
        with open("/proc/meminfo") as f:
            return next(int(line.split()[1]) * 1024 for line in f if line.startswith("MemAvailable:"))
    except (OSError, StopIteration):
        return None


def _check_memory(nbytes, what):
    """Refuse, in one line, work that would need more memory than the machine has free,
    rather than let the system kill the process."""
    free = _free_memory()
    if free is not None and nbytes > free:
        raise MemoryError(f"{what} need about {nbytes / 2**30:.1f} GiB and {free / 2**30:.1f} GiB "
                          "is free: search from fewer starts or under fewer inputs, or raise "
                          "unique_tol so that near points merge")


def _duration(seconds):
    """``"40 s"``, ``"3 min"``, ``"2.5 h"``."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min" if seconds < 5400 else f"{seconds / 3600:.1f} h"


def _unique(points, inputs, tol, members):
    """Members whose point is not within ``tol`` of an earlier one with the same input."""
    from scipy.spatial import cKDTree

    if not len(points):
        return []
    taken = np.zeros(len(points), dtype=bool)
    keep = []
    tree = cKDTree(points)
    for i in range(len(points)):
        if taken[i]:
            continue
        keep.append(members[i])
        near = np.asarray(tree.query_ball_point(points[i], tol))
        taken[near[np.all(inputs[near] == inputs[i], axis=1)]] = True
    return keep


def _solve(A, b):
    """``A x = b`` for a stack of systems (triangular ones too); singular ones by least
    squares."""
    try:
        return np.linalg.solve(A, b[..., None])[..., 0]
    except np.linalg.LinAlgError:
        return np.stack([np.linalg.lstsq(a, v, rcond=None)[0] for a, v in zip(A, b)])


def _solve_single(A, b):
    """Newton's systems ``A x = b`` (a stack) by single-precision LU, about twice as fast as
    double precision from 256 units. The step is then accurate to about ``cond(A) * 6e-8``
    relative, which Newton's method absorbs: near a root each iteration still shrinks the
    error by that factor at least, and the residual ``G`` that decides convergence is
    double precision. Singular systems fall back to :func:`_solve`."""
    from scipy.linalg import lapack

    A32, b32 = A.astype(np.float32), b.astype(np.float32)
    x = np.empty_like(b)
    for i in range(len(A32)):  # A^T in Fortran order is A: factorise A^T, solve transposed
        lu, pivots, info = lapack.sgetrf(A32[i].T, overwrite_a=True)
        x[i] = lapack.sgetrs(lu, pivots, b32[i], trans=1)[0] if info == 0 else np.nan
    bad = ~np.isfinite(x).all(axis=1)
    if bad.any():
        x[bad] = _solve(A[bad], b[bad])
    return x


def _modes(J, which, marginal_tol, pool, symmetric_form=lambda rows: None):
    """Eigenvalues by decreasing modulus with right and left eigenvectors of each (N, N)
    Jacobian in ``J``, that of ``J[k]`` taken from ``J[which[k]]`` (equal Jacobians are
    decomposed once): all of them up to ``DENSE_UNITS`` units, by a symmetric solver where
    ``symmetric_form(rows)`` gives the symmetric form of ``J[rows]``
    (:meth:`Dynamics.symmetric_form`); above, the leading ones (:func:`_leading`), as many
    for every matrix."""
    K, N = J.shape[:2]
    distinct, position = np.unique(which, return_inverse=True)
    if N > DENSE_UNITS:
        found = list(pool.map(lambda j: _leading(j, marginal_tol), J[distinct]))
        k = max(len(vals) for vals, _, _ in found)
        found = list(pool.map(lambda f, i: f if len(f[0]) == k else _leading(J[i], marginal_tol, k),
                              found, distinct))
        return tuple(np.stack([f[i] for f in found])[position] for i in range(3))
    vals = np.empty((K, N), complex)
    right, left = np.empty((K, N, N), complex), np.empty((K, N, N), complex)
    form = symmetric_form(distinct) if K else None

    def chunk(part):  # decomposes J[distinct[part]] into the rows that share them
        found = (_eig(J[distinct[part]]) if form is None
                 else _eigh_similar(form[0][part], form[1][part]))
        rows = np.isin(position, part)
        for out, value in zip((vals, right, left), found):
            out[rows] = value[np.searchsorted(part, position[rows])]
    size = max(1, CHUNK_ELEMENTS // N ** 2)  # (their work arrays stay small, and are reused)
    list(pool.map(chunk, [np.arange(i, min(i + size, len(distinct)))
                          for i in range(0, len(distinct), size)]))
    return vals, right, left


def _leading(J, marginal_tol, k=LEADING_MODES):
    """The leading modes of ``J`` (N, N) by ARPACK: at least ``k``, and every one down to
    the first that decays (``|lambda| < 1 - marginal_tol``), so that the growing and
    marginal modes, and the slowest decaying ones, are all there (the count doubles
    until they are; the whole spectrum where that would be most of it)."""
    from scipy.sparse.linalg import ArpackNoConvergence, eigs

    N = len(J)
    start = np.full(N, N ** -0.5)  # ARPACK's start vector, fixed: the same modes every run
    while 2 * k < N:
        try:
            # a Krylov space of 4k (ARPACK's default 2k + 1 converges slowly on the
            # clustered bulk of large random-like spectra: 1.6 times slower at 2,048 units)
            vals, right = eigs(J, k=k, which="LM", v0=start, tol=0, ncv=min(N - 1, 4 * k))
            # left eigenvectors: J^T l = conj(lambda) l; two more, for conjugate pairs
            conj_vals, left = eigs(J.T, k=k + 2, which="LM", v0=start, tol=0,
                                   ncv=min(N - 1, 4 * k + 8))
        except ArpackNoConvergence:
            break
        pair = np.argmin(np.abs(conj_vals[None, :] - vals.conj()[:, None]), axis=1)
        if np.abs(conj_vals[pair] - vals.conj()).max() > 1e-8 * (1 + np.abs(vals).max()):
            break  # a defective or tightly clustered spectrum: decompose it whole
        if np.abs(vals).min() < 1 - marginal_tol:
            order = np.argsort(-np.abs(vals), kind="stable")
            vals, right, left = vals[order], right[:, order], left[:, pair[order]]
            return vals, right, left / np.einsum("nk,nk->k", left.conj(), right).conj()
        k *= 2
    vals, right, left = _eig(J[None])
    return vals[0], right[0], left[0]


def _eigh_similar(S, v):
    """What :func:`_eig` gives for ``J = diag(v) S diag(v)^-1`` (S symmetric, v > 0), from
    ``S = Y M Y^T``: eigenvalues M, right eigenvectors ``diag(v) Y`` (scaled to unit length),
    left ones ``diag(v)^-1 Y`` (scaled so that ``L^H R = I``)."""
    vals, Y = np.linalg.eigh(S)
    order = np.argsort(-np.abs(vals), axis=1, kind="stable")
    vals = np.take_along_axis(vals, order, axis=1)
    Y = np.take_along_axis(Y, order[:, None, :], axis=2)
    right = v[:, :, None] * Y
    norms = np.linalg.norm(right, axis=1, keepdims=True)
    return vals, right / norms, Y / v[:, :, None] * norms


def _eig(J):
    """Eigenvalues (by decreasing modulus), right and left eigenvectors (columns, L^H R = I)."""
    vals, right = np.linalg.eig(J)
    order = np.argsort(-np.abs(vals), axis=1, kind="stable")
    vals = np.take_along_axis(vals, order, axis=1)
    right = np.take_along_axis(right, order[:, None, :], axis=2)
    left = np.linalg.inv(right).conj().transpose(0, 2, 1)
    return vals, right, left


def _readout_jacobian(dynamics, h, eps):
    K, N = h.shape
    cols = []
    for j in range(N):
        d = np.zeros(N)
        d[j] = eps
        cols.append((dynamics.readout(h + d) - dynamics.readout(h - d)) / (2 * eps))
    return np.stack(cols, axis=-1)
