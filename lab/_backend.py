"""The one place `lab` imports TensorFlow and Keras.

TensorFlow's C++ start-up lines (oneDNN notices, CUDA probing on machines with no
GPU) are written to file descriptor 2 before its logging is configured, so no
setting silences them and they would fill the first cell of every notebook.
They are muted for the first import and device probe only; Python errors still
raise as usual, and TensorFlow's later warnings are shown.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator


@contextlib.contextmanager
def native_stderr_muted() -> Iterator[None]:
    """Send file descriptor 2 (where C++ libraries write) to /dev/null for a moment."""
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


with native_stderr_muted():
    import tensorflow as tf

    tf.config.list_physical_devices()

import keras  # noqa: E402

__all__ = ["keras", "tf", "native_stderr_muted"]
