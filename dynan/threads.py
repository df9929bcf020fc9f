"""BLAS on one thread, for work on many small matrices where threads only contend."""

from functools import lru_cache

from threadpoolctl import ThreadpoolController


@lru_cache(maxsize=1)
def _controller():
    return ThreadpoolController()  # scans the loaded libraries: ~10 ms, once per process


def one_blas_thread():
    """A context in which BLAS runs on one thread.

    Examples
    --------
    >>> import numpy as np
    >>> with one_blas_thread():
    ...     _ = np.linalg.solve(np.eye(3), np.ones(3))
    """
    return _controller().limit(limits=1, user_api="blas")
