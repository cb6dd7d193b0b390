"""Comparisons of settings, over seeds where there are several: sweeps, heatmaps, bars,
trade-offs, denoising gains, anomaly scores and ROC curves."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from lab import vocabulary
from lab.plots._base import _STATUS_STYLE, _n_seeds, _seed_title


def plot_latent_size_tradeoff(frame: pd.DataFrame) -> Figure:
    """Reconstruction error and linear-probe accuracy against latent size, per method.

    Args:
        frame: one row per (method, latent_dim) with columns `method`,
            `latent_dim`, `val_mse` and `probe_accuracy`.
    """
    missing = {"method", "latent_dim", "val_mse", "probe_accuracy"} - set(frame.columns)
    if missing:
        raise ValueError(f"frame lacks column(s): {', '.join(sorted(missing))}")
    fig = Figure(figsize=(7, 4.2), layout="constrained")
    ax_err = fig.subplots()
    ax_acc = ax_err.twinx()
    ax_acc.grid(False)
    ax_acc.spines["right"].set_visible(True)
    for i, (method, rows) in enumerate(frame.sort_values("latent_dim").groupby("method", sort=False)):
        color = f"C{i}"
        ax_err.plot(rows["latent_dim"], rows["val_mse"], "o-", color=color, label=f"{method}: error")
        ax_acc.plot(
            rows["latent_dim"],
            rows["probe_accuracy"],
            "s--",
            color=color,
            label=f"{method}: probe accuracy",
        )
    ax_err.set_xscale("log", base=2)
    sizes = sorted(frame["latent_dim"].unique())
    ax_err.set_xticks(sizes, [str(s) for s in sizes])
    ax_err.set_xlabel("latent size")
    ax_err.set_ylabel("validation reconstruction MSE (solid)")
    ax_acc.set_ylabel("linear-probe accuracy (dashed)")
    ax_acc.set_ylim(0, 1.02)
    handles = ax_err.get_legend_handles_labels()[0] + ax_acc.get_legend_handles_labels()[0]
    ax_err.legend(handles=handles, loc="center right", fontsize=8)
    return fig


def plot_sweep(
    frame: pd.DataFrame,
    param: str,
    metrics: Sequence[str] = ("val_mse",),
    *,
    log_x: bool = False,
    hue: str | None = None,
    ylabels: Mapping[str, str] | None = None,
) -> Figure:
    """One panel per metric against a swept setting; failed runs are marked, never hidden.

    Numeric settings are drawn as lines, others (activations, optimizers) as bars.
    With several seeds per setting (a `seed` column), the line or bar is the mean
    over the seeds that finished, the band or error bar spans their min to max, and
    each seed is a small dot: a difference inside the band is noise. A setting that
    diverged (NaN loss) on some seed is marked with a red cross at the top of the
    panel, one that stalled (no better than the mean image) with a black triangle.

    Args:
        frame: a sweep table (see `lab.sweeps.grid`), with a `status` column.
        param: the swept column, drawn on the x axis.
        metrics: columns to draw, one panel each.
        log_x: a logarithmic x axis, for learning rates and penalties.
        hue: a second swept column, one line per value (numeric `param` only).
        ylabels: metric -> axis label.
    """
    from lab.seeds import spread

    ylabels = ylabels or {}
    seeds = frame["seed"].nunique() if "seed" in frame else 1
    fig = Figure(figsize=(4.2 * len(metrics) + 0.6, 3.6), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(metrics)))
    numeric = pd.api.types.is_numeric_dtype(frame[param]) and not pd.api.types.is_bool_dtype(frame[param])
    groups = list(frame.groupby(hue, sort=False)) if hue else [(None, frame)]
    for ax, metric in zip(axes, metrics, strict=True):
        for i, (name, rows) in enumerate(groups):
            color = f"C{i}"
            label = f"{hue}={name}" if hue else None
            stats = spread(rows, param, metric)
            xs = stats.index.to_numpy() if numeric else np.arange(len(stats))
            if numeric:
                ax.plot(xs, stats["mean"], "o-", color=color, label=label)
                if seeds > 1:
                    ax.fill_between(xs, stats["min"], stats["max"], color=color, alpha=0.18, linewidth=0)
            else:
                err = None
                if seeds > 1:
                    err = np.vstack([stats["mean"] - stats["min"], stats["max"] - stats["mean"]])
                ax.bar(xs, stats["mean"].fillna(0), color=color, alpha=0.75, yerr=err, capsize=3)
                ax.set_xticks(xs, [str(v) for v in stats.index], rotation=20)
            if seeds > 1:
                position = dict(zip(stats.index, xs, strict=True))
                good = rows[rows["status"].isin(vocabulary.FINISHED)]
                ax.plot(
                    [position[v] for v in good[param]],
                    good[metric],
                    ".",
                    color="0.25",
                    markersize=4,
                    label="one seed",
                )
            for status, (marker, mcolor) in _STATUS_STYLE.items():
                bad = rows[rows["status"] == status]
                if bad.empty:
                    continue
                where = sorted(set(bad[param]), key=list(stats.index).index)
                positions = [xs[list(stats.index).index(v)] for v in where]
                shown = f"{status} (some seeds)" if seeds > 1 else status
                ax.plot(  # above the plotting area: a failed run's error is not the setting's
                    positions,
                    np.full(len(positions), 1.04),
                    marker,
                    color=mcolor,
                    markersize=10,
                    mew=2,
                    linestyle="none",
                    label=shown,
                    transform=ax.get_xaxis_transform(),
                    clip_on=False,
                )
        if numeric and log_x:
            ax.set_xscale("log")
        if numeric:
            values = np.sort(frame[param].dropna().unique())
            if len(values) <= 8:
                # Ticks at the swept values only, so labels never crowd or overlap.
                ax.set_xticks(values, [f"{v:g}" for v in values])
                ax.minorticks_off()
        ax.set_xlabel(param)
        ax.set_ylabel(ylabels.get(metric, metric))
        if seeds > 1:
            ax.set_title(f"mean and range over {seeds} seeds", fontsize=9)
        handles, labels = ax.get_legend_handles_labels()
        if handles:
            unique = dict(zip(labels, handles, strict=True))
            ax.legend(unique.values(), unique.keys(), fontsize=8)
    return fig


def plot_heatmap(frame: pd.DataFrame, row: str, col: str, value: str = "val_mse") -> Figure:
    """A grid of runs as a heatmap of `value`; cells that failed are labelled so.

    With several seeds per cell (a `seed` column), each cell shows the mean over
    seeds and, below it, the range (max - min) as "± half of it"; a cell where some
    seed stalled or diverged says so.
    """
    from lab.seeds import spread

    stats = spread(frame, [row, col], value)
    seeds = frame["seed"].nunique() if "seed" in frame else 1
    table = stats["mean"].unstack(col)
    half = ((stats["max"] - stats["min"]) / 2).unstack(col)
    failed = stats["failed"].unstack(col)
    fig = Figure(figsize=(1.6 * table.shape[1] + 2.4, 0.8 * table.shape[0] + 1.4), layout="constrained")
    ax = fig.subplots()
    image = ax.imshow(table.to_numpy(dtype=float), cmap="viridis_r", aspect="auto")
    fig.colorbar(image, ax=ax, label=value + (f" (mean of {seeds} seeds)" if seeds > 1 else ""))
    ax.set_xticks(range(table.shape[1]), [str(c) for c in table.columns])
    ax.set_yticks(range(table.shape[0]), [str(r) for r in table.index])
    ax.set_xlabel(col)
    ax.set_ylabel(row)
    ax.grid(False)
    for (r, c), v in np.ndenumerate(table.to_numpy(dtype=float)):
        state = failed.iloc[r, c]
        bad = any(word in state for word in vocabulary.BROKEN)
        text = f"{v:.4f}" if np.isfinite(v) else ""
        if seeds > 1 and np.isfinite(v):
            text += f"\n± {half.iloc[r, c]:.4f}"
        if state:
            text = (text + "\n" if text else "") + state
        # Dark text on the light end of the colour map, light text on the dark end.
        light = np.isfinite(v) and image.norm(v) < 0.5
        ax.text(
            c,
            r,
            text,
            ha="center",
            va="center",
            fontsize=8,
            color="tab:red" if bad else ("black" if light else "white"),
        )
    return fig


def plot_grouped_bars(
    frame: pd.DataFrame, group: str, hue: str, value: str, *, ylabel: str | None = None
) -> Figure:
    """Bars of `value`, one group per value of `group`, one colour per value of `hue`.

    With several seeds (a `seed` column), each bar is the mean over seeds, its error
    bar spans the min to the max, and each seed is a dot: bars whose ranges overlap
    are within noise of each other.
    """
    seeds = _n_seeds(frame)
    stats = frame.groupby([group, hue], sort=False)[value].agg(["mean", "min", "max"])
    groups = list(dict.fromkeys(frame[group]))
    hues = list(dict.fromkeys(frame[hue]))
    fig = Figure(figsize=(max(6.0, 1.4 * len(groups) * len(hues) / 2), 3.8), layout="constrained")
    ax = fig.subplots()
    width = 0.8 / len(hues)
    for i, name in enumerate(hues):
        xs = np.arange(len(groups)) + (i - (len(hues) - 1) / 2) * width
        rows = stats.xs(name, level=hue).reindex(groups)
        err = np.vstack([rows["mean"] - rows["min"], rows["max"] - rows["mean"]]) if seeds > 1 else None
        ax.bar(xs, rows["mean"], width, label=name, yerr=err, capsize=2, error_kw={"elinewidth": 1})
        if seeds > 1:
            where = dict(zip(groups, xs, strict=True))
            mine = frame[frame[hue] == name]
            ax.plot([where[g] for g in mine[group]], mine[value], ".", color="0.2", markersize=3)
    ax.set_xticks(range(len(groups)), [str(g) for g in groups])
    ax.set_xlabel(group)
    ax.set_ylabel(ylabel or value)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    _seed_title(ax, seeds)
    return fig


def plot_tradeoff(
    frame: pd.DataFrame, x: str, y: str, label: str, *, xlabel: str | None = None, ylabel: str | None = None
) -> Figure:
    """A curve of `y` against `x`, each point annotated with its `label` value.

    Labels of points that lie close together are stacked rather than drawn over
    each other; a run whose `status` is not "ok" or "poor" is drawn as an open
    marker, left off the curve, and its label says so, so a stalled run's error does
    not read as a point of the trade-off. With several seeds (a `seed` column), each
    point is the mean of the seeds that finished, its error bars span their min to
    max on both axes, each finished seed is a small dot, and a label counts the
    seeds that failed.
    """
    seeds = _n_seeds(frame)
    fig = Figure(figsize=(5.8, 4.0), layout="constrained")
    ax = fig.subplots()
    status = frame["status"] if "status" in frame else pd.Series("ok", index=frame.index)
    failed = ~status.isin(vocabulary.FINISHED)
    good = frame[~failed]
    points = good.groupby(label, sort=False)[[x, y]].agg(["mean", "min", "max"])
    ax.plot(points[(x, "mean")], points[(y, "mean")], "-", color="C0")
    if seeds > 1:
        ax.errorbar(
            points[(x, "mean")],
            points[(y, "mean")],
            xerr=np.vstack(
                [points[(x, "mean")] - points[(x, "min")], points[(x, "max")] - points[(x, "mean")]]
            ),
            yerr=np.vstack(
                [points[(y, "mean")] - points[(y, "min")], points[(y, "max")] - points[(y, "mean")]]
            ),
            fmt="o",
            color="C0",
            capsize=2,
            elinewidth=1,
        )
        ax.plot(good[x], good[y], ".", color="0.25", markersize=4, label="one seed")
    else:
        ax.plot(points[(x, "mean")], points[(y, "mean")], "o", color="C0")
    if failed.any():
        ax.plot(
            frame.loc[failed, x],
            frame.loc[failed, y],
            "o",
            mfc="white",
            color="tab:red",
            mew=1.5,
            label="stalled or diverged run",
        )
    if failed.any() or seeds > 1:
        ax.legend(fontsize=8, loc="upper left")
    # One label per setting: at its mean, or at its failed run when no seed finished.
    anchors = []
    for value, rows in frame.groupby(label, sort=False):
        bad = rows[failed[rows.index]]
        note = ""
        if len(bad):
            counts = bad["status"].value_counts()
            note = (
                " ("
                + ", ".join(f"{k}" + (f" {n} of {len(rows)}" if seeds > 1 else "") for k, n in counts.items())
                + ")"
            )
        at = points.loc[value] if value in points.index else None
        px, py = (at[(x, "mean")], at[(y, "mean")]) if at is not None else (bad[x].iloc[0], bad[y].iloc[0])
        anchors.append((px, py, f"{label}={value:g}{note}"))
    span_x = np.ptp(np.asarray([a[0] for a in anchors], dtype=float)) or 1.0
    span_y = np.ptp(np.asarray([a[1] for a in anchors], dtype=float)) or 1.0
    placed: list[tuple[float, float]] = []
    for px, py, text in anchors:
        near = sum(abs(px - qx) < 0.06 * span_x and abs(py - qy) < 0.06 * span_y for qx, qy in placed)
        placed.append((px, py))
        ax.annotate(text, (px, py), textcoords="offset points", xytext=(6, 4 - 11 * near), fontsize=8)
    ax.set_xlabel(xlabel or x)
    ax.set_ylabel(ylabel or y)
    _seed_title(ax, seeds)
    return fig


def plot_denoising_gain(frame: pd.DataFrame, levels: Sequence[float]) -> Figure:
    """The share of the noisy input's error each denoiser removed, against the test noise.

    `frame` has one row per training noise level (`noise_std`) and seed, with a
    column `gain_at_<level>` per test noise level (see `lab.studies`). One line per
    training level: the mean over seeds, a band from min to max. Zero is doing
    nothing; below it a model adds error.
    """
    seeds = _n_seeds(frame)
    columns = [f"gain_at_{t:g}" for t in levels]
    fig = Figure(figsize=(6.4, 4.0), layout="constrained")
    ax = fig.subplots()
    ax.axhline(0.0, color="k", linestyle="--", linewidth=1, label="the noisy input (no model)")
    for i, (trained_with, rows) in enumerate(frame.groupby("noise_std")):
        gains = rows[columns].to_numpy(dtype=float)
        name = "plain autoencoder" if trained_with == 0 else f"trained with noise {trained_with:g}"
        ax.plot(levels, gains.mean(axis=0), "o-", color=f"C{i}", label=name)
        if seeds > 1:
            ax.fill_between(
                levels, gains.min(axis=0), gains.max(axis=0), color=f"C{i}", alpha=0.18, linewidth=0
            )
    ax.set_xticks(list(levels), [f"{t:g}" for t in levels])
    ax.yaxis.set_major_formatter(mpl.ticker.PercentFormatter(1.0, decimals=0))
    ax.set_xlabel("test noise std")
    ax.set_ylabel("share of the noisy input's error removed")
    ax.legend(fontsize=8, loc="lower right")
    _seed_title(ax, seeds)
    return fig


def plot_score_histograms(
    scores: np.ndarray, is_anomaly: np.ndarray, threshold: float | None = None
) -> Figure:
    """Histograms of anomaly scores for normal and anomalous examples, with the threshold."""
    fig = Figure(figsize=(6.2, 3.8), layout="constrained")
    ax = fig.subplots()
    bins = np.histogram_bin_edges(scores, bins=40)
    ax.hist(scores[~is_anomaly], bins=bins, alpha=0.6, label="normal", density=True)
    ax.hist(scores[is_anomaly], bins=bins, alpha=0.6, label="anomalous", density=True)
    if threshold is not None:
        ax.axvline(threshold, color="k", linestyle="--", label="threshold")
    ax.set_xlabel("reconstruction error (anomaly score)")
    ax.set_ylabel("density")
    ax.legend()
    return fig


def plot_roc(curves: Mapping[str, Mapping[str, object]]) -> Figure:
    """ROC curves by name (each from `lab.evaluate.roc`), with their AUC in the legend."""
    fig = Figure(figsize=(4.8, 4.4), layout="constrained")
    ax = fig.subplots()
    for name, curve in curves.items():
        ax.plot(curve["fpr"], curve["tpr"], label=f"{name} (AUC {curve['auc']:.3f})")
    ax.plot([0, 1], [0, 1], ":", color="grey", label="chance")
    ax.set_xlabel("false-positive rate")
    ax.set_ylabel("true-positive rate")
    ax.set_aspect("equal")
    ax.legend(loc="lower right", fontsize=8)
    return fig
