"""Keras on TensorFlow, imported quietly: the one place dynan brings TensorFlow in.

TensorFlow, absl and CUDA print log lines while TensorFlow is imported (before its
logging can be configured) and later; none of them concern a dynan user. :func:`setup`
sets the environment before TensorFlow is imported and keeps the import's own lines off
the terminal. Modules that need Keras call it at their top (``dynan.layers``) or before
they import a user's module (``dynan.user_modules``); everything else imports Keras
only after one of those.
"""

import contextlib
import os
import sys


def setup():
    """Import Keras with the TensorFlow backend, quietly, and return it.

    Examples
    --------
    >>> setup().backend.backend()
    'tensorflow'
    """
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    if "tensorflow" not in sys.modules:
        # C++ log lines after absl starts; set, not defaulted: importing JAX sets it to 1
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
        with _quiet_stderr():  # the lines printed before absl's logging starts
            import tensorflow as tf
        tf.get_logger().setLevel("ERROR")
    import keras

    return keras


@contextlib.contextmanager
def _quiet_stderr():
    """Send file descriptor 2 to /dev/null for the block (C++ writes there directly)."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
