"""The retraining panel driven through its widgets, as a person would, without a browser."""

import html

import numpy as np
import pytest

from lab import config, data
from lab.widgets import RetrainPanel


@pytest.fixture(scope="module")
def setting():
    cfg = config.preset("quick")
    return cfg, data.load_for(cfg)


def _panel(setting, **kwargs):
    cfg, ds = setting
    panel = RetrainPanel(ds, cfg, **kwargs)
    panel.controls["epochs"].value = 20  # enough for the quick subset to beat the mean image
    return panel


def test_a_slider_change_retrains_and_updates_the_numbers(setting):
    panel = _panel(setting)
    first = panel.train()
    assert first is not None and first.status == "ok" and len(first.history["loss"]) == 20
    assert "validation MSE" in panel.numbers.value and f"{first.val_mse:.4f}" in panel.numbers.value
    panel.controls["latent_dim"].value = 2
    panel.button.click()  # trains in the background, as in a browser
    panel.wait()
    assert panel.last.settings["latent_dim"] == 2 and panel.last is not first
    assert len(panel.history_frame()) == 2
    assert "run 2" in panel.numbers.value and f"{panel.last.val_mse:.4f}" in panel.numbers.value


def test_moving_back_hits_the_cache(setting):
    panel = _panel(setting)
    first = panel.train()
    panel.controls["units"].value = 32
    panel.train()
    panel.controls["units"].value = first.settings["units"]
    again = panel.train()
    assert again is first and "cache" in panel.message.value
    assert len(panel.history_frame()) == 2


def test_same_settings_same_curve(setting):
    a, b = _panel(setting).train(), _panel(setting).train()
    assert a.history["loss"] == pytest.approx(b.history["loss"])


def test_a_latent_size_larger_than_the_input_is_answered_in_the_panel(setting):
    panel = _panel(setting)
    kept = panel.train()
    panel.controls["latent_dim"].value = panel.dataset.n_features + 10
    assert panel.train() is None
    assert "Not trained" in panel.message.value and "latent_dim must be between" in panel.message.value
    assert panel.runs == [kept]


def test_a_learning_rate_far_too_large_is_answered_in_the_panel(setting):
    panel = _panel(setting, controls=("learning_rate", "epochs"))
    kept = panel.train()
    panel.controls["learning_rate"].value = 10.0
    result = panel.train()
    # Adam at a learning rate of 10 either diverges (NaN) or stalls at the mean image.
    assert result.status in ("diverged", "stalled")
    assert "learning rate" in panel.message.value
    assert ("diverged" if result.status == "diverged" else "Stalled") in panel.message.value
    assert panel.runs[0] is kept and len(panel.history_frame()) == 2


def test_auto_retrain_follows_the_slider(setting):
    panel = _panel(setting)
    panel.auto.value = True
    panel.controls["latent_dim"].value = 4
    panel.wait()
    assert panel.last is not None and panel.last.settings["latent_dim"] == 4


def test_quick_moves_train_only_the_last_setting(setting):
    panel = _panel(setting)
    panel.controls["epochs"].value = 200  # long enough that the later moves arrive mid-run
    panel.auto.value = True
    for latent in (3, 4, 5, 6):
        panel.controls["latent_dim"].value = latent
    panel.wait()
    assert [r.settings["latent_dim"] for r in panel.runs] == [6]
    assert panel.last.settings["latent_dim"] == 6 and "run 1" in panel.numbers.value


def test_a_newer_request_stops_the_run_in_progress(setting):
    panel = _panel(setting)
    panel.controls["epochs"].value = 200
    seen = []

    def move_once(change):
        # Once the run has trained a few epochs, ask for another setting.
        if "epoch 3 of" in change["new"] and not seen:
            seen.append(change["new"])
            panel.controls["epochs"].value = 5
            panel.request()

    panel.live_interval = 0.0  # report every epoch
    panel.numbers.observe(move_once, names="value")
    panel.request()
    panel.wait()
    assert seen, "the panel never reported the epochs of the first run"
    assert [len(r.history["loss"]) for r in panel.runs] == [5]
    assert panel.last.settings["epochs"] == 5


def test_the_numbers_say_which_setting_trains(setting):
    panel = _panel(setting)
    panel.train()
    panel.controls["latent_dim"].value = 3
    panel.live_interval = 0.0
    seen = []
    panel.numbers.observe(lambda change: seen.append(change["new"]), names="value")
    panel.images_caption.observe(lambda change: seen.append(change["new"]), names="value")
    panel.train()
    training = [text for text in seen if "training run 2" in text]
    assert training and "latent_dim 8 &rarr; 3" in training[0] and "epoch 1 of 20" in " ".join(training)
    assert any("still run 1" in text for text in seen)
    assert "validation MSE" not in training[0]


