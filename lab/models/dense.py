"""A dense (fully connected) autoencoder with every hyperparameter as an explicit argument."""

from __future__ import annotations

from collections.abc import Sequence

from lab import checks
from lab._backend import keras

ACTIVATIONS = ("relu", "leaky_relu", "elu", "tanh", "sigmoid", "selu")
OPTIMIZERS = ("sgd", "momentum", "rmsprop", "adagrad", "adam")
LR_SCHEDULES = ("exponential", "step", "cosine")
# Each output activation comes with the loss that suits it: a sigmoid output is a
# per-pixel probability (binary cross-entropy); a linear one is a plain value (MSE).
# tanh suits data scaled to [-1, 1] (MSE), softmax one-hot rows (categorical cross-entropy).
OUTPUT_LOSSES = {
    "sigmoid": "binary_crossentropy",
    "linear": "mse",
    "tanh": "mse",
    "softmax": "categorical_crossentropy",
}


@keras.saving.register_keras_serializable(package="lab")
class MaskingNoise(keras.layers.Layer):
    """Set a random share `rate` of the inputs to zero, during training only.

    Unlike Dropout it does not rescale the pixels that are kept: a masked image
    looks like an image with missing ink, which is what a denoiser should undo.
    """

    def __init__(self, rate: float, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        if not 0 <= rate < 1:
            raise ValueError(f"mask_fraction must be in [0, 1), got {rate}")
        self.rate = rate
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=False):
        if not training or self.rate == 0:
            return inputs
        keep = keras.random.uniform(keras.ops.shape(inputs), seed=self.seed_generator) >= self.rate
        return inputs * keras.ops.cast(keep, inputs.dtype)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


@keras.saving.register_keras_serializable(package="lab")
class PixelNoise(keras.layers.Layer):
    """Add Gaussian noise of standard deviation `stddev` and clip to [0, 1], during training only.

    This is the same corruption as `lab.data.add_gaussian_noise`, which the book
    tests denoisers with: Keras's own `GaussianNoise` does not clip, so a model
    trained with it would be tested on a different corruption than it learned.
    """

    def __init__(self, stddev: float, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        stddev = checks.number(stddev, "noise_std", minimum=0)
        self.stddev = stddev
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=False):
        if not training or self.stddev == 0:
            return inputs
        noise = keras.random.normal(keras.ops.shape(inputs), stddev=self.stddev, seed=self.seed_generator)
        return keras.ops.clip(inputs + noise, 0.0, 1.0)

    def get_config(self):
        return {**super().get_config(), "stddev": self.stddev, "seed": self.seed}


def make_optimizer(
    name: str = "adam",
    *,
    learning_rate: float = 1e-3,
    lr_decay_rate: float | None = None,
    lr_decay_steps: int = 100,
    lr_schedule: str = "exponential",
) -> keras.optimizers.Optimizer:
    """An optimizer by name, with an optional exponential learning-rate decay.

    Args:
        name: "sgd", "momentum" (SGD with Nesterov-free momentum 0.9), "rmsprop",
            "adagrad" or "adam".
        learning_rate: the initial step size.
        lr_decay_rate: multiply the learning rate by this every `lr_decay_steps`
            optimizer steps (for example 0.5); None keeps it constant.
        lr_decay_steps: the decay period, in steps.
        lr_schedule: with `lr_decay_rate`, how the rate falls: "exponential" (smoothly, by
            `lr_decay_rate` every `lr_decay_steps`), "step" (the same, all at once at the end
            of each period) or "cosine" (from the initial rate to 0 along half a cosine over
            `lr_decay_steps`, the whole run; `lr_decay_rate` then only switches it on).
    """
    if name not in OPTIMIZERS:
        raise ValueError(f"Unknown optimizer {name!r}. Choose one of: {', '.join(OPTIMIZERS)}.")
    learning_rate = checks.number(learning_rate, "learning_rate", above=0)
    lr: float | keras.optimizers.schedules.LearningRateSchedule = learning_rate
    if lr_decay_rate is not None:
        lr_decay_rate = checks.number(
            lr_decay_rate, "lr_decay_rate", above=0, maximum=1, hint="None: no decay."
        )
        lr_decay_steps = checks.integer(lr_decay_steps, "lr_decay_steps", minimum=1)
        lr_schedule = checks.choice(lr_schedule, "lr_schedule", LR_SCHEDULES)
        if lr_schedule == "cosine":
            lr = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=lr_decay_steps)
        else:
            lr = keras.optimizers.schedules.ExponentialDecay(
                learning_rate,
                decay_steps=lr_decay_steps,
                decay_rate=lr_decay_rate,
                staircase=lr_schedule == "step",
            )
    if name == "sgd":
        return keras.optimizers.SGD(learning_rate=lr)
    if name == "momentum":
        return keras.optimizers.SGD(learning_rate=lr, momentum=0.9)
    if name == "rmsprop":
        return keras.optimizers.RMSprop(learning_rate=lr)
    if name == "adagrad":
        return keras.optimizers.Adagrad(learning_rate=lr)
    return keras.optimizers.Adam(learning_rate=lr)


