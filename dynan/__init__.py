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
    (['odor off', 'odor on'], ['saddle', 'marginal'])

Importing dynan does not import TensorFlow; loading or running a Keras model does.
Figure panels are in ``dynan.figures``, batch analysis with Dask in ``dynan.batch``.
"""

from . import tasks
from .analysis import Analysis, Trajectories
from .dynamics import CellDynamics, Dynamics, LeakyDynamics
from .errors import ModelError
from .fixed_points import FixedPoints, find_fixed_points
from .linearization import Linearization
from .loading import example_model, from_weights, load
from .results import Results
from .spectrum import Spectrum, spectrum
from .stages import STAGES
from .summary import Summary
from .tasks import Trials
from .version import __version__

__all__ = [
    "Analysis", "CellDynamics", "Dynamics", "FixedPoints", "LeakyDynamics", "Linearization",
    "ModelError", "Results", "STAGES", "Spectrum", "Summary", "Trajectories", "Trials",
    "__version__", "example_model", "find_fixed_points", "from_weights", "load", "spectrum",
    "tasks",
]
