import keras
import numpy as np
import pytest

from lab import data, evaluate
from lab.models import build_dense_autoencoder
from lab.training import fit_autoencoder


@pytest.fixture(scope="module")
def digits():
    return data.load_dataset("digits", max_train=400, max_eval=200)


def test_reconstruction_errors_are_per_example(tiny_images):
    model = build_dense_autoencoder(64, latent_dim=4, units=8)
    errors = evaluate.reconstruction_errors(model, tiny_images)
    assert errors.shape == (64,) and np.all(errors >= 0)
    assert evaluate.reconstruction_error(model, tiny_images) == pytest.approx(errors.mean())
    assert evaluate.encode(model, tiny_images).shape == (64, 4)


def test_pca_error_falls_with_more_components(digits):
    errors = [
        evaluate.pca_reconstruction_errors(evaluate.fit_pca(digits.x_train, k), digits.x_val).mean()
        for k in (2, 8, 32)
    ]
    assert errors[0] > errors[1] > errors[2] > 0
    with pytest.raises(ValueError, match="latent_dim"):
        evaluate.fit_pca(digits.x_train, 0)


def test_linear_probe_beats_chance_on_pixels_and_not_on_noise(digits):
    accuracy = evaluate.linear_probe_accuracy(digits.x_train, digits.y_train, digits.x_val, digits.y_val)
    assert accuracy > 0.8
    rng = np.random.default_rng(0)
    noise = evaluate.linear_probe_accuracy(
        rng.random((400, 4)), digits.y_train, rng.random((200, 4)), digits.y_val
    )
    assert noise < 0.3
    with pytest.raises(ValueError, match="two classes"):
        evaluate.linear_probe_accuracy(digits.x_train, np.zeros(400), digits.x_val, digits.y_val)


def test_trained_autoencoder_reconstructs_better_than_untrained(digits):
    keras.utils.set_random_seed(0)
    model = build_dense_autoencoder(64, latent_dim=8, units=64, learning_rate=3e-3)
    before = evaluate.reconstruction_error(model, digits.x_val)
    fit_autoencoder(model, digits.x_train, digits.x_val, epochs=15, batch_size=32)
    assert evaluate.reconstruction_error(model, digits.x_val) < 0.7 * before


def test_mean_image_error_is_what_a_constant_model_scores(digits):
    baseline = evaluate.mean_image_error(digits.x_train, digits.x_val)
    assert baseline == pytest.approx(np.mean((digits.x_val - digits.x_train.mean(0)) ** 2))


def test_code_sparsity():
    assert evaluate.code_sparsity(np.array([[0.0, 0.5], [0.001, 2.0]])) == 0.5


def test_denoising_error_uses_the_target(tiny_images):
    model = build_dense_autoencoder(64, latent_dim=4, units=8)
    same = evaluate.reconstruction_error(model, tiny_images)
    other = evaluate.reconstruction_error(model, tiny_images, np.zeros_like(tiny_images))
    assert same != pytest.approx(other)


def test_roc_threshold_and_rates_on_separable_scores():
    scores = np.array([0.1, 0.2, 0.3, 0.8, 0.9])
    is_anomaly = np.array([False, False, False, True, True])
    curve = evaluate.roc(scores, is_anomaly)
    assert curve["auc"] == pytest.approx(1.0)
    threshold = evaluate.choose_threshold(scores, is_anomaly)
    assert 0.3 < threshold <= 0.8
    assert evaluate.detection_rates(scores, is_anomaly, threshold) == dict(tpr=1.0, fpr=0.0, precision=1.0)
    with pytest.raises(ValueError, match="both normal and anomalous"):
        evaluate.roc(scores, np.zeros(5, bool))


def test_roc_and_thresholds_refuse_scores_and_labels_they_cannot_use():
    scores = np.array([0.1, 0.2, 0.3, 0.8, 0.9])
    with pytest.raises(ValueError, match="1 of the 5 anomaly scores are NaN or infinite"):
        evaluate.roc(np.r_[scores[:4], np.nan], np.array([0, 0, 0, 1, 1]))
    with pytest.raises(ValueError, match="is_anomaly must be True/False .* got the values \\[0, 2\\]"):
        evaluate.roc(scores, np.array([0, 0, 0, 2, 2]))
    with pytest.raises(ValueError, match="5 scores for 4 labels"):
        evaluate.roc(scores, np.array([0, 0, 1, 1]))
    with pytest.raises(ValueError, match="normal scores are NaN or infinite"):
        evaluate.normal_threshold(np.array([0.1, np.inf, 0.2]))
    assert evaluate.roc(scores, np.array([0, 0, 0, 1, 1]))["auc"] == pytest.approx(1.0)
