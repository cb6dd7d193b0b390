"""KerasTuner HyperModels for the book's autoencoders: search spaces, and nothing else.

A HyperModel maps `hp` to the arguments of a builder in `lab.models` (`arguments(hp)`),
builds the model (`build(hp)`), and trains it with `lab.training.fit_autoencoder`
(`fit(...)`), returning every objective the book searches on:

- `val_mse`: validation reconstruction error (the dense autoencoder);
- `val_probe_accuracy`: accuracy of a linear probe trained on the codes of the
  training split and scored on those of the validation split (when labels are given);
- `val_neg_elbo`: the VAE's validation negative ELBO (beta = 1, so runs with
  different beta compare fairly), reported with its two terms, `val_reconstruction`
  (distortion) and `val_kl` (rate), both in nats per image.

Which hyperparameters are searched is chosen per search: `tune` names them, the
others are fixed at `fixed` values or at the defaults below, and `choices` turns
any of them into a short list (a grid needs one). Per-layer widths are conditional:
`units_2` exists only in trials with at least two hidden layers.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

import keras_tuner as kt
import numpy as np

from lab import checks, evaluate
from lab._backend import keras
from lab.models.conv import build_conv_autoencoder
from lab.models.dense import build_dense_autoencoder
from lab.models.vae import build_vae
from lab.training import FitResult, fit_autoencoder
from lab.vocabulary import OBJECTIVES


@dataclass(frozen=True)
class Range:
    """One hyperparameter's search range and the value it takes when not searched."""

    kind: str  # "choice", "int", "float" or "log"
    values: tuple  # choices, or (low, high) and an optional step
    default: Any
    help: str

    def declare(self, hp: kt.HyperParameters, name: str, choices: Sequence | None = None):
        if choices is not None:
            return hp.Choice(name, list(choices), default=_closest(choices, self.default))
        if self.kind == "choice":
            return hp.Choice(name, list(self.values), default=self.default)
        if self.kind == "int":
            low, high = self.values
            return hp.Int(name, low, high, default=self.default)
        if self.kind == "float":
            low, high, step = self.values
            return hp.Float(name, low, high, step=step, default=self.default)
        low, high = self.values
        return hp.Float(name, low, high, sampling="log", default=self.default)


MAX_LAYERS = 3
WIDTHS = (32, 64, 128, 256, 512)

DENSE_SPACE: dict[str, Range] = {
    "latent_dim": Range("choice", (2, 4, 8, 16, 32), 8, "code size"),
    "num_layers": Range("int", (1, MAX_LAYERS), 2, "hidden layers on each side"),
    "units": Range("choice", WIDTHS, 256, "width of each hidden layer (units_1, units_2, ...)"),
    "activation": Range("choice", ("relu", "elu", "selu", "tanh"), "relu", "hidden activation"),
    "dropout": Range("float", (0.0, 0.3, 0.1), 0.0, "dropout after each hidden layer"),
    "l1": Range("choice", (0.0, 1e-5, 1e-4, 1e-3), 0.0, "L1 activity penalty on the code"),
    "l2": Range("choice", (0.0, 1e-6, 1e-5, 1e-4), 0.0, "L2 weight penalty"),
    "optimizer": Range("choice", ("adam", "rmsprop", "momentum"), "adam", "optimizer"),
    "learning_rate": Range("log", (1e-4, 3e-2), 2e-3, "initial step size"),
    "batch_size": Range("choice", (16, 32, 64), 16, "examples per step"),
}
VAE_SPACE: dict[str, Range] = {
    **{k: v for k, v in DENSE_SPACE.items() if k not in ("l1", "optimizer")},
    "latent_dim": Range("choice", (2, 4, 8, 16), 2, "code size"),
    "learning_rate": Range("log", (1e-4, 1e-2), 1e-3, "initial step size"),
    "beta": Range("log", (0.1, 4.0), 1.0, "weight of the KL term"),
    "warmup_epochs": Range("choice", (0, 5, 10, 20), 10, "epochs of KL warm-up"),
}

