"""FixedPointFinder-Torch (Golub & Sussillo) as the reference for bench_fixed_points.py.

Set the reference up (once), then point ``FPF_PATH`` at the clone::

    pip install torch --index-url https://download.pytorch.org/whl/cpu
    git clone https://github.com/mattgolub/fixed-point-finder /work/fpf

    FPF_PATH=/work/fpf python tests/benchmarks/bench_fixed_points.py

(Offline, ``pip install /opt/wheels/torch-*.whl`` and ``git clone
/work/.mirror/mattgolub+fixed-point-finder/repo /work/fpf`` do the same.) FPF's code is not
copied here: it is imported from ``FPF_PATH``. Without ``FPF_PATH`` or torch the benchmark
says so in one line and prints dynan's figures alone.

FPF-Torch drives its network like ``torch.nn.RNN`` with ``batch_first=True``:
``rnn(inputs (B, 1, n_in), hidden (1, B, N)) -> (output (B, 1, N), h_n (1, B, N))``, and it
reads ``rnn.batch_first`` and the device of ``rnn.parameters()``. :class:`LeakyTanhCell`
follows that convention; :meth:`LeakyTanhCell.step` is the plain ``(x, h) -> h`` map on
(B, N) states.

:func:`run_fpf` runs FPF at its defaults (float32, Adam with 5,000 iterations at most,
``tol_q`` 1e-12, unique points within 1e-3, distance outliers excluded, Jacobians computed
and eigendecomposed) with only ``verbose`` off, and times the one ``find_fixed_points``
call. FPF prints a few lines even when not verbose, and torch warns about its scheduler
call; both are swallowed.
"""

import contextlib
import io
import os
import sys
import time
import warnings

import numpy as np

try:
    import torch
    from torch import nn
except ImportError:  # the benchmark then runs dynan alone
    torch = None

#: Environment variable naming the directory of the FixedPointFinder clone.
ENV = "FPF_PATH"


def unavailable():
    """Why the reference cannot run here (one line), or None when it can."""
    path = os.environ.get(ENV)
    if not path:
        return (f"FixedPointFinder reference not set up ({ENV} unset): dynan's figures alone; "
                f"see tests/benchmarks/fpf_reference.py")
    if not os.path.isfile(os.path.join(path, "FixedPointFinderTorch.py")):
        return f"FixedPointFinder reference not set up: no FixedPointFinderTorch.py in {ENV}={path}"
    if torch is None:
        return ("FixedPointFinder reference not set up: torch is not installed "
                "(pip install torch --index-url https://download.pytorch.org/whl/cpu)")
    return None


def _finder_class():
    path = os.environ[ENV]
    if path not in sys.path:
        sys.path.insert(0, path)
    from FixedPointFinderTorch import FixedPointFinderTorch

    return FixedPointFinderTorch


if torch is not None:
    class LeakyTanhCell(nn.Module):
        """``h_next = (1 - gamma) h + gamma tanh(x @ W_in + h @ W_rec + b)``, row vectors,
        ``W_rec`` (N, N) in Keras orientation, ``W_in`` (n_in, N), held in ``dtype``."""

        batch_first = True

        def __init__(self, W_in, W_rec, b, gamma, dtype=torch.float32):
            super().__init__()
            self.W_in, self.W_rec, self.b = (
                nn.Parameter(torch.as_tensor(np.asarray(a), dtype=dtype), requires_grad=False)
                for a in (W_in, W_rec, b))
            self.gamma = float(gamma)

        def step(self, x, h):
            """One step on (B, n_in) inputs and (B, N) states."""
            z = x @ self.W_in + h @ self.W_rec + self.b
            return (1 - self.gamma) * h + self.gamma * torch.tanh(z)

        def forward(self, inputs, hidden):
            """``nn.RNN``-style single step: inputs (B, 1, n_in), hidden (1, B, N) ->
            (output (B, 1, N), h_n (1, B, N))."""
            h = self.step(inputs[:, 0], hidden[0])
            return h.unsqueeze(1), h.unsqueeze(0)


def run_fpf(W_in, W_rec, b, gamma, starts, inputs=None):
    """Run FixedPointFinder-Torch at its defaults from ``starts`` (B, N) under the constant
    ``inputs`` (n_in,) (zeros by default).

    Returns ``(seconds, xstar)``: the seconds of the one full ``find_fixed_points`` call
    (optimisation, unique points, outlier exclusion, Jacobians, eigendecomposition) and
    FPF's unique fixed points, (K, N) float64 (computed in float32).
    """
    FixedPointFinderTorch = _finder_class()
    cell = LeakyTanhCell(W_in, W_rec, b, gamma)
    n_in = np.shape(W_in)[0]
    x = np.zeros((1, n_in)) if inputs is None else np.asarray(inputs, dtype=float).reshape(1, n_in)
    starts = np.asarray(starts, dtype=np.float32)
    finder = FixedPointFinderTorch(cell, verbose=False)  # everything else at its defaults
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # torch on FPF's scheduler call
        start = time.perf_counter()
        unique_fps, _ = finder.find_fixed_points(starts, x.astype(np.float32))
        seconds = time.perf_counter() - start
    return seconds, np.asarray(unique_fps.xstar, dtype=np.float64).reshape(-1, np.shape(W_rec)[0])
