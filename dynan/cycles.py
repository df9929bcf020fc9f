"""Limit cycles, invariant circles and chaos of the map under each constant input.

A trained network that oscillates under a constant input ``x`` does so on an attracting
closed curve of the map ``h -> F(h, x)``: either a **periodic orbit** of integer period
``P`` (``F^P(h) = h``) or, more often, an **invariant circle** on which the motion is
quasi-periodic, with a rotation number ``rho`` and a mean period ``1 / rho`` that is not
an integer.

From each start (the fixed-point search's starts where the recording holds them, and the
ends of the recorded trials), the dynamics run ``n_steps`` steps to converge, then
``n_record`` more (the *tail*), all starts at once. A tail that moves less than
``merge_tol`` spreads of the recording has settled (on a fixed point, or drifting along
a slow manifold): it is not on a cycle. A tail that comes back to itself (within
``recurrence_tol`` of its RMS amplitude after going farther, at a lag of at most
``max_period`` steps, from each of 16 of its states) is refined in one of two ways, the
one that fits first (the orbit first when the return is exact: within 1e-6 of the
amplitude):

- **orbit**: Newton shooting on ``F^P(h) - h`` (the Jacobian of ``F^P`` is the product
  of the step Jacobians) from the tail's last state, to ``max|F^P(h) - h| <= 1e-10``
  (:data:`dynan.stability.FIXED_TOL`), with ``P`` the lag of the return, reduced to
  the orbit's least period. Its Floquet multipliers are the eigenvalues of that product.
- **circle**: a Fourier series ``c(theta)`` and ``rho`` with ``F(c(theta)) =
  c(theta + 2 pi rho)``, found by collocation at ``2K + 1`` equally spaced phases and
  Newton's method, with the phase condition that the correction is orthogonal to the
  curve's tangent; each Newton system is solved by GMRES, preconditioned by the exact
  inverse for the Jacobian averaged along the curve (one Fourier mode at a time). The
  first guess comes from the tail: ``rho`` is the mean increment of the angle of its
  projection on its top two principal components, and ``c``'s coefficients are its
  Fourier coefficients against ``theta_t = 2 pi rho t``, both weighted Birkhoff averages
  (Das et al. 2017), which converge faster than any power of the tail's length on a
  smooth circle. ``K`` is where those coefficients fall below ``tol / 100`` (among the
  harmonics that the tail's steps tell apart, ``k rho < 1/2``), doubled (up to
  ``max_harmonics``) while the residual, the largest ``|F(c(theta)) - c(theta +
  2 pi rho)|`` on a grid four times finer than the collocation, exceeds ``tol``. The
  Lyapunov exponents along and across the curve come from tangent vectors carried
  along an orbit on the curve, the first started on its tangent, the second kept
  orthogonal to it (QR), as weighted averages of their growth.

A tail that has neither settled nor come back, or that neither refinement fits, is chaotic
when its largest Lyapunov exponent (one tangent vector, renormalised at each step) has
it grow by more than ``e^20`` over the tail; anything else (a slow drift, a torus) is
left out.

Starts that reach the same cycle at different phases are one cycle (``n_starts`` counts
them): a start whose state lies within ``merge_tol`` spreads of the recording
(:func:`dynan.fixed_points.visited_region`) of a cycle found under the same input joins
it (circles are sampled that finely), and so does a refined cycle that lies on one found
before. The chaotic starts under one input are one chaotic entry.
"""

import math
from dataclasses import dataclass
from functools import partial

import numpy as np
from scipy.sparse.linalg import LinearOperator, gmres

from . import h5
from .fixed_points import epoch_inputs, visited_region
from .stability import FIXED_TOL
from .threads import one_blas_thread

#: What a cycle is, in the order tables list them.
KINDS = ("orbit", "circle", "chaos")
#: Scalar columns, one value per cycle.
COLUMNS = ("kind", "labels", "period_steps", "rotation_number", "amplitude", "extent",
           "residual", "n_starts")