def layer_widths(units: int | Sequence[int], num_layers: int) -> list[int]:
    """The encoder's hidden widths, from one width or an explicit schedule.

    One integer gives `num_layers` layers of that width; a sequence is taken as
    the schedule itself (outermost first) and must have `num_layers` entries.
    """
    num_layers = checks.integer(num_layers, "num_layers", minimum=0)
    if isinstance(units, str) or not hasattr(units, "__iter__"):
        one = checks.integer(units, "units", minimum=1, hint="Or one width per layer, such as [256, 128].")
        widths = [one] * num_layers
    else:
        widths = [checks.integer(u, "each width in units", minimum=1) for u in units]
        if len(widths) != num_layers:
            raise ValueError(
                f"units lists {len(widths)} widths but num_layers is {num_layers}; "
                "give one width per hidden layer or a single integer."
            )
    if any(w < 1 for w in widths):
        raise ValueError(f"every width must be >= 1, got {widths}")
    return widths


def weight_count(input_dim: int, latent_dim: int, widths: Sequence[int]) -> int:
    """Weights and biases of a plain dense autoencoder with these encoder widths (mirrored decoder),
    without building it: for matching another model's size."""
    sizes = [input_dim, *widths, latent_dim, *reversed(list(widths)), input_dim]
    return sum(a * b + b for a, b in zip(sizes, sizes[1:], strict=False))


def matching_width(weights: int, input_dim: int, latent_dim: int, num_layers: int) -> int:
    """The hidden width (a multiple of 4, up to 512) whose dense autoencoder has about `weights`
    weights: for comparing another architecture with a dense one of the same size."""
    return min(
        range(4, 513, 4),
        key=lambda units: abs(weight_count(input_dim, latent_dim, [units] * num_layers) - weights),
    )


def default_initializer(activation: str) -> str:
    """LeCun normal for selu (which it needs to self-normalize), Glorot uniform otherwise."""
    return "lecun_normal" if activation == "selu" else "glorot_uniform"


def _weight_penalty(l2: float, l1: float = 0.0):
    if l1 > 0:
        return keras.regularizers.L1L2(l1=l1, l2=l2)
    return keras.regularizers.L2(l2) if l2 > 0 else None


def hidden_layers(
    x,
    widths: Sequence[int],
    *,
    prefix: str,
    activation: str = "relu",
    dropout: float = 0.0,
    batch_norm: bool = False,
    l2: float = 0.0,
    initializer: str = "glorot_uniform",
    l1_weights: float = 0.0,
):
    """Stack dense hidden layers on tensor `x`: Dense, optional batch norm, activation, optional dropout.

    Shared by every builder in `lab.models`, so the same hyperparameter means the
    same thing in the dense autoencoder, the VAE and the AAE. Layers are named
    `{prefix}_{i}`.
    """
    for i, width in enumerate(widths):
        name = f"{prefix}_{i}"
        dense = keras.layers.Dense(
            width,
            activation=None if batch_norm else activation,
            kernel_initializer=initializer,
            kernel_regularizer=_weight_penalty(l2, l1_weights),
            name=name,
        )
        x = dense(x)
        if batch_norm:
            x = keras.layers.BatchNormalization(name=f"{name}_bn")(x)
            x = keras.layers.Activation(activation, name=f"{name}_{activation}")(x)
        if dropout > 0:
            x = keras.layers.Dropout(dropout, name=f"{name}_dropout")(x)
    return x


