"""PCA of recorded hidden trajectories, by trial type or any condition columns.

Everything streams over the recording in batches of trials: the fit (for
``fit_on="all"``, the exact covariance is accumulated in float64), the
condition means and the projections. The fit is exact, from the covariance, with
scikit-learn's conventions (component signs, variances with ``n - 1``). The fitted model
is kept as scikit-learn's fitted attributes and given as a scikit-learn ``PCA`` on
request (:attr:`TrialPCA.pca`): fitting, reading and drawing a PCA need no scikit-learn.
"""

from dataclasses import dataclass

import numpy as np

from .h5 import read_column, write_column

FIT_ON = ("all", "condition_means")

#: The fitted arrays of a scikit-learn ``PCA`` that a :class:`TrialPCA` keeps (datasets
#: of the results file).
FITTED_ARRAYS = ("components_", "mean_", "explained_variance_", "explained_variance_ratio_",
                 "singular_values_")
#: All the fitted attributes a :class:`TrialPCA` keeps: the arrays, then two numbers
#: (attributes of the results file).
FITTED = FITTED_ARRAYS + ("noise_variance_", "n_samples_")


@dataclass(eq=False)
class TrialPCA:
    """PCA of hidden states, with trajectories summarised by condition.

    Attributes
    ----------
    fitted : dict
        The fitted model: scikit-learn's fitted attributes (:data:`FITTED`), of which
        ``components_``, ``mean_``, ``explained_variance_`` and
        ``explained_variance_ratio_`` are attributes here too.
    fit_on : {"all", "condition_means"}
    by : tuple of str
        The condition columns that define the groups.
    groups : ndarray (G, len(by)) of str
        The value of each column for each group.
    group_of_trial : ndarray (trials,) of int
        Index into ``groups`` of every trial.
    projections : ndarray (trials, time, k), float32
        Every trial's trajectory in PC space.
    condition_means : ndarray (G, time, k)
        Mean trajectory of each group in PC space.
    condition_sem : ndarray (G, time, k)
        Its standard error across the group's trials (0 for single-trial groups).
    condition_counts : ndarray (G,)
    condition_explained_variance_ratio : ndarray (G,)
        Share of each group's variance (its states about ``mean_``) that the k
        components capture.

    Examples
    --------
    >>> import dynan
    >>> an = dynan.load(dynan.example_model("tdnms_leaky"))
    >>> res = an.record(dynan.tasks.tdnms(30, seed=0))
    >>> p = an.pca(n_components=3, fit_on="condition_means")
    >>> p.by, p.groups.tolist(), p.condition_counts.tolist()
    (('trial_type',), [['LS'], ['SL'], ['SS']], [10, 10, 10])
    >>> p.condition_means[p.group("SL")][:, 0].shape      # PC 1 of the mean SL trajectory
    (200,)
    >>> p.projections.shape                               # every trial: (trials, time, PC)
    (30, 200, 3)
    """

    fitted: dict
    fit_on: str
    by: tuple
    groups: np.ndarray
    group_of_trial: np.ndarray
    projections: np.ndarray
    condition_means: np.ndarray
    condition_sem: np.ndarray
    condition_counts: np.ndarray
    condition_explained_variance_ratio: np.ndarray

    @property
    def components_(self):
        return self.fitted["components_"]

    @property
    def mean_(self):
        return self.fitted["mean_"]

    @property
    def explained_variance_(self):
        return self.fitted["explained_variance_"]

    @property
    def explained_variance_ratio_(self):
        return self.fitted["explained_variance_ratio_"]

    @property
    def pca(self):
        """The fitted model as a scikit-learn ``PCA`` (``transform``,
        ``inverse_transform``, ``score`` ...)."""
        from sklearn.decomposition import PCA

        pca = PCA(n_components=len(self.components_))
        for name, value in self.fitted.items():
            setattr(pca, name, value)
        pca.n_components_, pca.n_features_in_ = len(self.components_), len(self.mean_)
        return pca

    def transform(self, states):
        """Project states of shape (..., N), fixed points included, into PC space."""
        states = np.asarray(states, dtype=float)
        return (states - self.mean_) @ self.components_.T

    def group(self, *values):
        """Index of the group with these values of the ``by`` columns."""
        key = np.array([str(v) for v in values])
        hits = np.flatnonzero(np.all(self.groups == key, axis=1))
        if len(hits) != 1:
            raise ValueError(f"no group {tuple(key.tolist())} for columns {self.by}; groups are "
                             f"{[tuple(g) for g in self.groups.tolist()]}")
        return int(hits[0])

    def __repr__(self):
        ratio = np.sum(self.explained_variance_ratio_)
        return (f"<TrialPCA: {len(self.components_)} components ({ratio:.1%} of the variance), "
                f"fit on {self.fit_on}, {len(self.groups)} groups by {list(self.by)}>")

    def write(self, group):
        """Write into an HDF5 group."""
        for name in FITTED_ARRAYS:
            group.create_dataset(name.rstrip("_"), data=self.fitted[name])
        k = self.projections.shape[2]
        group.create_dataset("projections", data=self.projections, chunks=(1,) + self.projections.shape[1:])
        group["projections"].attrs["dims"] = ["trial", "time", "component"]
        for name in ("group_of_trial", "condition_means", "condition_sem", "condition_counts",
                     "condition_explained_variance_ratio"):
            group.create_dataset(name, data=getattr(self, name))
        columns = group.create_group("groups")
        for j, column in enumerate(self.by):
            write_column(columns, column, self.groups[:, j])
        group.attrs.update({"fit_on": self.fit_on, "by": list(self.by), "n_components": k,
                            "n_samples": self.fitted["n_samples_"],
                            "noise_variance": self.fitted["noise_variance_"]})

    @classmethod
    def read(cls, group):
        """Read what :meth:`write` wrote."""
        by = tuple(str(b) for b in group.attrs["by"])
        fitted = {name: group[name.rstrip("_")][()] for name in FITTED_ARRAYS}
        fitted.update(n_samples_=int(group.attrs["n_samples"]),
                      noise_variance_=float(group.attrs["noise_variance"]))
        groups = np.stack([read_column(group["groups"][c]) for c in by], axis=1)
        return cls(fitted, str(group.attrs["fit_on"]), by, groups, group["group_of_trial"][()],
                   group["projections"][()], group["condition_means"][()],
                   group["condition_sem"][()], group["condition_counts"][()],
                   group["condition_explained_variance_ratio"][()])