#: Largest residual ``max|F(c(theta)) - c(theta + 2 pi rho)|`` of a reported circle.
CIRCLE_TOL = 1e-8
#: Floquet multipliers kept per orbit, by decreasing modulus.
N_MULTIPLIERS = 8
#: A tail that comes back within this fraction of its amplitude has converged onto an orbit.
EXACT_RETURN = 1e-6
#: A tail is chaotic when a tangent vector grows by more than ``e`` to this over it.
CHAOS_GROWTH = 20.0
#: Tail states from which returns are measured.
N_RETURNS = 16
#: Jacobians computed at once.
CHUNK = 256
#: Values in a batch of tails computed at once (32 MB).
TAIL_ELEMENTS = 2**22


DESCRIPTION = ("periodic orbits, invariant circles and chaos under constant inputs; cycle c "
               "is states[offsets[c]:offsets[c+1]]; lyapunov columns: along, across (per step)")


@dataclass(eq=False)
class Cycles(h5.Table):
    """The cycles found, one row per cycle.

    Attributes
    ----------
    kind : ndarray (C,) of str
        One of :data:`KINDS`: ``"orbit"`` (period ``P``), ``"circle"`` (invariant
        circle) or ``"chaos"``.
    labels : ndarray (C,) of str
        Input condition.
    inputs : ndarray (C, n_in)
    period_steps : ndarray (C,)
        ``P`` for an orbit, the mean period ``1 / rho`` for a circle, NaN for chaos
        (``period`` is in seconds).
    rotation_number : ndarray (C,)
        ``rho`` in (0, 1/2] of a circle (``F(c(theta)) = c(theta + 2 pi rho)``); NaN
        otherwise.
    amplitude : ndarray (C,)
        Root-mean-square distance of the cycle's states from their mean (over its phase,
        or over time for chaos).
    extent : ndarray (C,)
        The largest distance between two of its states.
    residual : ndarray (C,)
        ``max|F^P(h) - h|`` of an orbit; ``max|F(c(theta)) - c(theta + 2 pi rho)|``
        over a fine grid of a circle; NaN for chaos.
    n_starts : ndarray (C,) of int
        The starts that reached it.
    multipliers : ndarray (C, N_MULTIPLIERS), complex
        An orbit's Floquet multipliers (eigenvalues of the Jacobian of ``F^P``), by
        decreasing modulus; NaN for the others and beyond ``N``.
    lyapunov : ndarray (C, 2)
        Lyapunov exponents per step: along the curve (a circle's; about 0), and the
        largest other one: across a circle, ``ln|mu_1| / P`` of an orbit, the largest
        exponent of chaos. NaN where there is none.
    offsets : ndarray (C + 1,) of int
    states : ndarray (S, N)
        Cycle ``c`` is ``states[offsets[c]:offsets[c + 1]]``: an orbit's ``P`` states in
        order; a circle's ``c(theta)`` at equally spaced phases; for chaos, its last
        recorded states.
    dt : float

    Examples
    --------
    A two-unit tanh network whose recurrent weights rotate and amplify the state
    oscillates on an invariant circle:

    >>> import dynan, numpy as np
    >>> a = 0.3
    >>> W = 1.5 * np.array([[np.cos(a), np.sin(a)], [-np.sin(a), np.cos(a)]])
    >>> an = dynan.from_weights(np.zeros((1, 2)), W, np.zeros(2), h0=[0.1, 0.0])
    >>> res = an.record(dynan.tasks.Trials.from_arrays(np.ones((4, 20, 1))))
    >>> cyc = cycles(an.dynamics, res, n_states=64)
    >>> cyc
    <Cycles: 1 circle (period 24.6 steps, 24.6 s)>
    >>> bool(cyc.residual[0] <= 1e-8), cyc.cycle(0).shape
    (True, (64, 2))
    >>> along, across = cyc.lyapunov[0]
    >>> bool(abs(along) < 1e-6 and across < 0)
    True
    """

    COLUMNS = COLUMNS  # the module's, for :class:`dynan.h5.Table`
    ARRAYS = ("inputs", "multipliers", "lyapunov", "offsets", "states")
    DESCRIPTION = DESCRIPTION

    kind: np.ndarray
    labels: np.ndarray
    inputs: np.ndarray
    period_steps: np.ndarray
    rotation_number: np.ndarray
    amplitude: np.ndarray
    extent: np.ndarray
    residual: np.ndarray
    n_starts: np.ndarray
    multipliers: np.ndarray
    lyapunov: np.ndarray
    offsets: np.ndarray
    states: np.ndarray
    dt: float = 1.0

    def __len__(self):
        return len(self.kind)

    def __repr__(self):
        parts = []
        for kind in KINDS:
            rows = np.flatnonzero(self.kind == kind)
            if len(rows):
                each = [f"exponent {self.lyapunov[c, 1]:.3g} per step" if kind == "chaos" else
                        f"period {self.period_steps[c]:.1f} steps, {self.period[c]:.3g} s"
                        for c in rows]
                plural = "s" if len(rows) > 1 else ""
                parts.append(f"{len(rows)} {kind}{plural} ({'; '.join(each)})")
        return f"<Cycles: {', '.join(parts) or 'none'}>"

    @property
    def period(self):
        """Each cycle's period in seconds (in steps when ``dt`` is 1)."""
        return self.period_steps * self.dt

    def cycle(self, c):
        """The states of cycle ``c``, (S_c, N), in order along it."""
        return self.states[self.offsets[c]:self.offsets[c + 1]]

    def rows(self):
        """One dict of the scalar columns per cycle (``label`` for ``labels``), with
        ``period`` in seconds, the exponents ``lyapunov_along`` and ``lyapunov_across``
        and the largest multiplier's modulus ``max_multiplier``."""
        names = {"labels": "label"}
        return [{**{names.get(name, name): getattr(self, name)[c].item() for name in COLUMNS},
                 "period": self.period[c].item(),
                 "lyapunov_along": self.lyapunov[c, 0].item(),
                 "lyapunov_across": self.lyapunov[c, 1].item(),
                 "max_multiplier": np.abs(self.multipliers[c, 0]).item()}
                for c in range(len(self))]


