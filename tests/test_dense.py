import keras
import numpy as np
import pytest

from lab.models import build_dense_autoencoder
from lab.models.dense import ACTIVATIONS, OPTIMIZERS, layer_widths, make_optimizer


def test_shapes_and_reachable_halves(tiny_images):
    model = build_dense_autoencoder(64, latent_dim=3, num_layers=2, units=16)
    assert model(tiny_images).shape == (64, 64)
    assert model.encoder(tiny_images).shape == (64, 3)
    assert model.decoder(np.zeros((5, 3), "float32")).shape == (5, 64)
    assert model.get_layer("encoder") is model.encoder


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_every_activation_builds_and_is_finite(activation, tiny_images):
    model = build_dense_autoencoder(64, latent_dim=4, units=8, activation=activation)
    assert np.isfinite(keras.ops.convert_to_numpy(model(tiny_images))).all()


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_every_optimizer_builds(name):
    model = build_dense_autoencoder(64, latent_dim=4, units=8, optimizer=name, learning_rate=0.01)
    assert float(keras.ops.convert_to_numpy(model.optimizer.learning_rate)) == pytest.approx(0.01)


def test_momentum_is_sgd_with_momentum():
    assert make_optimizer("momentum").momentum == pytest.approx(0.9)


def test_output_activation_chooses_the_loss(tiny_images):
    sigmoid = build_dense_autoencoder(64, latent_dim=4, units=8, output_activation="sigmoid")
    linear = build_dense_autoencoder(64, latent_dim=4, units=8, output_activation="linear")
    assert sigmoid.loss == "binary_crossentropy"
    assert linear.loss == "mse"
    out = keras.ops.convert_to_numpy(sigmoid(tiny_images))
    assert out.min() >= 0 and out.max() <= 1


def test_width_schedule_sets_layer_sizes():
    model = build_dense_autoencoder(64, latent_dim=4, num_layers=2, units=[32, 16])
    enc = model.encoder
    assert [enc.get_layer(f"enc_{i}").units for i in range(2)] == [32, 16]
    assert [model.decoder.get_layer(f"dec_{i}").units for i in range(2)] == [16, 32]


def test_regularizers_add_losses(tiny_images):
    plain = build_dense_autoencoder(64, latent_dim=4, units=8)
    plain(tiny_images)
    assert not plain.losses
    model = build_dense_autoencoder(64, latent_dim=4, units=8, l1=1e-3, l2=1e-3)
    model(tiny_images)
    assert len(model.losses) >= 2 and all(float(loss) > 0 for loss in model.losses)


def test_dropout_and_batch_norm_layers_are_present():
    model = build_dense_autoencoder(64, latent_dim=4, units=8, dropout=0.2, batch_norm=True)
    kinds = {type(layer).__name__ for layer in model.encoder.layers}
    assert {"Dropout", "BatchNormalization"} <= kinds


def test_learning_rate_decay_is_a_schedule():
    opt = make_optimizer("adam", learning_rate=0.1, lr_decay_rate=0.5, lr_decay_steps=10)
    schedule = opt._learning_rate
    assert float(schedule(10)) == pytest.approx(0.05)


def test_selu_gets_lecun_initialisation():
    model = build_dense_autoencoder(64, latent_dim=4, units=8, activation="selu")
    init = model.encoder.get_layer("enc_0").kernel_initializer
    assert type(init).__name__ == "LecunNormal"


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(latent_dim=64), "latent_dim must be between 1 and 63"),
        (dict(latent_dim=0), "latent_dim must be between"),
        (dict(activation="swish"), "Unknown activation 'swish'"),
        (dict(output_activation="relu"), "output_activation must be"),
        (dict(optimizer="lbfgs"), "Unknown optimizer 'lbfgs'"),
        (dict(dropout=1.0), "dropout must be in"),
        (dict(l1=-1.0), "l1 must be a finite number >= 0"),
        (dict(l2=-1.0), "l2 must be >= 0"),
        (dict(units=[8, 8, 8], num_layers=2), "one width per hidden layer"),
        (dict(learning_rate=0.0), "learning_rate must be a finite number > 0"),
    ],
)
def test_bad_arguments_are_explained(kwargs, message):
    with pytest.raises(ValueError, match=message):
        build_dense_autoencoder(64, **kwargs)


def test_layer_widths():
    assert layer_widths(16, 3) == [16, 16, 16]
    assert layer_widths([8, 4], 2) == [8, 4]
    assert layer_widths(16, 0) == []


def test_save_and_load_round_trip(tmp_path, tiny_images):
    model = build_dense_autoencoder(64, latent_dim=4, units=8)
    path = tmp_path / "ae.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(loaded(tiny_images)),
        keras.ops.convert_to_numpy(model(tiny_images)),
        atol=1e-6,
    )
    assert loaded.get_layer("encoder").output.shape == (None, 4)


def _widths(model):
    return [
        layer.units for layer in model.get_layer("encoder").layers if isinstance(layer, keras.layers.Dense)
    ]


