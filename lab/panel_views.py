"""What the retraining panel shows, drawn cheaply enough to keep up with training.

The loss curve is a small matplotlib figure drawn at the size it is shown, reused
from one redraw to the next; the reconstructions are an image strip built
directly from the pixels; the runs table is plain HTML. Each comes as PNG bytes
or a string, ready for an `ipywidgets.Image` or `HTML`, so a cached run keeps its
renders and showing it again costs no drawing at all.
"""

from __future__ import annotations

import html
import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import matplotlib as mpl
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator
from PIL import Image

# The curve is drawn at the size it is shown (pixels = inches x dpi), so its labels stay legible.
CURVE_SIZE = (4.6, 2.9)
CURVE_DPI = 100
# A value above the median of its curve by more than this many interquartile ranges (and by
# more than the median itself) is drawn as a mark at the top edge instead, so one exploding
# epoch does not flatten the rest of the curve into a line.
CLIP_IQRS = 10.0


@dataclass
class CurveData:
    """What the loss curve draws, computed apart from the drawing so a test can check it."""

    series: dict[str, list[float]]
    epochs: int
    clip_above: float | None = None
    clipped: list[tuple[int, float]] = field(default_factory=list)
    diverged_at: int | None = None


def curve_data(
    history: Mapping[str, Sequence[float]], *, metric: str = "loss", epochs: int | None = None
) -> CurveData:
    """The training and validation series of `metric`, and which values are off the scale.

    Args:
        history: per-epoch values, as `fit_autoencoder` records them.
        metric: the key to draw; its `val_` twin is the validation curve.
        epochs: the length of the x axis (the run's planned epochs, so a live
            curve grows across a fixed axis); defaults to the epochs recorded.
    """
    series = {"training": [float(v) for v in history.get(metric, [])]}
    if f"val_{metric}" in history:
        series["validation"] = [float(v) for v in history[f"val_{metric}"]]
    recorded = max(len(v) for v in series.values())
    data = CurveData(series=series, epochs=max(epochs or 0, recorded, 1))
    points = [(i + 1, v) for s in series.values() for i, v in enumerate(s)]
    bad = [epoch for epoch, v in points if not math.isfinite(v)]
    if bad:
        data.diverged_at = min(bad)
    finite = np.array([v for _, v in points if math.isfinite(v)])
    if finite.size:
        q25, median, q75 = np.percentile(finite, [25, 50, 75])
        limit = median + max(CLIP_IQRS * (q75 - q25), abs(median))
        if finite.max() > limit:
            data.clip_above = float(limit)
            data.clipped = sorted({(e, v) for e, v in points if math.isfinite(v) and v > limit})
    return data


class CurveRenderer:
    """Draws loss curves on one reused figure at the size they are shown, and renders PNG bytes.

    The axes, lines and legend are made once; each redraw only moves their data,
    which keeps a live redraw to a few tens of milliseconds.
    """

    def __init__(self, size: tuple[float, float] = CURVE_SIZE, dpi: int = CURVE_DPI):
        self.figure = Figure(figsize=size, dpi=dpi)
        FigureCanvasAgg(self.figure)
        self.width = round(size[0] * dpi)
        with _small_fonts():
            # Room above the axes for a title and one line of notes.
            ax = self.ax = self.figure.add_axes((0.15, 0.17, 0.81, 0.64))
            self.lines = {
                "training": ax.plot([], [], "-", color="C0", label="training")[0],
                "validation": ax.plot([], [], "--", color="C0", label="validation")[0],
            }
            self.marks = ax.plot([], [], "^", color="C3", clip_on=False, label="off the scale")[0]
            ax.xaxis.set_major_locator(MaxNLocator(nbins=6, integer=True, min_n_ticks=1))
            # Short labels, and no offset text ("1e7") above the axis where the title goes.
            ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:.3g}"))
            ax.set_xlabel("epoch")
            ax.set_ylabel("loss")
            ax.grid(True, alpha=0.3)
            self.title = ax.set_title("", fontsize=9, loc="left")

    def draw(self, data: CurveData, *, title: str = "") -> Figure:
        """Draw `data`: solid training, dashed validation, whole-epoch ticks; returns the figure."""
        kept = []
        for name, line in self.lines.items():
            y = np.array(data.series.get(name, []), dtype=float)
            if data.clip_above is not None:
                y = np.where(y > data.clip_above, np.nan, y)
            line.set_data(np.arange(1, len(y) + 1), y)
            kept.extend(y[np.isfinite(y)])
        self.ax.set_xlim(0.5, data.epochs + 0.5)
        lo, hi = (min(kept), max(kept)) if kept else (0.0, 1.0)
        pad = 0.06 * (hi - lo) or 0.05 * abs(hi) or 0.05
        self.ax.set_ylim(lo - pad, hi + pad)
        self.marks.set_data([e for e, _ in data.clipped], [hi + pad] * len(data.clipped))
        notes = []
        if data.clipped:
            worst = max(data.clipped, key=lambda c: c[1])
            notes.append(f"red: off the scale (max {worst[1]:.2g}, epoch {worst[0]})")
        if data.diverged_at is not None:
            notes.append(f"NaN at epoch {data.diverged_at}")
        self.title.set_text("\n".join([title, "; ".join(notes)]) if notes else title)
        handles = [h for h in (*self.lines.values(), self.marks) if len(h.get_xdata())]
        with _small_fonts():
            self.ax.legend(handles=handles, loc="upper right", fontsize=8, frameon=False)
        return self.figure

    def render(self, data: CurveData, *, title: str = "") -> bytes:
        """The curve as PNG bytes."""
        self.draw(data, title=title)
        self.figure.canvas.draw()
        return _png(np.asarray(self.figure.canvas.buffer_rgba())[..., :3])


