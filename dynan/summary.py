"""The summary of one analysis (``summary.json``): typed, read from the results file.

:func:`dynan.analyze` writes it, ``dynan info`` prints it and ``dynan batch`` makes
its table rows from it; all three use :class:`Summary`, none parses the JSON itself.
"""

import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .stability import KINDS
from .stages import STAGES


@dataclass
class Summary:
    """What one analysis found, in numbers.

    Attributes
    ----------
    model, model_sha256 : str or None
        The model file and its SHA-256 (None for networks from arrays).
    task : str or None
    task_params : dict
    n_trials : int
    performance : float or None
        :func:`dynan.tasks.score` of the recorded outputs (1 is perfect).
    network : dict
        ``Dynamics.describe()``: kind, units, inputs, outputs, and for leaky networks
        gamma, leak and activation.
    stages : list of str
        The stages that ran, in order.
    skipped : dict of str -> str
        Stages that do not apply to this network, and why.
    pca_explained_variance_ratio : list of float
    fixed_points : dict of str -> dict
        Per input condition: its ``input`` vector, the count of each class of
        :data:`dynan.stability.KINDS` among the points inside the visited region, the
        count of fixed points ``outside`` it, and ``slow_points`` inside it.
    spectral_radius : float or None
        Of ``W_rec``, for networks that have one.
    leading_time_constants : list of float
        The three slowest decaying modes of the Jacobian at the main attractor.
    attractor_time_constants : dict of str -> list
        Per input condition, for each stable or marginal fixed point inside the visited
        region: ``{"point": row, "stability": ..., "time_constants": [3 slowest]}``, the
        slowest decaying (or marginal) modes of its Jacobian: the memory times.
    spectrum_time_constants : list of float
        The three slowest decaying modes of the recurrent weights' linear map, to compare
        with (networks with ``W_rec`` only).
    topology : dict
        Saddles inside the visited region, their unstable branches by where they end,
        and the saddles outside it (:meth:`dynan.topology.Topology.counts`).
    manifolds : list of dict
        One per traced manifold: its label, whether closed, dimension, length, extent,
        speed and time constants (:mod:`dynan.manifolds`).
    cycles : list of dict
        One per periodic orbit, invariant circle or chaotic attractor: its kind, input
        condition, period (steps and seconds), amplitude, residual and stability
        (:meth:`dynan.cycles.Cycles.rows`).
    bifurcations : list of dict
        One per input path the fixed points were followed along: its end input, branches,
        bifurcations by kind and where along the path each kind first occurs
        (:meth:`dynan.bifurcations.Continuation.rows`).
    time_constant_unit : str
        ``"s"``, or ``"steps"`` when the time step is unknown.
    attractor : str
        Which point the time constants and the effective connectivity are taken at.
    seconds : dict of str -> float
        Time of each step of the analysis, and ``total``.
    batch_parameters : dict or None
        The parameters of the batch that made it, when one did.
    """

    model: str = None
    model_sha256: str = None
    task: str = None
    task_params: dict = field(default_factory=dict)
    n_trials: int = 0
    performance: float = None
    network: dict = field(default_factory=dict)
    stages: list = field(default_factory=list)
    skipped: dict = field(default_factory=dict)
    pca_explained_variance_ratio: list = field(default_factory=list)
    fixed_points: dict = field(default_factory=dict)
    spectral_radius: float = None
    leading_time_constants: list = field(default_factory=list)
    attractor_time_constants: dict = field(default_factory=dict)
    spectrum_time_constants: list = field(default_factory=list)
    topology: dict = field(default_factory=dict)
    manifolds: list = field(default_factory=list)
    cycles: list = field(default_factory=list)
    bifurcations: list = field(default_factory=list)
    time_constant_unit: str = "steps"
    attractor: str = ""
    seconds: dict = field(default_factory=dict)
    batch_parameters: dict = None

    @classmethod
    def from_results(cls, results, *, performance=None, seconds=None, skipped=None,
                     batch_parameters=None):
        """The summary of a results file (read, never recomputed).

        Parameters
        ----------
        results : Results
        performance : float, optional
        seconds : dict, optional
            Time of each step; ``total`` is added.
        skipped : dict, optional
            Stages that did not apply, and why.
        batch_parameters : dict, optional
            The parameters of the batch that runs this analysis.
        """
        a = results.attrs
        seconds = dict(seconds or {})
        summary = cls(
            model=a.get("model_path") or None, model_sha256=a.get("model_sha256") or None,
            task=a.get("task") or None, task_params=a.get("task_params", {}),
            n_trials=len(results), performance=None if performance is None else float(performance),
            network=a.get("network", {}), skipped=dict(skipped or {}),
            stages=[stage.name for stage in STAGES if stage.name in results],
            seconds={**seconds, "total": round(sum(seconds.values()), 3)},
            batch_parameters=batch_parameters)
        dt = float(a.get("dt", 1.0))
        summary.time_constant_unit = "s" if dt != 1.0 else "steps"
        if "pca" in results:
            summary.pca_explained_variance_ratio = [
                round(float(r), 4) for r in results.pca().explained_variance_ratio_]
        if "spectrum" in results:
            spectrum = results.spectrum()
            summary.spectral_radius = spectrum.spectral_radius
            summary.spectrum_time_constants = _slowest(dt * spectrum.time_constants_steps)
        if "fixed_points" in results:
            fps = results.fixed_points()
            summary.fixed_points = _counts_by_condition(fps)
            summary.attractor_time_constants = _attractor_time_constants(fps)
        if "topology" in results:
            summary.topology = results.get("topology").counts()
        if "manifolds" in results:
            summary.manifolds = [{k: _json_number(v) for k, v in row.items()}
                                 for row in results.get("manifolds").rows()]
        if "cycles" in results:
            summary.cycles = [{k: _json_number(v) for k, v in row.items()}
                              for row in results.get("cycles").rows()]
        if "continuation" in results:
            summary.bifurcations = results.get("continuation").rows()
        if "linearization" in results:
            lin = results.get("linearization")
            summary.leading_time_constants = [float(t) for t in lin.time_constants[:3]]
            summary.attractor = lin.attractor_label
        return summary

    @property
    def counts(self):
        """Fixed points of each class inside the visited region, those ``outside`` it, and
        ``slow_points`` (inside), over all input conditions."""
        return {kind: sum(c.get(kind, 0) for c in self.fixed_points.values())
                for kind in (*KINDS, "outside", "slow_points")}

    def to_dict(self):
        """A dict of plain JSON values."""
        return dataclasses.asdict(self)

    def write(self, path):
        """Write as JSON, all or nothing."""
        path = Path(path)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=2) + "\n")
        os.replace(tmp, path)

    @classmethod
    def read(cls, path):
        """Read a ``summary.json``; fields this version does not know are ignored."""
        content = json.loads(Path(path).read_text())
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in content.items() if k in names})


