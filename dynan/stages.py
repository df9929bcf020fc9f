"""The registry of analysis stages that :meth:`dynan.Analysis.analyze` runs, in order.

A stage is a pure computation ``run(dynamics, results, **options) -> result``: it
reads the recording (and earlier stages' results) through a :class:`dynan.Results`
reader and returns a result object that writes itself to one HDF5 group
(``result.write(group)``) and reads itself back (``type(result).read(group)``). It
opens, closes and rewrites no file: :meth:`~dynan.Analysis.analyze` stores its result under the
stage's name.

Adding a stage: one module with its result class and its ``run`` function, one entry
in :data:`STAGES`, and its panel in :data:`dynan.figures.PANELS`.

Examples
--------
>>> [stage.name for stage in STAGES]
['pca', 'spectrum', 'fixed_points', 'linearization', 'cycles', 'topology', 'manifolds', 'continuation']
>>> REGISTRY["spectrum"].requires
frozenset({'recurrent_weights'})
"""

from dataclasses import dataclass, field
from typing import Callable

from .bifurcations import Continuation, continuation_stage
from .cycles import Cycles, cycles
from .fixed_points import FixedPoints, fixed_points_stage
from .linearization import Linearization, linearize
from .manifolds import Manifolds, manifolds
from .pca import TrialPCA, pca_stage
from .spectra import Spectrum, spectrum_stage
from .topology import Topology, topology


@dataclass(frozen=True)
class Stage:
    """One analysis stage.

    Attributes
    ----------
    name : str
        Its group in the results file, and its key in ``analyze``'s options.
    run : callable
        ``run(dynamics, results, **options) -> result``.
    result : type
        The result class, with ``read(group)``.
    needs : tuple of str
        Groups of the results file it reads, written before it runs.
    requires : frozenset of str
        Capabilities the dynamics must declare (:data:`dynan.dynamics.CAPABILITIES`)
        for the stage to apply.
    description : str
    """

    name: str
    run: Callable
    result: type
    needs: tuple = ("trials",)
    requires: frozenset = field(default_factory=frozenset)
    description: str = ""

    def applies(self, dynamics):
        """Whether the stage applies to a network with these dynamics."""
        return self.requires <= dynamics.capabilities


#: Every analysis stage (a :class:`~dynan.stages.Stage`), in the order
#: :meth:`~dynan.Analysis.analyze` runs them, each after the stages it needs (their
#: names: see :mod:`dynan.stages`).
#:
#: :meta hide-value:
STAGES = (
    Stage("pca", pca_stage, TrialPCA,
          description="PCA of the hidden states, fit on the mean trajectory of each trial type"),
    Stage("spectrum", spectrum_stage, Spectrum, requires=frozenset({"recurrent_weights"}),
          description="eigenspectra of W_rec and of the leaky update's linear map"),
    Stage("fixed_points", fixed_points_stage, FixedPoints,
          description="fixed and slow points under zero input and each epoch's input, linearized"),
    Stage("linearization", linearize, Linearization, needs=("trials", "fixed_points"),
          description="Jacobians along the mean trajectories and at the main attractor"),
    Stage("cycles", cycles, Cycles, needs=("trials", "fixed_points"),
          description="periodic orbits, invariant circles and chaos under each constant input"),
    Stage("topology", topology, Topology, needs=("trials", "fixed_points"),
          description="the saddles' unstable manifolds, traced, and the fixed-point graph"),
    Stage("manifolds", manifolds, Manifolds, needs=("trials", "fixed_points"),
          description="line and ring attractors and slow manifolds, traced by continuation"),
    Stage("continuation", continuation_stage, Continuation, needs=("trials", "fixed_points"),
          description="fixed points followed from zero input to each epoch's input, bifurcations"),
)
#: Stages by name.
#:
#: :meta hide-value:
REGISTRY = {stage.name: stage for stage in STAGES}
