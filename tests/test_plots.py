import io

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from lab import fronts, pareto, plots, results, shootout, tradeoffs, tuning
from lab.vocabulary import COMPLETED, FAILED


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


# Search plots: the data each one draws, checked without drawing, and what they draw with nothing to rank.

PARAMS = ["learning_rate", "num_layers", "activation"]


def _search_frame() -> pd.DataFrame:
    """A random search's trials: three completed, one failed (it has no value)."""
    return pd.DataFrame(
        {
            "trial": ["00", "01", "02", "03"],
            "status": [COMPLETED, COMPLETED, COMPLETED, FAILED],
            "epochs": [5, 5, 5, 1],
            "learning_rate": [1e-4, 1e-3, 1e-2, 3.0],
            "num_layers": [1, 2, 3, 2],
            "activation": ["relu", "tanh", "relu", "relu"],
            "val_mse": [0.03, 0.01, 0.02, np.nan],
            "val_probe_accuracy": [0.80, 0.70, 0.90, np.nan],
            "message": ["", "", "", "the loss became NaN"],
        }
    )


def _hyperband_frame(status=(COMPLETED, COMPLETED, FAILED, COMPLETED)) -> pd.DataFrame:
    """Two brackets of a Hyperband search; trial 01 stopped early, trial 02 failed after 4 epochs."""
    frame = pd.DataFrame(
        {
            "trial": ["00", "01", "02", "03"],
            "status": list(status),
            "learning_rate": [1e-3, 1e-2, 1e-3, 1e-4],
            "num_layers": [1, 2, 1, 3],
            "activation": ["relu", "tanh", "relu", "relu"],
            "tuner/bracket": [1, 1, 1, 0],
            "tuner/round": [0, 0, 1, 0],
            "tuner/initial_epoch": [0, 0, 3, 0],
            "tuner/epochs": [3, 3, 9, 9],
            "epochs": [3, 2, 4, 9],
        }
    )
    done = frame["status"] == COMPLETED
    return frame.assign(val_mse=np.where(done, [0.02, 0.03, np.nan, 0.01], np.nan)) if done.any() else frame


def _empty_frame() -> pd.DataFrame:
    """The table of a search with no trial yet: `trials_frame`'s columns, no rows."""
    return pd.DataFrame(columns=list(tuning.TRIAL_COLUMNS))


def _all_failed_frame() -> pd.DataFrame:
    """A Hyperband search whose every trial failed: `tuner/...` columns, no objective column at all."""
    return _hyperband_frame(status=[FAILED] * 4)


def test_parallel_coordinates_data_scales_log_axes_and_finds_the_best():
    frame = _search_frame()
    data = plots.parallel_coordinates_data(frame, [*PARAMS, "units_2"], "val_mse")
    assert list(data.axes.index) == [*PARAMS, "val_mse"], "a hyperparameter the table lacks is left out"
    assert list(data.values.index) == ["00", "01", "02"], "the failed trial has no line"
    assert data.axes.loc["learning_rate", "log"]
    assert data.values["learning_rate"].tolist() == pytest.approx([0.0, 0.5, 1.0])  # 1e-4, 1e-3, 1e-2
    assert (data.axes.loc["learning_rate", "low"], data.axes.loc["learning_rate", "high"]) == (1e-4, 1e-2)
    assert data.axes.loc["activation", "labels"] == ["relu", "tanh"]
    assert data.values["activation"].tolist() == [0.0, 1.0, 0.0]
    assert not data.axes.loc["num_layers", "log"] and data.values["num_layers"].tolist() == [0.0, 0.5, 1.0]
    assert data.values.index[data.best] == "01", "val_mse is minimized: the smallest is best"
    assert data.scores.tolist() == [0.03, 0.01, 0.02]
    accuracy = plots.parallel_coordinates_data(frame, PARAMS, "val_probe_accuracy")
    assert accuracy.values.index[accuracy.best] == "02", (
        "val_probe_accuracy is maximized: the largest is best"
    )
    assert accuracy.scores.iloc[accuracy.best] == accuracy.scores.max()


