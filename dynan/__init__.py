"""dynan: dynamical-systems analysis of trained recurrent networks.

Load a trained network, analyse it in one call, or step by step::

    >>> import dynan
    >>> an = dynan.load("model.keras")                          # doctest: +SKIP
    >>> res = an.analyze(out="results")                         # doctest: +SKIP
    >>> an.record(dynan.tasks.tdnms(300, seed=0), "tdnms.h5")   # doctest: +SKIP
    >>> an.pca(fit_on="condition_means"), an.spectrum()         # doctest: +SKIP
    >>> fps = an.fixed_points({"odor on": [0, 1], "odor off": [0, 0]})   # doctest: +SKIP

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
