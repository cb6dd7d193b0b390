import keras
import numpy as np
import pytest

from lab import data, evaluate
from lab.models import build_conv_autoencoder, build_dense_autoencoder
from lab.models.conv import conv_shapes
from lab.training import fit_autoencoder


@pytest.fixture(scope="module")
def digits():
    return data.load_dataset("digits", max_train=300, max_eval=100)


@pytest.mark.parametrize("image_shape, layers", [((8, 8), 2), ((28, 28), 2), ((28, 28), 3), ((7, 9), 2)])
def test_rows_in_rows_out_with_the_code_in_between(image_shape, layers):
    model = build_conv_autoencoder(image_shape, latent_dim=4, conv_layers=layers, filters=4)
    pixels = image_shape[0] * image_shape[1]
    x = np.random.default_rng(0).random((3, pixels)).astype("float32")
    out = evaluate.predict(model, x)
    assert out.shape == (3, pixels) and out.min() >= 0 and out.max() <= 1
    assert evaluate.encode(model, x).shape == (3, 4)
    assert model.decoder(np.zeros((1, 4), "float32")).shape == (1, pixels)
    # Each stride-2 convolution halves the map, rounding up; the decoder crops the excess.
    assert conv_shapes(image_shape, layers)[-1] == tuple(
        model.encoder.get_layer(f"enc_conv_{layers - 1}").output.shape[1:3]
    )


def test_filters_double_with_depth_and_the_decoder_mirrors_them():
    model = build_conv_autoencoder((28, 28), conv_layers=3, filters=8)
    assert [model.encoder.get_layer(f"enc_conv_{i}").filters for i in range(3)] == [8, 16, 32]
    assert [model.decoder.get_layer(f"dec_deconv_{i}").filters for i in range(3)] == [16, 8, 8]


def test_a_few_epochs_lower_the_loss_on_digits(digits):
    keras.utils.set_random_seed(0)
    model = build_conv_autoencoder(digits.image_shape, latent_dim=8, filters=8, learning_rate=3e-3)
    before = evaluate.reconstruction_error(model, digits.x_val)
    result = fit_autoencoder(model, digits.x_train, digits.x_val, epochs=5, batch_size=32, seed=0)
    assert result.history["loss"][-1] < result.history["loss"][0]
    assert evaluate.reconstruction_error(model, digits.x_val) < before


def test_fewer_weights_than_a_dense_model_of_the_same_code():
    conv = build_conv_autoencoder((8, 8), latent_dim=8, filters=16)
    dense = build_dense_autoencoder(64, latent_dim=8, units=256)
    assert conv.count_params() < dense.count_params()


@pytest.mark.parametrize(
    "kwargs, words",
    [
        (dict(image_shape=64), "image_shape must be (height, width)"),
        (dict(image_shape=(8,)), "image_shape must be (height, width)"),
        (dict(image_shape=(8, 8), kernel_size=4), "kernel_size must be odd"),
        (dict(image_shape=(8, 8), conv_layers=4), "too many; use fewer conv_layers"),
        (dict(image_shape=(8, 8), latent_dim=64), "latent_dim must be a whole number from 1 to 63"),
        (dict(image_shape=(8, 8), filters=2.5), "filters must be a whole number"),
        (dict(image_shape=(8, 8), activation="gelu"), "Unknown activation 'gelu'"),
    ],
)
def test_bad_settings_are_named(kwargs, words):
    with pytest.raises((TypeError, ValueError)) as info:
        build_conv_autoencoder(**kwargs)
    assert words in str(info.value)


def test_the_weight_count_of_a_dense_model_matches_keras():
    from lab.models.dense import weight_count

    for widths in ([], [32], [256, 64]):
        model = build_dense_autoencoder(64, latent_dim=8, num_layers=len(widths), units=widths or 16)
        assert weight_count(64, 8, widths) == model.count_params()


def test_the_reference_conv_model_trains_on_mnist_shaped_data(tmp_path, monkeypatch):
    from lab import config, sweeps

    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    rng = np.random.default_rng(0)
    arrays = dict(
        x_train=rng.integers(0, 256, (60, 28, 28), dtype=np.uint8),
        y_train=np.arange(60, dtype=np.uint8) % 10,
        x_test=rng.integers(0, 256, (30, 28, 28), dtype=np.uint8),
        y_test=np.arange(30, dtype=np.uint8) % 10,
    )
    (tmp_path / "datasets").mkdir()
    np.savez(tmp_path / "datasets" / "mnist.npz", **arrays)
    ds = data.load_dataset("mnist", download=False)
    run = sweeps.train_conv(ds, config.preset("quick", dataset="mnist"), epochs=1)
    assert ds.image_shape == (28, 28) and run.model.output_shape == (None, 784)
    assert run.result.epochs_trained == 1


def test_the_matching_width_gives_a_dense_model_of_about_the_same_size():
    from lab.models.dense import matching_width, weight_count

    conv = build_conv_autoencoder((8, 8), latent_dim=8, filters=16).count_params()
    width = matching_width(conv, 64, 8, 2)
    assert abs(weight_count(64, 8, [width] * 2) - conv) < abs(weight_count(64, 8, [width + 4] * 2) - conv)
    assert abs(weight_count(64, 8, [width] * 2) - conv) < abs(weight_count(64, 8, [width - 4] * 2) - conv)
