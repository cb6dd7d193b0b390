import numpy as np
import pytest

from lab import applications, config, data, evaluate, sweeps
from lab._backend import keras
from lab.models import build_code_classifier, build_dense_autoencoder
from lab.models.classifier import unfreeze


@pytest.fixture(scope="module")
def setting():
    cfg = config.preset("quick", epochs=4, sweep_epochs=3)
    ds = data.load_for(cfg)
    return cfg, ds, sweeps.train_dense(ds, cfg).model


def test_denoising_table_covers_every_model_and_level(setting):
    cfg, ds, model = setting
    table = applications.denoising_table({0.0: model, "copy": model}, ds.x_val, (0.0, 0.3))
    assert len(table) == 4
    clean, noisy = table[table.test_noise == 0.0], table[table.test_noise == 0.3]
    assert (clean["noisy_mse"] == 0).all() and (noisy["noisy_mse"] > 0).all()
    assert noisy["denoised_mse"].iloc[0] > clean["denoised_mse"].iloc[0]
    assert clean["gain"].isna().all()
    np.testing.assert_allclose(noisy["gain"], 1 - noisy["denoised_mse"] / noisy["noisy_mse"])


def test_anomaly_report_is_consistent(setting):
    cfg, ds, _ = setting
    normal = data.without_classes(ds, (7, 8, 9), splits=("train", "val"))
    assert not np.isin(normal.y_train, (7, 8, 9)).any() and not np.isin(normal.y_val, (7, 8, 9)).any()
    assert np.isin(normal.y_test, (7, 8, 9)).any()
    model = sweeps.train_dense(normal, cfg).model
    report = applications.anomaly_report(model, ds, (7, 8, 9))
    assert report["scores"]["test"].shape == ds.y_test.shape
    assert report["is_anomaly"]["val"].sum() == np.isin(ds.y_val, (7, 8, 9)).sum()
    assert 0 <= report["test_roc"]["auc"] <= 1
    assert set(report["test_rates"]) == {"tpr", "fpr", "precision", "precision_at_share"}
    # The normal-only threshold flags about 5% of normal validation images.
    normal_val = report["scores"]["val"][~report["is_anomaly"]["val"]]
    assert np.mean(normal_val >= report["normal_threshold"]) == pytest.approx(0.05, abs=0.02)
    # At 1% anomalies precision can only drop below the test split's (which holds far more).
    rates = report["test_rates_normal"]
    assert report["test_share"] > report["share"]
    if rates["tpr"] > 0:
        assert rates["precision_at_share"] <= rates["precision"] + 1e-9


def test_precision_at_a_realistic_share_and_normal_threshold_refuse_bad_input():
    assert evaluate.precision_at_share(0.9, 0.05, 0.01) == pytest.approx(0.009 / (0.009 + 0.0495))
    with pytest.raises(ValueError, match="share"):
        evaluate.precision_at_share(0.9, 0.05, 0.0)
    with pytest.raises(ValueError, match="empty"):
        evaluate.normal_threshold(np.array([]))
    with pytest.raises(ValueError, match="false_alarm_rate"):
        evaluate.normal_threshold(np.ones(3), 1.5)


def test_few_label_comparison_has_five_methods_per_fraction(setting):
    cfg, ds, model = setting
    table = applications.few_label_comparison(model, ds, cfg, (0.05, 0.2))
    assert len(table) == 10 and table["method"].nunique() == 5
    assert table["val_accuracy"].between(0, 1).all()
    assert table.groupby("fraction")["n_labels"].first().is_monotonic_increasing


def test_classifier_copies_and_never_changes_the_encoder(setting):
    _, ds, model = setting
    encoder = model.encoder
    before = [w.copy() for w in encoder.get_weights()]
    pretrained = build_code_classifier(encoder, 10, freeze_encoder=True)
    for a, b in zip(pretrained.get_layer(index=1).get_weights(), before, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not pretrained.get_layer(index=1).trainable
    assert len(pretrained.trainable_weights) == 2  # the softmax layer only
    unfreeze(pretrained)
    assert len(pretrained.trainable_weights) > 2
    pretrained.fit(ds.x_train, ds.y_train, epochs=1, verbose=0)
    for a, b in zip(encoder.get_weights(), before, strict=True):
        np.testing.assert_array_equal(a, b)
    fresh = build_code_classifier(encoder, 10, pretrained=False)
    assert not np.allclose(fresh.get_layer(index=1).get_weights()[0], before[0])
    assert evaluate.predict(fresh, ds.x_val[:5]).shape == (5, 10)
    with pytest.raises(ValueError, match="n_classes"):
        build_code_classifier(encoder, 1)


def test_noise_layers_act_in_training_only(tiny_images):
    keras.utils.set_random_seed(0)
    for kwargs, name in ((dict(noise_std=0.5), "gaussian_noise"), (dict(mask_fraction=0.5), "masking_noise")):
        model = build_dense_autoencoder(64, latent_dim=4, units=8, **kwargs)
        first = model.encoder.get_layer(name)
        np.testing.assert_array_equal(
            keras.ops.convert_to_numpy(first(tiny_images, training=False)), tiny_images
        )
        assert not np.allclose(keras.ops.convert_to_numpy(first(tiny_images, training=True)), tiny_images)


def test_training_noise_is_the_corruption_denoisers_are_tested_on(tiny_images):
    """Clipped to [0, 1] like data.add_gaussian_noise, with the same spread inside that range."""
    keras.utils.set_random_seed(0)
    layer = build_dense_autoencoder(64, latent_dim=4, units=8, noise_std=0.3).encoder.get_layer(
        "gaussian_noise"
    )
    x = np.full((2000, 64), 0.5, dtype="float32")
    trained = keras.ops.convert_to_numpy(layer(x, training=True))
    tested = data.add_gaussian_noise(x, 0.3, seed=0)
    assert trained.min() >= 0.0 and trained.max() <= 1.0
    assert abs(trained.std() - tested.std()) < 0.01 and abs(trained.mean() - tested.mean()) < 0.01


def test_masking_noise_saves_and_loads(tmp_path, tiny_images):
    model = build_dense_autoencoder(64, latent_dim=4, units=8, mask_fraction=0.3)
    model.save(tmp_path / "masking.keras")
    loaded = keras.models.load_model(tmp_path / "masking.keras")
    assert loaded.get_layer("encoder").get_layer("masking_noise").rate == pytest.approx(0.3)
    with pytest.raises(ValueError, match="mask_fraction"):
        build_dense_autoencoder(64, latent_dim=4, mask_fraction=1.0)
    with pytest.raises(ValueError, match="noise_std"):
        build_dense_autoencoder(64, latent_dim=4, noise_std=-1.0)
