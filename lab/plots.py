"""Figures for the book. Every `plot_*` returns a matplotlib Figure; `save_fig` writes it.

Figures are built with `matplotlib.figure.Figure` rather than pyplot, so nothing
accumulates in a global figure list; in a notebook, end the cell with the figure
to show it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from lab import config

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


def _image_grid(rows: Sequence[np.ndarray], image_shape: tuple[int, int], row_titles: Sequence[str]):
    n = min(len(r) for r in rows)
    fig = Figure(figsize=(max(n, 2) * 0.9, len(rows) * 1.0 + 0.2), layout="constrained")
    axes = fig.subplots(len(rows), n, squeeze=False)
    for r, (images, title) in enumerate(zip(rows, row_titles, strict=True)):
        for c in range(n):
            ax = axes[r, c]
            ax.imshow(images[c].reshape(image_shape), cmap="binary", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.grid(False)
            ax.spines[:].set_visible(False)
        axes[r, 0].set_ylabel(title, rotation=0, ha="right", va="center")
    return fig, axes


def plot_images(
    rows: Mapping[str, np.ndarray],
    image_shape: tuple[int, int],
    *,
    n: int = 10,
    labels: Sequence[object] | None = None,
) -> Figure:
    """Rows of images, one row per entry of `rows` ({"noisy": ..., "clean": ...}).

    Args:
        rows: row title -> images (flattened or not), aligned by index.
        image_shape: (height, width) of one image.
        n: images per row.
        labels: optional titles over the columns.
    """
    fig, axes = _image_grid([np.asarray(v)[:n] for v in rows.values()], image_shape, list(rows))
    if labels is not None:
        for c, label in enumerate(list(labels)[: axes.shape[1]]):
            axes[0, c].set_title(str(label))
    return fig


def plot_samples(
    x: np.ndarray, labels: np.ndarray, image_shape: tuple[int, int], *, per_class: int = 2
) -> Figure:
    """The first `per_class` images of each class, one column per class."""
    classes = np.unique(labels)
    picks = [np.flatnonzero(labels == c)[:per_class] for c in classes]
    if min(len(p) for p in picks) < per_class:
        raise ValueError(f"some class has fewer than {per_class} examples")
    rows = {f"#{r + 1}": x[[p[r] for p in picks]] for r in range(per_class)}
    return plot_images(rows, image_shape, n=len(classes), labels=classes)


def plot_reconstructions(
    originals: np.ndarray,
    reconstructions: np.ndarray,
    image_shape: tuple[int, int],
    *,
    n: int = 10,
) -> Figure:
    """Originals in the top row, their reconstructions below."""
    return plot_images({"original": originals, "reconstruction": reconstructions}, image_shape, n=n)


def plot_pixel_statistics(x: np.ndarray, image_shape: tuple[int, int]) -> Figure:
    """The mean image, the per-pixel standard deviation and the histogram of pixel values."""
    fig = Figure(figsize=(10, 3), layout="constrained")
    ax_mean, ax_std, ax_hist = fig.subplots(1, 3, width_ratios=[1, 1, 2])
    for ax, values, title in ((ax_mean, x.mean(0), "mean image"), (ax_std, x.std(0), "pixel std")):
        im = ax.imshow(values.reshape(image_shape), cmap="viridis")
        ax.set_title(title)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.grid(False)
        fig.colorbar(im, ax=ax, shrink=0.8)
    ax_hist.hist(x.ravel(), bins=33, color="tab:blue")
    ax_hist.set_yscale("log")
    ax_hist.set_xlabel("pixel value")
    ax_hist.set_ylabel("count (log scale)")
    ax_hist.set_title("all pixels of the training split")
    return fig


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


def plot_latent_2d(
    z: np.ndarray,
    labels: np.ndarray,
    *,
    title: str = "latent space",
    axis_labels: tuple[str, str] = ("z[0]", "z[1]"),
) -> Figure:
    """A scatter of 2-D codes coloured by class label."""
    if z.ndim != 2 or z.shape[1] != 2:
        raise ValueError(f"plot_latent_2d needs codes of shape (n, 2), got {z.shape}; use plot_latent_umap")
    fig = Figure(figsize=(5.5, 4.6), layout="constrained")
    ax = fig.subplots()
    scatter = ax.scatter(z[:, 0], z[:, 1], c=labels, cmap="tab10", s=8, alpha=0.8, vmin=-0.5, vmax=9.5)
    fig.colorbar(scatter, ax=ax, ticks=range(10), label="label")
    ax.set_xlabel(axis_labels[0])
    ax.set_ylabel(axis_labels[1])
    ax.set_title(title)
    return fig


def umap_embedding(z: np.ndarray, *, seed: int = 0, n_neighbors: int = 15) -> np.ndarray:
    """Project codes to 2-D with UMAP (imported lazily: it is slow to import)."""
    import warnings

    import umap

    reducer = umap.UMAP(n_components=2, n_neighbors=n_neighbors, random_state=seed)
    with warnings.catch_warnings():
        # A fixed random_state makes UMAP single-threaded, on purpose: the view is reproducible.
        warnings.filterwarnings("ignore", message="n_jobs value", category=UserWarning)
        return reducer.fit_transform(z)


def plot_latent_umap(z: np.ndarray, labels: np.ndarray, *, seed: int = 0, title: str | None = None) -> Figure:
    """A 2-D UMAP view of higher-dimensional codes, coloured by class label."""
    embedding = umap_embedding(z, seed=seed)
    return plot_latent_2d(
        embedding,
        labels,
        title=title or f"UMAP of the {z.shape[1]}-D latent space",
        axis_labels=("UMAP 1", "UMAP 2"),
    )


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


_STATUS_STYLE = {"diverged": ("x", "tab:red"), "stalled": ("v", "black")}


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
                good = rows[rows["status"].isin(("ok", "poor"))]
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
        bad = any(word in state for word in ("stalled", "diverged"))
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
    """Bars of `value`, one group per value of `group`, one colour per value of `hue`."""
    table = frame.pivot(index=group, columns=hue, values=value)
    table = table[list(dict.fromkeys(frame[hue]))]
    fig = Figure(figsize=(max(6.0, 1.4 * table.shape[0] * table.shape[1] / 2), 3.8), layout="constrained")
    ax = fig.subplots()
    width = 0.8 / table.shape[1]
    for i, name in enumerate(table.columns):
        ax.bar(
            np.arange(table.shape[0]) + (i - (table.shape[1] - 1) / 2) * width, table[name], width, label=name
        )
    ax.set_xticks(range(table.shape[0]), [str(g) for g in table.index])
    ax.set_xlabel(group)
    ax.set_ylabel(ylabel or value)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return fig


def plot_tradeoff(
    frame: pd.DataFrame, x: str, y: str, label: str, *, xlabel: str | None = None, ylabel: str | None = None
) -> Figure:
    """A curve of `y` against `x`, each point annotated with its `label` value.

    Labels of points that lie close together are stacked rather than drawn over
    each other; a run whose `status` is not "ok" or "poor" is drawn as an open
    marker, left off the curve, and its label says so, so a stalled run's error does
    not read as a point of the trade-off.
    """
    fig = Figure(figsize=(5.8, 4.0), layout="constrained")
    ax = fig.subplots()
    status = frame["status"] if "status" in frame else pd.Series("ok", index=frame.index)
    failed = ~status.isin(("ok", "poor"))
    ax.plot(frame.loc[~failed, x], frame.loc[~failed, y], "-", color="C0")
    ax.plot(frame.loc[~failed, x], frame.loc[~failed, y], "o", color="C0")
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
        ax.legend(fontsize=8, loc="upper left")
    span_x = np.ptp(frame[x].to_numpy(dtype=float)) or 1.0
    span_y = np.ptp(frame[y].to_numpy(dtype=float)) or 1.0
    placed: list[tuple[float, float]] = []
    for i, row in frame.iterrows():
        near = sum(abs(row[x] - px) < 0.06 * span_x and abs(row[y] - py) < 0.06 * span_y for px, py in placed)
        placed.append((row[x], row[y]))
        text = f"{label}={row[label]:g}" + (f" ({status[i]})" if failed[i] else "")
        ax.annotate(text, (row[x], row[y]), textcoords="offset points", xytext=(6, 4 - 11 * near), fontsize=8)
    ax.set_xlabel(xlabel or x)
    ax.set_ylabel(ylabel or y)
    return fig


def plot_denoising(table: pd.DataFrame) -> Figure:
    """Denoising error against test noise level, one line per training noise level."""
    fig = Figure(figsize=(6.2, 4.0), layout="constrained")
    ax = fig.subplots()
    for i, (trained_with, rows) in enumerate(table.groupby("trained_with")):
        ax.plot(
            rows["test_noise"],
            rows["denoised_mse"],
            "o-",
            color=f"C{i}",
            label=f"trained with noise {trained_with:g}",
        )
    first = table.groupby("test_noise")["noisy_mse"].first()
    ax.plot(first.index, first.to_numpy(), "k--", label="noisy input (no model)")
    ax.set_xlabel("test noise std")
    ax.set_ylabel("MSE against the clean image")
    ax.legend(fontsize=8)
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


def plot_latent_grid(decoder, image_shape: tuple[int, int], *, n: int = 15, extent: float = 3.0) -> Figure:
    """Images decoded from an evenly spaced n x n grid over a 2-D latent space."""
    if decoder.input_shape[-1] != 2:
        raise ValueError(f"plot_latent_grid needs a 2-D latent space, got {decoder.input_shape[-1]}")
    from lab import evaluate

    values = np.linspace(-extent, extent, n)
    grid = np.array([[x, y] for y in values[::-1] for x in values], dtype="float32")
    images = evaluate.predict(decoder, grid).reshape(n, n, *image_shape)
    # A one-pixel white border per cell, so digits whose ink reaches the frame stay apart.
    images = np.pad(images, ((0, 0), (0, 0), (1, 1), (1, 1)))
    h, w = images.shape[2:]
    canvas = images.transpose(0, 2, 1, 3).reshape(n * h, n * w)
    fig = Figure(figsize=(5.5, 5.5), layout="constrained")
    ax = fig.subplots()
    ax.imshow(canvas, cmap="binary", extent=(-extent, extent, -extent, extent), vmin=0, vmax=1)
    ax.set_xlabel("z[0]")
    ax.set_ylabel("z[1]")
    ax.grid(False)
    ax.set_title("decoded latent grid")
    return fig


def plot_codes_and_prior(
    codes: np.ndarray, labels: np.ndarray, prior: np.ndarray, *, title: str = ""
) -> Figure:
    """2-D codes coloured by label (left) beside samples of the prior they should match (right)."""
    fig = Figure(figsize=(10, 4.4), layout="constrained")
    ax_codes, ax_prior = fig.subplots(1, 2, sharex=True, sharey=True)
    scatter = ax_codes.scatter(codes[:, 0], codes[:, 1], c=labels, cmap="tab10", s=6, vmin=-0.5, vmax=9.5)
    fig.colorbar(scatter, ax=ax_codes, ticks=range(10), label="label")
    ax_codes.set_title(f"codes {title}".strip())
    ax_prior.scatter(prior[:, 0], prior[:, 1], s=6, color="grey")
    ax_prior.set_title("samples of the prior")
    for ax in (ax_codes, ax_prior):
        ax.set_xlabel("z[0]")
    ax_codes.set_ylabel("z[1]")
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


# -- searches (notebooks 06 to 08) ---------------------------------------------------------


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
        log = (v > 0).all() and v.max() / v.min() > 20
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
        ax.legend(fontsize=8, loc="upper right")
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
        if (
            numeric
            and (frame[param].dropna() > 0).all()
            and frame[param].max() / max(frame[param].min(), 1e-12) > 20
        ):
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


def _log_y_if_wide(ax, values, factor: float = 3.0) -> None:
    """A log y axis when positive values span more than `factor`: one far-off trial then
    does not squeeze the ones that decide the ranking into a flat line."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if len(v) > 1 and (v > 0).all() and v.max() / v.min() > factor:
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


