"""Eigenspectra of the recurrent weights and of the leaky update's linear map."""

from dataclasses import dataclass

import numpy as np


@dataclass(eq=False)
class Spectrum:
    """Spectrum of ``W_rec`` and of the effective linear map of the leaky update.

    The linear map is the update with a unit-slope activation,
    ``h -> (1 - gamma) h + gamma h @ W_rec``, i.e. the matrix
    ``A = (1 - gamma) I + gamma W_rec^T`` acting on column states (the same form for
    the current leak, acting on currents). Its eigenvalues are
    ``1 - gamma + gamma * mu`` for the eigenvalues ``mu`` of ``W_rec``.

    Attributes
    ----------
    eigvals_W : ndarray (N,), complex
        Eigenvalues of ``W_rec``, by decreasing modulus.
    eigvals_map : ndarray (N,), complex
        Eigenvalues of ``A``, by decreasing modulus.
    singular_values : ndarray (N,)
        Singular values of ``W_rec``, decreasing.
    gamma : float
    dt : float or None
        Time step in seconds, when known.
    """

    eigvals_W: np.ndarray
    eigvals_map: np.ndarray
    singular_values: np.ndarray
    gamma: float
    dt: float = None

    @property
    def spectral_radius(self):
        """Largest ``|mu|`` of ``W_rec``."""
        return float(np.abs(self.eigvals_W[0]))

    @property
    def spectral_radius_map(self):
        """Largest ``|lambda|`` of the linear map."""
        return float(np.abs(self.eigvals_map[0]))

    @property
    def henrici(self):
        """Henrici's departure from normality of ``W_rec``,
        ``sqrt(||W||_F^2 - sum |mu|^2)`` (0 for a normal matrix)."""
        return float(np.sqrt(max(np.sum(self.singular_values ** 2)
                                 - np.sum(np.abs(self.eigvals_W) ** 2), 0.0)))

    @property
    def henrici_relative(self):
        """Henrici's departure divided by ``||W||_F``, in [0, 1]."""
        frobenius = np.sqrt(np.sum(self.singular_values ** 2))
        return self.henrici / frobenius if frobenius else 0.0

    @property
    def time_constants_steps(self):
        """``-1 / ln|lambda|`` of each mode of the linear map, in steps (negative for
        growing modes, inf at ``|lambda| = 1``)."""
        with np.errstate(divide="ignore"):
            return -1.0 / np.log(np.abs(self.eigvals_map))

    @property
    def time_constants(self):
        """Time constants in seconds (``dt`` times those in steps); None without ``dt``."""
        return None if self.dt is None else self.dt * self.time_constants_steps

    def __repr__(self):
        return (f"<Spectrum: N={len(self.eigvals_W)}, spectral radius {self.spectral_radius:.3f} "
                f"(map {self.spectral_radius_map:.4f}), Henrici {self.henrici_relative:.3f}>")

    def write(self, group):
        """Write into an HDF5 group."""
        for name in ("eigvals_W", "eigvals_map", "singular_values", "time_constants_steps"):
            group.create_dataset(name, data=getattr(self, name))
        if self.dt is not None:
            group.create_dataset("time_constants", data=self.time_constants)
        group.attrs.update({
            "gamma": self.gamma, "dt": np.nan if self.dt is None else self.dt,
            "spectral_radius": self.spectral_radius,
            "spectral_radius_map": self.spectral_radius_map, "henrici": self.henrici,
            "henrici_relative": self.henrici_relative,
            "description": "W_rec in Keras orientation (z = x W_in + h W_rec + b); linear map "
                           "A = (1 - gamma) I + gamma W_rec^T; eigenvalues by decreasing modulus"})

    @classmethod
    def read(cls, group):
        """Read what :meth:`write` wrote."""
        dt = float(group.attrs["dt"])
        return cls(group["eigvals_W"][()], group["eigvals_map"][()], group["singular_values"][()],
                   float(group.attrs["gamma"]), None if np.isnan(dt) else dt)


def spectrum(W_rec, gamma=1.0, dt=None):
    """The :class:`Spectrum` of a recurrent weight matrix.

    Parameters
    ----------
    W_rec : array_like (N, N)
        Keras orientation: ``z = x @ W_in + h @ W_rec + b``.
    gamma : float, default 1.0
    dt : float, optional

    Examples
    --------
    >>> s = spectrum(np.diag([0.5, 2.0]), gamma=0.5)
    >>> s.eigvals_map
    array([1.5 +0.j, 0.75+0.j])
    """
    W = np.asarray(W_rec, dtype=float)
    if W.ndim != 2 or W.shape[0] != W.shape[1]:
        raise ValueError(f"W_rec must be square, (N, N); got {W.shape}")
    by_modulus = lambda v: v[np.argsort(-np.abs(v), kind="stable")]  # noqa: E731
    linear_map = (1 - gamma) * np.eye(len(W)) + gamma * W.T
    return Spectrum(by_modulus(np.linalg.eigvals(W).astype(complex)),
                    by_modulus(np.linalg.eigvals(linear_map).astype(complex)),
                    np.linalg.svd(W, compute_uv=False), float(gamma), dt)


def spectrum_stage(dynamics, results):
    """The spectrum stage of :meth:`dynan.Analysis.analyze`: the :class:`Spectrum` of the
    network's recurrent weights, with the recording's time step."""
    return spectrum(dynamics.W_rec, dynamics.gamma, float(results.attrs["dt"]))
