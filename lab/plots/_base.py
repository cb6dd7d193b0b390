"""The book's plot style, where figures are saved, and helpers the figure modules share."""

from __future__ import annotations

from pathlib import Path

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from lab import config, vocabulary

DPI = 110


_STYLE = {
    "figure.dpi": DPI,
    "savefig.dpi": DPI,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "font.size": 10,
    "axes.titlesize": 11,
    "legend.frameon": False,
}


_figures_dir: Path = config.FIGURES_DIR


def use_book_style() -> None:
    """Apply the book's plot style to matplotlib's global settings."""
    mpl.rcParams.update(_STYLE)


def set_figures_dir(path: Path | str) -> None:
    """Choose the folder that `save_fig` writes to."""
    global _figures_dir
    _figures_dir = Path(path)


def save_fig(fig: Figure, name: str, *, figures_dir: Path | str | None = None) -> Path:
    """Save `fig` as `<figures_dir>/<name>.png` and return the path.

    Args:
        fig: the figure.
        name: a stable snake_case id, prefixed with the notebook number ("01_reconstructions").
        figures_dir: overrides the folder chosen by `lab.setup` / `set_figures_dir`.
    """
    if not name or any(c in name for c in "/\\ ."):
        raise ValueError(f"Figure names are snake_case ids without dots or slashes, got {name!r}")
    folder = Path(figures_dir) if figures_dir is not None else _figures_dir
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    # No timestamps in the file, so an unchanged figure leaves git unchanged.
    fig.savefig(path, dpi=DPI, bbox_inches="tight", metadata={"Software": None})
    return path


_STATUS_STYLE = {vocabulary.DIVERGED: ("x", "tab:red"), vocabulary.STALLED: ("v", "black")}


def _n_seeds(frame: pd.DataFrame) -> int:
    return int(frame["seed"].nunique()) if "seed" in frame else 1


def _seed_title(ax, seeds: int) -> None:
    if seeds > 1:
        ax.set_title(f"mean and range (min to max) over {seeds} seeds; dots: one seed each", fontsize=9)


def _log_y_if_wide(ax, values, factor: float = vocabulary.ERROR_SPAN) -> None:
    """A log y axis when positive values span more than `factor`: one far-off trial then
    does not squeeze the ones that decide the ranking into a flat line."""
    if vocabulary.log_scaled(values, factor):
        ax.set_yscale("log")
        # Ticks at 1, 1.2, 1.5, 2, 3, 5 and 7 times each power of ten: a range within one decade still
        # gets labelled ticks (the default puts them at powers of ten only).
        ax.yaxis.set_major_locator(mpl.ticker.LogLocator(base=10, subs=(1.0, 1.2, 1.5, 2.0, 3.0, 5.0, 7.0)))
        ax.yaxis.set_minor_locator(mpl.ticker.NullLocator())
        ax.yaxis.set_major_formatter(mpl.ticker.FormatStrFormatter("%.3g"))


def _integer_ticks(ax, values: np.ndarray) -> None:
    """Ticks for an integer hyperparameter: its values when there are few (on a base-2 axis
    when they span a factor of 8 or more, as widths and batch sizes do), else whole numbers."""
    values = np.sort(values.astype(float))
    if len(values) > 6:
        ax.xaxis.set_major_locator(mpl.ticker.MaxNLocator(integer=True))
        return
    if ax.get_xscale() == "linear" and values[0] > 0 and values[-1] / values[0] >= 8:
        ax.set_xscale("log", base=2)
    ax.set_xticks(values, [f"{v:g}" for v in values])
    ax.xaxis.set_minor_locator(mpl.ticker.NullLocator())


def objective_direction(objective: str) -> str:
    """ "max" or "min": the objective's direction, from `lab.vocabulary` (unknown names are refused)."""
    return vocabulary.direction(objective)
