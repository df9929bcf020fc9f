"""Importing a user's own modules (custom Keras cells) before their models load.

Keras finds a custom cell's class only once the module that defines and registers it
has been imported; ``dynan analyze --import my_cells`` (and ``batch``, on every
worker, and ``figures``) does it with :func:`import_modules`. Importing is the user's
explicit choice of their own code: model files never run code (Keras ``safe_mode``
stays on).
"""

import importlib
import importlib.util
import os
import sys
from pathlib import Path

from .backend import setup


def import_modules(specs, *, keras=True):
    """Import modules given by name (``my_lab.cells``) or by path (``cells.py``).

    Parameters
    ----------
    specs : iterable of str
    keras : bool, default True
        Import Keras (and TensorFlow) quietly first, as the modules of Keras cells do;
        False for the modules of a PyTorch network.

    Returns
    -------
    list of module

    Raises
    ------
    ValueError
        A module that cannot be found or fails to import, in one line.

    Examples
    --------
    >>> import_modules(["json"])[0].__name__
    'json'
    """
    if specs and keras:
        setup()  # users' cells import Keras: bring it in quietly first
    modules = []
    for spec in specs:
        spec = str(spec)
        try:
            if spec.endswith(".py") or os.sep in spec:
                modules.append(_import_path(Path(spec)))
            else:
                modules.append(importlib.import_module(spec))
        except Exception as err:  # the user's code may raise anything; one line names it
            message = str(err).splitlines()[0] if str(err) else type(err).__name__
            raise ValueError(f"--import {spec}: {type(err).__name__}: {message}") from err
    return modules


def _import_path(path):
    if not path.is_file():
        raise FileNotFoundError(f"no such file {path}")
    name = path.stem
    if name in sys.modules and getattr(sys.modules[name], "__file__", None) == str(path.resolve()):
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path.resolve())
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module
