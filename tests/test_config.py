from pathlib import Path

import pytest

from lab import checks, config


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
    with pytest.raises(ValueError, match="'quick', 'workshop', 'full'"):
        config.preset("fast")


def test_unknown_setting_is_named():
    with pytest.raises(ValueError, match="epoch"):
        config.preset("quick", epoch=3)


# Bad settings, as a notebook's parameters or papermill's command line can pass them ----------

BAD_SETTINGS = [
    # wrong types
    (dict(seed="abc"), "seed (SEED in a notebook's parameters) must be a whole number", "'abc' (str)"),
    (dict(epochs="ten"), "epochs must be a whole number", "'ten'"),
    (dict(batch_size="16.5"), "batch_size must be a whole number", "'16.5'"),
    (dict(learning_rate="fast"), "learning_rate must be a finite number", "'fast'"),
    (dict(seed=1.5), "seed (SEED", "1.5 (float)"),
    (dict(epochs=2.5), "epochs must be a whole number", "2.5"),
    (dict(seed=True), "seed (SEED", "True (bool)"),
    (dict(epochs=False), "epochs must be", "False (bool)"),
    (dict(units=[256]), "units must be a whole number", "[256] (list)"),
    # out of range
    (dict(epochs=0), "epochs must be a whole number from 1", "got 0"),
    (dict(patience=0), "patience must be a whole number from 1", "got 0"),
    (dict(patience=-1), "patience must be", "got -1"),
    (dict(batch_size=0), "batch_size must be", "got 0"),
    (dict(batch_size=2**31), "batch_size must be a whole number from 1 to 2,147,483,647", "2,147,483,648"),
    (dict(epochs=2**40), "epochs must be", "1,099,511,627,776"),
    (dict(units=0), "units must be", "got 0"),
    (dict(num_layers=0), "num_layers must be", "got 0"),
    (dict(latent_dim=-2), "latent_dim must be", "got -2"),
    (dict(warmup_epochs=-1), "warmup_epochs must be a whole number from 0", "got -1"),
    (dict(n_seeds=0), "n_seeds must be a whole number from 1", "got 0"),
    (dict(hyperband_factor=1), "hyperband_factor must be a whole number from 2", "got 1"),
    (dict(slice_trials=1), "slice_trials must be a whole number from 2", "got 1"),
    (dict(max_points=5), "max_points must be a whole number from 20", "UMAP"),
    (
        dict(generative_latent_dim=3),
        "generative_latent_dim must be a whole number equal to 2",
        "decode a grid",
    ),
    # seeds in NumPy's range
    (dict(seed=-1), "seed (SEED", "from 0 to 4,294,967,295, got -1"),
    (dict(seed=2**32), "seed (SEED", "got 4,294,967,296"),
    (dict(seed=2**32 - 1), "comparisons would use seeds up to 4,294,967,297", "at most 4,294,967,293"),
    # subsets too small for a stratified split
    (dict(max_train=5), "max_train must be a whole number from 10", "one example of each of the 10 classes"),
    (dict(max_eval=0), "max_eval must be", "got 0"),
    (dict(overfit_train_size=3), "overfit_train_size must be a whole number from 10", "got 3"),
    # fractions and rates
    (dict(learning_rate=0), "learning_rate must be a finite number > 0", "got 0"),
    (dict(learning_rate=-1e-3), "learning_rate must be", "got -0.001"),
    (dict(learning_rate=float("nan")), "learning_rate must be", "nan"),
    (dict(learning_rate="inf"), "learning_rate must be", "'inf'"),
    (dict(label_fractions=(0,)), "each value of label_fractions must be a finite number > 0", "got 0"),
    (dict(label_fractions=(1.5,)), "each value of label_fractions", "got 1.5"),
    (dict(noise_levels=(-0.1,)), "each value of noise_levels must be a finite number >= 0", "got -0.1"),
    (dict(l1_values=(-1,)), "each value of l1_values", "got -1"),
    # lists
    (dict(latent_sizes=8), "latent_sizes must be a list", "one-item list: [8]"),
    (dict(latent_sizes=[]), "latent_sizes needs at least 1 value", "[]"),
    (dict(latent_sizes=[2, 2]), "latent_sizes lists a value twice", "[2, 2]"),
    (dict(latent_sizes=["a"]), "each value of latent_sizes must be a whole number", "'a'"),
    (
        dict(anomaly_classes=(10,)),
        "each value of anomaly_classes must be a whole number from 0 to 9",
        "got 10",
    ),
    (dict(anomaly_classes=tuple(range(9))), "anomaly_classes lists 9 of the 10 classes", "List fewer"),
    # choices
    (
        dict(dataset="MNIST"),
        "dataset (DATASET in a notebook's parameters) must be one of",
        "Did you mean 'mnist'?",
    ),
    (dict(dataset="cifar10"), "dataset (DATASET", "'cifar10' (str)"),
    (dict(dataset=3), "dataset (DATASET", "3 (int)"),
    # settings that only make sense together
    (dict(hyperband_factor=30), "race_epochs is 24 but hyperband_factor is 30", "lower the factor"),
]


