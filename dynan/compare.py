"""Compare analysed networks: do they solve their task the same way?

:func:`compare` reads results files only (it recomputes nothing) and computes, for every
pair of networks, one distance per metric of :data:`METRICS`:

``fixed_points``
    The fixed points inside the visited region, counted by class under each input
    condition: the L1 distance of ``log2(1 + count)``. Conditions are matched by name
    (the task's epochs), zero input under the name ``"zero input"`` for every task.
``topology``
    The fixed-point graphs under zero input (saddles, the points and cycles their
    unstable branches reach): the cosine distance of their Weisfeiler-Lehman subtree
    features (Shervashidze et al. 2011), node labels being the classes. Isomorphic
    graphs are at distance 0; ``models`` of a :class:`Comparison` also names each network's
    isomorphism class (``topology_class``), so that networks with the same structure,
    such as the 3-bit flip-flop's 8 attractors and their saddles, are found by name.
``cca``
    Representational similarity of the condition-mean trajectories (the mean hidden
    state of each trial type at each time): one minus the mean canonical correlation
    of their leading principal components (SVCCA, Raghu et al. 2017).
``procrustes``
    The angular Procrustes distance of the same trajectories (Williams et al. 2021), on
    as many principal components for both networks.
``dsa``
    Dynamical similarity analysis (Ostrow et al. 2023, the ``dsa-metric`` package, extra
    ``dynan[dsa]``): a linear operator fit to each network's recorded trials (delay-
    embedded leading principal components, HAVOK DMD), compared up to a change of
    basis (the angular distance after the best orthogonal similarity transform). It
    compares dynamics rather than geometry, and any two networks, whatever their
    trials. Computed only when asked for (``metrics=[..., "dsa"]``): an optimisation
    per pair, about a second each.

The trajectory metrics compare networks that ran the same trials (the same task and
seed, as ``dynan batch`` gives them); other pairs are NaN. :meth:`Comparison.embedding`
places the networks in two dimensions by metric MDS, and :func:`embedding_panel` draws
that, coloured by any column of the model table.

Examples
--------
Two copies of the bundled flip-flop network analysed alike are at distance 0:

>>> import dynan, os, tempfile
>>> folder = tempfile.mkdtemp()
>>> an = dynan.load(dynan.example_model("flipflop_leaky"))
>>> paths = [an.analyze(out=os.path.join(folder, name), n_trials=32, n_inits=64, formats=(),
...                     progress=False).path for name in ("a", "b")]
>>> comparison = compare(paths)
>>> float(comparison.distances["topology"][0, 1])
0.0
>>> comparison.models["stable"]
[8, 8]
"""

import csv
import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from . import output
from .results import Results

#: The name under which every network's zero-input condition is compared.
ZERO_INPUT = "zero input"
#: Principal components the trajectory metrics keep (fewer where the data have fewer).
N_COMPONENTS = 10
#: Classes of fixed points counted, and the node labels of the graphs.
CLASSES = ("stable", "marginal", "saddle", "unstable")


@dataclass(frozen=True)
class Metric:
    """A registered metric: a signature read from a results file, and a distance.

    Attributes
    ----------
    name : str
    signature : callable
        ``signature(results) -> object``.
    distance : callable
        ``distance(a, b) -> float`` of two signatures (NaN where they are not comparable).
    needs : tuple of str
        Groups of the results file the signature reads.
    package : tuple of (str, str), optional
        ``(module, distribution)`` of the optional package the metric needs; such a
        metric is computed only when asked for.
    """

    name: str
    signature: Callable
    distance: Callable
    needs: tuple
    package: tuple = None


def _points(res):
    """The stored fixed points inside the visited region: their rows in the file's table,
    classes and condition names."""
    fps = res.fixed_points()
    rows = np.flatnonzero(~fps.outside)
    fps = fps[rows]
    zero = ~np.any(fps.inputs != 0, axis=1)
    return rows, fps.stability, np.where(zero, ZERO_INPUT, fps.labels.astype(str))


def _counts(res):
    _, kinds, conditions = _points(res)
    return Counter(zip(conditions.tolist(), kinds.tolist()))


def _counts_distance(a, b):
    keys = set(a) | set(b)
    return float(sum(abs(np.log2(1 + a[k]) - np.log2(1 + b[k])) for k in keys))


