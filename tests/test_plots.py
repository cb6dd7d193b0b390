import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from lab import plots


@pytest.fixture
def images():
    return np.random.default_rng(0).random((12, 64)).astype("float32")


def test_reconstructions_grid(images):
    fig = plots.plot_reconstructions(images, images * 0.5, (8, 8), n=6)
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 12


def test_image_rows_with_labels(images):
    fig = plots.plot_images(
        {"noisy": images, "clean": images, "denoised": images}, (8, 8), n=4, labels="abcd"
    )
    assert len(fig.axes) == 12 and fig.axes[0].get_title() == "a"


def test_loss_curves_single_and_many():
    history = {"loss": [3.0, 2.0, 1.0], "val_loss": [3.5, 2.5, 2.0]}
    one = plots.plot_loss_curves(history)
    assert len(one.axes[0].lines) == 2
    many = plots.plot_loss_curves({"a": history, "b": history}, best_epochs={"a": 3})
    assert len(many.axes[0].lines) == 5


def test_latent_2d_rejects_wider_codes():
    labels = np.arange(20) % 10
    plots.plot_latent_2d(np.random.default_rng(0).random((20, 2)), labels)
    with pytest.raises(ValueError, match="plot_latent_umap"):
        plots.plot_latent_2d(np.zeros((20, 3)), labels)


def test_pixel_statistics(images):
    assert len(plots.plot_pixel_statistics(images, (8, 8)).axes) >= 3


def test_latent_size_tradeoff_draws_each_method_twice():
    frame = pd.DataFrame(
        {
            "method": ["autoencoder"] * 2 + ["PCA"] * 2,
            "latent_dim": [2, 8, 2, 8],
            "val_mse": [0.03, 0.01, 0.05, 0.02],
            "probe_accuracy": [0.7, 0.9, 0.6, 0.85],
        }
    )
    fig = plots.plot_latent_size_tradeoff(frame)
    assert sum(len(ax.lines) for ax in fig.axes) == 4
    with pytest.raises(ValueError, match="probe_accuracy"):
        plots.plot_latent_size_tradeoff(frame.drop(columns="probe_accuracy"))


def test_save_fig_writes_a_png_with_a_stable_name(tmp_path, images):
    fig = plots.plot_reconstructions(images, images, (8, 8), n=3)
    path = plots.save_fig(fig, "01_test", figures_dir=tmp_path)
    assert path == tmp_path / "01_test.png" and path.read_bytes()[:4] == b"\x89PNG"
    first = path.read_bytes()
    plots.save_fig(fig, "01_test", figures_dir=tmp_path)
    assert path.read_bytes() == first
    with pytest.raises(ValueError, match="snake_case"):
        plots.save_fig(fig, "bad name.png", figures_dir=tmp_path)


def test_save_fig_uses_the_folder_set_by_setup(tmp_path, images, monkeypatch):
    from lab.plots import _base

    monkeypatch.setattr(_base, "_figures_dir", _base._figures_dir)
    plots.set_figures_dir(tmp_path / "figs")
    path = plots.save_fig(plots.plot_reconstructions(images, images, (8, 8), n=2), "00_x")
    assert path.parent == tmp_path / "figs" and path.exists()


def test_samples_one_column_per_class():
    labels = np.repeat(np.arange(5), 3)
    images = np.random.default_rng(0).random((15, 64))
    fig = plots.plot_samples(images, labels, (8, 8), per_class=2)
    assert len(fig.axes) == 10 and [fig.axes[c].get_title() for c in range(5)] == list("01234")
    with pytest.raises(ValueError, match="fewer than 4"):
        plots.plot_samples(images, labels, (8, 8), per_class=4)


def _sweep_frame():
    return pd.DataFrame(
        {
            "optimizer": ["adam"] * 3 + ["momentum"] * 3,
            "learning_rate": [1e-3, 1e-1, 3.0] * 2,
            "val_mse": [0.01, 0.07, 0.075, 0.03, 0.012, float("nan")],
            "status": ["ok", "stalled", "stalled", "ok", "ok", "diverged"],
        }
    )


