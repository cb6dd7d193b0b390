"""Fitting autoencoders quickly on a small CPU, with early stopping and honest epoch counts.

`fit_autoencoder` runs each epoch as one compiled TensorFlow function that loops
over the batches and calls the model's own `train_step` (and `test_step` for the
validation split). The loss, metrics, regularization penalties and any custom
`train_step` are Keras's own; what goes away is `model.fit`'s per-batch Python
overhead, which dominates for models this small (see benchmarks/training_speed.py).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from lab import checks
from lab._backend import keras, tf

EpochCallback = Callable[[int, dict[str, float]], None]


@dataclass
class FitResult:
    """What one training run produced."""

    history: dict[str, list[float]] = field(default_factory=dict)
    epochs_trained: int = 0
    best_epoch: int = 0
    stopped_early: bool = False
    diverged: bool = False
    seconds: float = 0.0

    @property
    def best_val_loss(self) -> float:
        """The lowest validation loss seen (NaN if there was none)."""
        values = [v for v in self.history.get("val_loss", []) if math.isfinite(v)]
        return min(values) if values else float("nan")


def fit_autoencoder(
    model: keras.Model,
    x_train: np.ndarray,
    x_val: np.ndarray | None = None,
    *,
    y_train: np.ndarray | None = None,
    y_val: np.ndarray | None = None,
    epochs: int = 100,
    initial_epoch: int = 0,
    batch_size: int = 32,
    patience: int | None = 10,
    restore_best: bool = True,
    seed: int = 0,
    on_epoch_end: EpochCallback | None = None,
    lr_plateau: tuple[float, int] | None = None,
) -> FitResult:
    """Train a compiled model, stopping early when the validation loss stops improving.

    Args:
        model: a compiled Keras model (its optimizer, loss and metrics are used).
        x_train: training inputs.
        x_val: validation inputs; needed for early stopping.
        y_train: training targets; defaults to `x_train` (an autoencoder).
        y_val: validation targets; defaults to `x_val`.
        epochs: the epoch to train up to (as in `model.fit`): with
            `initial_epoch`, the run trains epochs `initial_epoch + 1` to `epochs`.
        initial_epoch: the epochs already trained, when continuing a model
            (Hyperband does); epoch numbers and schedules continue from it.
        batch_size: examples per gradient step; one larger than the training data
            trains one full batch per epoch.
        patience: stop after this many epochs without a lower validation loss;
            None trains for all `epochs`.
        restore_best: put back the weights of the best validation epoch.
        seed: fixes the shuffling order.
        lr_plateau: `(factor, patience)` to multiply the learning rate by `factor` whenever
            the validation loss has not improved for `patience` epochs (reduce on plateau,
            like Keras's `ReduceLROnPlateau`); the rate of each epoch is kept in the history
            as `learning_rate`. Needs a constant learning rate, not a schedule.
        on_epoch_end: called as `on_epoch_end(epoch, logs)` after every epoch,
            for live plots.

    A model may define `begin_epoch(epoch)` (called before each epoch, for
    schedules such as KL warm-up), `in_warmup` (epochs during which early
    stopping neither counts nor keeps weights) and `build_optimizers()` (for
    models trained by several optimizers).

    Returns:
        A `FitResult`: per-epoch history (`loss`, `val_loss` and every metric),
        the epochs actually trained in this call, the best epoch (1-based,
        counted from the model's first epoch), whether training
        stopped early or diverged (a NaN or infinite loss), and the wall time.
    """
    epochs = checks.integer(epochs, "epochs", minimum=1)
    seed = checks.integer(seed, "seed", minimum=0, maximum=checks.MAX_SEED, optional=True)
    initial_epoch = checks.integer(initial_epoch, "initial_epoch", minimum=0)
    batch_size = checks.integer(batch_size, "batch_size", minimum=1)
    restore_best = checks.boolean(restore_best, "restore_best")
    patience = checks.integer(patience, "patience", optional=True, hint="None trains every epoch.")
    if patience is not None and patience < 1:
        raise ValueError(
            f"patience must be at least 1 (epochs without improvement before stopping), got {patience}; "
            "use patience=None to train every epoch"
        )
    if isinstance(x_val, tuple):
        raise TypeError(
            "x_val is a tuple; give the validation images alone (fit_autoencoder reconstructs them), "
            "and other targets as y_val=..."
        )
    if x_val is None and y_val is not None:
        raise ValueError("y_val was given but x_val is None: give the validation images as x_val as well.")
    if on_epoch_end is not None and not callable(on_epoch_end):
        raise TypeError(f"on_epoch_end must be a function of (epoch, logs), got {on_epoch_end!r}.")
    if x_train is None or len(x_train) == 0:
        raise ValueError("x_train is empty: there is nothing to train on")
    if x_val is not None and len(x_val) == 0:
        raise ValueError("x_val is empty: pass x_val=None to train without a validation split")
    for name, x, y in (("training", x_train, y_train), ("validation", x_val, y_val)):
        if x is not None and y is not None and len(y) != len(x):
            raise ValueError(f"The {name} targets hold {len(y)} rows for {len(x)} inputs; give one each.")
        if x is not None:
            _check_shape(model, np.asarray(x), "input", name)
        if y is not None:
            _check_shape(model, np.asarray(y), "output", name)
        if x is not None and y is None and expects_unit_range(model):
            _check_pixels(np.asarray(x), name)
    # A batch larger than the data is one full-batch step per epoch; clamping also keeps
    # the loop's int32 batch bounds from overflowing for absurd sizes (2**31 and up).
    batch_size = min(int(batch_size), len(x_train))
    if not 0 <= initial_epoch < epochs:
        raise ValueError(f"initial_epoch must be in [0, epochs), got {initial_epoch} with epochs={epochs}")
    if getattr(model, "optimizer", None) is None:
        raise ValueError("Compile the model before fitting it (the builders in lab.models do).")
    if lr_plateau is not None:
        if isinstance(lr_plateau, (str, bytes)) or not hasattr(lr_plateau, "__len__") or len(lr_plateau) != 2:
            raise ValueError(f"lr_plateau must be (factor, patience), such as (0.5, 3), got {lr_plateau!r}")
        factor = checks.number(lr_plateau[0], "the lr_plateau factor", above=0, below=1)
        plateau_patience = checks.integer(lr_plateau[1], "the lr_plateau patience", minimum=1)
        if isinstance(model.optimizer._learning_rate, keras.optimizers.schedules.LearningRateSchedule):
            raise ValueError(
                "lr_plateau needs a constant learning rate, but this model's optimizer follows a schedule; "
                "build it without lr_schedule or lr_decay_rate."
            )
    start = time.perf_counter()
    y_train = x_train if y_train is None else y_train
    if x_val is not None and y_val is None:
        y_val = x_val

    xt, yt = tf.constant(x_train), tf.constant(y_train)
    _build_state(model, xt[:2], yt[:2])
    validation = None if x_val is None else (tf.constant(x_val), tf.constant(y_val))
    run_epoch = _epoch_function(model, (xt, yt), validation, batch_size)

    rng = np.random.default_rng(seed)
    result = FitResult()
    best, best_weights, waited = math.inf, None, 0
    plateau_best, plateau_waited = math.inf, 0
    for epoch in range(initial_epoch + 1, epochs + 1):
        if hasattr(model, "begin_epoch"):
            # Per-epoch schedules inside the model, such as the VAE's KL warm-up.
            model.begin_epoch(epoch)
        train_logs, val_logs = run_epoch(tf.constant(rng.permutation(len(x_train)), tf.int32))
        logs = {k: float(v) for k, v in train_logs.items()}
        logs.update({f"val_{k}": float(v) for k, v in val_logs.items()})
        for key, value in logs.items():
            result.history.setdefault(key, []).append(value)
        result.epochs_trained = epoch - initial_epoch
        if on_epoch_end is not None:
            on_epoch_end(epoch, logs)

        monitored = logs.get("val_loss", logs["loss"])
        if not all(math.isfinite(v) for v in logs.values()):
            result.diverged = True
            break
        if lr_plateau is not None:
            result.history.setdefault("learning_rate", []).append(float(model.optimizer.learning_rate))
            if monitored < plateau_best:
                plateau_best, plateau_waited = monitored, 0
            else:
                plateau_waited += 1
                if plateau_waited >= plateau_patience:
                    model.optimizer.learning_rate = float(model.optimizer.learning_rate) * factor
                    plateau_waited = 0
        if getattr(model, "in_warmup", False):
            # While a model's loss is still being reweighted (KL warm-up), its values do
            # not compare across epochs: neither count patience nor keep a best.
            continue
        if monitored < best:
            best, waited, result.best_epoch = monitored, 0, epoch
            if restore_best:
                best_weights = model.get_weights()
        else:
            waited += 1
            if patience is not None and waited >= patience:
                result.stopped_early = True
                break

    if restore_best and best_weights is not None:
        model.set_weights(best_weights)
    result.seconds = time.perf_counter() - start
    return result


def _width(model: keras.Model, side: str) -> int | None:
    """The model's input or output width, or None when it does not have one fixed width."""
    try:
        shape = model.input_shape if side == "input" else model.output_shape
    except (AttributeError, ValueError, RuntimeError):
        return None
    if isinstance(shape, tuple) and len(shape) == 2 and isinstance(shape[1], int):
        return shape[1]
    return None


def _check_shape(model: keras.Model, x: np.ndarray, side: str, name: str) -> None:
    """Inputs and targets are tables of flattened images, one row each, as wide as the model's ends."""
    what = "images" if side == "input" else "targets"
    if side == "output" and x.ndim == 1 and x.dtype.kind in "iu":
        if "sparse" in str(getattr(model, "loss", "")):
            return  # class labels for a classifier's sparse loss
        raise ValueError(
            f"The {name} targets are class labels (shape {x.shape}), but this model reconstructs images; "
            "leave y_train and y_val unset to train an autoencoder "
            "(labels are for the probe and classifiers)."
        )
    if x.ndim != 2:
        raise ValueError(
            f"The {name} {what} have shape {x.shape}; give a 2-D array, one flattened image per row "
            "(for one image, x[None, :] or x.reshape(1, -1))."
        )
    width = _width(model, side)
    if width is not None and x.shape[1] != width:
        raise ValueError(
            f"The {name} {what} are {x.shape[1]} values wide, but the model's {side} is {width} wide; "
            + (
                f"build the model for this data (input_dim={x.shape[1]}) or pass the matching data."
                if side == "input"
                else "an autoencoder's targets are images as wide as its inputs (leave y_train and y_val "
                "unset to reconstruct the inputs themselves)."
            )
        )


def expects_unit_range(model: keras.Model) -> bool:
    """True for models whose loss needs targets in [0, 1]: binary cross-entropy (the book's pixels)
    and the VAE and AAE, which use it inside; False for MSE or softmax outputs."""
    loss = getattr(model, "loss", None)
    return loss == "binary_crossentropy" or hasattr(model, "terms") or hasattr(model, "discriminator")


def _check_pixels(x: np.ndarray, name: str) -> None:
    """An autoencoder's images must be scaled to [0, 1], as its sigmoid output and loss assume."""
    if x.dtype.kind == "f" and np.isnan(x).any():
        raise ValueError(
            f"The {name} images hold {int(np.isnan(x).sum())} NaN pixels; "
            "replace or drop them before training (a NaN pixel makes every loss NaN, "
            "which would read as a diverged run)."
        )
    finite = x[np.isfinite(x)] if x.dtype.kind == "f" else x
    if finite.size and (finite.min() < 0 or finite.max() > 1):
        raise ValueError(
            f"The {name} images run from {finite.min():g} to {finite.max():g}; an autoencoder here "
            "reconstructs pixels scaled to [0, 1] (divide bytes by 255, as lab.data does)."
        )


def _build_state(model: keras.Model, x: tf.Tensor, y: tf.Tensor) -> None:
    """Create every variable (optimizer slots, loss and metric state) outside the loop.

    Variables may not be created inside a compiled loop, so one eager forward pass
    builds the compiled loss and metrics, and the optimizer is built explicitly.
    """
    y_pred = model(x, training=False)
    if getattr(model, "loss", None) is not None:
        # Models with their own train_step (VAE, AAE) compile no loss and keep their own metrics.
        model.compute_loss(x=x, y=y, y_pred=y_pred, training=False)
        model.compute_metrics(x, y, y_pred, sample_weight=None)
    if hasattr(model, "build_optimizers"):
        # Models trained by several optimizers (the adversarial autoencoder) build each one.
        model.build_optimizers()
    else:
        model.optimizer.build(model.trainable_variables)
    model.reset_metrics()


def _epoch_function(
    model: keras.Model,
    train: tuple[tf.Tensor, tf.Tensor],
    validation: tuple[tf.Tensor, tf.Tensor] | None,
    batch_size: int,
):
    """One compiled call per epoch: the training batches in a shuffled order, then validation.

    It returns the training metrics and the validation metrics (an empty dict without a
    validation split), each reset before its pass. No autograph: the loops are written
    as `tf.while_loop`, which traces in about two thirds of the time (and Keras's steps
    need no conversion).
    """

    def passes(x: tf.Tensor, y: tf.Tensor, step, order: tf.Tensor | None) -> dict[str, tf.Tensor]:
        n = int(x.shape[0])
        steps = -(-n // batch_size)
        for metric in model.metrics:
            metric.reset_state()

        def body(i):
            lo, hi = i * batch_size, tf.minimum((i + 1) * batch_size, n)
            if order is None:
                step((x[lo:hi], y[lo:hi]))
            else:
                idx = order[lo:hi]
                step((tf.gather(x, idx), tf.gather(y, idx)))
            return (i + 1,)

        tf.while_loop(lambda i: i < steps, body, (tf.constant(0),))
        return model.get_metrics_result()

    @tf.function(reduce_retracing=True, autograph=False)
    def run_epoch(order: tf.Tensor):
        logs = passes(*train, model.train_step, order)
        val_logs = {} if validation is None else passes(*validation, model.test_step, None)
        return logs, val_logs

    return run_epoch


def fit_with_keras(
    model: keras.Model,
    x_train: np.ndarray,
    x_val: np.ndarray,
    *,
    epochs: int,
    batch_size: int = 32,
    patience: int | None = None,
) -> FitResult:
    """The same training through plain `model.fit` with Keras defaults, for comparison."""
    callbacks = []
    if patience is not None:
        callbacks.append(keras.callbacks.EarlyStopping(patience=patience, restore_best_weights=True))
    start = time.perf_counter()
    history = model.fit(
        x_train,
        x_train,
        validation_data=(x_val, x_val),
        epochs=epochs,
        batch_size=batch_size,
        verbose=0,
        callbacks=callbacks,
    )
    losses = history.history["val_loss"]
    return FitResult(
        history={k: [float(v) for v in vals] for k, vals in history.history.items()},
        epochs_trained=len(losses),
        best_epoch=int(np.argmin(losses)) + 1,
        stopped_early=len(losses) < epochs,
        seconds=time.perf_counter() - start,
    )
