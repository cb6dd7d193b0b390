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


@pytest.fixture(scope="module")
def scored(digits):
    model = build_dense_autoencoder(64, latent_dim=4, units=8)
    scores = evaluate.reconstruction_errors(model, digits.x_val)
    return model, scores, np.isin(digits.y_val, [7])


def test_detection_rates_refuse_what_roc_refuses(digits, scored):
    _, scores, flags = scored
    with pytest.raises(ValueError, match="is_anomaly must be True/False .* np.isin"):
        evaluate.detection_rates(scores, digits.y_val, 0.05)
    with pytest.raises(ValueError, match="threshold must be a finite number, got nan"):
        evaluate.detection_rates(scores, flags, float("nan"))
    with pytest.raises(ValueError, match="anomaly scores are NaN or infinite"):
        evaluate.detection_rates(np.where(flags, np.nan, scores), flags, 0.05)
    with pytest.raises(ValueError, match="needs both normal and anomalous examples"):
        evaluate.detection_rates(scores, np.zeros_like(flags), 0.05)
    rates = evaluate.detection_rates(scores, flags, float(np.median(scores)))
    assert 0 <= rates["tpr"] <= 1 and 0 <= rates["fpr"] <= 1


@pytest.mark.parametrize(
    "call, error, words",
    [
        (
            lambda m, d: evaluate.reconstruction_errors(m, d.x_val, d.x_val[0]),
            ValueError,
            "target has shape (64,)",
        ),
        (
            lambda m, d: evaluate.reconstruction_errors(m, d.x_val, d.x_val[:10]),
            ValueError,
            "one target image per",
        ),
        (
            lambda m, d: evaluate.reconstruction_error(m, np.round(d.x_val * 255)),
            ValueError,
            "run from 0 to 255",
        ),
        (
            lambda m, d: evaluate.reconstruction_error(m, d.x_val[:, :32]),
            ValueError,
            "32 values wide, but the model",
        ),
        (lambda m, d: evaluate.reconstruction_error(m, d.x_val[:0]), ValueError, "x is empty"),
        (lambda m, d: evaluate.predict(m, d.x_val[0]), ValueError, "give a 2-D array"),
        (lambda m, d: evaluate.elbo(m, d.x_val), TypeError, "elbo needs a VAE"),
        (lambda m, d: evaluate.kl_per_unit(m, d.x_val), TypeError, "kl_per_unit needs a VAE"),
        (lambda m, d: evaluate.mean_image_error(d.x_train, d.x_val[:, :32]), ValueError, "of the same width"),
        (
            lambda m, d: evaluate.code_sparsity(d.x_val, tol=-1),
            ValueError,
            "tol must be a finite number >= 0",
        ),
        (lambda m, d: evaluate.precision_at_share(1.5, 0.1, 0.01), ValueError, "tpr must be a finite number"),
        (lambda m, d: evaluate.precision_at_share(0.9, 0.1, "a lot"), ValueError, "share must be a finite"),
        (lambda m, d: evaluate.normal_threshold(np.ones((4, 2)), 0.05), ValueError, "one score per image"),
        (lambda m, d: evaluate.normal_threshold(np.ones(4), "5%"), ValueError, "false_alarm_rate must be"),
        (
            lambda m, d: evaluate.fit_pca(d.x_train, 4, seed=-1),
            ValueError,
            "seed must be a whole number from 0",
        ),
        (
            lambda m, d: evaluate.pca_reconstruction_errors(evaluate.fit_pca(d.x_train, 4), d.x_val[:, :32]),
            ValueError,
            "fitted on 64",
        ),
        (
            lambda m, d: evaluate.linear_probe_accuracy(d.x_train, d.y_train, d.x_val, d.y_val + 100),
            ValueError,
            "y_eval holds classes [100",
        ),
        (
            lambda m, d: evaluate.linear_probe_accuracy(d.x_train, d.y_train[:50], d.x_val, d.y_val),
            ValueError,
            "codes for 50 labels",
        ),
        (
            lambda m, d: evaluate.linear_probe_accuracy(d.x_train * np.nan, d.y_train, d.x_val, d.y_val),
            ValueError,
            "NaN or infinite codes",
        ),
    ],
)
def test_evaluation_helpers_refuse_data_they_cannot_measure(digits, scored, call, error, words):
    with pytest.raises(error) as info:
        call(scored[0], digits)
    assert words in str(info.value)


def test_the_cross_entropy_floor_takes_scaled_images_only(digits):
    assert evaluate.bce_floor(digits.x_val) > 0
    with pytest.raises(ValueError, match="give a 2-D array"):
        evaluate.bce_floor(digits.x_val[0])
    with pytest.raises(ValueError, match="run from 0 to 16"):
        evaluate.bce_floor(digits.x_val * 16)