def test_sizes_as_numpy_numbers_or_command_line_strings_mean_what_they_say():
    assert _widths(build_dense_autoencoder(64, units="64", num_layers=2, latent_dim=4)) == [64, 64, 4]
    assert _widths(build_dense_autoencoder(64, units=np.int64(32), num_layers=1, latent_dim=np.int64(4))) == [
        32,
        4,
    ]
    assert _widths(build_dense_autoencoder(64, units=np.array([32, 16]), num_layers=2, latent_dim=4)) == [
        32,
        16,
        4,
    ]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(units="6,4"), "units must be a whole number"),
        (dict(units=32.5), "got 32.5"),
        (dict(units=[32, "wide"]), "each width in units must be a whole number"),
        (dict(l2=float("nan")), "l2 must be a finite number"),
        (dict(l1=float("nan")), "l1 must be a finite number >= 0"),
        (dict(noise_std=float("nan")), "noise_std must be a finite number >= 0"),
        (dict(dropout="a lot"), "dropout must be a finite number"),
        (dict(latent_dim=4.5), "latent_dim must be a whole number"),
        (dict(learning_rate=float("inf")), "learning_rate must be a finite number > 0"),
        (dict(mask_fraction=-0.1), "mask_fraction must be a finite number >= 0 and < 1"),
        (dict(kernel_initializer="bogus"), "Unknown kernel_initializer 'bogus'"),
        (dict(latent_activation="softplus2"), "Unknown latent_activation 'softplus2'"),
        (dict(lr_decay_rate=0.5, lr_decay_steps=0), "lr_decay_steps must be a whole number of 1 or more"),
        (dict(lr_decay_rate=1.5), "lr_decay_rate must be a finite number > 0 and <= 1"),
    ],
)
def test_sizes_and_penalties_of_the_wrong_kind_are_refused(kwargs, message):
    with pytest.raises(ValueError) as info:
        build_dense_autoencoder(64, **{"num_layers": 2, **kwargs})
    assert message in str(info.value)


def test_switches_are_exactly_true_or_false_and_sizes_may_be_numpy_numbers():
    with pytest.raises(ValueError, match="batch_norm must be True or False, got 'False'"):
        build_dense_autoencoder(64, batch_norm="False")
    with pytest.raises(ValueError, match="batch_norm must be True or False, got 0.5"):
        build_dense_autoencoder(64, batch_norm=0.5)
    assert build_dense_autoencoder(np.int64(64), latent_dim=np.int64(4)).output_shape == (None, 64)
    assert build_dense_autoencoder("64").output_shape == (None, 64)
    with pytest.raises(ValueError, match="input_dim must be a whole number of 2 or more, got 64.5"):
        build_dense_autoencoder(64.5)


@pytest.mark.parametrize(
    "output_activation, data, loss",
    [
        ("linear", lambda rng: rng.normal(0, 3, (64, 12)), "mse"),
        ("tanh", lambda rng: rng.uniform(-1, 1, (64, 12)), "mse"),
        ("softmax", lambda rng: np.eye(12)[rng.integers(0, 12, 64)], "categorical_crossentropy"),
    ],
)
def test_outputs_for_other_data_train_on_it(output_activation, data, loss):
    from lab.training import fit_autoencoder

    keras.utils.set_random_seed(0)
    x = data(np.random.default_rng(0)).astype("float32")
    model = build_dense_autoencoder(12, latent_dim=3, units=16, output_activation=output_activation)
    assert model.loss == loss
    result = fit_autoencoder(model, x, x[:16], epochs=5, batch_size=16, seed=0)
    assert result.history["loss"][-1] < result.history["loss"][0]
    out = model.predict(x[:4], verbose=0)
    if output_activation == "tanh":
        assert np.abs(out).max() <= 1
    if output_activation == "softmax":
        np.testing.assert_allclose(out.sum(axis=1), 1, rtol=1e-5)
    with pytest.raises(ValueError, match="scaled to \\[0, 1\\]"):  # pixels in [0, 1] stay checked
        fit_autoencoder(build_dense_autoencoder(12, latent_dim=3, units=16), x * 10 + 5, epochs=1)


def test_l1_on_the_weights_is_a_weight_penalty_not_a_code_penalty(tiny_images):
    from lab.training import fit_autoencoder

    keras.utils.set_random_seed(0)
    model = build_dense_autoencoder(64, latent_dim=4, units=16, l1_weights=1e-3, learning_rate=1e-2)
    model(tiny_images)
    assert len(model.losses) == 6  # one per weight matrix: 3 in the encoder, 3 in the decoder
    keras.utils.set_random_seed(0)
    plain = build_dense_autoencoder(64, latent_dim=4, units=16, learning_rate=1e-2)
    for m in (model, plain):
        fit_autoencoder(m, tiny_images, epochs=30, batch_size=16, seed=0)
    small = [np.mean(np.abs(m.encoder.get_layer("enc_0").kernel.numpy()) < 1e-3) for m in (model, plain)]
    assert small[0] > small[1]  # more weights driven to (near) zero
    with pytest.raises(ValueError, match="l1_weights must be a finite number >= 0"):
        build_dense_autoencoder(64, l1_weights=-1)


@pytest.mark.parametrize(
    "schedule, at_half, at_end",
    [("exponential", 0.5**0.5, 0.5), ("step", 1.0, 0.5), ("cosine", 0.5, 0.0)],
)
def test_learning_rate_schedules_have_their_shapes(schedule, at_half, at_end):
    optimizer = make_optimizer(
        "adam", learning_rate=1.0, lr_decay_rate=0.5, lr_decay_steps=100, lr_schedule=schedule
    )
    rate = optimizer._learning_rate  # the schedule object
    assert float(rate(0)) == pytest.approx(1.0)
    assert float(rate(50)) == pytest.approx(at_half, abs=1e-6)
    assert float(rate(100)) == pytest.approx(at_end, abs=1e-6)
    with pytest.raises(ValueError, match="lr_schedule must be one of"):
        make_optimizer("adam", lr_decay_rate=0.5, lr_schedule="linear")
