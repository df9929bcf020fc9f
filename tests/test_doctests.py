"""Every docstring example in dynan runs as a doctest, so the documentation cannot rot.

One test per module of the package (found with ``pkgutil``, so new modules are
included without editing this file), each in a fresh temporary working directory;
``tempfile.mkdtemp()`` in an example makes its folder there too, so nothing is left
behind. Examples marked ``# doctest: +SKIP`` are the few that cannot run quickly
(a Dask cluster, a full default analysis).
"""

import doctest
import importlib
import os
import pkgutil
import tempfile

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import matplotlib  # noqa: E402

matplotlib.use("Agg")  # the figures examples draw; no display here

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

import dynan  # noqa: E402

#: Modules whose docstrings are not run: importing ``dynan.__main__`` runs the command line.
EXCLUDED = {"__main__"}
MODULES = ["dynan"] + sorted(f"dynan.{info.name}" for info in pkgutil.iter_modules(dynan.__path__)
                             if info.name not in EXCLUDED)
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name, tmp_path, monkeypatch):
    module = importlib.import_module(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    tests = doctest.DocTestFinder().find(module, name)
    report = []
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    try:
        # One BLAS thread: the examples are small, and on a busy machine multithreaded
        # BLAS on small matrices can be many times slower than one thread.
        with threadpool_limits(1, "blas"):
            for test in tests:
                runner.run(test, out=report.append)
    finally:
        plt.close("all")
    failed, attempted = runner.summarize(verbose=False)
    assert failed == 0, "".join(report)
    if any(test.examples for test in tests):
        assert attempted > 0, f"{name}: every docstring example is skipped"
