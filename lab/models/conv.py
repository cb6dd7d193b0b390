"""A convolutional autoencoder that takes the book's flattened images, so it trains and is
measured exactly like the dense one.

The encoder reshapes each row back into its image, applies `conv_layers` stride-2
convolutions (each halves the height and width, rounding up, and doubles the filters),
and maps the last feature map to a linear code of `latent_dim` numbers with one dense
layer. The decoder mirrors it with transposed convolutions, crops the rows and columns
that rounding up added (28 -> 14 -> 7 -> 4 comes back as 32), and ends in one sigmoid per
pixel, flattened again.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from lab import checks
from lab._backend import keras
from lab.models.dense import ACTIVATIONS, default_initializer, make_optimizer


def conv_shapes(image_shape: Sequence[int], conv_layers: int) -> list[tuple[int, int]]:
    """The feature maps' heights and widths after each stride-2 convolution, the image's first."""
    shapes = [(int(image_shape[0]), int(image_shape[1]))]
    for _ in range(conv_layers):
        h, w = shapes[-1]
        shapes.append((math.ceil(h / 2), math.ceil(w / 2)))
    return shapes


def build_conv_autoencoder(
    image_shape: Sequence[int],
    *,
    latent_dim: int = 8,
    conv_layers: int = 2,
    filters: int = 16,
    kernel_size: int = 3,
    activation: str = "relu",
    optimizer: str = "adam",
    learning_rate: float = 1e-3,
) -> keras.Model:
    """Build and compile a convolutional autoencoder on flattened images of `image_shape`.

    Args:
        image_shape: (height, width) of the images, as `Dataset.image_shape` gives it.
        latent_dim: size of the code.
        conv_layers: stride-2 convolutions in the encoder (and transposed ones in the decoder).
        filters: filters of the first convolution; each further one doubles them.
        kernel_size: height and width of every convolution kernel (odd).
        activation: hidden activation, one of `ACTIVATIONS`.
        optimizer, learning_rate: as in `build_dense_autoencoder`.

    Returns:
        The compiled autoencoder (binary cross-entropy, MSE as a metric), with `encoder`
        and `decoder` attributes, taking and returning rows of `height * width` pixels.
    """
    if isinstance(image_shape, (str, bytes)) or not hasattr(image_shape, "__len__") or len(image_shape) != 2:
        raise ValueError(f"image_shape must be (height, width), such as ds.image_shape, got {image_shape!r}")
    height = checks.integer(image_shape[0], "image height", minimum=2)
    width = checks.integer(image_shape[1], "image width", minimum=2)
    latent_dim = checks.integer(latent_dim, "latent_dim", minimum=1, maximum=height * width - 1)
    conv_layers = checks.integer(conv_layers, "conv_layers", minimum=1, maximum=5)
    filters = checks.integer(filters, "filters", minimum=1, maximum=512)
    kernel_size = checks.integer(kernel_size, "kernel_size", minimum=1, maximum=min(height, width))
    if kernel_size % 2 == 0:
        raise ValueError(
            f"kernel_size must be odd (1, 3, 5, ...), so a kernel has a centre; got {kernel_size}"
        )
    if activation not in ACTIVATIONS:
        raise ValueError(f"Unknown activation {activation!r}. Choose one of: {', '.join(ACTIVATIONS)}.")
    shapes = conv_shapes((height, width), conv_layers)
    if shapes[-2] == shapes[-1]:
        raise ValueError(
            f"{conv_layers} stride-2 convolutions shrink a {height}x{width} image to {shapes[-1]}: too many; "
            "use fewer conv_layers."
        )
    init = default_initializer(activation)
    widths = [filters * 2**i for i in range(conv_layers)]
    n_pixels = height * width

    image = keras.Input(shape=(n_pixels,), name="image")
    x = keras.layers.Reshape((height, width, 1), name="to_image")(image)
    for i, f in enumerate(widths):
        x = keras.layers.Conv2D(
            f,
            kernel_size,
            strides=2,
            padding="same",
            activation=activation,
            kernel_initializer=init,
            name=f"enc_conv_{i}",
        )(x)
    x = keras.layers.Flatten(name="enc_flatten")(x)
    code = keras.layers.Dense(latent_dim, kernel_initializer=init, name="code")(x)
    encoder = keras.Model(image, code, name="encoder")

    code_in = keras.Input(shape=(latent_dim,), name="code_in")
    (h, w), last = shapes[-1], widths[-1]
    x = keras.layers.Dense(h * w * last, activation=activation, kernel_initializer=init, name="dec_dense")(
        code_in
    )
    x = keras.layers.Reshape((h, w, last), name="dec_reshape")(x)
    for i, f in enumerate([*reversed(widths[:-1]), widths[0]]):  # mirrors the encoder's filters
        x = keras.layers.Conv2DTranspose(
            f,
            kernel_size,
            strides=2,
            padding="same",
            activation=activation,
            kernel_initializer=init,
            name=f"dec_deconv_{i}",
        )(x)
    extra_h, extra_w = h * 2**conv_layers - height, w * 2**conv_layers - width
    if extra_h or extra_w:
        x = keras.layers.Cropping2D(((0, extra_h), (0, extra_w)), name="dec_crop")(x)
    x = keras.layers.Conv2D(1, kernel_size, padding="same", activation="sigmoid", name="reconstruction")(x)
    pixels = keras.layers.Flatten(name="to_row")(x)
    decoder = keras.Model(code_in, pixels, name="decoder")

    autoencoder = keras.Model(image, decoder(encoder(image)), name="conv_autoencoder")
    autoencoder.encoder = encoder
    autoencoder.decoder = decoder
    autoencoder.compile(
        optimizer=make_optimizer(optimizer, learning_rate=learning_rate),
        loss="binary_crossentropy",
        metrics=[keras.metrics.MeanSquaredError(name="mse")],
    )
    return autoencoder