def test_renders_are_kept_with_each_run_and_shown_again_from_the_cache(setting):
    panel = _panel(setting)
    first = panel.train()
    assert first.curve_png.startswith(b"\x89PNG") and first.images_png.startswith(b"\x89PNG")
    assert panel.curve.value == first.curve_png and panel.images.value == first.images_png
    panel.controls["latent_dim"].value = 2
    second = panel.train()
    assert panel.curve.value == second.curve_png != first.curve_png
    assert panel.images.value == second.images_png != first.images_png
    panel.controls["latent_dim"].value = first.settings["latent_dim"]
    panel.train()
    assert panel.curve.value == first.curve_png and panel.images.value == first.images_png
    assert "lab-shown" in panel.table.value and "&#9664; shown" in panel.table.value


def _panel_whose_next_run_raises(setting, monkeypatch, error):
    """A panel with one finished run, whose next run (latent_dim 3) raises `error`."""
    from lab import sweeps

    panel = _panel(setting)
    kept = panel.train()

    def broken(*args, **kwargs):
        raise error

    monkeypatch.setattr(sweeps, "train_dense", broken)
    panel.controls["latent_dim"].value = 3
    return panel, kept


def _still_shows(panel, kept):
    """The panel no longer says "training" and shows the earlier run's numbers."""
    assert "training" not in panel.numbers.value and f"{kept.val_mse:.4f}" in panel.numbers.value
    assert panel.runs == [kept]


def test_a_failure_in_a_background_run_is_answered_in_the_panel(setting, monkeypatch):
    panel, kept = _panel_whose_next_run_raises(setting, monkeypatch, RuntimeError("disk on fire"))
    panel.request()
    panel.wait()
    assert "Failed" in panel.message.value and "disk on fire" in panel.message.value
    _still_shows(panel, kept)


def test_vae_panel_has_its_own_controls(setting):
    panel = _panel(setting, kind="vae")
    assert {"beta", "warmup_epochs"} <= set(panel.controls) and "l1" not in panel.controls
    result = panel.train()
    assert result.status == "ok" and "neg_elbo" in result.history


def test_unknown_controls_and_kinds_are_refused(setting):
    cfg, ds = setting
    with pytest.raises(ValueError, match="Unknown control"):
        RetrainPanel(ds, cfg, controls=("momentum",))
    with pytest.raises(ValueError, match="kind"):
        RetrainPanel(ds, cfg, kind="gan")


def test_static_figures_of_the_last_run(setting):
    panel = _panel(setting)
    with pytest.raises(ValueError, match="Nothing trained yet"):
        panel.figures()
    panel.train()
    figures = panel.figures()
    assert set(figures) == {"curves", "reconstructions"}


@pytest.mark.parametrize(
    "name, value, words",
    [
        ("latent_dim", 500, "latent_dim takes values from 1 to 128"),
        ("latent_dim", 0, "got 0"),
        ("latent_dim", -3, "got -3"),
        ("epochs", 1000, "epochs takes values from 1 to 200"),
        ("learning_rate", 100.0, "learning_rate takes values from 1.0e-05 to 10.0"),
        ("learning_rate", float("nan"), "got nan"),
        ("dropout", 0.95, "dropout takes values from 0.0 to 0.8"),
        ("units", 100, "units takes one of 16, 32, 64, 128, 256, 512"),
        ("units", "big", "got 'big'"),
        ("batch_size", True, "got True"),
        ("activation", "gelu", "activation takes one of relu"),
        ("l1", 0.5, "l1 takes one of 0.0, 1.0e-05"),
    ],
)
def test_a_value_set_in_code_outside_a_control_is_refused_not_clamped(setting, name, value, words):
    from traitlets import TraitError

    panel = _panel(setting)
    before = panel.settings()
    with pytest.raises(TraitError) as info:
        panel.controls[name].value = value
    assert words in str(info.value) and "so it was left at" in str(info.value)
    assert panel.settings() == before  # not moved to the nearest end
    assert "Not set" in panel.message.value and words in html.unescape(panel.message.value)


@pytest.mark.parametrize(
    "name, bound, new, words",
    [
        ("latent_dim", "max", 4, "a max of 4 would move latent_dim from 8"),
        ("latent_dim", "min", 10, "a min of 10 would move latent_dim from 8"),
        ("learning_rate", "max", -4, "set learning_rate's value inside 1.0e-05 to 1.0e-04 first"),
        ("dropout", "min", 0.5, "a min of 0.5 would move dropout from 0.0"),
    ],
)
def test_a_new_range_that_would_move_the_value_is_refused_not_applied(setting, name, bound, new, words):
    from traitlets import TraitError

    panel = _panel(setting)
    control = panel.controls[name]
    before, limits = panel.settings(), (control.min, control.max)
    with pytest.raises(TraitError, match=words):
        setattr(control, bound, new)
    assert panel.settings() == before and (control.min, control.max) == limits
    assert "Not set" in panel.message.value