def test_parallel_coordinates_draws_its_data():
    frame = _search_frame()
    data = plots.parallel_coordinates_data(frame, PARAMS, "val_mse")
    ax = plots.plot_parallel_coordinates(frame, PARAMS, "val_mse").axes[0]
    (best,) = [line for line in ax.lines if line.get_color() == "black"]
    assert (
        np.allclose(best.get_ydata(), data.values.iloc[data.best]) and best.get_label() == "best trial (01)"
    )
    assert "0.0001" in [t.get_text() for t in ax.texts], "the numeric range is labelled"


def test_objective_vs_params_data_places_each_trial_in_each_panel():
    frame = _search_frame().assign(search=["a", "a", "b", "b"])
    data = plots.objective_vs_params_data(frame, [*PARAMS, "units_2"], "val_mse", hue="search")
    assert list(data.axes.index) == PARAMS
    assert data.axes.loc["learning_rate", "log"] and data.axes.loc["learning_rate", "numeric"]
    assert data.axes.loc["num_layers", "integer_values"].tolist() == [1, 2, 3]
    assert data.axes.loc["learning_rate", "integer_values"] is None
    assert (
        data.axes.loc["activation", "labels"] == ["relu", "tanh"]
        and not data.axes.loc["activation", "numeric"]
    )
    rate = data.points[data.points["param"] == "learning_rate"]
    assert rate["x"].tolist() == [1e-4, 1e-3, 1e-2, 3.0], "numeric hyperparameters keep their values"
    assert rate["completed"].tolist() == [True, True, True, False]
    assert rate["value"].iloc[:3].tolist() == [0.03, 0.01, 0.02] and np.isnan(rate["value"].iloc[3])
    assert rate["group"].tolist() == ["a", "a", "b", "b"]
    activation = data.points[data.points["param"] == "activation"]
    assert activation["x"].tolist() == [0.0, 1.0, 0.0, 0.0], "categories sit at their place on [0, 1]"


def test_objective_vs_params_draws_its_data():
    frame = _search_frame()
    data = plots.objective_vs_params_data(frame, ["learning_rate"], "val_mse")
    ax = plots.plot_objective_vs_params(frame, ["learning_rate"], "val_mse").axes[0]
    done = data.points[data.points["completed"]]
    assert np.allclose(ax.collections[0].get_offsets(), done[["x", "value"]].to_numpy())
    (cross,) = [line for line in ax.lines if line.get_marker() == "x"]
    assert cross.get_xdata().tolist() == [3.0]


def test_search_data_refuses_what_is_not_a_trials_table():
    frame = _search_frame()
    with pytest.raises(KeyError, match="the book's objectives"):
        plots.parallel_coordinates_data(frame, PARAMS, "mse")
    with pytest.raises(KeyError, match="do not report 'val_kl'"):
        plots.objective_vs_params_data(frame, PARAMS, "val_kl")
    with pytest.raises(KeyError, match="None of"):
        plots.objective_vs_params_data(frame, ["units_9"], "val_mse")
    with pytest.raises(TypeError, match="trials table"):
        plots.parallel_coordinates_data(frame.to_dict(), PARAMS, "val_mse")
    with pytest.raises(KeyError, match="status column"):
        plots.objective_vs_params_data(frame.drop(columns="status"), PARAMS, "val_mse")
    with pytest.raises(ValueError, match="Hyperband"):
        plots.hyperband_schedule_data(frame)