def plot_rate_distortion(frame: pd.DataFrame, *, color: str = "beta") -> Figure:
    """VAE trials on the rate-distortion plane: KL (rate) against reconstruction (distortion).

    The negative ELBO is their sum, so the dotted diagonals join trials of equal
    negative ELBO; the best trial, on the lowest diagonal, is starred. Points are
    coloured by `color` (log scale when it spans more than a factor of 20).
    """
    done = frame[frame["status"] == "COMPLETED"].dropna(subset=["val_kl", "val_reconstruction"])
    if done.empty:
        raise ValueError("No completed VAE trial to draw: run (or resume) the search first.")
    fig = Figure(figsize=(6.0, 4.2), layout="constrained")
    ax = fig.subplots()
    values = done[color].astype(float)
    norm = (
        mpl.colors.LogNorm(values.min(), values.max())
        if (values > 0).all() and values.max() / values.min() > 20
        else mpl.colors.Normalize(values.min(), values.max())
    )
    points = ax.scatter(done["val_kl"], done["val_reconstruction"], c=values, cmap="viridis", norm=norm, s=36)
    fig.colorbar(points, ax=ax, label=color)
    best = done.loc[(done["val_kl"] + done["val_reconstruction"]).idxmin()]
    ax.plot(
        best["val_kl"], best["val_reconstruction"], "*", color="C3", markersize=15, label="best negative ELBO"
    )
    x_lo, x_hi = ax.get_xlim()
    y_lo, y_hi = ax.get_ylim()
    totals = done["val_kl"] + done["val_reconstruction"]
    for i, level in enumerate(np.linspace(totals.min(), totals.max(), 4)):
        label = "equal negative ELBO" if i == 0 else None
        ax.plot([x_lo, x_hi], [level - x_lo, level - x_hi], ":", color="0.5", linewidth=0.8, label=label)
        x_end = min(x_hi, level - y_lo)  # where the diagonal leaves the axes, to label it there
        ax.annotate(f"{level:.1f}", (x_end, level - x_end), fontsize=7, color="0.4", ha="right", va="bottom")
    ax.set_xlim(x_lo, x_hi)
    ax.set_ylim(y_lo, y_hi)
    ax.set_xlabel("rate: KL divergence (nats per image)")
    ax.set_ylabel("distortion: reconstruction (nats per image)")
    ax.legend(fontsize=8, loc="upper right")
    return fig


