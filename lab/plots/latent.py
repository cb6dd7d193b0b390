"""Codes: 2-D and UMAP views, codes against a prior, per-unit KL, the rate-distortion plane."""

from __future__ import annotations

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from lab import vocabulary


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


def plot_latent_umap(
    z: np.ndarray,
    labels: np.ndarray,
    *,
    seed: int = 0,
    title: str | None = None,
    embedding: np.ndarray | None = None,
) -> Figure:
    """A 2-D UMAP view of codes, coloured by class label (`embedding`: one computed already)."""
    embedding = umap_embedding(z, seed=seed) if embedding is None else embedding
    return _plot_view(embedding, labels, "UMAP", z.shape[1], title)


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
        if vocabulary.log_scaled(values)
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


def tsne_embedding(z: np.ndarray, *, seed: int = 0, perplexity: float = 30.0) -> np.ndarray:
    """Project codes to 2-D with scikit-learn's t-SNE (PCA initialization, so runs are stable)."""
    from sklearn.manifold import TSNE

    perplexity = min(perplexity, (len(z) - 1) / 3)  # t-SNE needs more points than 3 x perplexity
    return TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(z)


def plot_latent_tsne(
    z: np.ndarray,
    labels: np.ndarray,
    *,
    seed: int = 0,
    title: str | None = None,
    embedding: np.ndarray | None = None,
) -> Figure:
    """A 2-D t-SNE view of codes, coloured by class label (`embedding`: one computed already)."""
    embedding = tsne_embedding(z, seed=seed) if embedding is None else embedding
    return _plot_view(embedding, labels, "t-SNE", z.shape[1], title)


def _plot_view(embedding: np.ndarray, labels: np.ndarray, method: str, dim: int, title: str | None) -> Figure:
    """A 2-D view of `dim`-number codes made by `method`, coloured by class label."""
    return plot_latent_2d(
        embedding,
        labels,
        title=title or f"{method} of the {dim}-D latent space",
        axis_labels=(f"{method} 1", f"{method} 2"),
    )