def cycles(dynamics, results, *, inputs="epochs", n_starts=32, n_steps=3000, n_record=2048,
           max_period=1000, recurrence_tol=0.05, merge_tol=0.01, tol=CIRCLE_TOL,
           max_harmonics=128, n_states=128):
    """The cycles stage: the orbits, invariant circles and chaos the dynamics settle in.

    Parameters
    ----------
    dynamics : Dynamics
    results : Results
        A recording; the fixed points' starts are used where it holds them.
    inputs : "epochs", None or dict of str -> array_like (n_in,), default "epochs"
        The constant inputs: each task epoch's and zero (:func:`dynan.fixed_points.epoch_inputs`);
        zero input only; or named inputs.
    n_starts : int, default 32
        Most starts per input: the fixed-point search's, then the trials' final states,
        evenly chosen where there are more.
    n_steps : int, default 3000
        Steps to converge.
    n_record : int, default 2048
        Steps of the tail that is classified, and of the orbits the exponents are
        averaged over.
    max_period : int, default 1000
        Longest lag at which a return is looked for (less than ``n_record``).
    recurrence_tol : float, default 0.05
        A return is within this fraction of the tail's RMS amplitude.
    merge_tol : float, default 0.01
        Distance, in spreads of the recording, within which a start lies on a cycle, and
        that a settled tail does not move.
    tol : float, default 1e-8
        Largest residual of a circle.
    max_harmonics : int, default 128
        Most Fourier harmonics of a circle.
    n_states : int, default 128
        States stored per circle (and per chaotic entry).

    Returns
    -------
    Cycles
    """
    if not 0 < max_period < n_record - N_RETURNS:
        raise ValueError(f"max_period must be positive and less than n_record - {N_RETURNS}; "
                         f"got max_period={max_period}, n_record={n_record}")
    N, n_in = dynamics.n_units, dynamics.n_inputs
    if isinstance(inputs, str) and inputs == "epochs":
        inputs = epoch_inputs(np.asarray(results.inputs), results.epochs)
    elif inputs is None:
        inputs = {"zero input": np.zeros(n_in)}
    names = list(inputs)
    vectors = np.array([np.broadcast_to(np.asarray(inputs[k], dtype=float), n_in) for k in names])
    starts = _starts(results, n_starts)
    _, _, scale = visited_region(results.hidden)
    with one_blas_thread():  # small matrices: one thread is fastest
        h = _after(dynamics, np.tile(starts, (len(names), 1)),
                   np.repeat(vectors, len(starts), axis=0), n_steps)
        options = {"max_period": max_period, "recurrence_tol": recurrence_tol, "tol": tol,
                   "max_harmonics": max_harmonics, "n_states": n_states,
                   "spacing": merge_tol * scale}
        # a state slower than this cannot move merge_tol spreads over the tail unless it
        # speeds up, which only a state on a saddle's stable manifold does: it has settled
        speed = np.linalg.norm(dynamics.step(h, np.repeat(vectors, len(starts), axis=0)) - h,
                               axis=1).reshape(len(names), len(starts))
        moving = speed > merge_tol * scale / n_record
        found = []
        for i, (name, u) in enumerate(zip(names, vectors)):
            known = []  # what this input's starts reached, fixed points included
            for tail in _tails(dynamics, h[i * len(starts):(i + 1) * len(starts)][moving[i]], u,
                               n_record):
                if np.max(np.linalg.norm(tail - tail[0], axis=1)) <= merge_tol * scale:
                    continue  # settled, on a fixed point or drifting along a slow manifold
                entry = _reached(known, tail[0], merge_tol * scale)
                if entry is None:
                    new = _classify(dynamics, tail, u, **options)
                    if new is None:
                        continue
                    entry = _repeated(known, new, merge_tol * scale)
                    if entry is None:
                        entry = {**new, "label": name, "input": u}
                        known.append(entry)
                entry["n_starts"] += 1
            found += [entry for entry in known if entry["kind"] in KINDS]
    return _collect(found, N, n_in, float(results.attrs["dt"]))