def test_hyperband_schedule_data_groups_trials_by_bracket_and_round():
    data = plots.hyperband_schedule_data(_hyperband_frame())
    assert data["trial"].tolist() == ["00", "01", "02", "03"]
    assert data["y"].tolist() == [0, 1, 2, 3]
    assert list(zip(data["bracket"], data["round"], strict=True)) == [(1, 0), (1, 0), (1, 1), (0, 0)]
    assert data["start"].tolist() == [0, 0, 3, 0] and data["budget"].tolist() == [3, 3, 9, 9]
    assert data["trained"].tolist() == [3, 2, 4, 9]
    assert data["stopped_early"].tolist() == [False, True, True, False]
    early = data[data["trial"] == "01"].iloc[0]
    assert early["start"] + early["trained"] < early["budget"], "early stopping ended it before its budget"
    assert data["completed"].tolist() == [True, True, False, True]
    shuffled = plots.hyperband_schedule_data(_hyperband_frame().iloc[::-1])
    assert shuffled["trial"].tolist() == ["00", "01", "02", "03"], "most exploratory bracket first"
    no_record = _hyperband_frame().assign(epochs=np.nan)
    assert plots.hyperband_schedule_data(no_record)["trained"].tolist() == [3, 3, 6, 9], "a whole round"


def test_surrogate_data_finds_the_lowest_bound():
    data = plots.surrogate_data([1e-4, 1e-3, 1e-2], [1.0, 0.0, 1.0], [0.1, 0.1, 2.0], beta=1.0)
    assert data["bound"].tolist() == pytest.approx([0.9, -0.1, -1.0])
    assert data["next"].tolist() == [False, False, True], "the uncertain end has the lowest bound"
    cautious = plots.surrogate_data([1e-4, 1e-3, 1e-2], [1.0, 0.0, 1.0], [0.1, 0.1, 2.0], beta=0.1)
    assert cautious.loc[cautious["next"], "value"].tolist() == [1e-3]
    ax = plots.plot_surrogate(
        data["value"], data["mean"], data["std"], [1e-4], [1.0], beta=1.0, xlabel="lr", ylabel="mse"
    ).axes[0]
    assert [
        line.get_xdata()[0] for line in ax.lines if line.get_linestyle() == "-" and line.get_lw() == 0.8
    ] == [1e-2], "the vertical line marks the next trial"
    assert not plots.surrogate_data([], [], [], beta=2.0)["next"].any()
    with pytest.raises(ValueError, match="as long as each other"):
        plots.surrogate_data([1, 2], [1.0], [0.1], beta=1.0)


def test_search_data_with_nothing_to_rank_is_empty():
    for frame in (_empty_frame(), _all_failed_frame()):
        parallel = plots.parallel_coordinates_data(frame, PARAMS, "val_mse")
        assert parallel.best is None and parallel.values.empty and parallel.scores.empty
        points = plots.objective_vs_params_data(frame, PARAMS, "val_mse").points
        assert not points["completed"].any() and points["value"].isna().all()
    assert plots.objective_vs_params_data(_all_failed_frame(), PARAMS, "val_mse").points.shape[0] == 12
    empty = plots.hyperband_schedule_data(_empty_frame())
    assert empty.empty and {"y", "start", "trained", "budget", "stopped_early"} <= set(empty.columns)
    assert not plots.hyperband_schedule_data(_all_failed_frame())["completed"].any()


def _render(fig: Figure) -> Figure:
    """Draw the figure (to memory): some errors only show when matplotlib lays it out."""
    fig.savefig(io.BytesIO(), format="png", dpi=40)
    return fig


def _words(fig: Figure) -> str:
    """Every title and text of a figure, in one string."""
    texts = [fig.get_suptitle(), *(t.get_text() for t in fig.texts)]
    for ax in fig.axes:
        texts += [ax.get_title(), *(t.get_text() for t in ax.texts)]
    return " | ".join(texts)


def _best_so_far_figure(frame: pd.DataFrame) -> Figure:
    # `tuning.best_so_far` refuses a non-empty table that never reports the objective (a KeyError that
    # names the ones it reports), so a search that reported nothing is given an empty column.
    frame = frame if frame.empty or "val_mse" in frame else frame.assign(val_mse=np.nan)
    return plots.plot_best_so_far({"Hyperband": tuning.best_so_far(frame, "val_mse")}, "val_mse")


def _surrogate_figure(frame: pd.DataFrame) -> Figure:
    # `tuning.surrogate_slice` needs two completed trials; with fewer there is no slice to draw.
    done = frame[frame["status"] == COMPLETED] if len(frame) else frame
    empty = np.empty(0)
    x = done["learning_rate"].to_numpy(float) if len(done) else empty
    return plots.plot_surrogate(empty, empty, empty, x, x, beta=2.0, xlabel="learning rate", ylabel="val_mse")


