"""The retraining panel driven through its widgets, as a person would, without a browser."""

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
    panel.button.click()
    assert panel.last.settings["latent_dim"] == 2 and panel.last is not first
    assert len(panel.history_frame()) == 2


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
    assert panel.last is not None and panel.last.settings["latent_dim"] == 4


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
