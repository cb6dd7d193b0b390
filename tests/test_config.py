from pathlib import Path

import pytest

from lab import config


def test_every_preset_builds_and_workshop_is_default():
    for name in config.PRESETS:
        assert config.preset(name).preset == name
    assert config.preset().preset == "workshop"


def test_quick_is_smaller_than_workshop():
    quick, workshop = config.preset("quick"), config.preset("workshop")
    assert quick.epochs < workshop.epochs
    assert quick.max_train is not None and workshop.max_train is None
    assert len(quick.latent_sizes) < len(workshop.latent_sizes)


def test_full_uses_mnist():
    assert config.preset("full").dataset == "mnist"


def test_overrides_apply_and_none_is_ignored():
    cfg = config.preset("quick", seed=3, dataset=None, figures_dir="some/dir")
    assert cfg.seed == 3
    assert cfg.dataset == "digits"
    assert cfg.figures_dir == Path("some/dir")


def test_settings_are_frozen():
    cfg = config.preset("quick")
    with pytest.raises(AttributeError):
        cfg.epochs = 5


def test_unknown_preset_lists_the_choices():
    with pytest.raises(ValueError, match="quick, workshop, full"):
        config.preset("fast")


def test_unknown_setting_is_named():
    with pytest.raises(ValueError, match="epoch"):
        config.preset("quick", epoch=3)
