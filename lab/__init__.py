"""Helpers for the autoencoder tuning lab book.

Importing `lab` does nothing but define names: no seeding, no plot styling and no
TensorFlow import. A notebook calls `lab.setup(cfg)` once, explicitly.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lab.config import RunConfig

__version__ = "0.1.0"

__all__ = ["setup", "__version__"]


def setup(cfg: RunConfig | None = None, *, seed: int | None = None) -> int:
    """Seed every random generator, set the plot style, the tables' text width and the figures folder.

    Args:
        cfg: the run settings; its `seed` and `figures_dir` are used.
        seed: overrides `cfg.seed` (or stands alone when there is no `cfg`).

    Returns:
        The seed that was applied.
    """
    import numpy as np
    import pandas as pd

    from lab import checks, plots
    from lab._backend import keras

    seed = seed if seed is not None else (cfg.seed if cfg is not None else 0)
    seed = checks.integer(seed, "seed", minimum=0, maximum=checks.MAX_SEED)
    random.seed(seed)
    np.random.seed(seed)
    keras.utils.set_random_seed(seed)
    plots.use_book_style()
    # pandas cuts text cells at 50 characters: the claims tables' sentences are longer.
    pd.set_option("display.max_colwidth", 200)
    _show_figures_inline()
    if cfg is not None:
        plots.set_figures_dir(Path(cfg.figures_dir))
    return seed


def _show_figures_inline() -> None:
    """In IPython, display a matplotlib Figure that ends a cell as a PNG."""
    try:
        from IPython import get_ipython
        from IPython.core.pylabtools import select_figure_formats
    except ImportError:
        return
    shell = get_ipython()
    if shell is not None:
        select_figure_formats(shell, {"png"}, bbox_inches="tight")