def _graph(res):
    """The fixed-point graph under zero input, nodes labelled by class (or by where a
    branch ends: ``cycle``, ``outside``, ``unresolved``)."""
    g = res.topology()
    rows, _, conditions = _points(res)
    zero = set(rows[conditions == ZERO_INPUT].tolist())
    keep = [n for n in g.nodes if n in zero or (not isinstance(n, int) and any(
        p in zero for p in g.predecessors(n)))]
    g = g.subgraph(keep).copy()
    for n in g.nodes:
        g.nodes[n]["kind"] = g.nodes[n].get("stability") or str(n).split()[0]
    return g


def _wl_features(g, iterations=3):
    """Weisfeiler-Lehman subtree features of a graph of :func:`_graph` (its edges taken
    both ways: the classes at their ends tell their direction)."""
    import networkx as nx

    g = g.to_undirected()
    features = Counter(g.nodes[n]["kind"] for n in g.nodes)
    for hashes in nx.weisfeiler_lehman_subgraph_hashes(g, node_attr="kind",
                                                       iterations=iterations).values():
        features.update(hashes)
    return features


def _cosine_distance(a, b):
    keys = set(a) | set(b)
    if a == b:  # exactly 0, not the rounding of 1 - cos
        return 0.0
    u = np.array([a[k] for k in keys], float)
    v = np.array([b[k] for k in keys], float)
    norm = np.linalg.norm(u) * np.linalg.norm(v)
    return float(max(0.0, 1 - u @ v / norm)) if norm else 1.0


def _condition_means(res):
    """The trials' fingerprint (their inputs, exactly) and the condition-mean trajectories
    (trial types x time, N) reduced to their leading principal components."""
    import hashlib

    inputs = np.ascontiguousarray(np.asarray(res.inputs))
    means = np.concatenate([np.asarray(res.select(trial_type=t).hidden).mean(axis=0)
                            for t in res.trial_types])
    means = means - means.mean(axis=0)
    u, s, _ = np.linalg.svd(means, full_matrices=False)
    k = max(1, min(N_COMPONENTS, int(np.sum(s > 1e-10 * s[0])) if s[0] else 1))
    return hashlib.sha256(inputs.tobytes()).hexdigest(), u[:, :k] * s[:k]


def _svcca_distance(a, b):
    (key_a, x), (key_b, y) = a, b
    if key_a != key_b:
        return float("nan")
    qx, qy = np.linalg.qr(x)[0], np.linalg.qr(y)[0]
    rho = np.clip(np.linalg.svd(qx.T @ qy, compute_uv=False), 0, 1)
    return float(1 - rho.mean())


def _procrustes_distance(a, b):
    (key_a, x), (key_b, y) = a, b
    if key_a != key_b:
        return float("nan")
    k = min(x.shape[1], y.shape[1])
    x, y = x[:, :k] / np.linalg.norm(x[:, :k]), y[:, :k] / np.linalg.norm(y[:, :k])
    return float(np.arccos(np.clip(np.linalg.svd(x.T @ y, compute_uv=False).sum(), -1, 1)))


#: Delays, rank and trials of the DMD fit of the ``dsa`` metric, and the optimisation steps
#: of each pair's comparison.
DSA_DELAYS, DSA_RANK, DSA_TRIALS, DSA_ITERATIONS = 5, 10, 64, 1000


def _dmd_operator(res):
    """The HAVOK DMD operator (rank x rank) of a network's recorded trials: at most
    :data:`DSA_TRIALS` of them, on their leading principal components, delay-embedded."""
    import os
    from unittest import mock

    # POT, which DSA imports, would import TensorFlow and JAX (loudly) for its backends
    with mock.patch.dict(os.environ, {f"POT_BACKEND_DISABLE_{name}": "1"
                                      for name in ("TENSORFLOW", "JAX", "CUPY")}):
        from DSA import DMD

    hidden = np.asarray(res.hidden)
    hidden = hidden[np.linspace(0, len(hidden) - 1, min(len(hidden), DSA_TRIALS)).astype(int)]
    states = hidden.reshape(-1, hidden.shape[-1])
    mean = states.mean(axis=0)
    components = np.linalg.svd(states - mean, full_matrices=False)[2][:N_COMPONENTS]
    dmd = DMD((hidden - mean) @ components.T, n_delays=DSA_DELAYS,
              rank=min(DSA_RANK, DSA_DELAYS * len(components)), device="cpu")
    dmd.fit()
    return dmd.A_v.numpy()


def _dsa_distance(a, b):
    import torch
    from DSA import SimilarityTransformDist

    torch.manual_seed(0)  # the optimisation starts from a random orthogonal matrix
    return float(SimilarityTransformDist(iters=DSA_ITERATIONS, score_method="angular",
                                         lr=0.01).fit_score(a, b))


