"""dynan: dynamical-systems analysis of trained recurrent networks.

Load a trained network, run it over trials, and study its update map::

    >>> import dynan
    >>> an = dynan.load("model.keras")             # doctest: +SKIP
    >>> traj = an.run(inputs)                      # doctest: +SKIP
    >>> J = an.dynamics.jacobian(traj.hidden[:, -1], inputs[:, -1])  # doctest: +SKIP

Importing dynan does not import TensorFlow; loading or running a Keras model does.
"""

from importlib.metadata import PackageNotFoundError, version

from . import tasks
from .analysis import Analysis, Trajectories
from .dynamics import CellDynamics, Dynamics, LeakyDynamics
from .fixed_points import FixedPoints, find_fixed_points
from .loading import ModelError, example_model, from_weights, load
from .results import Results
from .spectrum import Spectrum, spectrum
from .tasks import Trials

try:
    __version__ = version("dynan")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"

__all__ = ["Analysis", "CellDynamics", "Dynamics", "FixedPoints", "LeakyDynamics", "ModelError",
           "Results", "Spectrum", "Trajectories", "Trials", "__version__", "example_model", "find_fixed_points", "from_weights", "load", "spectrum", "tasks"]
