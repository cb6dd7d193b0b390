"""Searches: best-so-far curves, parallel coordinates, objective against hyperparameters,
the surrogate slice and the Hyperband schedule."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from lab import vocabulary
from lab.plots._base import _integer_ticks, _log_y_if_wide, objective_direction
from lab.plots.images import plot_images


def plot_best_so_far(
    curves: Mapping[str, pd.DataFrame], objective: str, *, budget: float | None = None
) -> Figure:
    """Best objective so far against epochs consumed, one step line per search.

    Args:
        curves: search name -> `lab.tuning.best_so_far(frame, objective)`.
        objective: the objective's name, for the axis label.
        budget: draw a vertical line at this many epochs (the equal budget).
    """
    fig = Figure(figsize=(6.4, 3.8), layout="constrained")
    ax = fig.subplots()
    styles = ["-", "--", "-.", ":"]  # so that curves which coincide stay visible
    for i, (name, curve) in enumerate(curves.items()):
        ax.step(
            curve["epochs_consumed"],
            curve["best"],
            where="post",
            color=f"C{i}",
            linestyle=styles[i % len(styles)],
            linewidth=2.0 - 0.3 * (i % len(styles)),
            label=name,
        )
        ax.plot(curve["epochs_consumed"], curve["best"], ".", color=f"C{i}", markersize=4)
    if budget is not None:
        ax.axvline(budget, color="0.4", linestyle=":", label=f"budget ({budget:g} epochs)")
    _log_y_if_wide(
        ax, np.concatenate([c["best"].replace(np.inf, np.nan).to_numpy(float) for c in curves.values()])
    )
    ax.set_xlabel("epochs consumed (all trials so far)")
    ax.set_ylabel(f"best {objective} so far" + (" (log scale)" if ax.get_yscale() == "log" else ""))
    ax.legend(fontsize=8)
    return fig


def _as_axis(values: pd.Series) -> tuple[np.ndarray, list[str] | None, list[float] | None]:
    """Values on [0, 1] for a parallel axis, and tick labels for categories or numbers."""
    if pd.api.types.is_numeric_dtype(values) and values.nunique() > 1:
        v = values.astype(float)
        log = vocabulary.log_scaled(v)
        w = np.log10(v) if log else v
        lo, hi = np.nanmin(w), np.nanmax(w)
        scaled = (w - lo) / (hi - lo) if hi > lo else w * 0 + 0.5
        ticks = [float(values.min()), float(values.max())]
        return scaled.to_numpy(), None, ticks
    categories = sorted(values.dropna().unique(), key=str)
    index = {c: i for i, c in enumerate(categories)}
    spread = max(len(categories) - 1, 1)
    scaled = np.array([index[v] / spread if v in index else np.nan for v in values])
    return scaled, [str(c) for c in categories], None


def plot_parallel_coordinates(frame: pd.DataFrame, params: Sequence[str], objective: str) -> Figure:
    """One line per completed trial across the hyperparameters' axes, coloured by the objective.

    The best trial is drawn thick and black. Categorical axes list their values;
    numeric ones (log-scaled when they span decades) show their range.
    """
    done = frame[frame["status"] == "COMPLETED"].dropna(subset=[objective])
    axes_names = [p for p in params if p in done] + [objective]
    fig = Figure(figsize=(1.5 * len(axes_names) + 1.5, 4.0), layout="constrained")
    ax = fig.subplots()
    columns = [_as_axis(done[name]) for name in axes_names]
    ys = np.column_stack([c[0] for c in columns]) if len(done) else np.zeros((0, len(axes_names)))
    cmap = mpl.colormaps["viridis_r"]
    score = done[objective].to_numpy(dtype=float)
    norm = mpl.colors.Normalize(np.nanmin(score), np.nanmax(score)) if len(score) else None
    best = np.nanargmin(score) if objective_direction(objective) == "min" else np.nanargmax(score)
    for i in range(len(done)):
        if i != best:
            ax.plot(range(len(axes_names)), ys[i], color=cmap(norm(score[i])), alpha=0.8, lw=1.2)
    if len(done):
        ax.plot(
            range(len(axes_names)),
            ys[best],
            color="black",
            lw=2.6,
            label=f"best trial ({done['trial'].iloc[best]})",
        )
        # Above the axes: inside, it would cover the range labels of the last axis.
        ax.legend(fontsize=8, loc="lower right", bbox_to_anchor=(1.0, 1.0), frameon=False, borderaxespad=0.2)
    for x, (_, labels, ticks) in enumerate(columns):
        ax.axvline(x, color="0.7", lw=0.8)
        if labels is not None:
            spread = max(len(labels) - 1, 1)
            for j, label in enumerate(labels):
                ax.text(x + 0.03, j / spread, label, fontsize=7, va="center")
        elif ticks is not None:
            ax.text(x + 0.03, 0, f"{ticks[0]:.3g}", fontsize=7, va="bottom")
            ax.text(x + 0.03, 1, f"{ticks[1]:.3g}", fontsize=7, va="top")
    ax.set_xticks(range(len(axes_names)), axes_names, rotation=20)
    ax.set_yticks([])
    ax.grid(False)
    ax.set_xlim(-0.2, len(axes_names) - 0.6)
    if norm is not None:
        fig.colorbar(mpl.cm.ScalarMappable(norm=norm, cmap=cmap), ax=ax, label=objective)
    return fig


def plot_objective_vs_params(
    frame: pd.DataFrame, params: Sequence[str], objective: str, *, hue: str | None = None
) -> Figure:
    """The objective against each hyperparameter, one panel each; failed trials marked at the top.

    Args:
        hue: a column whose values get their own colour (such as which search ran the trial).
    """
    params = [p for p in params if p in frame]
    cols = min(len(params), 3)
    rows = int(np.ceil(len(params) / cols))
    fig = Figure(figsize=(3.6 * cols, 2.9 * rows), layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).ravel()
    done = frame[frame["status"] == "COMPLETED"]
    failed = frame[frame["status"] != "COMPLETED"]
    for ax, param in zip(axes, params, strict=False):
        values, labels, _ = _as_axis(frame[param])
        numeric = labels is None
        x = frame[param].astype(float) if numeric else pd.Series(values, index=frame.index)
        groups = done.groupby(hue, sort=False) if hue else [(None, done)]
        for i, (name, rows_) in enumerate(groups):
            ax.scatter(x[rows_.index], rows_[objective], s=22, color=f"C{i}", alpha=0.8, label=name)
        if hue:
            ax.legend(fontsize=7, title=hue, title_fontsize=7)
        if len(failed):
            # Above the plotting area, in axes coordinates: a failed trial has no value to plot.
            ax.plot(
                x[failed.index],
                np.full(len(failed), 1.03),
                "x",
                color="#b00",
                mew=2,
                label="failed (no value)",
                transform=ax.get_xaxis_transform(),
                clip_on=False,
            )
            ax.legend(fontsize=7, title=hue, title_fontsize=7)
        if numeric and vocabulary.log_scaled(frame[param].dropna()):
            ax.set_xscale("log")
            ax.xaxis.set_minor_formatter(mpl.ticker.NullFormatter())
        if not numeric:
            spread = max(len(labels) - 1, 1)
            ax.set_xticks([j / spread for j in range(len(labels))], labels, rotation=20)
        elif (frame[param].dropna() % 1 == 0).all():
            _integer_ticks(ax, frame[param].dropna().unique())
        _log_y_if_wide(ax, done[objective])
        ax.set_xlabel(param)
        ax.set_ylabel(objective + (" (log scale)" if ax.get_yscale() == "log" else ""))
    for ax in axes[len(params) :]:
        ax.set_visible(False)
    return fig


def plot_top_reconstructions(
    originals: np.ndarray,
    reconstructions: Mapping[str, np.ndarray],
    image_shape: tuple[int, int],
    *,
    n: int = 10,
) -> Figure:
    """Validation images in the top row, then one row per top trial's reconstructions."""
    return plot_images({"original": originals, **reconstructions}, image_shape, n=n)