def curve_figure(data: CurveData, *, title: str = "") -> Figure:
    """The same curve as a standalone Figure, for `save_fig` and static notebooks."""
    return CurveRenderer().draw(data, title=title)


def image_strip(
    rows: Sequence[np.ndarray], image_shape: tuple[int, int], *, scale: int | None = None
) -> bytes:
    """Rows of images side by side (ink dark on white, as the book's figures), as PNG bytes.

    Args:
        rows: one array of images per row (flattened or not), the same count in each.
        image_shape: (height, width) of one image; pixel values in [0, 1].
        scale: pixels per image pixel; by default about 40 pixels per image side.
    """
    height, width = image_shape
    scale = scale or max(1, 40 // max(height, width))
    gap = 2
    n = min(len(r) for r in rows)
    canvas = np.full(
        (len(rows) * (height * scale + gap) - gap, n * (width * scale + gap) - gap), 255, dtype=np.uint8
    )
    for r, images in enumerate(rows):
        for c in range(n):
            pixels = np.clip(np.nan_to_num(np.asarray(images[c], dtype=float).reshape(image_shape)), 0, 1)
            tile = np.kron(255 - np.round(pixels * 255), np.ones((scale, scale))).astype(np.uint8)
            top, left = r * (height * scale + gap), c * (width * scale + gap)
            canvas[top : top + height * scale, left : left + width * scale] = tile
    return _png(canvas)


def runs_table(rows: Sequence[Mapping[str, Any]], *, shown: int | None = None, last: int = 8) -> str:
    """The runs so far as an HTML table: the last `last` runs, and the run on screen marked.

    Args:
        rows: one mapping per run, in order, with a `run` number first.
        shown: the `run` number on screen; its row is marked (and kept when older than the rest).
        last: how many of the latest runs to list.
    """
    if not rows:
        return ""
    picked = list(rows[-last:])
    older = [r for r in rows[:-last] if r["run"] == shown]
    columns = list(rows[0])
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in columns)
    body = []
    for row in older + picked:
        mark = row["run"] == shown
        cells = "".join(f"<td>{html.escape(_cell(row[c]))}</td>" for c in columns)
        body.append(
            f"<tr class='lab-shown'>{cells}<td>&#9664; shown</td></tr>"
            if mark
            else f"<tr>{cells}<td></td></tr>"
        )
    skipped = len(rows) - len(picked) - len(older)
    caption = (
        f"<caption>runs so far (last {len(picked)} of {len(rows)})</caption>"
        if skipped
        else "<caption>runs so far</caption>"
    )
    return (
        f"<table class='lab-runs'>{caption}<thead><tr>{head}<th></th></tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table>"
    )


def _cell(value: Any) -> str:
    if isinstance(value, float):
        if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e4):
            return f"{value:.1e}"
        return f"{value:.4g}"
    return str(value)


def _png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    # Fast compression: these images live only as long as the panel shows them.
    Image.fromarray(pixels).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def _small_fonts():
    """Font sizes for figures shown at their pixel size in the panel."""
    return mpl.rc_context({"font.size": 9, "axes.labelsize": 9, "xtick.labelsize": 8, "ytick.labelsize": 8})