def test_sweep_plot_marks_failed_runs():
    fig = plots.plot_sweep(_sweep_frame(), "learning_rate", ["val_mse"], log_x=True, hue="optimizer")
    labels = fig.axes[0].get_legend_handles_labels()[1]
    assert "diverged" in labels and "stalled" in labels
    bars = plots.plot_sweep(_sweep_frame().assign(name=list("abcdef")), "name", ["val_mse"])
    assert len(bars.axes[0].patches) == 6


def test_heatmap_labels_failed_cells():
    frame = _sweep_frame()
    fig = plots.plot_heatmap(frame, "optimizer", "learning_rate")
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert "diverged 1" in texts and "0.0100" in texts


def test_heatmap_over_seeds_shows_the_mean_and_the_range():
    frame = pd.concat([_sweep_frame().assign(seed=0), _sweep_frame().assign(seed=1)], ignore_index=True)
    frame.loc[frame["seed"] == 1, "val_mse"] *= 1.5
    texts = [t.get_text() for t in plots.plot_heatmap(frame, "optimizer", "learning_rate").axes[0].texts]
    assert "0.0125\n± 0.0025" in texts and "diverged 2" in texts


def test_grouped_bars_tradeoff_histograms_and_roc():
    few = pd.DataFrame({"n": [10, 10, 50, 50], "method": ["a", "b"] * 2, "acc": [0.5, 0.6, 0.8, 0.9]})
    assert len(plots.plot_grouped_bars(few, "n", "method", "acc").axes[0].patches) == 4
    trade = pd.DataFrame({"l1": [0.0, 0.01], "sparsity": [0.4, 0.9], "val_mse": [0.01, 0.03]})
    assert len(plots.plot_tradeoff(trade, "sparsity", "val_mse", "l1").axes[0].texts) == 2
    close = pd.DataFrame(
        {
            "l1": [0.0, 1e-4, 0.03],
            "sparsity": [0.48, 0.481, 1.0],
            "val_mse": [0.0074, 0.0073, 0.074],
            "status": ["ok", "ok", "stalled"],
        }
    )
    ax = plots.plot_tradeoff(close, "sparsity", "val_mse", "l1").axes[0]
    texts = ax.texts
    curve = [line for line in ax.lines if line.get_linestyle() == "-"]
    assert len(curve) == 1 and max(curve[0].get_xdata()) < 1.0, "the stalled run is left off the curve"
    offsets = [t.xyann[1] for t in texts]
    assert offsets[0] != offsets[1], "labels of neighbouring points are stacked, not drawn over each other"
    assert texts[2].get_text() == "l1=0.03 (stalled)"
    scores = np.array([0.1, 0.2, 0.8, 0.9])
    flags = np.array([False, False, True, True])
    assert plots.plot_score_histograms(scores, flags, 0.5).axes[0].lines
    curve = {"fpr": np.array([0, 0, 1]), "tpr": np.array([0, 1, 1]), "auc": 1.0}
    assert "AUC 1.000" in plots.plot_roc({"test": curve}).axes[0].get_legend_handles_labels()[1][0]


def test_rate_distortion_stars_the_lowest_sum_and_skips_failed_trials():
    frame = pd.DataFrame(
        {
            "status": ["COMPLETED", "COMPLETED", "COMPLETED", "FAILED"],
            "beta": [0.1, 1.0, 4.0, 2.0],
            "val_kl": [5.0, 3.0, 0.01, np.nan],
            "val_reconstruction": [20.0, 21.0, 27.0, np.nan],
        }
    )
    ax = plots.plot_rate_distortion(frame).axes[0]
    star = next(line for line in ax.lines if line.get_marker() == "*")
    assert (star.get_xdata()[0], star.get_ydata()[0]) == (3.0, 21.0)  # 24 nats, the lowest sum
    assert len(ax.collections[0].get_offsets()) == 3
    with pytest.raises(ValueError, match="No completed VAE trial"):
        plots.plot_rate_distortion(frame[frame["status"] == "FAILED"])