# Dense layers or convolutions, chosen by the search: the shared settings, the dense
# autoencoder's depth and widths, and the convolutional one's (lab.models.conv).
ARCHITECTURE_SPACE: dict[str, Range] = {
    "architecture": Range("choice", ("dense", "conv"), "dense", "dense layers or convolutions"),
    **{k: DENSE_SPACE[k] for k in ("latent_dim", "num_layers", "units", "activation", "optimizer")},
    "conv_layers": Range("int", (1, 2), 2, "stride-2 convolutions on each side"),
    "filters": Range("choice", (8, 16, 32), 16, "filters of the first convolution (each next one doubles)"),
    "kernel_size": Range("choice", (3, 5), 3, "height and width of every kernel"),
    **{k: DENSE_SPACE[k] for k in ("learning_rate", "batch_size")},
}
DENSE_ONLY = ("num_layers", "units")
CONV_ONLY = ("conv_layers", "filters", "kernel_size")

DENSE_TUNED = ("num_layers", "units", "activation", "learning_rate", "batch_size")
ARCHITECTURE_TUNED = ("architecture", *DENSE_ONLY, *CONV_ONLY, "learning_rate")
VAE_TUNED = ("num_layers", "units", "learning_rate", "beta", "warmup_epochs")


def objective(name: str | Sequence[str]) -> kt.Objective | list[kt.Objective]:
    """A KerasTuner Objective for one of the book's objectives, with its direction.

    A list of names gives a list of Objectives, which KerasTuner turns into one number by
    adding them up (those to maximize subtracted), unscaled: notebook 10 shows what that does.
    """
    if not isinstance(name, str) and isinstance(name, Sequence):
        if not name:
            raise ValueError(
                f"Give at least one objective; the book's objectives are {', '.join(OBJECTIVES)}."
            )
        if len(set(name)) < len(name):
            raise ValueError(f"An objective is named twice in {list(name)}: name each one once.")
        return [objective(one) for one in name]
    if not isinstance(name, str) or name not in OBJECTIVES:
        raise ValueError(f"Unknown objective {name!r}; choose one of {', '.join(OBJECTIVES)}.")
    return kt.Objective(name, OBJECTIVES[name])