#: Every metric, by name (the module's introduction describes each).
#:
#: :meta hide-value:
METRICS = {metric.name: metric for metric in (
    Metric("fixed_points", _counts, _counts_distance, ("fixed_points",)),
    Metric("topology", lambda res: _wl_features(_graph(res)), _cosine_distance,
           ("fixed_points", "topology")),
    Metric("cca", _condition_means, _svcca_distance, ("trials",)),
    Metric("procrustes", _condition_means, _procrustes_distance, ("trials",)),
    Metric("dsa", _dmd_operator, _dsa_distance, ("trials",), ("DSA", "dsa-metric")),
)}
#: The metrics computed when none are named: those that need no optional package.
DEFAULT_METRICS = tuple(name for name, metric in METRICS.items() if metric.package is None)


@dataclass
class Comparison:
    """Distances between analysed networks, and a table of the networks.

    Attributes
    ----------
    models : dict of str -> list
        One column per property, one row per network: ``name``, ``path``, ``task``,
        ``kind``, ``units``, the counts of fixed points by class under zero input
        (``stable`` ... ``unstable``), ``attractors`` and ``structure`` (the counts of
        stable and marginal points, and of all, in words),
        ``topology_class`` (networks with isomorphic zero-input graphs share it), the
        named groups of the ``pattern`` given to :func:`compare`, and ``mds_1``,
        ``mds_2`` once :meth:`embedding` has run.
    distances : dict of str -> ndarray (M, M)
        One symmetric matrix per metric; NaN where two networks are not comparable.
    """

    models: dict
    distances: dict

    def __len__(self):
        return len(self.models["name"])

    def embedding(self, metric="fixed_points", seed=0):
        """Two-dimensional metric MDS of one metric's distances (seeded), as (M, 2);
        also stored as the ``mds_1`` and ``mds_2`` columns of ``models``."""
        from sklearn.manifold import MDS

        d = self.distances[metric]
        if np.isnan(d).any():
            raise ValueError(f"the {metric} distances are not defined for every pair (networks "
                             "that ran different trials); choose fixed_points or topology")
        xy = np.zeros((len(self), 2))  # equal networks all sit at the origin
        if len(self) == 2:
            xy[1, 0] = d[0, 1]
        elif len(self) > 2 and d.any():
            xy = MDS(n_components=2, metric="precomputed", init="classical_mds",
                     random_state=seed).fit_transform(d)
        self.models["mds_1"], self.models["mds_2"] = xy[:, 0].tolist(), xy[:, 1].tolist()
        return xy

    def silhouette(self, metric, by):
        """The silhouette of the groups given by column ``by`` under one metric's
        distances: near 1 where the groups lie far apart and tight."""
        from sklearn.metrics import silhouette_score

        return float(silhouette_score(self.distances[metric], self.models[by],
                                      metric="precomputed"))

    def groups(self, by="topology_class"):
        """The networks' names grouped by a column: ``{value: [names]}``."""
        found = {}
        for name, value in zip(self.models["name"], self.models[by]):
            found.setdefault(value, []).append(name)
        return found

    def write(self, folder):
        """``comparison.h5`` (every table and matrix, self-described), ``models.csv`` and
        ``distances_<metric>.csv``; returns the paths."""
        from . import h5

        folder = Path(folder)
        names = self.models["name"]
        with h5.new_file(folder / "comparison.h5") as f:
            f.attrs["description"] = ("distances between analysed networks (dynan compare): "
                                      "one symmetric matrix per metric, rows and columns in the "
                                      "order of models/name; NaN where not comparable")
            f.attrs["metrics"] = json.dumps(list(self.distances))
            table = f.create_group("models", track_order=True)
            for column, values in self.models.items():
                h5.write_column(table, column, values)
            matrices = f.create_group("distances")
            for metric, d in self.distances.items():
                matrices.create_dataset(metric, data=d)
        written = [folder / "comparison.h5", folder / "models.csv"]
        with open(folder / "models.csv", "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(self.models)
            writer.writerows(zip(*self.models.values()))
        for metric, d in self.distances.items():
            path = folder / f"distances_{metric}.csv"
            with open(path, "w", newline="") as f:
                writer = csv.writer(f)
                writer.writerow(["", *names])
                writer.writerows([name, *(f"{v:.6g}" for v in row)] for name, row in zip(names, d))
            written.append(path)
        return written


def read(folder):
    """The :class:`Comparison` that :func:`write` wrote into ``folder``."""
    import h5py

    from . import h5

    with h5py.File(Path(folder) / "comparison.h5", "r") as f:
        models = {}
        for column, data in f["models"].items():  # in the order written
            models[column] = h5.read_column(data).tolist()
        distances = {m: f["distances"][m][()] for m in json.loads(f.attrs["metrics"])}
    return Comparison(models, distances)


def find_results(items):
    """Results files from paths: files, analyze folders (the results file in each), batch
    folders (those of its models) and glob patterns; each once, in order."""
    import glob

    import h5py

    def is_results(path):
        try:
            with h5py.File(path, "r") as f:
                return "dynan_schema" in f.attrs and "trials" in f
        except OSError:
            return False

    found = []
    for item in map(str, items):
        matches = sorted(glob.glob(item)) if glob.has_magic(item) else [item]
        for match in map(Path, matches):
            if match.is_dir():
                inside = sorted(match.glob("*.h5")) or sorted(match.glob("*/*.h5"))
                found += [p for p in inside if is_results(p)]
            else:
                found.append(match)
    return list(dict.fromkeys(p.resolve() for p in found))


def compare(results, *, metrics=None, pattern=None, progress=None):
    """Distances between analysed networks, from their results files alone.

    Parameters
    ----------
    results : sequence of path-like
        Results files, analyze or batch folders, or glob patterns (see
        :func:`find_results`); at least two networks.
    metrics : sequence of str, optional
        Names from :data:`METRICS`; by default :data:`DEFAULT_METRICS` (all but those
        that need an optional package).
    pattern : str, optional
        A regular expression with named groups matched against each model's file name
        (``r"seed(?P<seed>\\d+)"``): each group becomes a column of the model table.
    progress : bool, optional
        Progress bar over networks; by default only on a terminal.

    Returns
    -------
    Comparison
    """
    from tqdm.auto import tqdm

    paths = find_results(results)
    if len(paths) < 2:
        raise ValueError(f"compare needs at least two results files; got {len(paths)}")
    metrics = list(DEFAULT_METRICS if metrics is None else dict.fromkeys(metrics))
    unknown = sorted(set(metrics) - set(METRICS))
    if unknown or not metrics:
        raise ValueError(f"unknown metric {', '.join(unknown) or '(none given)'}; choose from "
                         f"{', '.join(METRICS)}")
    for name in metrics:
        _check_package(METRICS[name])
    needs = sorted({"fixed_points", "topology", *(n for m in metrics for n in METRICS[m].needs)})
    rows, graphs, signatures = [], [], {m: [] for m in metrics}
    for path in tqdm(paths, desc="compare", unit="network",
                     disable=None if progress is None else not progress):
        with Results(path) as res:
            missing = [n for n in needs if n not in res.file]
            if missing:
                raise ValueError(f"{path} lacks {', '.join(missing)}: compare reads the files "
                                 "that dynan analyze and dynan batch write")
            rows.append(_model_row(res, path, pattern))
            graphs.append(_graph(res))
            read = {}  # metrics that share a signature (cca, procrustes) read it once
            for m in metrics:
                signature = METRICS[m].signature
                if signature not in read:
                    read[signature] = signature(res)
                signatures[m].append(read[signature])
    columns = dict.fromkeys(column for row in rows for column in row)
    models = {column: [row.get(column, "") for row in rows] for column in columns}
    models["name"] = _unique_names(models["name"])
    models["topology_class"] = _isomorphism_classes(graphs)
    distances = {m: _matrix(signatures[m], METRICS[m].distance,
                            progress=progress if METRICS[m].package else False, desc=m)
                 for m in metrics}
    return Comparison(models, distances)


def _check_package(metric):
    import importlib.util

    if metric.package and importlib.util.find_spec(metric.package[0]) is None:
        raise ValueError(f"the {metric.name} metric needs the {metric.package[1]} package: "
                         f"python -m pip install 'dynan[{metric.name}]'")


def _model_row(res, path, pattern):
    network = res.attrs.get("network", {})
    model = res.attrs.get("model_path") or str(path)
    _, kinds, conditions = _points(res)
    kinds = kinds[conditions == ZERO_INPUT]
    counts = {kind: int(np.sum(kinds == kind)) for kind in CLASSES}
    row = {"name": Path(model).stem, "path": str(path), "task": res.attrs.get("task") or "",
           "kind": network.get("kind", ""), "units": int(network.get("n_units", 0)), **counts,
           "attractors": ", ".join(f"{counts[k]} {k}" for k in ("stable", "marginal")
                                   if counts[k]) or "none",
           "structure": ", ".join(f"{n} {kind}" for kind, n in counts.items() if n) or "none"}
    if pattern is not None:
        match = re.search(pattern, Path(model).name)
        row.update(match.groupdict() if match else {})
    return row


def _unique_names(names):
    seen = Counter(names)
    count = Counter()
    out = []
    for name in names:
        count[name] += 1
        out.append(f"{name}-{count[name]}" if seen[name] > 1 else name)
    return out


def _isomorphism_classes(graphs):
    """Number graphs of :func:`_graph` by isomorphism class (node classes kept), 1 for the
    first one's, in order of first appearance."""
    import networkx as nx

    classes, representatives = [], []
    match = nx.algorithms.isomorphism.categorical_node_match("kind", None)
    for g in graphs:
        for number, rep in enumerate(representatives, start=1):
            if nx.is_isomorphic(g, rep, node_match=match):
                classes.append(number)
                break
        else:
            representatives.append(g)
            classes.append(len(representatives))
    return classes


def _matrix(signatures, distance, progress=False, desc=None):
    from itertools import combinations

    from tqdm.auto import tqdm

    d = np.zeros((len(signatures),) * 2)
    pairs = list(combinations(range(len(signatures)), 2))
    for i, j in tqdm(pairs, desc=desc, unit="pair",
                     disable=None if progress is None else not progress):
        d[i, j] = d[j, i] = distance(signatures[i], signatures[j])
    return d


def embedding_panel(comparison, ax=None, *, metric="fixed_points", color_by="task"):
    """The networks placed by MDS of one metric's distances, coloured by a column of the
    model table, with the silhouette of those groups in the title."""
    from . import figures

    ax = figures._axes(ax, width=figures.SINGLE_COLUMN, height=65)
    xy = comparison.embedding(metric)
    values = [str(v) for v in comparison.models[color_by]]
    for i, value in enumerate(dict.fromkeys(values)):
        rows = [k for k, v in enumerate(values) if v == value]
        ax.scatter(xy[rows, 0], xy[rows, 1], s=12, color=figures.COLORS[i % len(figures.COLORS)],
                   label=value, linewidths=0)
    ax.set_xlabel("MDS 1")
    ax.set_ylabel("MDS 2")
    title = f"{len(comparison)} networks, {metric} distance"
    if 1 < len(set(values)) < len(values):
        title += f"; silhouette by {color_by} {comparison.silhouette(metric, color_by):.2f}"
    ax.set_title(title)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), title=color_by)
    return ax