def pca_by_condition(results, *, n_components=10, fit_on="all", by="trial_type", batch_size=None):
    """PCA of the hidden states of a recording, summarised by condition.

    Parameters
    ----------
    results : Results
        A recording (see :meth:`~dynan.Analysis.record`).
    n_components : int, default 10
    fit_on : {"all", "condition_means"}, default "all"
        Fit on every trial and time bin, or on the mean trajectory of each group.
    by : str or sequence of str, default "trial_type"
        Condition column(s) that define the groups.
    batch_size : int, optional
        Trials read at once; by default about 32 MB of states.

    Returns
    -------
    TrialPCA
    """
    if fit_on not in FIT_ON:
        raise ValueError(f"fit_on must be one of {FIT_ON}; got {fit_on!r}")
    by = (by,) if isinstance(by, str) else tuple(by)
    table = results.conditions
    missing = [c for c in by if c not in table]
    if missing or not by:
        raise ValueError(f"by must name condition columns; {missing or by} not among {sorted(table)}")
    hidden = results.hidden
    n_trials, n_time, N = hidden.shape
    if not (isinstance(n_components, (int, np.integer)) and 1 <= n_components <= N):
        raise ValueError(f"n_components must be an integer in [1, {N}]; got {n_components!r}")
    keys = np.stack([np.asarray(table[c]).astype(str) for c in by], axis=1)
    groups, group_of_trial = np.unique(keys, axis=0, return_inverse=True)
    group_of_trial = group_of_trial.ravel()
    G = len(groups)
    counts = np.bincount(group_of_trial, minlength=G)
    batch_size = batch_size or max(1, 2**22 // (n_time * N))
    batches = [slice(i, min(i + batch_size, n_trials)) for i in range(0, n_trials, batch_size)]

    # pass 1: group sums (and the covariance, when fitting on everything)
    sums = np.zeros((G, n_time, N))
    total, outer = np.zeros(N), np.zeros((N, N))
    for rows in batches:
        h = np.asarray(hidden[rows], dtype=float)
        np.add.at(sums, group_of_trial[rows], h)
        if fit_on == "all":
            flat = h.reshape(-1, N)
            total += flat.sum(axis=0)
            outer += flat.T @ flat
    means = sums / counts[:, None, None]
    if fit_on == "all":
        fitted = _pca_from_moments(total, outer, n_trials * n_time, n_components)
    else:
        flat = means.reshape(-1, N)
        fitted = _pca_from_moments(flat.sum(axis=0), flat.T @ flat, len(flat), n_components)

    # pass 2: projections, and per-group moments in PC space
    projections = np.empty((n_trials, n_time, n_components), dtype=np.float32)
    p_sums = np.zeros((G, n_time, n_components))
    p_squares = np.zeros((G, n_time, n_components))
    kept, spread = np.zeros(G), np.zeros(G)
    for rows in batches:
        centred = np.asarray(hidden[rows], dtype=float) - fitted["mean_"]
        p = centred @ fitted["components_"].T
        projections[rows] = p
        g = group_of_trial[rows]
        np.add.at(p_sums, g, p)
        np.add.at(p_squares, g, p ** 2)
        np.add.at(kept, g, np.sum(p ** 2, axis=(1, 2)))
        np.add.at(spread, g, np.sum(centred ** 2, axis=(1, 2)))
    p_means = p_sums / counts[:, None, None]
    n = counts[:, None, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        variance = np.where(n > 1, (p_squares - n * p_means ** 2) / (n - 1), 0.0)
        sem = np.sqrt(np.maximum(variance, 0.0) / n)
    return TrialPCA(fitted, fit_on, by, groups, group_of_trial, projections, p_means, sem, counts,
                    kept / spread)


def _pca_from_moments(total, outer, n, k):
    """The fitted attributes of the exact PCA of n rows from their sum and sum of outer
    products."""
    mean = total / n
    covariance = (outer - n * np.outer(mean, mean)) / (n - 1)
    values, vectors = np.linalg.eigh(covariance)
    values, vectors = values[::-1].clip(min=0), vectors[:, ::-1]
    components = vectors[:, :k].T
    # scikit-learn's sign convention: the largest loading of each component is positive
    signs = np.sign(components[np.arange(k), np.abs(components).argmax(axis=1)])
    components *= signs[:, None]
    rank = min(n, len(values))  # as scikit-learn: the mean of the rest of the spectrum
    noise = values[k:rank].mean() if k < rank else 0.0
    return dict(zip(FITTED, (components, mean, values[:k], values[:k] / values.sum(),
                             np.sqrt(values[:k] * (n - 1)), noise, n)))


def pca_stage(dynamics, results, *, n_components=None, fit_on="condition_means",
              by="trial_type", batch_size=None):
    """The PCA stage: :func:`pca_by_condition`, by default on the mean trajectories of each
    trial type, with 10 components (or as many as there are units)."""
    if n_components is None:
        n_components = min(10, dynamics.n_units)
    return pca_by_condition(results, n_components=n_components, fit_on=fit_on, by=by,
                            batch_size=batch_size)