class _AutoencoderHyperModel(kt.HyperModel):
    SPACE: dict[str, Range] = {}
    TUNED: tuple[str, ...] = ()
    builder: Callable[..., keras.Model]

    def __init__(
        self,
        input_dim: int,
        *,
        tune: Iterable[str] | None = None,
        fixed: Mapping[str, Any] | None = None,
        choices: Mapping[str, Sequence] | None = None,
        patience: int | None = 8,
        seed: int = 0,
        name: str | None = None,
    ):
        super().__init__(name=name, tunable=True)
        tune = (tune,) if isinstance(tune, str) else tuple(self.TUNED if tune is None else tune)
        for label, given in (("fixed", fixed), ("choices", choices)):
            if given is not None and not isinstance(given, Mapping):
                raise TypeError(
                    f"{label} must be a dict of hyperparameter names and values, such as "
                    f"{label}={{'units': 16}}, got {given!r}."
                )
        for key, values in (choices or {}).items():
            if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
                raise ValueError(
                    f"choices[{key!r}] must be a list of values, such as [1e-3, 3e-3], got {values!r}."
                )
        fixed, choices = dict(fixed or {}), {k: tuple(v) for k, v in (choices or {}).items()}
        if "batch_size" in fixed:
            fixed["batch_size"] = checks.integer(fixed["batch_size"], "fixed batch_size", minimum=1)
        for label, names in (("tune", tune), ("fixed", fixed), ("choices", choices)):
            unknown = sorted(set(names) - set(self.SPACE))
            if unknown:
                raise ValueError(
                    f"Unknown hyperparameter(s) in {label}: {unknown}; this search space has "
                    f"{', '.join(self.SPACE)}."
                )
        both = sorted(set(tune) & set(fixed))
        if both:
            raise ValueError(f"{both} cannot be both tuned and fixed: drop them from `tune` or from `fixed`.")
        not_tuned = sorted(set(choices) - set(tune))
        if not_tuned:
            raise ValueError(f"`choices` given for {not_tuned}, which are not tuned: add them to `tune`.")
        input_dim = checks.integer(input_dim, "input_dim", minimum=2)
        patience = checks.integer(patience, "patience", minimum=1, optional=True, hint="None: every epoch.")
        seed = checks.integer(seed, "seed", minimum=0, maximum=checks.MAX_SEED)
        empty = sorted(name for name, values in choices.items() if not values)
        if empty:
            raise ValueError(f"`choices` gives no values for {empty}: list at least one, or drop the entry.")
        self.input_dim, self.tune, self.fixed, self.choices = input_dim, tune, fixed, choices
        self.patience, self.seed = patience, seed
        self.last_fit: FitResult | None = None
        self._check_space()

    def _check_space(self) -> None:
        """Refuse choices and fixed values that no trial could use, now rather than in every trial."""
        try:
            hp = self.declare()
        except (TypeError, ValueError) as error:  # KerasTuner refuses a Choice of mixed types
            raise ValueError(f"The choices {dict(self.choices)} cannot be searched: {error}") from None
        if self.fixed or self.choices:
            given = " and ".join(
                f"{label} {dict(values)}"
                for label, values in (("fixed values", self.fixed), ("choices", self.choices))
                if values
            )
            try:
                self.builder(self.input_dim, **self.arguments(hp))
            except (TypeError, ValueError) as error:
                raise ValueError(f"The {given} cannot build a model: {error}") from None

    # -- the search space ------------------------------------------------------------------

    def _value(self, hp: kt.HyperParameters, name: str):
        if name in self.tune:
            return self.SPACE[name].declare(hp, name, self.choices.get(name))
        return self.fixed.get(name, self.SPACE[name].default)

    def _units(self, hp: kt.HyperParameters, num_layers: int) -> list[int]:
        """One width per hidden layer; `units_i` exists only when layer i does."""
        if "units" not in self.tune:
            return [self.fixed.get("units", self.SPACE["units"].default)] * num_layers
        if "num_layers" not in self.tune:
            return [
                self.SPACE["units"].declare(hp, f"units_{i}", self.choices.get("units"))
                for i in range(1, num_layers + 1)
            ]
        most = max(self.choices.get("num_layers", (self.SPACE["num_layers"].values[1],)))
        widths = []
        for i in range(1, most + 1):
            with hp.conditional_scope("num_layers", list(range(i, most + 1))):
                width = self.SPACE["units"].declare(hp, f"units_{i}", self.choices.get("units"))
            if width is not None:
                widths.append(width)
        return widths

    def arguments(self, hp: kt.HyperParameters) -> dict[str, Any]:
        """The builder's arguments for the values in `hp` (declaring them on first use)."""
        args = {name: self._value(hp, name) for name in self.SPACE if name not in ("units", "batch_size")}
        args["units"] = self._units(hp, args["num_layers"])
        return args

    def batch_size(self, hp: kt.HyperParameters) -> int:
        return checks.integer(self._value(hp, "batch_size"), "batch_size", minimum=1)

    def declare(self, hp: kt.HyperParameters | None = None) -> kt.HyperParameters:
        """Declare every hyperparameter (conditional ones included) without building a model."""
        hp = hp or kt.HyperParameters()
        self.arguments(hp)
        self.batch_size(hp)
        return hp

    def hyperparameters(self, **values: Any) -> kt.HyperParameters:
        """The declared space with some values set, and defaults for the ones that become active
        (setting `num_layers=3` gives `units_3` its default)."""
        hp = self.declare()
        unknown = sorted(set(values) - {item.name for item in hp.space})
        if unknown:
            raise ValueError(f"{unknown} are not searched here; searched: {[i.name for i in hp.space]}")
        for item in hp.space:
            if item.name in values:
                _check_in_space(item, values[item.name])
        hp.values.update(values)
        for item in hp.space:
            if hp.is_active(item) and item.name not in hp.values:
                hp.values[item.name] = item.default
        return hp

    def build(self, hp: kt.HyperParameters) -> keras.Model:
        self.batch_size(hp)
        args = self.arguments(hp)
        keras.utils.set_random_seed(self.seed)
        return self.builder(self.input_dim, **args)

    # -- training and objectives -----------------------------------------------------------

    def fit(
        self,
        hp: kt.HyperParameters,
        model: keras.Model,
        x: np.ndarray,
        *,
        validation_data: np.ndarray | tuple,
        labels: tuple[np.ndarray, np.ndarray] | None = None,
        epochs: int = 60,
        initial_epoch: int = 0,
        callbacks: Sequence[keras.callbacks.Callback] | None = None,
        verbose: int = 0,
        **_ignored: Any,
    ) -> dict[str, float]:
        """Train `model` and return every objective.

        Args:
            x: training images.
            validation_data: validation images (or `(x_val, x_val)`, as Keras takes it).
            labels: `(y_train, y_val)`; with them the linear-probe accuracy is returned too.
            epochs, initial_epoch: as in `model.fit` (Hyperband continues trials).
            callbacks: Keras callbacks, called at every epoch's start and end.

        Raises:
            keras_tuner.errors.FailedTrialError: when the loss became NaN or infinite;
                the tuner records the trial as failed and the search goes on.
        """
        x_val = validation_data[0] if isinstance(validation_data, tuple) else validation_data
        callback_list = keras.callbacks.CallbackList(list(callbacks or []), model=model)

        def on_epoch_end(epoch: int, logs: dict[str, float]) -> None:
            callback_list.on_epoch_end(epoch - 1, logs)

        callback_list.on_train_begin()
        result = fit_autoencoder(
            model,
            x,
            x_val,
            epochs=epochs,
            initial_epoch=initial_epoch,
            batch_size=self.batch_size(hp),
            patience=self.patience,
            seed=self.seed,
            on_epoch_end=on_epoch_end if callbacks else None,
        )
        callback_list.on_train_end()
        self.last_fit = result
        if result.diverged:
            bad = {k: v[-1] for k, v in result.history.items() if not math.isfinite(v[-1])}
            raise kt.errors.FailedTrialError(
                f"The loss became NaN or infinite at epoch {initial_epoch + result.epochs_trained} "
                f"({bad}); this configuration diverges, most often from too large a learning rate."
            )
        return self.objectives(model, x, x_val, labels)

    def objectives(
        self, model: keras.Model, x: np.ndarray, x_val: np.ndarray, labels: tuple | None
    ) -> dict[str, float]:
        raise NotImplementedError


