"""dynan: dynamical-systems analysis of trained recurrent networks.

Load a trained network (here a bundled example; yours is ``dynan.load("model.keras")``),
then analyse it in one call, or step by step::

    >>> import dynan
    >>> an = dynan.load(dynan.example_model("tdnms_leaky"))
    >>> an
    <Analysis from 'tdnms_leaky.keras': LeakyDynamics, 128 units, 2 inputs, 1 outputs>
    >>> res = an.analyze(out="results")     # every stage, figures: a while  # doctest: +SKIP

    >>> res = an.record(dynan.tasks.tdnms(30, seed=0))   # in memory; or a path, "tdnms.h5"
    >>> p, s = an.pca(fit_on="condition_means"), an.spectrum()
    >>> fps = an.fixed_points({"odor on": [0, 1], "odor off": [0, 0]}, n_inits=32)
    >>> fps.labels.tolist(), fps.stability.tolist()
    (['odor off', 'odor on'], ['saddle', 'stable'])

Importing dynan does not import TensorFlow; loading or running a Keras model does.
Figure panels are in ``dynan.figures``, batch analysis with Dask in ``dynan.batch``.
"""

from .version import __version__

#: Public name -> the module that defines it; imported on first use (SPEC 1 lazy loading),
#: so that ``import dynan`` and the command line start at once.
_PUBLIC = {
    "Analysis": "analysis", "Trajectories": "analysis", "Continuation": "bifurcations",
    "continuation": "bifurcations", "CellDynamics": "dynamics", "Cycles": "cycles",
    "Dynamics": "dynamics", "LeakyDynamics": "dynamics", "ModelError": "errors",
    "FixedPoints": "fixed_points", "find_fixed_points": "fixed_points",
    "Linearization": "linearization", "example_model": "loading", "from_weights": "loading",
    "load": "loading", "from_jax": "jax_networks", "from_torch": "torch_networks",
    "load_torch": "torch_networks",
    "Results": "results", "Spectrum": "spectra", "spectrum": "spectra",
    "STAGES": "stages", "Summary": "summary", "Trials": "tasks", "tasks": None,
}

__all__ = sorted([*_PUBLIC, "__version__"])


def __getattr__(name):
    import importlib

    if name not in _PUBLIC:
        raise AttributeError(f"module 'dynan' has no attribute {name!r}")
    module = importlib.import_module(f".{_PUBLIC[name] or name}", __name__)
    value = module if _PUBLIC[name] is None else getattr(module, name)
    globals()[name] = value
    return value


def __dir__():
    return __all__
