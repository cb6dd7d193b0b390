"""A dense variational autoencoder (VAE) for Keras 3, with beta and KL warm-up.

The encoder maps an image x to the mean and log-variance of a Gaussian q(z|x);
a code is drawn with the reparameterization trick, z = mean + exp(log_var / 2) * eps
with eps ~ N(0, I), so gradients flow through the draw; the decoder maps z to
per-pixel Bernoulli probabilities p(x|z). Training minimizes

    reconstruction + beta * w * KL(q(z|x) || N(0, I))

where reconstruction is the binary cross-entropy summed over pixels, KL is summed
over latent units, and w ramps from 0 to 1 over `warmup_epochs` (KL annealing).
With beta = 1 and w = 1 the loss is the negative ELBO, reported as `neg_elbo`
whatever beta and w are, so runs with different settings compare on one scale.
"""

from __future__ import annotations

from lab import checks
from lab._backend import keras
from lab.models.dense import check_common, default_initializer, hidden_layers, layer_widths, make_optimizer

ops = keras.ops


@keras.saving.register_keras_serializable(package="lab")
class Sampling(keras.layers.Layer):
    """Draw z = mean + exp(log_var / 2) * eps, eps ~ N(0, I) (the reparameterization trick)."""

    def __init__(self, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs):
        mean, log_var = inputs
        eps = keras.random.normal(ops.shape(mean), seed=self.seed_generator)
        return mean + ops.exp(0.5 * log_var) * eps

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}


def kl_divergence(mean, log_var):
    """KL(N(mean, exp(log_var)) || N(0, I)) per example, summed over latent units."""
    return -0.5 * ops.sum(1 + log_var - ops.square(mean) - ops.exp(log_var), axis=-1)


