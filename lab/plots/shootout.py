"""The searches compared over many seeds (notebook 09): median best-so-far with its
interquartile band, mean ranks, the winners' test errors, hyperparameter importance and
where a search spent its budget.

The numbers each figure draws come from `lab.shootout` (`median_curves`, `mean_ranks`,
`winners`, `importance`, `timeline`), so they can be checked without a figure.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from lab import vocabulary
from lab.plots._base import _log_y_if_wide


def _labels(names) -> dict[str, str]:
    from lab.shootout import CONTENDERS, UNTUNED

    return {
        name: CONTENDERS.get(name, "defaults (untuned here)" if name == UNTUNED else name) for name in names
    }


def plot_shootout_curves(bands: pd.DataFrame, budget_epochs: int, *, seeds: int | None = None) -> Figure:
    """Each search's median best validation error so far against the epochs spent, with the
    band from the 25th to the 75th percentile over seeds (`lab.shootout.median_curves`)."""
    fig = Figure(figsize=(7.0, 4.2), layout="constrained")
    ax = fig.subplots()
    styles = ["-", "--", "-.", ":"]
    names = list(dict.fromkeys(bands["experiment"]))
    labels = _labels(names)
    for i, name in enumerate(names):
        rows = bands[bands["experiment"] == name]
        ax.fill_between(rows["epochs"], rows["q25"], rows["q75"], color=f"C{i}", alpha=0.15, linewidth=0)
        ax.plot(
            rows["epochs"], rows["median"], color=f"C{i}", linestyle=styles[i % 4], lw=2, label=labels[name]
        )
    for fraction in (0.25, 0.5, 1.0):
        ax.axvline(fraction * budget_epochs, color="0.6", lw=0.8, linestyle=":")
    _log_y_if_wide(ax, bands[["median", "q25", "q75"]].to_numpy().ravel())
    ax.set_xlim(0, budget_epochs * 1.01)
    ax.set_xlabel("epochs spent by the search (dotted: 25, 50 and 100% of the budget)")
    ax.set_ylabel("best validation MSE so far" + (" (log scale)" if ax.get_yscale() == "log" else ""))
    if seeds:
        ax.set_title(f"median over {seeds} seeds; band: 25th to 75th percentile", fontsize=9)
    ax.legend(fontsize=8)
    return fig


def plot_mean_ranks(ranks: pd.DataFrame) -> Figure:
    """Mean rank of each search (1 = best) at each share of the budget (`lab.shootout.mean_ranks`)."""
    fig = Figure(figsize=(6.4, 3.4), layout="constrained")
    ax = fig.subplots()
    labels = _labels(ranks.index)
    x = np.arange(len(ranks.columns))
    width = 0.8 / max(len(ranks), 1)
    for i, (name, row) in enumerate(ranks.iterrows()):
        bars = ax.bar(
            x + (i - (len(ranks) - 1) / 2) * width,
            row.to_numpy(float),
            width,
            color=f"C{i}",
            label=labels[name],
        )
        ax.bar_label(bars, fmt="%.2f", fontsize=7)
    ax.set_xticks(x, [f"after {c} of the budget" for c in ranks.columns])
    ax.set_ylim(0, len(ranks) + 0.6)
    ax.set_ylabel("mean rank over seeds (1 = best)")
    ax.legend(fontsize=7, ncols=2, loc="upper left")
    return fig


def plot_winners(winners: pd.DataFrame, *, pca_mse: float | None = None) -> Figure:
    """Test MSE of each search's winner on every seed (one dot each, the median as a bar),
    beside the untuned model's and, as a line, PCA's at the same code size."""
    fig = Figure(figsize=(7.0, 3.6), layout="constrained")
    ax = fig.subplots()
    names = list(dict.fromkeys(winners["experiment"]))
    labels = _labels(names)
    rng = np.random.default_rng(0)
    for i, name in enumerate(names):
        values = winners.loc[winners["experiment"] == name, "test_mse"].astype(float).dropna().to_numpy()
        ax.plot(
            i + rng.uniform(-0.12, 0.12, len(values)), values, "o", color=f"C{i}", alpha=0.7, markersize=4
        )
        if len(values):
            ax.hlines(np.median(values), i - 0.3, i + 0.3, color=f"C{i}", lw=2.5)
    if pca_mse is not None:
        ax.axhline(pca_mse, color="0.3", linestyle="--", lw=1, label=f"PCA, same code size ({pca_mse:.4f})")
        ax.legend(fontsize=8)
    ticks = []
    for name in names:  # the method on one or two lines, its library on the last
        method, _, library = labels[name].partition(" (")
        ticks.append(textwrap.fill(method, 18) + (f"\n({library}" if library else ""))
    ax.set_xticks(range(len(names)), ticks, fontsize=7)
    ax.set_ylabel("test MSE of the winner (one dot per seed)")
    return fig


def plot_importance(found: pd.DataFrame, *, evaluator: str = "PED-ANOVA") -> Figure:
    """Each hyperparameter's importance on every seed (dots) and its median (bar), most important
    first (`lab.shootout.importance`)."""
    fig = Figure(figsize=(6.6, 3.8), layout="constrained")
    ax = fig.subplots()
    if found.empty:
        ax.set_title("no importance: too few trials trained to the full budget on any seed", fontsize=9)
        ax.set_axis_off()
        return fig
    order = found.groupby("hyperparameter")["importance"].median().sort_values(ascending=True)
    rng = np.random.default_rng(0)
    for y, name in enumerate(order.index):
        values = found.loc[found["hyperparameter"] == name, "importance"].to_numpy(float)
        ax.barh(y, order[name], color="C0", alpha=0.35)
        ax.plot(values, y + rng.uniform(-0.2, 0.2, len(values)), "o", color="C0", markersize=3.5)
    ax.set_yticks(range(len(order)), order.index)
    ax.set_xlabel(f"importance ({evaluator}; each seed's importances add up to 1)")
    ax.set_title(f"bar: median over {found['seed'].nunique()} seeds; dots: one seed each", fontsize=9)
    return fig


def plot_budget_timeline(timelines: Mapping[str, pd.DataFrame], budget_epochs: int) -> Figure:
    """Where each search's budget went: one bar per trial, from the epochs its search had spent
    before it to those after (`lab.shootout.timeline`), longer trials thicker. Hyperband's bars
    are coloured by bracket; a pruned trial is grey, a failed one ends in a red cross."""
    fig = Figure(figsize=(7.2, 1.0 + 1.3 * len(timelines)), layout="constrained")
    axes = np.atleast_1d(fig.subplots(len(timelines), 1, sharex=True, squeeze=False)).ravel()
    for ax, (name, line) in zip(axes, timelines.items(), strict=True):
        longest = max(int((line["epochs"] + line.get("initial_epoch", 0)).max()), 1)
        for _, row in line.iterrows():
            trained_to = row["epochs"] + (row.get("initial_epoch") or 0)
            height = 0.25 + 0.7 * trained_to / longest
            if row["status"] == vocabulary.PRUNED:
                color = "0.6"
            elif "bracket" in row and pd.notna(row["bracket"]):
                color = f"C{int(row['bracket']) + 2}"
            else:
                color = "C0"
            ax.barh(
                0, row["epochs"], left=row["start"], height=height, color=color, edgecolor="white", lw=0.5
            )
            if row["status"] == vocabulary.FAILED:
                ax.plot(row["end"], 0, "x", color="#b00")
        done = (line["status"] == vocabulary.COMPLETED).sum()
        pruned = (line["status"] == vocabulary.PRUNED).sum()
        ax.set_yticks([0], [f"{name}\n{len(line)} trials"], fontsize=8)
        detail = f"{done} completed" + (f", {pruned} pruned (grey)" if pruned else "")
        if line.get("bracket") is not None and line["bracket"].notna().any():
            brackets = sorted(line["bracket"].dropna().astype(int).unique(), reverse=True)
            detail += f"; colours: brackets {', '.join(str(b) for b in brackets)}"
        ax.set_title(detail, fontsize=8, loc="left")
        ax.set_ylim(-0.6, 0.6)
        ax.grid(False)
    axes[-1].set_xlim(0, budget_epochs * 1.01)
    axes[-1].set_xlabel("epochs spent (each bar: one trial; taller bars trained further)")
    return fig