def write(comparison, out, *, metric="fixed_points", color_by="task", formats=("pdf", "svg", "png"),
          overwrite=False, wait=False):
    """Write a comparison into the folder ``out`` (dynan's, replaced only with
    ``overwrite``): its tables (:meth:`Comparison.write`) and the embedding panel
    ``embedding.<format>``; returns the folder."""
    from . import figures

    if color_by not in comparison.models:
        raise ValueError(f"no column {color_by!r} to colour by; columns: "
                         f"{', '.join(comparison.models)}")
    out = Path(out)
    output.check_target(out, overwrite=overwrite)
    with output.exclusive(out, wait=wait):
        output.check_target(out, overwrite=overwrite)
        with output.staged(out, "compare") as work:
            if formats:
                with figures.paper_style():
                    fig, ax = figures.subplots(width=figures.SINGLE_COLUMN, height=65)
                    embedding_panel(comparison, ax, metric=metric, color_by=color_by)
                    figures.save(fig, work / "embedding", formats)
                    figures.plt.close(fig)
            else:
                comparison.embedding(metric)
            comparison.write(work)
    return out


def describe(comparison, metric="fixed_points", by="task"):
    """A few lines: the networks' attractors under zero input, and which networks share
    them; within each group, the classes of isomorphic fixed-point graphs; and how well
    ``metric`` separates the groups of ``by``."""
    m = comparison.models
    lines = [f"{len(comparison)} networks; attractors under zero input:"]
    for attractors, names in comparison.groups("attractors").items():
        lines.append(f"  {attractors}: {len(names)} network{'s' * (len(names) > 1)}")
        rows = [m["name"].index(name) for name in names]
        for number in dict.fromkeys(m["topology_class"][i] for i in rows):
            members = [m["name"][i] for i in rows if m["topology_class"][i] == number]
            structure = m["structure"][m["topology_class"].index(number)]
            lines.append(f"    graph class {number} ({structure}): {', '.join(members)}")
    values = comparison.models.get(by, [])
    if 1 < len(set(values)) < len(values) and not np.isnan(comparison.distances[metric]).any():
        lines.append(f"silhouette of the {by} groups under {metric} distance: "
                     f"{comparison.silhouette(metric, by):.2f}")
    return "\n".join(lines)
