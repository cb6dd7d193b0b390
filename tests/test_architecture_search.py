"""A search that chooses dense layers or convolutions: conditional spaces, builds, and a small search."""

import numpy as np
import pytest

from lab import config, data, tuning
from lab.hypermodels import CONV_ONLY, ArchitectureHyperModel


@pytest.fixture(scope="module")
def ds():
    return data.load_for(config.preset("quick", max_train=120, max_eval=60))


def _kinds(model):
    names = []
    for layer in model.layers:
        names.append(type(layer).__name__)
        if hasattr(layer, "layers"):
            names.extend(_kinds(layer))
    return names


def test_each_family_has_only_its_own_hyperparameters_active():
    hm = ArchitectureHyperModel(64, image_shape=(8, 8))
    names = {item.name for item in hm.declare().space}
    assert {"architecture", "num_layers", "units_1", *CONV_ONLY, "learning_rate"} <= names
    dense = hm.hyperparameters(architecture="dense", num_layers=2)
    conv = hm.hyperparameters(architecture="conv", filters=8, kernel_size=5, conv_layers=1)
    assert dense.is_active("units_2") and not any(dense.is_active(n) for n in CONV_ONLY)
    assert all(conv.is_active(n) for n in CONV_ONLY) and not conv.is_active("num_layers")
    assert "Conv2D" not in _kinds(hm.build(dense))
    model = hm.build(conv)
    assert "Conv2D" in _kinds(model) and model(np.zeros((3, 64), "float32")).shape == (3, 64)
    assert hm.arguments(conv) == dict(
        architecture="conv",
        latent_dim=8,
        activation="relu",
        optimizer="adam",
        learning_rate=2e-3,
        conv_layers=1,
        filters=8,
        kernel_size=5,
    )


@pytest.mark.parametrize("family", ["dense", "conv"])
def test_one_family_alone_declares_nothing_of_the_other(family):
    tune = ("num_layers", "units") if family == "dense" else CONV_ONLY
    hm = ArchitectureHyperModel(64, image_shape=(8, 8), tune=tune, fixed={"architecture": family})
    names = {item.name for item in hm.declare().space}
    other = set(CONV_ONLY) if family == "dense" else {"num_layers", "units_1"}
    assert names and not names & other


@pytest.mark.parametrize(
    "kwargs, words",
    [
        (dict(image_shape=(8, 7)), "holds 56 pixels, but input_dim is 64"),
        (dict(image_shape=64), "image_shape must be (height, width)"),
        (
            dict(image_shape=(8, 8), tune=("filters",), fixed={"architecture": "dense"}),
            "shape the convolutional model only",
        ),
        (
            dict(image_shape=(8, 8), tune=("units",), fixed={"architecture": "conv"}),
            "shape the dense model only",
        ),
        (
            dict(image_shape=(8, 8), tune=(), fixed={"architecture": "conv", "kernel_size": 4}),
            "kernel_size must be odd",
        ),
        (
            dict(image_shape=(8, 8), tune=(), fixed={"architecture": "transformer"}),
            "architecture must be 'dense' or 'conv'",
        ),
    ],
)
def test_a_space_that_cannot_build_is_refused_in_words(kwargs, words):
    with pytest.raises(ValueError, match=words.replace("(", r"\(").replace(")", r"\)")):
        ArchitectureHyperModel(64, **kwargs)


def test_a_search_chooses_between_dense_and_convolutional_models(ds, tmp_path):
    grid = ArchitectureHyperModel(
        ds.n_features,
        image_shape=ds.image_shape,
        tune=("architecture",),
        choices={"architecture": ["dense", "conv"]},
        patience=None,
    )
    tuner = tuning.make_tuner("grid", grid, directory=tmp_path, project_name="grid")
    frame = tuning.search(tuner, ds, epochs=2)
    assert sorted(frame["architecture"]) == ["conv", "dense"]
    assert (frame["status"] == "COMPLETED").all() and frame["val_mse"].between(0, 1).all()
    assert tuner.get_best_models(1)[0](ds.x_val[:2]).shape == (2, ds.n_features)
    # A random search over both families: each trial holds only its own family's settings.
    hm = ArchitectureHyperModel(
        ds.n_features,
        image_shape=ds.image_shape,
        tune=("architecture", "filters", "units", "learning_rate"),
        choices={"architecture": ["dense", "conv"], "filters": [8], "units": [32]},
        fixed={"num_layers": 1, "conv_layers": 1},
        patience=None,
    )
    random = tuning.make_tuner("random", hm, max_trials=4, directory=tmp_path, project_name="random", seed=1)
    drawn = tuning.search(random, ds, epochs=1)
    assert (drawn["status"] == "COMPLETED").all() and len(drawn) >= 2
    for _, row in drawn.iterrows():
        own, other = ("filters", "units_1") if row["architecture"] == "conv" else ("units_1", "filters")
        assert row[own] in (8, 32)
        assert other not in drawn or np.isnan(row[other])