def objective_direction(objective: str) -> str:
    """ "max" for accuracies, "min" for losses and errors."""
    return "max" if "accuracy" in objective else "min"


def plot_unit_kl(unit_kl: pd.DataFrame, *, threshold: float = 0.1) -> Figure:
    """The KL each latent unit carries, largest first: one line per row (such as each beta).

    Args:
        unit_kl: one row per model (its index names it, e.g. beta), one column per unit
            rank, each row sorted from the largest KL to the smallest.
        threshold: drawn as a dotted line; units below it carry next to nothing.
    """
    fig = Figure(figsize=(6.0, 3.6), layout="constrained")
    ax = fig.subplots()
    ranks = np.arange(1, unit_kl.shape[1] + 1)
    name = unit_kl.index.name or "model"
    for i, (key, row) in enumerate(unit_kl.iterrows()):
        ax.plot(
            ranks,
            row.to_numpy(float),
            "o-",
            color=f"C{i}",
            label=f"{name}={key:g}" if isinstance(key, float) else f"{name}={key}",
        )
    ax.axhline(threshold, color="0.4", linestyle=":", label=f"{threshold:g} nats")
    ax.set_xticks(ranks)
    ax.set_xlabel("latent unit, ranked by the KL it carries")
    ax.set_ylabel("KL of the unit (nats)")
    ax.legend(fontsize=8)
    return fig