def test_objective_panels_tick_integer_hyperparameters_at_their_values():
    frame = pd.DataFrame(
        {
            "status": ["COMPLETED"] * 4 + ["FAILED"],
            "num_layers": [1, 2, 3, 2, 1],
            "units_1": [32, 64, 256, 512, 128],
            "search": ["a", "a", "b", "b", "b"],
            "val_mse": [0.03, 0.02, 0.01, 0.015, np.nan],
        }
    )
    layers, units = plots.plot_objective_vs_params(
        frame, ["num_layers", "units_1"], "val_mse", hue="search"
    ).axes
    assert [t.get_text() for t in layers.get_xticklabels()] == ["1", "2", "3"]
    assert [t.get_text() for t in units.get_xticklabels()] == ["32", "64", "128", "256", "512"]
    assert units.get_xscale() == "log" and layers.get_xscale() == "linear"
    assert layers.get_legend().get_title().get_text() == "search"


def test_hyperband_schedule_names_its_rounds_and_ends_bars_where_trials_stopped():
    frame = pd.DataFrame(
        {
            "trial": ["00", "01", "02", "03"],
            "status": ["COMPLETED", "COMPLETED", "FAILED", "COMPLETED"],
            "tuner/bracket": [1, 1, 1, 0],
            "tuner/round": [0, 0, 1, 0],
            "tuner/initial_epoch": [0, 0, 3, 0],
            "tuner/epochs": [3, 3, 9, 9],
            "epochs": [3, 2, 4, 9],
        }
    )
    fig = plots.plot_hyperband_schedule(frame)
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == ["bracket 1, round 0 (2)", "bracket 1, round 1 (1)", "bracket 0, round 0 (1)"]
    assert [int(t) for t in ax.get_xticks()] == [0, 3, 9]
    solid = [p for p in ax.patches if p.get_alpha() and p.get_alpha() > 0.3]
    assert sorted(p.get_x() + p.get_width() for p in solid) == [2, 3, 7, 9]  # where each trial stopped
    cross = [line for line in ax.lines if line.get_marker() == "x"]
    assert len(cross) == 1 and cross[0].get_xdata()[0] == 7


def test_search_plots_switch_to_a_log_axis_when_one_trial_is_far_off():
    frame = pd.DataFrame(
        {
            "trial": ["00", "01", "02", "03"],
            "status": ["COMPLETED"] * 4,
            "learning_rate": [1e-3, 2e-3, 3e-3, 3e-2],
            "val_mse": [0.0122, 0.0125, 0.0130, 0.0722],
        }
    )
    assert plots.plot_objective_vs_params(frame, ["learning_rate"], "val_mse").axes[0].get_yscale() == "log"
    close = frame.assign(val_mse=[0.0122, 0.0125, 0.0130, 0.0140])
    assert (
        plots.plot_objective_vs_params(close, ["learning_rate"], "val_mse").axes[0].get_yscale() == "linear"
    )
    curve = pd.DataFrame({"epochs_consumed": [3, 6, 40], "best": [0.048, 0.02, 0.012]})
    ax = plots.plot_best_so_far({"Hyperband": curve}, "val_mse").axes[0]
    assert ax.get_yscale() == "log"
    low, high = ax.get_ylim()
    shown = [t for t in ax.get_yticks() if low <= t <= high]
    assert len(shown) >= 2, "a range within one decade still gets labelled ticks"


def test_unit_kl_draws_one_line_per_model_and_the_threshold():
    unit_kl = pd.DataFrame([[2.0, 1.5, 0.3], [0.9, 0.05, 0.0]], index=pd.Index([0.1, 4.0], name="beta"))
    ax = plots.plot_unit_kl(unit_kl).axes[0]
    labels = ax.get_legend_handles_labels()[1]
    assert labels == ["beta=0.1", "beta=4", "0.1 nats"]
    assert [int(t) for t in ax.get_xticks()] == [1, 2, 3]