def _probe(model: keras.Model, x: np.ndarray, x_val: np.ndarray, labels, seed: int) -> dict[str, float]:
    if labels is None:
        return {}
    y_train, y_val = labels
    z_train, z_val = evaluate.encode(model, x), evaluate.encode(model, x_val)
    return {"val_probe_accuracy": evaluate.linear_probe_accuracy(z_train, y_train, z_val, y_val, seed=seed)}


class DenseAutoencoderHyperModel(_AutoencoderHyperModel):
    """The dense autoencoder's search space (`DENSE_SPACE`); objectives `val_mse`, `val_probe_accuracy`.

    Args:
        input_dim: pixels per image.
        tune: the hyperparameters searched (default `DENSE_TUNED`); the latent size is
            not among them, because against reconstruction alone the largest code always
            wins. Add it when the objective is the probe accuracy.
        fixed: values for hyperparameters that are not searched.
        choices: short lists of values that replace a searched hyperparameter's range.
        patience: early stopping patience inside each trial (None: every epoch).
        seed: seeds every trial's initial weights and shuffling.
    """

    SPACE = DENSE_SPACE
    TUNED = DENSE_TUNED
    REPORTS = ("val_mse",)  # and val_probe_accuracy when given labels
    builder = staticmethod(build_dense_autoencoder)

    def objectives(self, model, x, x_val, labels):
        return {
            "val_mse": evaluate.reconstruction_error(model, x_val),
            **_probe(model, x, x_val, labels, self.seed),
        }


