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
    accuracy = evaluate.linear_probe_accuracy(
        digits.x_train, digits.y_train, digits.x_val, digits.y_val
    )
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