def test_failed_trials_sit_above_the_axes_not_on_a_value():
    frame = pd.DataFrame(
        {
            "trial": ["00", "01", "02"],
            "status": ["COMPLETED", "COMPLETED", "FAILED"],
            "learning_rate": [1e-3, 2e-3, 3.0],
            "val_mse": [0.0122, 0.0125, np.nan],
        }
    )
    ax = plots.plot_objective_vs_params(frame, ["learning_rate"], "val_mse").axes[0]
    (cross,) = [line for line in ax.lines if line.get_marker() == "x"]
    assert cross.get_ydata()[0] > 1 and not cross.get_clip_on()
    assert ax.get_ylim()[1] < 0.02, "the failed trial does not stretch the value axis"


def test_comparison_figures_over_seeds_draw_the_mean_the_range_and_each_seed():
    few = pd.DataFrame(
        {
            "n": [10, 10, 10, 10],
            "method": ["a", "b", "a", "b"],
            "acc": [0.5, 0.6, 0.7, 0.9],
            "seed": [0, 0, 1, 1],
        }
    )
    ax = plots.plot_grouped_bars(few, "n", "method", "acc").axes[0]
    assert [round(p.get_height(), 3) for p in ax.patches] == [0.6, 0.75], "bars are the means over seeds"
    assert sum(len(line.get_ydata()) for line in ax.lines if line.get_marker() == ".") == 4, (
        "one dot per seed"
    )
    assert "2 seeds" in ax.get_title()

    trade = pd.DataFrame(
        {
            "l1": [0.0, 0.0, 0.03, 0.03],
            "sparsity": [0.4, 0.5, 0.95, 1.0],
            "val_mse": [0.010, 0.012, 0.030, 0.070],
            "status": ["ok", "ok", "ok", "stalled"],
            "seed": [0, 1, 0, 1],
        }
    )
    ax = plots.plot_tradeoff(trade, "sparsity", "val_mse", "l1").axes[0]
    curve = next(line for line in ax.lines if line.get_linestyle() == "-")
    assert np.allclose(curve.get_ydata(), [0.011, 0.030]), "the curve joins the means of the finished seeds"
    assert [t.get_text() for t in ax.texts] == ["l1=0", "l1=0.03 (stalled 1 of 2)"]

    gains = pd.DataFrame(
        {
            "noise_std": [0.0, 0.0, 0.3, 0.3],
            "seed": [0, 1, 0, 1],
            "gain_at_0.1": [-1.0, -0.8, -0.5, -0.7],
            "gain_at_0.5": [0.2, 0.4, 0.6, 0.7],
        }
    )
    ax = plots.plot_denoising_gain(gains, [0.1, 0.5]).axes[0]
    lines = [line for line in ax.lines if line.get_marker() == "o"]
    assert len(lines) == 2 and np.allclose(lines[0].get_ydata(), [-0.9, 0.3])
    assert len(ax.collections) == 2, "one band per training noise level"
    assert any(line.get_ydata()[0] == 0 for line in ax.lines if line.get_linestyle() == "--"), (
        "zero: doing nothing"
    )


def test_tsne_keeps_neighbours_of_separated_clusters_and_the_scores_say_so():
    from lab import evaluate

    rng = np.random.default_rng(0)
    centres = rng.normal(0, 10, (4, 8))
    labels = np.repeat(np.arange(4), 25)
    z = centres[labels] + rng.normal(0, 0.5, (100, 8))
    view = plots.tsne_embedding(z, seed=0)
    assert view.shape == (100, 2)
    fig = plots.plot_latent_tsne(z, labels, embedding=view)
    assert fig.axes[0].get_xlabel() == "t-SNE 1"
    assert evaluate.neighbours_kept(z, view) > 0.9
    assert evaluate.neighbours_kept(z, z[:, :2]) > evaluate.neighbours_kept(z, rng.normal(size=(100, 2)))
    assert evaluate.cluster_distances_kept(z, z, labels) == pytest.approx(1.0)
    noise = rng.normal(size=(100, 2))
    assert evaluate.neighbours_kept(z, noise) < evaluate.neighbours_kept(z, view)
    with pytest.raises(ValueError, match="at least 3 classes"):
        evaluate.cluster_distances_kept(z, view, labels % 2)
    with pytest.raises(ValueError, match="100 codes but embedding 50"):
        evaluate.neighbours_kept(z, view[:50])
