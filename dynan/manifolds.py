"""Continuous attractors and slow manifolds, traced by continuation.

A line or ring attractor shows up in a fixed-point search as marginal points (an
eigenvalue of modulus 1) and slow points along a curve. From each marginal point inside
the visited region, the curve is followed both ways: a step of ``step`` spreads along
the tangent, then the slowest point in the hyperplane orthogonal to the tangent
(Gauss-Newton on ``F(x) - x``). The curve goes on while its points stay slow (speed
``||F(x) - x||`` at most that of a slow point, :data:`dynan.stability.MAX_SLOW_Q`) and
inside the visited region; it is closed (a ring) when it comes back to its start.
Marginal points that lie on a traced curve belong to it and start no curve of their
own. Curves are traced in one dimension: the reported ``dimension`` is the number of
marginal modes at the start (2 for a plane, traced along its slowest mode).
"""

from dataclasses import dataclass

import numpy as np

from . import h5, stability
from .fixed_points import distance_to, visited_region

COLUMNS = ("labels", "closed", "dimension", "length", "extent", "max_speed",
           "slowest_time_constant", "memory_time", "shortest_memory_time")


DESCRIPTION = ("continuous attractors and slow manifolds traced by continuation; manifold m "
               "is points[offsets[m]:offsets[m+1]]")


@dataclass(eq=False)
class Manifolds(h5.Table):
    """The traced manifolds, one row per manifold.

    Attributes
    ----------
    labels : ndarray (M,) of str
        Input condition.
    inputs : ndarray (M, n_in)
    closed : ndarray (M,) of bool
        A ring (the curve came back to its start).
    dimension : ndarray (M,) of int
        Marginal modes at the start.
    length : ndarray (M,)
        Length of the curve, in state units.
    extent : ndarray (M,)
        Its range along its main direction over the visited states' range along it.
    max_speed : ndarray (M,)
        The largest speed ``||F(x) - x||`` along it.
    slowest_time_constant : ndarray (M,)
        The slowest decaying mode other than the marginal ones, along it (seconds when
        ``dt`` is known).
    memory_time, shortest_memory_time : ndarray (M,)
        The time constant of the marginal mode where it is slowest along the manifold,
        and where it is fastest (near the ends of an approximate line attractor): how
        long a memory stored along it lasts (inf for an exact attractor).
    right, left : ndarray (M, N)
        The marginal mode's right and left eigenvectors at the start (``left @ right = 1``).
    input_selection : ndarray (M, n_in)
        ``left @ dF/du``: how much each input moves the state along the manifold (Mante
        et al. 2013's selection vector, projected on the inputs).
    offsets : ndarray (M + 1,) of int
    points : ndarray (P, N)
        Manifold ``m`` is ``points[offsets[m]:offsets[m + 1]]``, in order along it.
    dt : float
    """

    COLUMNS = COLUMNS  # the module's, for :class:`dynan.h5.Table`
    ARRAYS = ("inputs", "right", "left", "input_selection", "offsets", "points")
    DESCRIPTION = DESCRIPTION

    labels: np.ndarray
    inputs: np.ndarray
    closed: np.ndarray
    dimension: np.ndarray
    length: np.ndarray
    extent: np.ndarray
    max_speed: np.ndarray
    slowest_time_constant: np.ndarray
    memory_time: np.ndarray
    shortest_memory_time: np.ndarray
    right: np.ndarray
    left: np.ndarray
    input_selection: np.ndarray
    offsets: np.ndarray
    points: np.ndarray
    dt: float = 1.0

    def __len__(self):
        return len(self.labels)

    def __repr__(self):
        kinds = [f"{'closed' if c else 'open'} {d}-D, {n} points"
                 for c, d, n in zip(self.closed, self.dimension, np.diff(self.offsets))]
        return f"<Manifolds: {len(self)}{': ' + '; '.join(kinds) if kinds else ''}>"

    def rows(self):
        """One dict of the scalar columns per manifold (``label`` for ``labels``)."""
        names = {"labels": "label"}
        return [{names.get(name, name): getattr(self, name)[m].item() for name in COLUMNS}
                for m in range(len(self))]

    def manifold(self, m):
        """The points of manifold ``m``, (P_m, N), in order along it."""
        return self.points[self.offsets[m]:self.offsets[m + 1]]