class ArchitectureHyperModel(DenseAutoencoderHyperModel):
    """A search that chooses dense layers or convolutions (`ARCHITECTURE_SPACE`); objectives as dense.

    `architecture` is "dense" or "conv". The dense autoencoder's depth and per-layer
    widths exist only in dense trials, the convolutional one's `conv_layers`, `filters`
    and `kernel_size` only in convolutional trials (conditional hyperparameters, as the
    per-layer widths are). Fix `architecture` to search one family alone.

    Args:
        input_dim: pixels per image.
        image_shape: (height, width) of the images, `ds.image_shape`: the convolutions
            need it; its product must equal `input_dim`.
        tune, fixed, choices, patience, seed: as in `DenseAutoencoderHyperModel`
            (`tune` defaults to `ARCHITECTURE_TUNED`).
    """

    SPACE = ARCHITECTURE_SPACE
    TUNED = ARCHITECTURE_TUNED

    def __init__(self, input_dim: int, *, image_shape: Sequence[int], **kwargs: Any):
        if (
            isinstance(image_shape, (str, bytes))
            or not hasattr(image_shape, "__len__")
            or len(image_shape) != 2
        ):
            raise ValueError(
                f"image_shape must be (height, width), such as ds.image_shape, got {image_shape!r}"
            )
        height = checks.integer(image_shape[0], "image height", minimum=2)
        width = checks.integer(image_shape[1], "image width", minimum=2)
        if (
            not isinstance(input_dim, bool)
            and isinstance(input_dim, (int, np.integer))
            and height * width != input_dim
        ):
            raise ValueError(
                f"image_shape {tuple(image_shape)} holds {height * width} pixels, but input_dim is "
                f"{input_dim}: pass ds.n_features and ds.image_shape of the same dataset."
            )
        self.image_shape = (height, width)
        tune = kwargs.get("tune")
        tune = (tune,) if isinstance(tune, str) else tuple(self.TUNED if tune is None else tune)
        family = (kwargs.get("fixed") or {}).get("architecture")
        if "architecture" not in tune and family in ("dense", "conv"):
            other = CONV_ONLY if family == "dense" else DENSE_ONLY
            wasted = sorted(set(tune) & set(other))
            if wasted:
                raise ValueError(
                    f"{wasted} shape the {'convolutional' if family == 'dense' else 'dense'} model only, and "
                    f"architecture is fixed to {family!r}: drop them from `tune`, or tune `architecture`."
                )
            kwargs["tune"] = tune
        super().__init__(input_dim, **kwargs)

    def _family(self, hp: kt.HyperParameters, family: str):
        """The scope of one family's hyperparameters: conditional when the architecture is searched."""
        if "architecture" in self.tune:
            return hp.conditional_scope("architecture", [family])
        return nullcontext()

    def arguments(self, hp: kt.HyperParameters) -> dict[str, Any]:
        architecture = self._value(hp, "architecture")
        shared = {
            name: self._value(hp, name) for name in ("latent_dim", "activation", "optimizer", "learning_rate")
        }
        with self._family(hp, "dense"):
            num_layers = (
                self._value(hp, "num_layers")
                if architecture == "dense" or "architecture" in self.tune
                else None
            )
            units = self._units(hp, num_layers) if num_layers is not None else None
        with self._family(hp, "conv"):
            conv = (
                {name: self._value(hp, name) for name in CONV_ONLY}
                if architecture == "conv" or "architecture" in self.tune
                else {}
            )
        if architecture == "dense":
            return dict(architecture="dense", **shared, num_layers=num_layers, units=units)
        if architecture == "conv":
            return dict(architecture="conv", **shared, **conv)
        raise ValueError(f"architecture must be 'dense' or 'conv', got {architecture!r}")

    def builder(self, input_dim: int, *, architecture: str, **args: Any) -> keras.Model:
        """Build the dense or the convolutional autoencoder from `arguments(hp)`."""
        if architecture == "dense":
            return build_dense_autoencoder(input_dim, **args)
        return build_conv_autoencoder(self.image_shape, **args)


