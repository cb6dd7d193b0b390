"""Helpers for the autoencoder tuning lab book.

Importing `lab` does nothing but define names: no seeding, no plot styling and no
TensorFlow import. A notebook calls `lab.setup(cfg)` once, explicitly.
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lab.config import RunConfig

__version__ = "0.1.0"

__all__ = ["setup", "__version__"]


def setup(cfg: RunConfig | None = None, *, seed: int | None = None) -> int:
    """Seed every random generator, set the plot style and the figures folder.

    Args:
        cfg: the run settings; its `seed` and `figures_dir` are used.
        seed: overrides `cfg.seed` (or stands alone when there is no `cfg`).

    Returns:
        The seed that was applied.
    """
    import keras
    import numpy as np

    from lab import plots

    seed = seed if seed is not None else (cfg.seed if cfg is not None else 0)
    os.environ.setdefault("PYTHONHASHSEED", str(seed))
    random.seed(seed)
    np.random.seed(seed)
    keras.utils.set_random_seed(seed)
    plots.use_book_style()
    if cfg is not None:
        plots.set_figures_dir(Path(cfg.figures_dir))
    return seed
