"""Shared test settings: a quiet TensorFlow and a non-interactive matplotlib."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MPLBACKEND", "Agg")

import sys  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from absl import logging as absl_logging  # noqa: E402

# absl's log handler (installed on the root logger when TensorFlow is imported) keeps the
# sys.stderr of its creation, here pytest's capture file, and closes that stream when logging
# is reconfigured unless it is the sys.stderr of that moment. A notebook test starts a Jupyter
# application, whose logging set-up (traitlets 5.16, `dictConfig`) closes every handler while
# sys.stderr is capfd's, so the closed capture file failed every later test ("I/O operation on
# closed file"). The process's own stderr is never closed, and pytest's fd capture still collects
# what is written to it.
absl_logging.get_absl_handler().python_handler.stream = sys.__stderr__


@pytest.fixture
def tiny_images() -> np.ndarray:
    """64 random 8x8 'images' with a little structure, in [0, 1]."""
    rng = np.random.default_rng(0)
    basis = rng.random((4, 64))
    weights = rng.random((64, 4))
    return np.clip(weights @ basis / 4, 0, 1).astype("float32")