class VAEHyperModel(_AutoencoderHyperModel):
    """The VAE's search space (`VAE_SPACE`, with beta and KL warm-up); objective `val_neg_elbo`.

    Every trial also reports the ELBO's two terms, `val_reconstruction` and `val_kl`,
    its `val_mse`, and the probe accuracy when labels are given.
    """

    SPACE = VAE_SPACE
    TUNED = VAE_TUNED
    REPORTS = ("val_neg_elbo", "val_reconstruction", "val_kl", "val_mse")  # and val_probe_accuracy
    builder = staticmethod(build_vae)

    def build(self, hp: kt.HyperParameters) -> keras.Model:
        self.batch_size(hp)
        keras.utils.set_random_seed(self.seed)
        return build_vae(self.input_dim, **self.arguments(hp), seed=self.seed)

    def objectives(self, model, x, x_val, labels):
        terms = evaluate.elbo(model, x_val, seed=self.seed)
        return {
            "val_neg_elbo": terms["neg_elbo"],
            "val_reconstruction": terms["reconstruction"],
            "val_kl": terms["kl"],
            "val_mse": evaluate.reconstruction_error(model, x_val),
            **_probe(model, x, x_val, labels, self.seed),
        }


def _check_in_space(item: kt.engine.hyperparameters.HyperParameter, value: Any) -> None:
    """Refuse a value that the search space of `item` does not hold (it was never searched)."""
    config = item.get_config()
    if "values" in config:
        if not any(value == option and type(value) is not bool for option in config["values"]):
            raise ValueError(
                f"{item.name}={value!r} is not among the searched values {config['values']}; "
                "retrain a value the search could have chosen, or widen the search space."
            )
        return
    low, high = config["min_value"], config["max_value"]
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
        raise ValueError(f"{item.name} must be a number from {low:g} to {high:g}, got {value!r}.")
    if not (low * (1 - 1e-9) <= value <= high * (1 + 1e-9)):
        raise ValueError(
            f"{item.name}={value:g} lies outside the searched range {low:g} to {high:g}; "
            "retrain a value the search could have chosen, or widen the search space."
        )


def _closest(values: Sequence, default: Any) -> Any:
    """The default if it is among `values`, else the first value."""
    return default if default in values else values[0]


class TimedHyperModel(kt.HyperModel):
    """Trials of a known cost, for timing a search's machinery rather than its models.

    Each trial waits `seconds` (as a trial waits on a GPU, leaving the CPU free); its `val_mse`
    is a fixed smooth function
    of the learning rate and the width, lowest near 3e-3 and 64 units, so a search still has
    something to find. The model it builds is one small dense layer, saved like any trial's.
    Notebook 11 and `python -m lab.search --model timed` use it to measure how a distributed
    search's wall time falls with more workers, and what each trial costs in coordination.
    """

    REPORTS = ("val_mse",)

    def __init__(self, input_dim: int, seconds: float = 1.0):
        super().__init__(name="timed", tunable=True)
        self.input_dim = checks.integer(input_dim, "input_dim", minimum=2)
        self.seconds = checks.number(seconds, "seconds", minimum=0.0, maximum=3600.0)
        # What a search's record compares when it is resumed (lab.tuning.state).
        self.fixed, self.patience, self.seed = {"seconds": self.seconds}, None, 0
        self.last_fit: FitResult | None = None

    def declare(self, hp: kt.HyperParameters | None = None) -> kt.HyperParameters:
        hp = kt.HyperParameters() if hp is None else hp
        hp.Float("learning_rate", 1e-4, 1e-1, sampling="log")
        hp.Choice("units", [16, 32, 64, 128])
        return hp

    def hyperparameters(self, **values: Any) -> kt.HyperParameters:
        """The space with these values set (an Optuna trial's setting, `lab.tuning.with_optuna`)."""
        hp = self.declare()
        hp.values.update(values)
        return hp

    def build(self, hp: kt.HyperParameters) -> keras.Model:
        self.declare(hp)
        inputs = keras.Input((self.input_dim,))
        return keras.Model(inputs, keras.layers.Dense(self.input_dim)(inputs))

    def fit(self, hp, model, x=None, *args, **kwargs) -> dict[str, float]:
        import time

        started = time.perf_counter()
        time.sleep(self.seconds)
        lr, units = hp.get("learning_rate"), hp.get("units")
        score = 0.02 + 0.01 * (math.log10(lr) + 2.5) ** 2 + 0.002 * abs(math.log2(units / 64))
        self.last_fit = FitResult(
            history={"val_mse": [score]}, epochs_trained=1, seconds=time.perf_counter() - started
        )
        return {"val_mse": score}
