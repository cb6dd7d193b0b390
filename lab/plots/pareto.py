"""Trade-offs between objectives (notebook 10): a three-objective front in 2-D projections,
hypervolume against trials, probe accuracy by code size, and the VAE's rate-distortion front.

The numbers each figure draws come from `lab.tradeoffs` (`trials`, `picks`, `hypervolume_bands`,
`probe_by_code_size`), so they can be checked without a figure.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter

from lab import vocabulary

_LABELS = {
    "val_mse": "validation MSE",
    "val_probe_accuracy": "probe accuracy (all labels)",
    "val_few_label_probe": "probe accuracy (few labels)",
    "params": "weights (log scale)",
    "val_reconstruction": "distortion: reconstruction (nats per image)",
    "val_kl": "rate: KL divergence (nats per image)",
}
_PAIRS = (("val_mse", "val_probe_accuracy"), ("params", "val_mse"), ("params", "val_probe_accuracy"))


def _search_labels(names) -> dict[str, str]:
    from lab.pareto import ALL_SEARCHES

    return {name: ALL_SEARCHES.get(name, name) for name in names}


def _check_pooled(pooled: pd.DataFrame, columns) -> None:
    if not isinstance(pooled, pd.DataFrame) or "on_front" not in pooled:
        raise TypeError(
            "Pass the pooled trials of tradeoffs.trials(table, seed=...), with their on_front column."
        )
    missing = [c for c in columns if c not in pooled]
    if missing:
        raise KeyError(f"The trials lack {', '.join(missing)}.")


def plot_front_projections(
    pooled: pd.DataFrame,
    *,
    usefulness: str = "val_probe_accuracy",
    marked: pd.DataFrame | None = None,
    title: str | None = None,
) -> Figure:
    """The three-objective front seen in three 2-D projections: error against usefulness, size
    against error, size against usefulness. Front trials are coloured by latent size; dominated
    trials are faint grey. `marked` (a frame indexed by a label, such as `tradeoffs.picks`) draws
    labelled markers. A front point may look dominated in one projection: it is better on the
    objective that projection leaves out."""
    pairs = [tuple(usefulness if c == "val_probe_accuracy" else c for c in pair) for pair in _PAIRS]
    _check_pooled(pooled, {c for pair in pairs for c in pair} | {"latent_dim"})
    fig = Figure(figsize=(12.0, 3.9), layout="constrained")
    axes = fig.subplots(1, 3)
    front, rest = pooled[pooled["on_front"]], pooled[~pooled["on_front"]]
    sizes = sorted(int(v) for v in pooled["latent_dim"].unique())
    colors = {size: f"C{i}" for i, size in enumerate(sizes)}
    markers = ["o", "s", "D", "^", "v", "P"]
    for ax, (x, y) in zip(axes, pairs, strict=True):
        ax.scatter(rest[x], rest[y], s=14, color="0.75", alpha=0.5, linewidth=0, label="dominated")
        for size in sizes:
            rows = front[front["latent_dim"] == size]
            if len(rows):
                ax.scatter(
                    rows[x],
                    rows[y],
                    s=34,
                    color=colors[size],
                    edgecolor="white",
                    linewidth=0.5,
                    label=f"code {size}",
                )
        if marked is not None:
            for i, (label, row) in enumerate(marked.iterrows()):
                ax.scatter(
                    row[x],
                    row[y],
                    s=150,
                    marker=markers[i % len(markers)],
                    facecolor="none",
                    edgecolor="black",
                    linewidth=1.6,
                    label=str(label),
                )
        if x == "params":
            ax.set_xscale("log")
            ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel(_LABELS.get(x, x) + (" (better: left)" if vocabulary.direction(x) == "min" else ""))
        ax.set_ylabel(
            _LABELS.get(y, y) + (" (better: up)" if vocabulary.direction(y) == "max" else " (better: down)")
        )
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(
        handles, labels, loc="outside right center", fontsize=8, title="front: coloured by latent size"
    )
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def plot_hypervolume(bands: pd.DataFrame, *, seeds: int | None = None) -> Figure:
    """Each search's median hypervolume against the trials it has run, with the band from the
    25th to the 75th percentile over seeds (`lab.tradeoffs.hypervolume_bands`). Higher is better."""
    missing = [c for c in ("experiment", "trials", "median", "q25", "q75") if c not in bands]
    if missing:
        raise KeyError(f"Pass tradeoffs.hypervolume_bands(...); this table lacks {', '.join(missing)}.")
    fig = Figure(figsize=(7.0, 4.0), layout="constrained")
    ax = fig.subplots()
    names = list(dict.fromkeys(bands["experiment"]))
    labels = _search_labels(names)
    styles = ["-", "--", "-.", ":"]
    for i, name in enumerate(names):
        rows = bands[bands["experiment"] == name]
        ax.fill_between(rows["trials"], rows["q25"], rows["q75"], color=f"C{i}", alpha=0.15, linewidth=0)
        ax.plot(
            rows["trials"], rows["median"], color=f"C{i}", linestyle=styles[i % 4], lw=2, label=labels[name]
        )
    ax.set_xlabel("trials run")
    ax.set_ylabel("hypervolume (share of the unit box dominated)")
    if seeds:
        ax.set_title(f"median over {seeds} seeds; band: 25th to 75th percentile", fontsize=9)
    ax.legend(fontsize=8, loc="lower right")
    return fig


def plot_probe_by_code_size(summary: pd.DataFrame, *, few_label_share: float | None = None) -> Figure:
    """Median probe accuracy against the latent size, with all labels and with few, over every
    dense trial (`lab.tradeoffs.probe_by_code_size`); the bands are the middle half of the trials."""
    missing = [c for c in ("all labels", "few labels", "trials") if c not in summary]
    if missing:
        raise KeyError(f"Pass tradeoffs.probe_by_code_size(table); this table lacks {', '.join(missing)}.")
    fig = Figure(figsize=(6.4, 3.8), layout="constrained")
    ax = fig.subplots()
    sizes = summary.index.to_numpy()
    few = "few labels" + (f" ({few_label_share:.0%} of the training labels)" if few_label_share else "")
    for i, (column, label) in enumerate((("all labels", "all training labels"), ("few labels", few))):
        ax.fill_between(
            sizes, summary[f"{column} q25"], summary[f"{column} q75"], color=f"C{i}", alpha=0.15, linewidth=0
        )
        ax.plot(sizes, summary[column], "o-", color=f"C{i}", lw=2, label=label)
    ax.set_xscale("log", base=2)
    ax.set_xticks(
        sizes, [f"{s}\n({n} trials)" for s, n in zip(sizes, summary["trials"], strict=True)], fontsize=8
    )
    ax.set_xlabel("latent size")
    ax.set_ylabel("linear probe accuracy (validation)")
    ax.legend(fontsize=8)
    return fig


def plot_rate_distortion_front(pooled: pd.DataFrame, *, best_elbo: pd.Series | None = None) -> Figure:
    """VAE trials of two searches on the rate-distortion plane, the pooled front drawn as steps;
    dotted diagonals join points of equal negative ELBO (their sum), through `best_elbo`'s."""
    _check_pooled(pooled, ("val_kl", "val_reconstruction", "experiment"))
    fig = Figure(figsize=(6.6, 4.4), layout="constrained")
    ax = fig.subplots()
    labels = _search_labels(dict.fromkeys(pooled["experiment"]))
    for i, (name, label) in enumerate(labels.items()):
        rows = pooled[pooled["experiment"] == name]
        ax.scatter(
            rows["val_kl"],
            rows["val_reconstruction"],
            s=26,
            color=f"C{i}",
            alpha=0.7,
            marker="o" if i == 0 else "s",
            label=label,
        )
    front = pooled[pooled["on_front"]].sort_values("val_kl")
    ax.step(
        front["val_kl"],
        front["val_reconstruction"],
        where="post",
        color="black",
        lw=1.2,
        label="front (both searches)",
    )
    x_lo, x_hi = ax.get_xlim()
    y_lo, y_hi = ax.get_ylim()
    if best_elbo is not None:
        level = float(best_elbo["val_kl"] + best_elbo["val_reconstruction"])
        xs = np.array([x_lo, x_hi])
        ax.plot(xs, level - xs, ":", color="C3", lw=1.2, label=f"negative ELBO = {level:.1f}")
        ax.plot(
            best_elbo["val_kl"],
            best_elbo["val_reconstruction"],
            "*",
            color="C3",
            markersize=15,
            label="lowest negative ELBO",
        )
    ax.set_xlim(x_lo, x_hi)
    ax.set_ylim(y_lo, y_hi)
    ax.set_xlabel(_LABELS["val_kl"])
    ax.set_ylabel(_LABELS["val_reconstruction"])
    ax.legend(fontsize=8, loc="upper right")
    return fig