SEARCH_PLOTS = {
    "plot_best_so_far": _best_so_far_figure,
    "plot_parallel_coordinates": lambda frame: plots.plot_parallel_coordinates(frame, PARAMS, "val_mse"),
    "plot_objective_vs_params": lambda frame: plots.plot_objective_vs_params(frame, PARAMS, "val_mse"),
    "plot_surrogate": _surrogate_figure,
    "plot_hyperband_schedule": plots.plot_hyperband_schedule,
}


@pytest.mark.parametrize("name", sorted(SEARCH_PLOTS))
def test_search_plots_say_there_is_no_trial_yet(name):
    fig = _render(SEARCH_PLOTS[name](_empty_frame()))
    assert isinstance(fig, Figure) and len(fig.axes) >= 1
    words = _words(fig)
    assert "yet" in words and "run (or resume) the search first" in words, words


@pytest.mark.parametrize("name", sorted(SEARCH_PLOTS))
def test_search_plots_of_an_all_failed_search_say_so_and_draw_the_failures(name):
    fig = _render(SEARCH_PLOTS[name](_all_failed_frame()))
    assert isinstance(fig, Figure) and len(fig.axes) >= 1
    words = _words(fig)
    assert "no completed trial yet" in words or "no surrogate yet" in words, words
    if name in ("plot_objective_vs_params", "plot_parallel_coordinates", "plot_hyperband_schedule"):
        assert "all 4 failed" in words and "message column" in words, "the learner is told where to look"
    crosses = sum(len(line.get_xdata()) for ax in fig.axes for line in ax.lines if line.get_marker() == "x")
    if name == "plot_objective_vs_params":
        assert crosses == 4 * len(PARAMS), "each failed trial is marked in each panel"
    if name == "plot_hyperband_schedule":
        assert crosses == 4, "each failed trial ends in a cross where it stopped"


def test_best_so_far_names_a_search_with_no_completed_trial_yet():
    failed = tuning.best_so_far(_all_failed_frame().assign(val_mse=np.nan), "val_mse")
    done = tuning.best_so_far(_hyperband_frame(), "val_mse")
    labels = (
        plots.plot_best_so_far({"a": done, "b": failed}, "val_mse").axes[0].get_legend_handles_labels()[1]
    )
    assert labels == ["a", "b (no completed trial yet)"]
    assert "no completed trial yet" in _words(plots.plot_best_so_far({}, "val_mse"))


# Every figure of lab.plots, drawn once from small synthetic inputs: a new plot without an entry fails.


class _TinyDecoder:
    """A stand-in for a decoder: two code values in, one 8x8 'image' out."""

    input_shape = (None, 2)

    def __call__(self, z, training=False):
        return np.repeat(1 / (1 + np.exp(-np.asarray(z).sum(axis=1, keepdims=True))), 64, axis=1)


def _pixels(n: int = 15) -> np.ndarray:
    return np.random.default_rng(0).random((n, 64)).astype("float32")


def _codes(n: int = 30, width: int = 2) -> np.ndarray:
    return np.random.default_rng(1).normal(size=(n, width))


HISTORY = {"loss": [3.0, 2.0, 1.0], "val_loss": [3.5, 2.5, 2.0], "mse": [0.3, 0.2, 0.1]}
SURROGATE = plots.surrogate_data(
    np.geomspace(1e-4, 1e-2, 20), np.linspace(1, 0, 20), np.full(20, 0.1), beta=2.0
)

