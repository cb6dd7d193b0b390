"""Images: digits, reconstructions, samples, pixel statistics and decoded latent grids."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure


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