@pytest.mark.parametrize("overrides, what, got", BAD_SETTINGS, ids=lambda v: str(v)[:40])
def test_a_bad_setting_is_named_with_what_it_got_and_what_it_takes(overrides, what, got):
    with pytest.raises(ValueError) as info:
        config.preset("workshop", **overrides)
    assert isinstance(info.value, checks.SettingError)
    message = str(info.value)
    assert what in message, message
    assert got in message, message


@pytest.mark.parametrize("preset_name", ["Workshop", "fast", None, 1])
def test_a_bad_preset_name_is_refused(preset_name):
    with pytest.raises(ValueError, match="preset \\(PRESET in a notebook's parameters\\) must be one of"):
        config.preset(preset_name)


def test_an_unknown_setting_suggests_the_nearest():
    with pytest.raises(ValueError, match="Did you mean 'epochs' for 'epoch'"):
        config.preset("quick", epoch=3)


def test_strings_from_the_command_line_are_converted_where_unambiguous():
    import numpy as np

    cfg = config.preset(
        "quick",
        seed="3",
        epochs=10.0,
        learning_rate="1e-3",
        latent_sizes="2, 4",
        label_fractions="[0.1, 0.5]",
        max_train="None",
        n_seeds=np.int64(2),
    )
    assert (cfg.seed, cfg.epochs, cfg.learning_rate) == (3, 10, 0.001)
    assert type(cfg.seed) is int and type(cfg.epochs) is int and type(cfg.n_seeds) is int
    assert cfg.latent_sizes == (2, 4) and cfg.label_fractions == (0.1, 0.5)
    assert cfg.max_train is None


@pytest.mark.parametrize("key", ["figures_dir", "runs_dir"])
def test_a_folder_that_is_a_file_is_refused_and_nothing_is_made(tmp_path, key):
    a_file = tmp_path / "notes.txt"
    a_file.write_text("mine")
    with pytest.raises(ValueError, match="which is a file, not a folder"):
        config.preset("quick", **{key: a_file})
    with pytest.raises(ValueError, match="is a file, so no folder can be made there"):
        config.preset("quick", **{key: a_file / "figures"})
    with pytest.raises(ValueError, match="must be the path of a folder"):
        config.preset("quick", **{key: ""})
    with pytest.raises(ValueError, match="must be the path of a folder"):
        config.preset("quick", **{key: 42})
    assert a_file.read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_a_folder_that_cannot_be_written_is_refused(tmp_path, monkeypatch):
    import os

    locked = tmp_path / "locked"
    locked.mkdir()
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if Path(p) == locked else real_access(p, mode))
    with pytest.raises(ValueError, match="but it cannot be written to"):
        config.preset("quick", figures_dir=locked)
    with pytest.raises(ValueError, match=f"but its parent '{locked}' cannot be written to"):
        config.preset("quick", runs_dir=locked / "new" / "runs")
    assert list(locked.iterdir()) == []


def test_a_folder_still_to_be_made_is_accepted_but_not_made(tmp_path):
    cfg = config.preset("quick", figures_dir=tmp_path / "a" / "b")
    assert cfg.figures_dir == tmp_path / "a" / "b"
    assert not (tmp_path / "a").exists()


def test_the_preset_named_twice_is_refused():
    with pytest.raises(ValueError, match="The preset is the first argument"):
        config.preset("quick", preset="full")


def test_folder_names_no_file_system_can_hold_are_refused(tmp_path):
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    dangling = tmp_path / "dangling"
    dangling.symlink_to(tmp_path / "gone")
    for value, words in [
        ("x\0y", "holds a NUL character"),
        ("a" * 300, "File name too long"),
        ("~nosuchuser-xyz/figures", "cannot be used as a folder"),
        (loop, "a link to nothing or a loop"),
        (dangling, "a link to nothing or a loop"),
        (loop / "sub", "a link to nothing or a loop"),
    ]:
        with pytest.raises(ValueError) as info:
            config.preset("quick", figures_dir=value)
        assert words in str(info.value)
    assert not (tmp_path / "gone").exists()


def test_a_flag_with_stray_spaces_says_so():
    with pytest.raises(ValueError, match="Remove the spaces around it: True"):
        config.flag("True ", "OVERWRITE")