def check_common(
    input_dim: int, latent_dim: int, activation: str, dropout: float, l2: float
) -> tuple[int, float, float]:
    """Validate the arguments every builder shares, with messages that say what to do.

    Returns `latent_dim`, `dropout` and `l2` as Python numbers (a NumPy integer or a
    string from a command line converted), for the builder to use.
    """
    latent_dim = checks.integer(latent_dim, "latent_dim")
    dropout = checks.number(dropout, "dropout")
    l2 = checks.number(l2, "l2")
    if activation not in ACTIVATIONS:
        raise ValueError(f"Unknown activation {activation!r}. Choose one of: {', '.join(ACTIVATIONS)}.")
    if not 1 <= latent_dim < input_dim:
        raise ValueError(
            f"latent_dim must be between 1 and {input_dim - 1} (below the input size "
            f"{input_dim}, or the autoencoder can simply copy its input); got {latent_dim}."
        )
    if not 0 <= dropout < 1:
        raise ValueError(f"dropout must be in [0, 1), got {dropout}")
    if l2 < 0:
        raise ValueError(f"l2 must be >= 0, got {l2}")
    return latent_dim, dropout, l2


def build_dense_autoencoder(
    input_dim: int,
    *,
    latent_dim: int = 8,
    num_layers: int = 2,
    units: int | Sequence[int] = 128,
    activation: str = "relu",
    latent_activation: str | None = None,
    output_activation: str = "sigmoid",
    dropout: float = 0.0,
    batch_norm: bool = False,
    l1: float = 0.0,
    l2: float = 0.0,
    l1_weights: float = 0.0,
    optimizer: str = "adam",
    learning_rate: float = 1e-3,
    lr_decay_rate: float | None = None,
    lr_decay_steps: int = 100,
    lr_schedule: str = "exponential",
    kernel_initializer: str | None = None,
    noise_std: float = 0.0,
    mask_fraction: float = 0.0,
) -> keras.Model:
    """Build and compile a dense autoencoder.

    The decoder mirrors the encoder. The model's `encoder` and `decoder` attributes
    (also `get_layer("encoder")` and `get_layer("decoder")`) are the two halves.

    Args:
        input_dim: pixels per image.
        latent_dim: size of the code (the bottleneck); must be below `input_dim`.
        num_layers: hidden layers in the encoder (and again in the decoder).
        units: hidden width, or one width per encoder layer (outermost first).
        activation: hidden activation, one of `ACTIVATIONS`.
        latent_activation: activation of the code layer; None means linear.
        output_activation: the output layer and its loss, for the data's range: "sigmoid"
            (binary cross-entropy) for values in [0, 1] such as pixels, "linear" (MSE) for
            unbounded values such as standardized features, "tanh" (MSE) for values in
            [-1, 1], "softmax" (categorical cross-entropy) for one-hot rows.
        dropout: dropout rate after each hidden layer, in [0, 1).
        batch_norm: batch normalization before each hidden activation.
        l1: L1 activity penalty on the code (a sparse autoencoder).
        l2: L2 penalty on every weight matrix (weight decay).
        l1_weights: L1 penalty on every weight matrix, which drives many weights to
            exactly zero (unlike `l1`, which penalizes the code's values).
        optimizer: one of `OPTIMIZERS`.
        learning_rate: the optimizer's initial step size.
        lr_decay_rate: optional exponential decay factor, see `make_optimizer`.
        lr_decay_steps: steps between two decays (for "cosine", the steps of the whole decay).
        lr_schedule: "exponential", "step" or "cosine" (see `make_optimizer`).
        kernel_initializer: weight initializer; by default LeCun normal for selu
            (which it needs to self-normalize) and Glorot uniform otherwise.
        noise_std: Gaussian noise added to the input during training only, then
            clipped to [0, 1] as `lab.data.add_gaussian_noise` does (a denoising
            autoencoder); the target stays the clean image.
        mask_fraction: share of input pixels set to zero during training only.

    Returns:
        The compiled autoencoder, tracking mean squared error as a metric.
    """
    input_dim = checks.integer(input_dim, "input_dim", minimum=2)
    batch_norm = checks.boolean(batch_norm, "batch_norm")
    widths = layer_widths(units, num_layers)
    latent_dim, dropout, l2 = check_common(input_dim, latent_dim, activation, dropout, l2)
    if output_activation not in OUTPUT_LOSSES:
        raise ValueError(
            "output_activation must be 'sigmoid' (binary cross-entropy, values in [0, 1]), 'linear' (MSE, "
            "unbounded values), 'tanh' (MSE, values in [-1, 1]) or 'softmax' (categorical cross-entropy, "
            f"one-hot rows), got {output_activation!r}"
        )
    l1 = checks.number(l1, "l1", minimum=0)
    noise_std = checks.number(noise_std, "noise_std", minimum=0)
    if noise_std < 0:
        raise ValueError(f"noise_std must be >= 0, got {noise_std}")

    if latent_activation is not None and latent_activation not in (*ACTIVATIONS, "linear"):
        raise ValueError(
            f"Unknown latent_activation {latent_activation!r}. Choose None (linear) or one of: "
            f"{', '.join(ACTIVATIONS)}."
        )
    init = kernel_initializer or default_initializer(activation)
    try:
        keras.initializers.get(init)
    except (ValueError, TypeError):
        raise ValueError(
            f"Unknown kernel_initializer {init!r}. Use a Keras initializer name such as 'glorot_uniform', "
            "'he_normal' or 'lecun_normal', or None for the default that suits the activation."
        ) from None
    l1_weights = checks.number(l1_weights, "l1_weights", minimum=0)
    block = dict(
        activation=activation,
        dropout=dropout,
        batch_norm=batch_norm,
        l2=l2,
        initializer=init,
        l1_weights=l1_weights,
    )

    inputs = keras.Input(shape=(input_dim,), name="image")
    x = inputs
    # Corruption layers are identities at inference: the code of a clean image
    # is what the encoder reports, and val_loss measures clean reconstruction.
    if noise_std > 0:
        x = PixelNoise(noise_std, name="gaussian_noise")(x)
    if checks.number(mask_fraction, "mask_fraction", minimum=0, below=1) > 0:
        x = MaskingNoise(mask_fraction, name="masking_noise")(x)
    x = hidden_layers(x, widths, prefix="enc", **block)
    code = keras.layers.Dense(
        latent_dim,
        activation=latent_activation,
        kernel_initializer=init,
        kernel_regularizer=_weight_penalty(l2, l1_weights),
        activity_regularizer=keras.regularizers.L1(l1) if l1 > 0 else None,
        name="code",
    )(x)
    encoder = keras.Model(inputs, code, name="encoder")

    code_in = keras.Input(shape=(latent_dim,), name="code_in")
    x = hidden_layers(code_in, widths[::-1], prefix="dec", **block)
    outputs = keras.layers.Dense(
        input_dim,
        activation=output_activation,
        kernel_initializer=init,
        kernel_regularizer=_weight_penalty(l2, l1_weights),
        name="reconstruction",
    )(x)
    decoder = keras.Model(code_in, outputs, name="decoder")

    autoencoder = keras.Model(inputs, decoder(encoder(inputs)), name="dense_autoencoder")
    autoencoder.encoder = encoder
    autoencoder.decoder = decoder
    autoencoder.compile(
        optimizer=make_optimizer(
            optimizer,
            learning_rate=learning_rate,
            lr_decay_rate=lr_decay_rate,
            lr_decay_steps=lr_decay_steps,
            lr_schedule=lr_schedule,
        ),
        loss=OUTPUT_LOSSES[output_activation],
        metrics=[keras.metrics.MeanSquaredError(name="mse")],
    )
    return autoencoder