def test_a_new_range_that_keeps_the_value_is_applied(setting):
    panel = _panel(setting)
    panel.controls["latent_dim"].max = 20
    panel.controls["latent_dim"].min = 2
    assert (panel.controls["latent_dim"].min, panel.controls["latent_dim"].max) == (2, 20)
    assert panel.settings()["latent_dim"] == 8


def test_values_within_a_control_are_set_as_given(setting):
    panel = _panel(setting)
    panel.controls["units"].value = 64.0  # the same number as an option
    panel.controls["learning_rate"].value = 1e-3
    assert panel.settings()["units"] == 64 and type(panel.settings()["units"]) is int
    assert panel.settings()["learning_rate"] == 1e-3


@pytest.mark.parametrize(
    "kwargs, words",
    [
        (dict(kind="vae", controls=("l1",)), "A vae panel cannot use l1"),
        (dict(kind="vae", controls=("beta", "noise_std")), "cannot use noise_std"),
        (
            dict(kind="dense", controls=("beta", "warmup_epochs")),
            "A dense panel cannot use beta, warmup_epochs",
        ),
        (dict(controls=()), "controls is empty"),
        (dict(controls=("momentum",)), "Unknown control(s) ['momentum']"),
        (dict(kind="VAE"), "Did you mean 'vae'?"),
        (dict(kind="gan"), "kind must be one of 'dense', 'vae'"),
        (dict(patience=0), "patience must be a whole number of 1 or more or None"),
        (dict(patience="5"), None),
        (dict(live_interval=-1), "live_interval must be a finite number >= 0"),
    ],
)
def test_panel_arguments_are_checked_when_the_panel_is_made(setting, kwargs, words):
    cfg, ds = setting
    if words is None:
        assert RetrainPanel(ds, cfg, **kwargs).patience == 5
        return
    with pytest.raises(ValueError) as info:
        RetrainPanel(ds, cfg, **kwargs)
    assert words in str(info.value)


def test_a_panel_refuses_arguments_of_the_wrong_kind(setting):
    cfg, ds = setting
    with pytest.raises(TypeError, match="dataset must be a Dataset"):
        RetrainPanel(ds.x_train, cfg)
    with pytest.raises(TypeError, match="cfg must be a RunConfig"):
        RetrainPanel(ds, cfg.as_dict())


def test_a_vae_panel_without_a_latent_control_and_a_single_control_by_name(setting):
    cfg, ds = setting
    panel = RetrainPanel(ds, cfg, kind="vae", controls="beta")
    assert list(panel.controls) == ["beta"]
    with pytest.raises(ValueError, match="regularizers"):
        RetrainPanel(ds, cfg, kind="vae", controls=("dropout", "l2", "regularizers"))


def test_any_failure_of_a_run_from_code_is_shown_in_the_panel_and_raised(setting, monkeypatch):
    error = TypeError("train_dense() got an unexpected keyword argument 'gamma'")
    panel, kept = _panel_whose_next_run_raises(setting, monkeypatch, error)
    with pytest.raises(TypeError, match="gamma"):
        panel.train()
    assert "Failed</b> (TypeError)" in panel.message.value and "gamma" in panel.message.value
    _still_shows(panel, kept)


def test_an_interrupted_run_leaves_the_panel_answering(setting, monkeypatch):
    panel, kept = _panel_whose_next_run_raises(setting, monkeypatch, KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        panel.train()
    assert "Interrupted" in panel.message.value
    _still_shows(panel, kept)


@pytest.mark.parametrize("value", [3.7, True, "7"])
def test_a_whole_number_control_refuses_fractions_instead_of_truncating(setting, value):
    from traitlets import TraitError

    panel = _panel(setting)
    with pytest.raises(TraitError, match=f"latent_dim takes whole numbers; got {value!r}, so it was left"):
        panel.controls["latent_dim"].value = value
    assert panel.settings()["latent_dim"] == 8
    panel.controls["latent_dim"].value = 6.0  # a whole number written as a float is that number
    assert panel.settings()["latent_dim"] == 6 and type(panel.settings()["latent_dim"]) is int


def test_new_options_keep_the_value_or_are_refused(setting):
    from traitlets import TraitError

    panel = _panel(setting)
    units = panel.controls["units"]
    units.value = np.int64(64)  # a NumPy integer is the number it holds
    units.options = [16, 32, 64]
    assert units.value == 64 and panel.settings()["units"] == 64
    with pytest.raises(TraitError, match="new options \\(16, 32\\) for units do not hold its value 64"):
        units.options = [16, 32]
    assert tuple(units.options) == (16, 32, 64) and panel.settings()["units"] == 64
    with pytest.raises(TraitError, match="activation takes one of its options on this panel; got None"):
        panel.controls["activation"].value = None
    assert panel.settings()["activation"] == "relu"