def plot_surrogate(
    grid: np.ndarray,
    mean: np.ndarray,
    std: np.ndarray,
    observed_x: np.ndarray,
    observed_y: np.ndarray,
    *,
    beta: float,
    xlabel: str,
    ylabel: str,
    log_x: bool = True,
) -> Figure:
    """A Gaussian-process surrogate on one hyperparameter: its mean, its uncertainty, the
    trials it was fitted to, and the lower confidence bound a Bayesian search minimizes."""
    fig = Figure(figsize=(6.6, 3.8), layout="constrained")
    ax = fig.subplots()
    ax.plot(grid, mean, color="C0", label="surrogate mean")
    ax.fill_between(grid, mean - std, mean + std, color="C0", alpha=0.2, label="mean ± 1 std")
    bound = mean - beta * std
    ax.plot(grid, bound, color="C1", linestyle="--", label=f"mean - {beta:g} std (acquisition)")
    pick = int(np.argmin(bound))
    ax.axvline(grid[pick], color="C1", lw=0.8)
    ax.plot(observed_x, observed_y, "ko", label="trials run")
    ax.annotate(
        "next trial", (grid[pick], bound[pick]), xytext=(8, -4), textcoords="offset points", fontsize=8
    )
    if log_x:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=8)
    return fig


def plot_hyperband_schedule(frame: pd.DataFrame) -> Figure:
    """Each Hyperband trial as a bar from the epoch it started at to the epoch it stopped at,
    grouped by bracket and round: the successive-halving schedule this run used.

    A faint extension runs on to the round's budget when early stopping ended a trial
    sooner; a failed trial ends in a red cross where it stopped. Rounds are named on
    the y axis, and the x ticks are the rounds' budgets.
    """
    rows = frame.sort_values(["tuner/bracket", "tuner/round", "trial"], ascending=[False, True, True])
    rows = rows.reset_index(drop=True)
    fig = Figure(figsize=(6.8, max(2.5, 0.14 * len(rows) + 1)), layout="constrained")
    ax = fig.subplots()
    brackets = sorted(rows["tuner/bracket"].unique(), reverse=True)
    for y, row in rows.iterrows():
        color = f"C{brackets.index(row['tuner/bracket'])}"
        start = row["tuner/initial_epoch"]
        trained = row["epochs"] if pd.notna(row.get("epochs")) else row["tuner/epochs"] - start
        alpha = 0.45 + 0.15 * row["tuner/round"]
        ax.barh(y, trained, left=start, color=color, alpha=alpha)
        if start + trained < row["tuner/epochs"]:
            ax.barh(y, row["tuner/epochs"] - start - trained, left=start + trained, color=color, alpha=0.12)
        if row["status"] != "COMPLETED":
            ax.plot(start + trained, y, "x", color="#b00")
    handles = [mpl.patches.Patch(color=f"C{i}", label=f"bracket {b}") for i, b in enumerate(brackets)]
    handles.append(
        mpl.patches.Patch(color="0.5", alpha=0.15, label="round budget left unused (stopped early)")
    )
    ax.legend(handles=handles, fontsize=7, loc="upper right")
    groups = rows.groupby(["tuner/bracket", "tuner/round"], sort=False)
    ax.set_yticks(
        [g.index.to_numpy().mean() for _, g in groups],
        [f"bracket {b}, round {r} ({len(g)})" for (b, r), g in groups],
        fontsize=7,
    )
    ax.set_xticks(sorted({0, *rows["tuner/epochs"].astype(int)}))
    ax.invert_yaxis()
    ax.set_xlabel("epoch (each bar: one trial, from where it started to where it stopped)")
    return fig