@keras.saving.register_keras_serializable(package="lab")
class VariationalAutoencoder(keras.Model):
    """Encoder -> (mean, log_var) -> sampled z -> decoder, trained on the weighted negative ELBO.

    `model(x)` returns the reconstruction from the posterior mean (deterministic),
    so reconstruction-error helpers work on it as on any autoencoder.
    """

    def __init__(self, encoder, decoder, *, beta: float = 1.0, warmup_epochs: int = 0, seed=None, **kwargs):
        super().__init__(**kwargs)
        beta = checks.number(beta, "beta", minimum=0)
        warmup_epochs = checks.integer(warmup_epochs, "warmup_epochs", minimum=0)
        self.encoder = encoder
        self.decoder = decoder
        self.beta = beta
        self.warmup_epochs = warmup_epochs
        self.seed = seed
        self.sampling = Sampling(seed=seed, name="sampling")
        self.kl_weight = self.add_weight(
            name="kl_weight", shape=(), initializer="ones" if warmup_epochs == 0 else "zeros", trainable=False
        )
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.reconstruction_tracker = keras.metrics.Mean(name="reconstruction_loss")
        self.kl_tracker = keras.metrics.Mean(name="kl_loss")
        self.elbo_tracker = keras.metrics.Mean(name="neg_elbo")

    @property
    def metrics(self):
        return [self.loss_tracker, self.reconstruction_tracker, self.kl_tracker, self.elbo_tracker]

    def build(self, input_shape=None):
        # The encoder and decoder are built functional models; nothing else holds weights.
        self.built = True

    @property
    def in_warmup(self) -> bool:
        """True while the KL weight is still ramping up (early stopping waits for the end)."""
        return float(self.kl_weight.numpy()) < 1.0

    def begin_epoch(self, epoch: int) -> None:
        """Set the KL weight for 1-based `epoch`: a linear ramp over `warmup_epochs`, then 1."""
        weight = 1.0 if self.warmup_epochs == 0 else min(1.0, (epoch - 1) / self.warmup_epochs)
        self.kl_weight.assign(weight)

    def call(self, inputs, training=False):
        mean, _ = self.encoder(inputs, training=training)
        return self.decoder(mean, training=training)

    def terms(self, x, training=False):
        """Per-example reconstruction loss and KL divergence for one sampled code each."""
        mean, log_var = self.encoder(x, training=training)
        z = self.sampling([mean, log_var])
        probs = self.decoder(z, training=training)
        reconstruction = ops.sum(keras.losses.binary_crossentropy(x[..., None], probs[..., None]), axis=-1)
        return reconstruction, kl_divergence(mean, log_var)

    def _update(self, reconstruction, kl):
        rec, kl = ops.mean(reconstruction), ops.mean(kl)
        loss = rec + self.beta * self.kl_weight * kl
        if self.losses:
            loss = loss + ops.sum(self.losses)
        self.loss_tracker.update_state(loss)
        self.reconstruction_tracker.update_state(rec)
        self.kl_tracker.update_state(kl)
        self.elbo_tracker.update_state(rec + kl)
        return loss

    def train_step(self, data):
        import tensorflow as tf  # the TensorFlow backend's tape; the book runs on TensorFlow

        x = data[0] if isinstance(data, tuple) else data
        with tf.GradientTape() as tape:
            reconstruction, kl = self.terms(x, training=True)
            loss = self._update(reconstruction, kl)
        grads = tape.gradient(loss, self.trainable_weights)
        self.optimizer.apply_gradients(zip(grads, self.trainable_weights, strict=True))
        return {m.name: m.result() for m in self.metrics}

    def test_step(self, data):
        x = data[0] if isinstance(data, tuple) else data
        reconstruction, kl = self.terms(x, training=False)
        self._update(reconstruction, kl)
        return {m.name: m.result() for m in self.metrics}

    def get_config(self):
        return {
            **super().get_config(),
            "encoder": keras.saving.serialize_keras_object(self.encoder),
            "decoder": keras.saving.serialize_keras_object(self.decoder),
            "beta": self.beta,
            "warmup_epochs": self.warmup_epochs,
            "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config):
        config["encoder"] = keras.saving.deserialize_keras_object(config["encoder"])
        config["decoder"] = keras.saving.deserialize_keras_object(config["decoder"])
        return cls(**config)


def build_vae(
    input_dim: int,
    *,
    latent_dim: int = 2,
    num_layers: int = 2,
    units: int | list[int] = 256,
    activation: str = "relu",
    dropout: float = 0.0,
    batch_norm: bool = False,
    l2: float = 0.0,
    beta: float = 1.0,
    warmup_epochs: int = 0,
    optimizer: str = "adam",
    learning_rate: float = 1e-3,
    seed: int | None = None,
) -> VariationalAutoencoder:
    """Build and compile a dense VAE for pixels in [0, 1].

    Args:
        input_dim: pixels per image.
        latent_dim: size of z.
        num_layers, units, activation, dropout, batch_norm, l2, optimizer,
            learning_rate: as in `build_dense_autoencoder`.
        beta: weight of the KL term (1 is the plain VAE; larger trades
            reconstruction for a code closer to the prior).
        warmup_epochs: epochs over which the KL weight ramps from 0 to 1.
        seed: seeds the sampling of codes.

    Returns:
        The compiled `VariationalAutoencoder`, with `encoder` (image -> [mean,
        log_var]) and `decoder` (z -> pixel probabilities).
    """
    input_dim = checks.integer(input_dim, "input_dim", minimum=2)
    batch_norm = checks.boolean(batch_norm, "batch_norm")
    widths = layer_widths(units, num_layers)
    seed = checks.integer(seed, "seed", minimum=0, maximum=checks.MAX_SEED, optional=True)
    latent_dim, dropout, l2 = check_common(input_dim, latent_dim, activation, dropout, l2)
    block = dict(
        activation=activation,
        dropout=dropout,
        batch_norm=batch_norm,
        l2=l2,
        initializer=default_initializer(activation),
    )
    inputs = keras.Input(shape=(input_dim,), name="image")
    h = hidden_layers(inputs, widths, prefix="enc", **block)
    mean = keras.layers.Dense(latent_dim, name="z_mean")(h)
    # Zero-initialized log-variance starts every posterior at unit variance.
    log_var = keras.layers.Dense(latent_dim, kernel_initializer="zeros", name="z_log_var")(h)
    encoder = keras.Model(inputs, [mean, log_var], name="encoder")

    code_in = keras.Input(shape=(latent_dim,), name="z")
    h = hidden_layers(code_in, widths[::-1], prefix="dec", **block)
    outputs = keras.layers.Dense(input_dim, activation="sigmoid", name="reconstruction")(h)
    decoder = keras.Model(code_in, outputs, name="decoder")

    vae = VariationalAutoencoder(
        encoder, decoder, beta=beta, warmup_epochs=warmup_epochs, seed=seed, name="vae"
    )
    vae.compile(optimizer=make_optimizer(optimizer, learning_rate=learning_rate))
    vae(keras.ops.zeros((1, input_dim)))
    return vae
