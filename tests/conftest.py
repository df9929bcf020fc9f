import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def fd_jacobians(step, h, x, eps=1e-6):
    """Central finite-difference Jacobians of ``step`` w.r.t. h and x, (B, N, N) and (B, N, n_in)."""
    def fd(f, a):
        cols = []
        for j in range(a.shape[1]):
            d = np.zeros_like(a)
            d[:, j] = eps
            cols.append((f(a + d) - f(a - d)) / (2 * eps))
        return np.stack(cols, axis=-1)

    return fd(lambda hh: step(hh, x), h), fd(lambda xx: step(h, xx), x)
