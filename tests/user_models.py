"""Trained flip-flop networks written the way users write them, for end-to-end tests.

The models come from ``examples/train_user_models.py`` (cells from
``examples/user_cells.py``): built-in GRU, LSTM and SimpleRNN layers, and
``keras.layers.RNN`` around user-written cells. Use the fixture in a test
module with::

    from user_models import KINDS, user_models  # noqa: F401

    @pytest.mark.parametrize("kind", KINDS)
    def test_something(user_models, kind):
        path = user_models[kind]        # a trained .keras file, its card beside it

Loading this module imports ``user_cells``, so the custom cells are registered
and the models reload with ``keras.saving.load_model(path, safe_mode=True)``.
"""

import importlib.util
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

#: Fewer epochs than the script's default keep the whole fixture under a minute
#: on a 2-core CPU; every kind still reaches a loss several times below its initial one.
EPOCHS = 12
N_TRIALS = 256
SEED = 0


def _load_trainer():
    if "train_user_models" in sys.modules:
        return sys.modules["train_user_models"]
    spec = importlib.util.spec_from_file_location("train_user_models",
                                                  EXAMPLES / "train_user_models.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["train_user_models"] = module
    spec.loader.exec_module(module)
    return module


train_user_models = _load_trainer()

#: Every kind of model the fixture trains.
KINDS = tuple(train_user_models.KINDS)


@pytest.fixture(scope="session")
def user_models(tmp_path_factory):
    """kind -> path of a trained ``.keras`` model (card ``.json`` beside it), once per session."""
    folder = tmp_path_factory.mktemp("user_models")
    return {kind: train_user_models.train(kind, folder / f"{kind}.keras", n_trials=N_TRIALS,
                                          epochs=EPOCHS, seed=SEED)["path"]
            for kind in KINDS}