def _counts_by_condition(fps):
    out = {}
    for label in dict.fromkeys(fps.labels.tolist()):
        mask = fps.labels == label
        kinds = fps.stability[mask & ~fps.outside]
        slow = fps.slow_points
        out[label or "all"] = {
            "input": [float(v) for v in fps.inputs[mask][0]],
            **{kind: int(np.sum(kinds == kind)) for kind in KINDS},
            "outside": int(np.sum(mask & fps.outside)),
            "slow_points": int(np.sum((slow.labels == label) & ~slow.outside)),
        }
    for label in dict.fromkeys(fps.slow_points.labels.tolist()):
        if (label or "all") not in out:  # a condition with slow points only
            mask = fps.slow_points.labels == label
            out[label or "all"] = {"input": [float(v) for v in fps.slow_points.inputs[mask][0]],
                                   **{kind: 0 for kind in KINDS}, "outside": 0,
                                   "slow_points": int((mask & ~fps.slow_points.outside).sum())}
    return out


def _slowest(time_constants, n=3):
    """The ``n`` slowest decaying modes (finite positive time constants), slowest first."""
    values = np.asarray(time_constants, dtype=float)
    values = values[np.isfinite(values) & (values > 0)]
    return [float(t) for t in np.sort(values)[::-1][:n]]


def _attractor_time_constants(fps):
    out = {}
    settled = np.isin(fps.stability, ("stable", "marginal")) & ~fps.outside
    for k in np.flatnonzero(settled):
        out.setdefault(str(fps.labels[k]) or "all", []).append(
            {"point": int(k), "stability": str(fps.stability[k]),
             "time_constants": _slowest(fps.time_constants[k])})
    return out


def _json_number(value):
    """``value``, with inf and NaN as None (JSON has neither)."""
    return None if isinstance(value, float) and not np.isfinite(value) else value
