import keras
import numpy as np
import pytest

from lab.models import build_dense_autoencoder
from lab.training import fit_autoencoder, fit_with_keras


def _model(**kwargs):
    keras.utils.set_random_seed(0)
    return build_dense_autoencoder(64, latent_dim=4, units=16, learning_rate=1e-2, **kwargs)


def test_a_few_epochs_lower_the_loss(tiny_images):
    result = fit_autoencoder(_model(), tiny_images, tiny_images[:16], epochs=8, batch_size=16, patience=None)
    loss = result.history["loss"]
    assert loss[-1] < loss[0]
    assert result.epochs_trained == 8 and len(result.history["val_loss"]) == 8
    assert set(result.history) >= {"loss", "mse", "val_loss", "val_mse"}
    assert np.isfinite(result.best_val_loss)
    assert result.seconds > 0


def test_history_matches_keras_evaluate(tiny_images):
    model = _model()
    result = fit_autoencoder(
        model, tiny_images, tiny_images[:16], epochs=2, batch_size=64, restore_best=False
    )
    val = model.evaluate(tiny_images[:16], tiny_images[:16], verbose=0, return_dict=True)
    assert result.history["val_loss"][-1] == pytest.approx(val["loss"], rel=1e-4)


def test_early_stopping_stops_and_restores_the_best_weights(tiny_images):
    model = _model()
    seen = []

    def remember(epoch, logs):
        seen.append((epoch, logs["val_loss"], model.get_weights()))

    # A zero learning rate after a few steps would be too subtle; patience=1 on a
    # noisy tiny problem stops well before 200 epochs.
    result = fit_autoencoder(
        model,
        tiny_images,
        tiny_images[:8],
        epochs=200,
        batch_size=8,
        patience=1,
        on_epoch_end=remember,
    )
    assert result.stopped_early and result.epochs_trained < 200
    assert len(seen) == result.epochs_trained
    best = min(seen, key=lambda item: item[1])
    assert best[0] == result.best_epoch
    for restored, kept in zip(model.get_weights(), best[2], strict=True):
        np.testing.assert_array_equal(restored, kept)


def test_same_seed_same_curve(tiny_images):
    a = fit_autoencoder(_model(), tiny_images, tiny_images[:16], epochs=3, seed=5)
    b = fit_autoencoder(_model(), tiny_images, tiny_images[:16], epochs=3, seed=5)
    assert a.history["loss"] == pytest.approx(b.history["loss"])


def test_divergence_is_reported_not_raised(tiny_images):
    keras.utils.set_random_seed(0)
    model = build_dense_autoencoder(
        64, latent_dim=4, units=16, output_activation="linear", optimizer="sgd", learning_rate=1e6
    )
    result = fit_autoencoder(model, tiny_images, tiny_images[:16], epochs=20, batch_size=8)
    assert result.diverged
    assert result.epochs_trained < 20


def test_trains_without_validation_data(tiny_images):
    result = fit_autoencoder(_model(), tiny_images, epochs=2, patience=None)
    assert "val_loss" not in result.history and result.epochs_trained == 2


def test_regularized_model_trains(tiny_images):
    model = _model(dropout=0.1, batch_norm=True, l1=1e-4, l2=1e-4)
    result = fit_autoencoder(model, tiny_images, tiny_images[:16], epochs=3, batch_size=16)
    assert np.isfinite(result.history["loss"]).all()


def test_uncompiled_model_and_bad_budget_are_explained(tiny_images):
    raw = keras.Sequential([keras.Input((64,)), keras.layers.Dense(64)])
    with pytest.raises(ValueError, match="Compile the model"):
        fit_autoencoder(raw, tiny_images)
    with pytest.raises(ValueError, match="epochs must be a whole number of 1 or more, got 0"):
        fit_autoencoder(_model(), tiny_images, epochs=0)


@pytest.mark.parametrize(
    "kwargs, words",
    [
        (dict(epochs="three"), "epochs must be a whole number of 1 or more, got 'three' (str)"),
        (dict(epochs=2.5), "got 2.5 (float)"),
        (dict(batch_size=0), "batch_size must be a whole number of 1 or more, got 0"),
        (dict(batch_size=None), "batch_size must be a whole number"),
        (dict(patience=True), "patience must be a whole number or None, got True (bool)"),
        (dict(patience="soon"), "None trains every epoch"),
        (dict(seed=-1), "seed must be a whole number from 0"),
        (dict(initial_epoch=1.5), "initial_epoch must be a whole number"),
    ],
)
def test_training_budgets_of_the_wrong_type_are_named(tiny_images, kwargs, words):
    with pytest.raises(ValueError) as info:
        fit_autoencoder(_model(), tiny_images, tiny_images[:16], **{"epochs": 2, **kwargs})
    assert words in str(info.value)


def test_budgets_from_a_command_line_are_converted(tiny_images):
    result = fit_autoencoder(
        _model(), tiny_images, tiny_images[:16], epochs="2", batch_size="32", patience="None"
    )
    assert result.epochs_trained == 2


@pytest.mark.parametrize("patience", [0, -1, -10])
def test_a_patience_below_one_is_refused_in_words(tiny_images, patience):
    with pytest.raises(ValueError, match=r"patience must be at least 1 .* use patience=None"):
        fit_autoencoder(_model(), tiny_images, tiny_images[:16], epochs=2, patience=patience)
    with pytest.raises(ValueError, match="x_train is empty"):
        fit_autoencoder(_model(), tiny_images[:0], tiny_images[:16], epochs=2)


