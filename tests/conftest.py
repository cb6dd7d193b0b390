"""Shared test settings: a quiet TensorFlow and a non-interactive matplotlib."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MPLBACKEND", "Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture
def tiny_images() -> np.ndarray:
    """64 random 8x8 'images' with a little structure, in [0, 1]."""
    rng = np.random.default_rng(0)
    basis = rng.random((4, 64))
    weights = rng.random((64, 4))
    return np.clip(weights @ basis / 4, 0, 1).astype("float32")
