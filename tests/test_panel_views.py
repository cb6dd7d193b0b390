"""The panel's cheap renders: the data behind the loss curve, the image strip, the runs table."""

import io
import math

import numpy as np
from PIL import Image

from lab import panel_views


def _decreasing(n, start=0.45, floor=0.25):
    return [floor + (start - floor) * 0.9**i for i in range(n)]


def test_an_ordinary_curve_is_not_clipped():
    data = panel_views.curve_data({"loss": _decreasing(30), "val_loss": _decreasing(30, 0.47)})
    assert data.clip_above is None and data.clipped == [] and data.diverged_at is None
    assert set(data.series) == {"training", "validation"} and data.epochs == 30


def test_an_exploding_epoch_is_clipped_and_the_rest_kept():
    loss = [1e12, 3.0, *_decreasing(28)]
    data = panel_views.curve_data({"loss": loss, "val_loss": [2e11, *_decreasing(29)]})
    assert data.clip_above is not None and data.clip_above < 3.0
    assert (1, 1e12) in data.clipped and (2, 3.0) in data.clipped
    assert all(v <= data.clip_above for v in _decreasing(28))


def test_a_live_curve_keeps_the_planned_axis_and_notes_divergence():
    data = panel_views.curve_data({"loss": [0.5, 0.4, math.nan]}, epochs=100)
    assert data.epochs == 100 and data.diverged_at == 3 and "validation" not in data.series


def test_the_renderer_draws_whole_epochs_and_marks_clipped_values():
    renderer = panel_views.CurveRenderer()
    png = renderer.render(panel_views.curve_data({"loss": [1e9, *_decreasing(9)]}), title="run 1")
    image = Image.open(io.BytesIO(png))
    assert image.size[0] == renderer.width
    ticks = renderer.ax.get_xticks()
    assert np.allclose(ticks, np.round(ticks))
    assert list(renderer.marks.get_xdata()) == [1]
    assert "off the scale" in renderer.title.get_text()


def test_the_image_strip_has_one_row_per_set_and_dark_ink():
    ones, zeros = np.ones((3, 64)), np.zeros((3, 64))
    image = np.asarray(Image.open(io.BytesIO(panel_views.image_strip([ones, zeros], (8, 8), scale=2))))
    assert image.shape == (2 * 16 + 2, 3 * 16 + 2 * 2)
    assert image[0, 0] == 0 and image[-1, 0] == 255  # a pixel of 1 is ink (black), 0 is paper


def test_the_runs_table_marks_the_shown_run_even_when_older_than_the_rest():
    rows = [{"run": i, "latent_dim": i, "seconds": "0.50"} for i in range(1, 13)]
    table = panel_views.runs_table(rows, shown=2, last=8)
    assert table.count("<tr") == 1 + 9  # header, the shown run, the last eight
    assert table.index("lab-shown") < table.index("<td>5</td>")
    assert "last 8 of 12" in table