@pytest.mark.parametrize("batch_size", [10_000, 2**31, 2**40])
def test_a_batch_larger_than_the_data_is_one_full_batch_not_an_empty_epoch(tiny_images, batch_size):
    full = fit_autoencoder(_model(), tiny_images, tiny_images[:16], epochs=3, batch_size=len(tiny_images))
    huge = fit_autoencoder(_model(), tiny_images, tiny_images[:16], epochs=3, batch_size=batch_size)
    assert huge.history["loss"] == pytest.approx(full.history["loss"]) and min(huge.history["loss"]) > 0
    assert huge.history["loss"][-1] < huge.history["loss"][0], "the model trained"


def test_keras_fit_comparison_reports_the_same_fields(tiny_images):
    result = fit_with_keras(_model(), tiny_images, tiny_images[:16], epochs=2, batch_size=32)
    assert result.epochs_trained == 2 and len(result.history["val_loss"]) == 2


def test_data_a_fit_cannot_use_is_refused(tiny_images):
    with pytest.raises(ValueError, match="x_val is empty: pass x_val=None"):
        fit_autoencoder(_model(), tiny_images, tiny_images[:0], epochs=1)
    with pytest.raises(ValueError, match="The training targets hold 3 rows for"):
        fit_autoencoder(_model(), tiny_images, y_train=tiny_images[:3], epochs=1)
    with pytest.raises(ValueError, match="The training images run from 5 to 186; .* scaled to \\[0, 1\\]"):
        fit_autoencoder(_model(), np.round(tiny_images * 255), epochs=1)
    with pytest.raises(ValueError, match="The validation images run from -0.95"):
        fit_autoencoder(_model(), tiny_images, tiny_images[:16] - 1, epochs=1)


def test_data_of_the_wrong_shape_is_refused_before_training(tiny_images):
    model = _model()
    with pytest.raises(ValueError, match="The training images have shape \\(64,\\); give a 2-D array"):
        fit_autoencoder(model, tiny_images[0], epochs=1)
    with pytest.raises(
        ValueError, match="The validation images are 10 values wide, but the model's input is 64"
    ):
        fit_autoencoder(model, tiny_images, tiny_images[:, :10], epochs=1)
    with pytest.raises(
        ValueError, match="validation targets are 10 values wide.*leave y_train and y_val unset"
    ):
        fit_autoencoder(model, tiny_images, tiny_images, y_val=tiny_images[:, :10], epochs=1)
    assert model.optimizer.iterations.numpy() == 0  # refused before any step


def test_keras_style_arguments_are_answered_in_words(tiny_images):
    model = _model()
    with pytest.raises(TypeError, match="x_val is a tuple; give the validation images alone"):
        fit_autoencoder(model, tiny_images, (tiny_images, tiny_images), epochs=1)
    with pytest.raises(ValueError, match="y_val was given but x_val is None"):
        fit_autoencoder(model, tiny_images, None, y_val=tiny_images, epochs=1)
    with pytest.raises(ValueError, match="targets are class labels .* leave y_train and y_val unset"):
        fit_autoencoder(model, tiny_images, y_train=np.arange(len(tiny_images)) % 10, epochs=1)
    with pytest.raises(TypeError, match="on_epoch_end must be a function"):
        fit_autoencoder(model, tiny_images, on_epoch_end=5, epochs=1)
    with pytest.raises(ValueError, match="restore_best must be True or False, got 'False'"):
        fit_autoencoder(model, tiny_images, restore_best="False", epochs=1)
    with pytest.raises(ValueError, match="hold 3 NaN pixels; replace or drop them"):
        fit_autoencoder(
            model,
            np.where(np.arange(tiny_images.size).reshape(tiny_images.shape) < 3, np.nan, tiny_images),
            epochs=1,
        )
    assert model.optimizer.iterations.numpy() == 0


def test_reduce_on_plateau_halves_the_rate_when_the_validation_loss_stalls(tiny_images):
    keras.utils.set_random_seed(0)
    model = build_dense_autoencoder(64, latent_dim=4, units=16, learning_rate=5e-2)
    result = fit_autoencoder(
        model, tiny_images, tiny_images[:16], epochs=40, patience=None, lr_plateau=(0.5, 1), seed=0
    )
    rates = result.history["learning_rate"]
    assert len(rates) == 40 and rates[0] == pytest.approx(5e-2)
    steps = list(zip(rates, rates[1:], strict=False))
    assert min(rates) < rates[0] and all(b == a or b == pytest.approx(a / 2) for a, b in steps)
    assert "learning_rate" not in fit_autoencoder(_model(), tiny_images, epochs=2).history
    for bad, words in [
        ((2.0, 3), "factor must be a finite number > 0 and < 1"),
        ((0.5, 0), "patience must be"),
        ("half", "must be \\(factor, patience\\)"),
    ]:
        with pytest.raises(ValueError, match=words):
            fit_autoencoder(_model(), tiny_images, epochs=2, lr_plateau=bad)
    with pytest.raises(ValueError, match="needs a constant learning rate"):
        fit_autoencoder(_model(lr_decay_rate=0.5), tiny_images, epochs=2, lr_plateau=(0.5, 2))