def manifolds(dynamics, results, *, step=0.05, max_points=200, max_iters=15):
    """The manifolds stage: trace the curve of slow points through each marginal point.

    Parameters
    ----------
    dynamics : Dynamics
    results : Results
        A recording with fixed points (the ``fixed_points`` stage).
    step : float, default 0.05
        Step along the curve, in spreads of the recording.
    max_points : int, default 200
        Points per direction.
    max_iters : int, default 15
        Gauss-Newton iterations per point.

    Returns
    -------
    Manifolds
    """
    fps = results.fixed_points()
    visited, center, scale = visited_region(results.hidden)
    dt = float(results.attrs["dt"])
    max_speed = np.sqrt(2 * stability.MAX_SLOW_Q)
    seeds = np.flatnonzero((fps.stability == "marginal") & ~fps.outside)
    seeds = seeds[np.argsort(fps.speed[seeds])]
    found = []
    for k in seeds:
        if any(m["label"] == fps.labels[k] and distance_to(fps.xstar[k][None], m["points"])[0]
               <= 2 * step * scale for m in found):
            continue  # on a manifold already traced
        found.append(_trace(dynamics, fps, k, visited, center, scale, step * scale,
                            max_points, max_iters, max_speed, dt))
    n_in, N = fps.inputs.shape[1], fps.xstar.shape[1]
    column = {name: np.array([m[name] for m in found]) for name in (
        "label", "closed", "dimension", "length", "extent", "max_speed",
        "slowest_time_constant", "memory_time", "shortest_memory_time")}
    points = [m["points"] for m in found]
    return Manifolds(
        column["label"].astype(str), np.array([m["input"] for m in found]).reshape(-1, n_in),
        column["closed"].astype(bool), column["dimension"].astype(int),
        *(column[name].astype(float) for name in ("length", "extent", "max_speed",
                                                  "slowest_time_constant", "memory_time",
                                                  "shortest_memory_time")),
        np.array([m["right"] for m in found]).reshape(-1, N),
        np.array([m["left"] for m in found]).reshape(-1, N),
        np.array([m["selection"] for m in found]).reshape(-1, n_in),
        np.concatenate([[0], np.cumsum([len(p) for p in points])]).astype(int),
        np.concatenate(points) if points else np.zeros((0, N)), dt=dt)


def _trace(d, fps, k, visited, center, scale, h, max_points, max_iters, max_speed, dt):
    values = fps.eigval_J_xstar[k]
    marginal = np.abs(np.abs(values) - 1) <= fps.marginal_tol
    i = int(np.argmin(np.abs(np.abs(values) - 1)))
    right = fps.eigvec_J_xstar[k, :, i].real
    right /= np.linalg.norm(right)
    left = fps.left_eigvec_J_xstar[k, :, i].real
    left /= left @ right
    u = fps.inputs[k]
    forward, closed = _continue(d, fps.xstar[k], right, u, visited, scale, h, max_points,
                                max_iters, max_speed)
    if closed:
        points = forward
    else:
        backward, _ = _continue(d, fps.xstar[k], -right, u, visited, scale, h, max_points,
                                max_iters, max_speed)
        points = np.concatenate([backward[::-1], forward[1:]])
    segments = np.diff(np.concatenate([points, points[:1]]) if closed else points, axis=0)
    direction = np.linalg.svd(points - points.mean(axis=0), full_matrices=False)[2][0] \
        if len(points) > 1 else right
    along, visited_along = (points - center) @ direction, (visited - center) @ direction
    span = np.ptp(visited_along) or 1.0
    sample = points[np.unique(np.linspace(0, len(points) - 1, 10).round().astype(int))]
    eigvals = np.linalg.eigvals(d.jacobian(sample, np.broadcast_to(u, (len(sample), len(u)))))
    tau = stability.time_constants(eigvals, dt)
    order = np.argsort(np.abs(np.abs(eigvals) - 1), axis=1)  # marginal modes first
    n_marginal = max(1, int(marginal.sum()))
    tau_sorted = np.take_along_axis(tau, order, axis=1)
    memory = np.where(tau_sorted[:, 0] > 0, tau_sorted[:, 0], np.inf)
    rest = tau_sorted[:, n_marginal:]
    rest = rest[np.isfinite(rest) & (rest > 0)]
    speed = np.linalg.norm(d.step(points, np.broadcast_to(u, (len(points), len(u)))) - points,
                           axis=1)
    return {"label": fps.labels[k], "input": u, "closed": closed, "dimension": int(marginal.sum()),
            "length": float(np.linalg.norm(segments, axis=1).sum()),
            "extent": float(np.ptp(along) / span), "max_speed": float(speed.max()),
            "slowest_time_constant": float(rest.max()) if rest.size else np.nan,
            "memory_time": float(memory.max()), "shortest_memory_time": float(memory.min()),
            "right": right, "left": left,
            "selection": left @ fps.dFdu[k], "points": points}


def _continue(d, x0, tangent, u, visited, scale, h, max_points, max_iters, max_speed):
    """Follow the curve of slow points from ``x0`` along ``tangent``; (points, closed)."""
    points, x, t = [x0], x0, tangent
    for n in range(max_points):
        x_new = _slowest_in_plane(d, x + h * t, t, u, max_iters)
        speed = np.linalg.norm(d.step(x_new, u) - x_new)
        if speed > max_speed or distance_to(x_new[None], visited)[0] > stability.OUTSIDE * scale:
            return np.array(points), False  # the manifold ends, or leaves the visited region
        if n > 2 and np.linalg.norm(x_new - x0) < h:
            return np.array(points), True  # back at the start: a ring
        t = (x_new - x) / np.linalg.norm(x_new - x)
        points.append(x_new)
        x = x_new
    return np.array(points), False


def _slowest_in_plane(d, x, t, u, max_iters):
    """The point of least speed in the hyperplane through ``x`` orthogonal to ``t``
    (Gauss-Newton on ``F(x) - x`` with steps in the plane)."""
    P = np.eye(len(x)) - np.outer(t, t)
    for _ in range(max_iters):
        g = d.step(x, u) - x
        if np.linalg.norm(g) < 1e-13:
            break
        A = (d.jacobian(x, u) - np.eye(len(x))) @ P
        move = P @ np.linalg.lstsq(A, -g, rcond=None)[0]
        x = x + move
        if np.linalg.norm(move) <= 1e-10 * (1 + np.linalg.norm(x)):
            break  # converged to the slowest point of the plane (a slow point: g is not 0)
    return x