SMOKE = {
    "plot_images": lambda: plots.plot_images({"a": _pixels(), "b": _pixels()}, (8, 8), n=3),
    "plot_samples": lambda: plots.plot_samples(_pixels(), np.repeat(np.arange(5), 3), (8, 8), per_class=2),
    "plot_reconstructions": lambda: plots.plot_reconstructions(_pixels(), _pixels(), (8, 8), n=3),
    "plot_pixel_statistics": lambda: plots.plot_pixel_statistics(_pixels(), (8, 8)),
    "plot_latent_grid": lambda: plots.plot_latent_grid(_TinyDecoder(), (8, 8), n=3),
    "plot_loss_curves": lambda: plots.plot_loss_curves(HISTORY),
    "plot_metrics": lambda: plots.plot_metrics(HISTORY, ["loss", "mse"], title="run"),
    "plot_latent_2d": lambda: plots.plot_latent_2d(_codes(), np.arange(30) % 10),
    "plot_latent_tsne": lambda: plots.plot_latent_tsne(
        _codes(width=4), np.arange(30) % 10, embedding=_codes()
    ),
    "plot_latent_umap": lambda: plots.plot_latent_umap(
        _codes(width=4), np.arange(30) % 10, embedding=_codes()
    ),
    "plot_codes_and_prior": lambda: plots.plot_codes_and_prior(_codes(), np.arange(30) % 10, _codes()),
    "plot_unit_kl": lambda: plots.plot_unit_kl(pd.DataFrame([[2.0, 0.3], [0.9, 0.0]], index=[0.1, 4.0])),
    "plot_rate_distortion": lambda: plots.plot_rate_distortion(
        pd.DataFrame(
            {
                "status": [COMPLETED] * 2,
                "beta": [0.1, 4.0],
                "val_kl": [5.0, 0.1],
                "val_reconstruction": [20.0, 27.0],
            }
        )
    ),
    "plot_latent_size_tradeoff": lambda: plots.plot_latent_size_tradeoff(
        pd.DataFrame(
            {
                "method": ["PCA", "PCA"],
                "latent_dim": [2, 8],
                "val_mse": [0.05, 0.02],
                "probe_accuracy": [0.6, 0.8],
            }
        )
    ),
    "plot_sweep": lambda: plots.plot_sweep(_sweep_frame(), "learning_rate", ["val_mse"], log_x=True),
    "plot_heatmap": lambda: plots.plot_heatmap(_sweep_frame(), "optimizer", "learning_rate"),
    "plot_grouped_bars": lambda: plots.plot_grouped_bars(
        pd.DataFrame({"n": [10, 50], "method": ["a", "a"], "acc": [0.5, 0.8]}), "n", "method", "acc"
    ),
    "plot_tradeoff": lambda: plots.plot_tradeoff(
        pd.DataFrame({"l1": [0.0, 0.01], "sparsity": [0.4, 0.9], "val_mse": [0.01, 0.03]}),
        "sparsity",
        "val_mse",
        "l1",
    ),
    "plot_denoising_gain": lambda: plots.plot_denoising_gain(
        pd.DataFrame({"noise_std": [0.0, 0.3], "gain_at_0.1": [-0.5, 0.2], "gain_at_0.5": [0.1, 0.6]}),
        [0.1, 0.5],
    ),
    "plot_score_histograms": lambda: plots.plot_score_histograms(
        np.linspace(0, 1, 20), np.arange(20) >= 15, threshold=0.7
    ),
    "plot_roc": lambda: plots.plot_roc(
        {"test": {"fpr": np.array([0, 0.5, 1]), "tpr": np.array([0, 0.8, 1]), "auc": 0.65}}
    ),
    "plot_best_so_far": lambda: plots.plot_best_so_far(
        {"random": tuning.best_so_far(_search_frame(), "val_mse")}, "val_mse", budget=12
    ),
    "plot_parallel_coordinates": lambda: plots.plot_parallel_coordinates(_search_frame(), PARAMS, "val_mse"),
    "plot_objective_vs_params": lambda: plots.plot_objective_vs_params(_search_frame(), PARAMS, "val_mse"),
    "plot_top_reconstructions": lambda: plots.plot_top_reconstructions(
        _pixels(), {"trial 01": _pixels(), "trial 02": _pixels()}, (8, 8), n=3
    ),
    "plot_surrogate": lambda: plots.plot_surrogate(
        SURROGATE["value"],
        SURROGATE["mean"],
        SURROGATE["std"],
        np.array([1e-4, 1e-2]),
        np.array([1.0, 0.0]),
        beta=2.0,
        xlabel="learning rate",
        ylabel="val_mse",
    ),
    "plot_hyperband_schedule": lambda: plots.plot_hyperband_schedule(_hyperband_frame()),
    "plot_shootout_curves": lambda: plots.plot_shootout_curves(
        shootout.median_curves(shootout.best_so_far(_shootout_table(), 11)), 11, seeds=2
    ),
    "plot_mean_ranks": lambda: plots.plot_mean_ranks(
        shootout.mean_ranks(shootout.best_so_far(_shootout_table(), 11), 11)
    ),
    "plot_winners": lambda: plots.plot_winners(shootout.winners(_shootout_table(), 11), pca_mse=0.05),
    "plot_worker_timeline": lambda: plots.plot_worker_timeline(
        {
            "two workers": pd.DataFrame(
                dict(
                    worker=["tuner0", "tuner1", "tuner0"],
                    trial=["0", "1", "2"],
                    begin=[0.0, 0.1, 1.2],
                    end=[1.1, 1.3, 2.4],
                    seconds=[1.1, 1.2, 1.2],
                    fit_seconds=[1.0, 1.0, float("nan")],
                )
            )
        },
        marks={"a kill": 0.5},
    ),
    "plot_importance": lambda: plots.plot_importance(
        pd.DataFrame(
            {"seed": [0, 0, 1, 1], "hyperparameter": ["a", "b"] * 2, "importance": [0.7, 0.3, 0.6, 0.4]}
        )
    ),
    "plot_budget_timeline": lambda: plots.plot_budget_timeline(
        {name: shootout.timeline(_shootout_table(), name, 0) for name in ("hyperband", "tpe")}, 11
    ),
    "plot_front_projections": lambda: plots.plot_front_projections(
        tradeoffs.trials(_pareto_table(), seed=0),
        marked=tradeoffs.picks(tradeoffs.trials(_pareto_table(), seed=0)),
    ),
    "plot_hypervolume": lambda: plots.plot_hypervolume(
        tradeoffs.hypervolume_bands(
            tradeoffs.hypervolumes(
                _pareto_table(),
                {"val_mse": fronts.Scale(0, 0.1), "val_probe_accuracy": fronts.Scale(1, 0)},
                list(pareto.SEARCHES),
            )
        ),
        seeds=2,
    ),
    "plot_probe_by_code_size": lambda: plots.plot_probe_by_code_size(
        tradeoffs.probe_by_code_size(_pareto_table()), few_label_share=0.05
    ),
    "plot_rate_distortion_front": lambda: plots.plot_rate_distortion_front(
        tradeoffs.trials(
            _pareto_table(), seed=0, searches=list(pareto.VAE_SEARCHES), objectives=pareto.VAE_OBJECTIVES
        ),
        best_elbo=_pareto_table().dropna(subset=["val_neg_elbo"]).iloc[0],
    ),
}


def _pareto_table() -> pd.DataFrame:
    """The committed quick run of notebook 10's multi-objective searches."""
    return pd.read_csv(results.RESULTS_DIR / "10_pareto_quick_digits.csv")


def _shootout_table() -> pd.DataFrame:
    """The committed quick run of notebook 09's comparison (four searches, two seeds, 11 epochs each)."""
    return pd.read_csv(results.RESULTS_DIR / "09_shootout_quick_digits.csv")


def test_every_plot_has_a_smoke_test():
    exported = {name for name in plots.__all__ if name.startswith("plot_")}
    assert exported == set(SMOKE), f"without a smoke test: {sorted(exported - set(SMOKE))}"
    assert set(SEARCH_PLOTS) <= exported


@pytest.mark.parametrize("name", sorted(SMOKE))
def test_every_plot_draws_a_figure(name):
    fig = _render(SMOKE[name]())
    assert isinstance(fig, Figure) and len(fig.axes) >= 1
    assert any(ax.has_data() for ax in fig.axes), "the figure shows something"
