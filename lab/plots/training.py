"""Training curves: losses and metrics per epoch."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure


def plot_loss_curves(
    histories: Mapping[str, Mapping[str, Sequence[float]]] | Mapping[str, Sequence[float]],
    *,
    metric: str = "loss",
    best_epochs: Mapping[str, int] | None = None,
    ylabel: str | None = None,
) -> Figure:
    """Training (solid) and validation (dashed) curves of one or several runs.

    Args:
        histories: one history ({"loss": [...], "val_loss": [...]}) or several, by name.
        metric: the history key to draw; its `val_` twin is drawn dashed.
        best_epochs: run name -> best epoch (1-based), marked with a dot.
        ylabel: axis label; defaults to `metric`.
    """
    if metric in histories:
        histories = {"": histories}
    fig = Figure(figsize=(6.5, 3.8), layout="constrained")
    ax = fig.subplots()
    for i, (name, history) in enumerate(histories.items()):
        color = f"C{i}"
        label = f"{name} " if name else ""
        epochs = np.arange(1, len(history[metric]) + 1)
        ax.plot(epochs, history[metric], color=color, label=f"{label}training")
        if f"val_{metric}" in history:
            ax.plot(epochs, history[f"val_{metric}"], "--", color=color, label=f"{label}validation")
        if best_epochs and name in best_epochs and f"val_{metric}" in history:
            best = best_epochs[name]
            ax.plot(best, history[f"val_{metric}"][best - 1], "o", color=color)
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel or metric)
    ax.legend()
    return fig


def plot_metrics(
    history: Mapping[str, Sequence[float]], metrics: Sequence[str], *, title: str = ""
) -> Figure:
    """One panel per metric over epochs, training solid and validation dashed."""
    fig = Figure(figsize=(3.6 * len(metrics) + 0.4, 3.2), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(metrics)))
    for ax, metric in zip(axes, metrics, strict=True):
        epochs = np.arange(1, len(history[metric]) + 1)
        ax.plot(epochs, history[metric], label="training")
        if f"val_{metric}" in history:
            ax.plot(epochs, history[f"val_{metric}"], "--", label="validation")
        ax.set_xlabel("epoch")
        ax.set_title(metric)
    axes[0].legend(fontsize=8)
    if title:
        fig.suptitle(title)
    return fig