def _after(d, h, x, n):
    """The states ``n`` steps after ``h`` (B, N) under inputs ``x`` (B, n_in), run
    (:meth:`~dynan.Dynamics.trajectory`) in spans of at most :data:`TAIL_ELEMENTS` values."""
    span = max(1, TAIL_ELEMENTS // h.size)
    for start in range(0, n, span):
        steps = min(span, n - start)
        h = d.trajectory(np.broadcast_to(x[:, None], (len(h), steps, x.shape[1])), h)[:, -1]
    return h


def _tails(d, h, u, n):
    """The ``n`` states after each of ``h`` under input ``u``, one (n, N) tail at a time,
    computed in batches of at most :data:`TAIL_ELEMENTS` values."""
    batch = max(1, TAIL_ELEMENTS // (n * h.shape[1]))
    for start in range(0, len(h), batch):
        states = h[start:start + batch]
        yield from d.trajectory(np.broadcast_to(u, (len(states), n, len(u))), states)


def _starts(results, n_starts):
    """The fixed-point search's starts, then the trials' final states: at most ``n_starts``."""
    starts = []
    if "fixed_points" in results:
        fps = results.fixed_points()
        starts += [fps.x_init] + ([] if fps.slow_points is None else [fps.slow_points.x_init])
    starts.append(np.asarray(results.hidden[:, -1], dtype=float))
    starts = np.concatenate(starts)
    pick = np.linspace(0, len(starts) - 1, min(n_starts, len(starts))).round().astype(int)
    return starts[np.unique(pick)]


def _reached(known, state, distance):
    """The entry of ``known`` that ``state`` lies on (within ``distance``), or None."""
    return next((other for other in known if _near(other, state, distance)), None)


def _repeated(known, entry, distance):
    """The entry of ``known`` that ``entry`` is again: of its kind and lying on it (any
    chaos, for chaos), or None."""
    return next((other for other in known if other["kind"] == entry["kind"] and (
        entry["kind"] == "chaos" or _near(other, entry["states"][0], distance))), None)


def _near(entry, state, distance):
    return np.min(np.linalg.norm(entry["dense"] - state, axis=1)) <= distance


def _classify(d, tail, u, *, max_period, recurrence_tol, tol, max_harmonics,
              n_states, spacing):
    """What ``tail`` (under input ``u``) is on: an entry dict, or None."""
    amplitude = _rms(tail)
    reach = recurrence_tol * amplitude
    lag, distance = _return(tail, max_period, reach, EXACT_RETURN * amplitude)
    if lag is not None:
        orbit = partial(_orbit, d, u, tail[-1], lag, reach, EXACT_RETURN * amplitude)
        circle = partial(_circle, d, u, tail, tol, max_harmonics, n_states, spacing, reach)
        exact = distance <= EXACT_RETURN * amplitude  # converged onto an orbit
        for attempt in (orbit, circle) if exact else (circle, orbit):
            entry = attempt()
            if entry is not None:
                return entry
    exponent = _largest_exponent(d, u, tail)
    if exponent * len(tail) >= CHAOS_GROWTH:
        return {**_entry("chaos", tail[-n_states:]), "dense": tail,
                "lyapunov": np.array([np.nan, exponent])}
    return None


def _fixed(h):
    """A fixed point's entry: not a cycle, but starts that reach it are done."""
    return {"kind": "fixed", "states": h[None], "dense": h[None], "n_starts": 0}


def _entry(kind, states):
    """An entry for ``states``: its amplitude and extent, NaN for the other columns."""
    centered = states - states.mean(axis=0)
    squared = np.sum(centered**2, axis=1)
    gram = squared[:, None] + squared[None] - 2 * centered @ centered.T
    return {"kind": kind, "states": states, "dense": states, "n_starts": 0,
            "period_steps": np.nan, "rotation_number": np.nan, "residual": np.nan,
            "amplitude": np.sqrt(np.mean(squared)), "extent": np.sqrt(max(gram.max(), 0)),
            "multipliers": np.full(N_MULTIPLIERS, np.nan + 0j),
            "lyapunov": np.full(2, np.nan)}


def _collect(found, N, n_in, dt):
    """The entries as a :class:`Cycles`."""
    def column(name, dtype=float):
        return np.array([e[name] for e in found], dtype=dtype)

    states = [e["states"] for e in found]
    return Cycles(column("kind", str), column("label", str), column("input").reshape(-1, n_in),
                  *(column(name) for name in ("period_steps", "rotation_number", "amplitude",
                                              "extent", "residual")),
                  column("n_starts", int),
                  column("multipliers", complex).reshape(-1, N_MULTIPLIERS),
                  column("lyapunov").reshape(-1, 2),
                  np.concatenate([[0], np.cumsum([len(s) for s in states])]).astype(int),
                  np.concatenate(states) if states else np.zeros((0, N)), dt=dt)


def _run(d, h, u, n):
    """The ``n`` states after ``h`` under input ``u``, (n, N)."""
    return d.trajectory(np.broadcast_to(u, (1, n, len(u))), h[None])[0]


def _rms(states):
    return np.sqrt(np.mean(np.sum((states - states.mean(axis=0)) ** 2, axis=1)))


def _return(tail, max_period, within, exact):
    """The lag (1 to ``max_period``) at which the tail comes back to itself within
    ``within`` after having gone farther, from each of ``N_RETURNS`` of its states, and
    the largest distance of that return; ``(None, inf)`` when it does not come back.

    The lag is the shortest whose return is within twice the best (or within ``exact``):
    the period rather than its multiples.
    """
    times = np.linspace(0, len(tail) - max_period - 1, N_RETURNS).astype(int)
    lags = np.arange(1, max_period + 1)
    distance = np.linalg.norm(tail[times[:, None] + lags] - tail[times, None], axis=2).max(axis=0)
    near = distance <= within
    back = near & np.concatenate([[False], np.maximum.accumulate(~near)[:-1]])
    if not back.any():
        return None, np.inf
    best = max(2 * distance[back].min(), exact)
    i = np.flatnonzero(back & (distance <= best))[0]
    return lags[i], distance[i]


def _jacobians(d, states, u):
    """The Jacobians at ``states`` under input ``u``, one at a time, computed in chunks."""
    for start in range(0, len(states), CHUNK):
        chunk = states[start:start + CHUNK]
        yield from d.jacobian(chunk, np.broadcast_to(u, (len(chunk), len(u))))


def _bump(n):
    """Weights of a weighted Birkhoff average of ``n`` terms (Das et al. 2017)."""
    s = (np.arange(n) + 0.5) / n
    w = np.exp(-1 / (s * (1 - s)))
    return w / w.sum()


def _largest_exponent(d, u, tail):
    """The largest Lyapunov exponent per step along the tail (one tangent vector)."""
    v = np.full((1, tail.shape[1]), 1 / np.sqrt(tail.shape[1]))
    growth = 0.0
    for start in range(0, len(tail), CHUNK):
        chunk = tail[start:start + CHUNK]
        apply = d.tangent(chunk, np.broadcast_to(u, (len(chunk), len(u))))
        for t in range(len(chunk)):
            v = apply(v, slice(t, t + 1))
            norm = math.sqrt(np.dot(v[0], v[0]))
            growth += math.log(norm)
            v /= norm
    return growth / len(tail)


# --- periodic orbits -------------------------------------------------------------------

def _orbit(d, u, h, period, reach, exact):
    """The periodic orbit within ``reach`` of ``h`` (an entry; a fixed point's for period
    1), of the least period that divides ``period`` (its return within ``exact``), or
    None where Newton shooting does not converge there."""
    start = h
    h = _shoot(d, u, h, period)
    if h is None or np.linalg.norm(h - start) > reach:
        return None
    path = _run(d, h, u, period)
    least = next((p for p in range(1, period)
                  if period % p == 0 and np.max(np.abs(path[p - 1] - h)) <= exact), period)
    if least < period:
        h = _shoot(d, u, h, least)
        if h is None:
            return None
        path = _run(d, h, u, least)
    if least == 1:
        return _fixed(h)
    states = np.vstack([h, path[:-1]])
    values = np.linalg.eigvals(_product(d, u, states))
    values = values[np.argsort(-np.abs(values))][:N_MULTIPLIERS]
    multipliers = np.full(N_MULTIPLIERS, np.nan + 0j)
    multipliers[:len(values)] = values
    return {**_entry("orbit", states), "period_steps": least, "multipliers": multipliers,
            "residual": np.max(np.abs(path[-1] - h)),
            "lyapunov": np.array([np.nan, np.log(np.abs(values[0])) / least])}


def _product(d, u, states):
    """The Jacobian of ``F^P`` at ``states[0]``: the product of the step Jacobians
    at ``states`` (P, N), last first."""
    product = np.eye(states.shape[1])
    for J in _jacobians(d, states, u):
        product = J @ product
    return product


def _shoot(d, u, h, period, max_iters=30):
    """Newton's method on ``F^P(h) - h``, backtracking on its norm: the solution to
    :data:`dynan.stability.FIXED_TOL`, or None."""
    identity = np.eye(len(h))
    path = _run(d, h, u, period)
    for _ in range(max_iters):
        G = path[-1] - h
        if np.max(np.abs(G)) <= FIXED_TOL:
            return h
        J = _product(d, u, np.vstack([h, path[:-1]]))
        step = np.linalg.lstsq(J - identity, -G, rcond=None)[0]
        for _ in range(10):
            trial = _run(d, h + step, u, period)
            if np.linalg.norm(trial[-1] - h - step) < np.linalg.norm(G):
                break
            step /= 2
        else:
            return None
        h, path = h + step, trial
    return h if np.max(np.abs(path[-1] - h)) <= FIXED_TOL else None


# --- invariant circles -----------------------------------------------------------------

def _circle(d, u, tail, tol, max_harmonics, n_states, spacing, reach):
    """The invariant circle the tail lies on (an entry), or None where none is found
    within ``reach`` of the tail's last state."""
    rho = _rotation_number(tail)
    if rho * len(tail) < 1:
        return None  # its projection does not go round
    # the harmonics its steps tell apart: k rho < 1/2
    coefficients = _fourier(tail, rho, min(max_harmonics, int(0.5 / rho)))
    size = np.linalg.norm(coefficients, axis=1)
    K = int(np.flatnonzero(size > tol / 100).max(initial=1))
    while True:
        M = 2 * K + 1
        coefficients = np.vstack([coefficients[:K + 1],
                                  np.zeros((max(0, K + 1 - len(coefficients)), tail.shape[1]))])
        nodes, rho, converged = _newton_circle(d, u, _sample(coefficients, M), rho, tol)
        coefficients = np.fft.rfft(nodes, axis=0)[:K + 1] / M
        residual = _circle_residual(d, u, coefficients, rho, 4 * M)
        if not converged or residual <= tol or K == max_harmonics:
            break
        K = min(2 * K, max_harmonics)  # converged, but truncated too short
    if not residual <= tol:
        return None
    length = np.sum(np.linalg.norm(np.diff(_sample(coefficients, 4 * M), axis=0), axis=1))
    dense = _sample(coefficients, max(4 * M, int(np.ceil(length / spacing))))
    if np.min(np.linalg.norm(dense - tail[-1], axis=1)) > reach:
        return None
    along, across = _circle_exponents(d, u, coefficients, rho, len(tail))
    return {**_entry("circle", _sample(coefficients, n_states)), "dense": dense,
            "period_steps": 1 / rho, "rotation_number": rho, "residual": residual,
            "lyapunov": np.array([along, across])}


def _rotation_number(tail):
    """The mean increment of the angle of the tail's projection on its top two principal
    components over a turn, as a weighted Birkhoff average: in [0, 1/2]."""
    centered = tail - tail.mean(axis=0)
    z = centered @ np.linalg.svd(centered, full_matrices=False)[2][:2].T
    increments = np.angle(np.exp(1j * np.diff(np.arctan2(z[:, 1], z[:, 0]))))
    return abs(_bump(len(increments)) @ increments) / (2 * np.pi)


def _fourier(tail, rho, K):
    """The Fourier coefficients ``c_k``, k = 0..K, of the tail against ``theta_t = 2 pi
    rho t``, as weighted Birkhoff averages."""
    phases = np.exp(-2j * np.pi * rho * np.outer(np.arange(K + 1), np.arange(len(tail))))
    return (phases * _bump(len(tail))) @ tail


def _sample(coefficients, n, shift=0.0):
    """``c(theta)`` at ``n`` equally spaced phases plus ``shift``, from its coefficients
    ``c_k``, k = 0..K."""
    return _evaluate(coefficients, 2 * np.pi * np.arange(n) / n + shift)


def _evaluate(coefficients, theta, derivative=False):
    """``c(theta) = c_0 + 2 Re sum_k c_k e^{i k theta}`` (or its derivative)."""
    modes = np.arange(len(coefficients))
    factor = np.where(modes == 0, 1, 2) * (1j * modes if derivative else 1)
    return np.real(np.exp(1j * np.outer(theta, modes)) @ (factor[:, None] * coefficients))


def _circle_residual(d, u, coefficients, rho, n):
    """``max|F(c(theta)) - c(theta + 2 pi rho)|`` over ``n`` equally spaced phases."""
    points = _sample(coefficients, n)
    images = d.step(points, np.broadcast_to(u, (n, len(u))))
    return np.max(np.abs(images - _sample(coefficients, n, 2 * np.pi * rho)))


def _newton_circle(d, u, nodes, rho, tol, max_iters=10):
    """Newton's method on the collocation equations ``F(c(theta_j)) = c(theta_j + 2 pi rho)``
    at the nodes ``theta_j = 2 pi j / M``, with the phase condition: the nodes, ``rho`` and
    whether the equations hold to ``tol / 100``."""
    M, N = nodes.shape
    k = np.fft.fftfreq(M, 1 / M)
    x = np.broadcast_to(u, (M, len(u)))

    def shift(X, alpha, derivative=False):
        factor = np.exp(1j * k * alpha) * (1j * k if derivative else 1)
        return np.real(np.fft.ifft(factor[:, None] * np.fft.fft(X, axis=0), axis=0))

    tangent = shift(nodes, 0, derivative=True)
    best = (nodes, rho, np.inf)
    for _ in range(max_iters):
        G = d.step(nodes, x) - shift(nodes, 2 * np.pi * rho)
        error = np.max(np.abs(G))
        if not error < best[2] / 2:  # stalled: truncation, or no circle
            break
        best = (nodes, rho, error)
        if error <= tol / 100:
            break
        J = d.jacobian(nodes, x)
        drift = 2 * np.pi * shift(nodes, 2 * np.pi * rho, derivative=True)
        values, vectors = np.linalg.eig(J.mean(axis=0))
        inverse = np.linalg.inv(vectors)
        divisor = values[None] - np.exp(1j * k * 2 * np.pi * rho)[:, None]

        def apply(v):
            X = v[:-1].reshape(M, N)
            out = np.matmul(J, X[..., None])[..., 0] - shift(X, 2 * np.pi * rho) - drift * v[-1]
            return np.append(out.ravel(), np.sum(X * tangent) / M)

        def precondition(v):
            """The exact inverse for the mean Jacobian, one Fourier mode at a time."""
            X = np.fft.fft(v[:-1].reshape(M, N), axis=0) @ inverse.T / divisor
            return np.append(np.real(np.fft.ifft(X @ vectors.T, axis=0)).ravel(), v[-1])

        size = M * N + 1
        step = gmres(LinearOperator((size, size), apply), -np.append(G.ravel(), 0),
                     M=LinearOperator((size, size), precondition), restart=200, maxiter=5)[0]
        nodes = nodes + step[:-1].reshape(M, N)
        rho += step[-1]
    nodes, rho, error = best
    return nodes, rho, error <= tol / 100


def _circle_exponents(d, u, coefficients, rho, n):
    """Lyapunov exponents along the circle and across it, per step, from ``n`` steps of
    the orbit ``c(2 pi rho t)``: weighted averages of the growth of a tangent vector and
    of one kept orthogonal to it."""
    theta = 2 * np.pi * rho * np.arange(n)
    along = _evaluate(coefficients, theta[:1], derivative=True)[0]
    along /= np.linalg.norm(along)
    across = np.random.default_rng(0).normal(size=len(along))
    across -= (across @ along) * along
    across /= np.linalg.norm(across)
    growth = np.empty((n, 2))
    for t, J in enumerate(_jacobians(d, _evaluate(coefficients, theta), u)):
        along, across = J @ along, J @ across
        growth[t, 0] = np.linalg.norm(along)
        along /= growth[t, 0]
        across -= (across @ along) * along
        growth[t, 1] = np.linalg.norm(across)
        across /= growth[t, 1]
    return _bump(n) @ np.log(growth)
