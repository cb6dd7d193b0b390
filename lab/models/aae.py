"""An adversarial autoencoder (Makhzani et al., 2015) for Keras 3.

An ordinary autoencoder whose code is pushed towards a chosen prior by a
discriminator. Every training step has two phases:

1. reconstruction: encoder and decoder minimize the reconstruction loss;
2. regularization: the discriminator learns to tell prior samples from codes
   (`disc_steps` updates), then the encoder, acting as the generator, learns to
   make its codes pass for prior samples.

Priors: "gaussian" (standard normal) and "mixture" (one Gaussian component per
class, their means evenly spaced on a circle in the first two code dimensions,
as in the paper's 2-D figures).
"""

from __future__ import annotations

import math

import numpy as np

from lab import checks
from lab._backend import keras
from lab.models.dense import check_common, default_initializer, hidden_layers, layer_widths

ops = keras.ops
PRIORS = ("gaussian", "mixture")


def mixture_means(n_components: int, latent_dim: int, radius: float) -> np.ndarray:
    """Component means evenly spaced on a circle of `radius` in dimensions 0 and 1."""
    angles = 2 * math.pi * np.arange(n_components) / n_components
    means = np.zeros((n_components, latent_dim), dtype="float32")
    means[:, 0], means[:, 1] = radius * np.cos(angles), radius * np.sin(angles)
    return means


@keras.saving.register_keras_serializable(package="lab")
class AdversarialAutoencoder(keras.Model):
    """Encoder, decoder and a discriminator on codes, trained in two phases per step.

    `model(x)` returns the reconstruction. The reported `loss` is the
    reconstruction loss (so early stopping and `val_loss` mean what they mean
    for any autoencoder); `disc_loss`, `gen_loss` and `disc_accuracy` describe
    the adversarial game.
    """

    def __init__(
        self,
        encoder,
        decoder,
        discriminator,
        *,
        prior: str = "gaussian",
        n_components: int = 10,
        radius: float = 4.0,
        component_std: float = 0.5,
        disc_steps: int = 1,
        adversarial_learning_rate: float = 1e-3,
        generator_learning_rate: float | None = None,
        seed: int | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if prior not in PRIORS:
            raise ValueError(f"Unknown prior {prior!r}. Choose one of: {', '.join(PRIORS)}.")
        disc_steps = checks.integer(disc_steps, "disc_steps", minimum=1)
        adversarial_learning_rate = checks.number(
            adversarial_learning_rate, "adversarial_learning_rate", above=0
        )
        if generator_learning_rate is not None:
            generator_learning_rate = checks.number(
                generator_learning_rate, "generator_learning_rate", above=0
            )
        n_components = checks.integer(n_components, "n_components", minimum=1)
        seed = checks.integer(seed, "seed", minimum=0, maximum=checks.MAX_SEED, optional=True)
        if prior == "mixture" and int(encoder.output.shape[-1]) < 2:
            raise ValueError(
                "prior='mixture' places its components on a circle, so it needs latent_dim >= 2."
            )
        self.encoder, self.decoder, self.discriminator = encoder, decoder, discriminator
        self.prior = prior
        self.n_components = n_components
        self.radius = radius
        self.component_std = component_std
        self.disc_steps = disc_steps
        self.adversarial_learning_rate = adversarial_learning_rate
        self.generator_learning_rate = generator_learning_rate
        self.seed = seed
        self.latent_dim = int(encoder.output.shape[-1])
        self.means = ops.convert_to_tensor(mixture_means(n_components, self.latent_dim, radius))
        self.seed_generator = keras.random.SeedGenerator(seed)
        # Adam with beta_1 = 0.5, the usual choice for adversarial games.
        self.disc_optimizer = keras.optimizers.Adam(adversarial_learning_rate, beta_1=0.5)
        self.gen_optimizer = keras.optimizers.Adam(
            adversarial_learning_rate if generator_learning_rate is None else generator_learning_rate,
            beta_1=0.5,
        )
        self.trackers = {
            name: keras.metrics.Mean(name=name) for name in ("loss", "disc_loss", "gen_loss", "disc_accuracy")
        }

    @property
    def metrics(self):
        return list(self.trackers.values())

    def build(self, input_shape=None):
        # Encoder, decoder and discriminator are built functional models.
        self.built = True

    def build_optimizers(self) -> None:
        """Create the state of all three optimizers before a compiled training loop."""
        self.optimizer.build(self.encoder.trainable_variables + self.decoder.trainable_variables)
        self.disc_optimizer.build(self.discriminator.trainable_variables)
        self.gen_optimizer.build(self.encoder.trainable_variables)

    def sample_prior(self, n, seed=None):
        """`n` draws from the prior, as a tensor of shape (n, latent_dim).

        With an integer `seed` the draw is repeatable; without, it continues the
        model's own random stream (as training does).
        """
        generator = self.seed_generator if seed is None else keras.random.SeedGenerator(seed)
        noise = keras.random.normal((n, self.latent_dim), seed=generator)
        if self.prior == "gaussian":
            return noise
        component = keras.random.randint((n,), 0, self.n_components, seed=generator)
        return ops.take(self.means, component, axis=0) + self.component_std * noise

    def call(self, inputs, training=False):
        return self.decoder(self.encoder(inputs, training=training), training=training)

    def _reconstruction_loss(self, x, training):
        return ops.mean(keras.losses.binary_crossentropy(x, self(x, training=training)))

    def _adversarial_terms(self, x, training):
        fake = self.discriminator(self.encoder(x, training=training), training=training)
        real = self.discriminator(self.sample_prior(ops.shape(x)[0]), training=training)
        bce = keras.losses.binary_crossentropy
        disc_loss = ops.mean(bce(ops.ones_like(real), real, from_logits=True)) + ops.mean(
            bce(ops.zeros_like(fake), fake, from_logits=True)
        )
        gen_loss = ops.mean(bce(ops.ones_like(fake), fake, from_logits=True))
        correct = ops.concatenate([ops.cast(real > 0, "float32"), ops.cast(fake <= 0, "float32")], axis=0)
        return disc_loss, gen_loss, ops.mean(correct)

    def _step(self, loss_fn, variables, optimizer):
        import tensorflow as tf  # the TensorFlow backend's tape; the book runs on TensorFlow

        with tf.GradientTape() as tape:
            loss = loss_fn()
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables, strict=True))
        return loss

    def train_step(self, data):
        x = data[0] if isinstance(data, tuple) else data
        ae_vars = self.encoder.trainable_variables + self.decoder.trainable_variables
        rec = self._step(lambda: self._reconstruction_loss(x, True), ae_vars, self.optimizer)
        for _ in range(self.disc_steps):
            self._step(
                lambda: self._adversarial_terms(x, True)[0],
                self.discriminator.trainable_variables,
                self.disc_optimizer,
            )
        self._step(
            lambda: self._adversarial_terms(x, True)[1], self.encoder.trainable_variables, self.gen_optimizer
        )
        disc_loss, gen_loss, accuracy = self._adversarial_terms(x, False)
        return self._record(rec, disc_loss, gen_loss, accuracy)

    def test_step(self, data):
        x = data[0] if isinstance(data, tuple) else data
        return self._record(self._reconstruction_loss(x, False), *self._adversarial_terms(x, False))

    def _record(self, rec, disc_loss, gen_loss, accuracy):
        values = dict(loss=rec, disc_loss=disc_loss, gen_loss=gen_loss, disc_accuracy=accuracy)
        for name, value in values.items():
            self.trackers[name].update_state(value)
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    def get_config(self):
        config = {
            name: keras.saving.serialize_keras_object(getattr(self, name))
            for name in ("encoder", "decoder", "discriminator")
        }
        settings = ("prior", "n_components", "radius", "component_std", "disc_steps")
        return {
            **super().get_config(),
            **config,
            **{k: getattr(self, k) for k in settings},
            "adversarial_learning_rate": self.adversarial_learning_rate,
            "generator_learning_rate": self.generator_learning_rate,
            "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config):
        for name in ("encoder", "decoder", "discriminator"):
            config[name] = keras.saving.deserialize_keras_object(config[name])
        return cls(**config)


def build_aae(
    input_dim: int,
    *,
    latent_dim: int = 2,
    num_layers: int = 2,
    units: int | list[int] = 256,
    activation: str = "relu",
    dropout: float = 0.0,
    batch_norm: bool = False,
    l2: float = 0.0,
    prior: str = "gaussian",
    n_components: int = 10,
    disc_units: int = 64,
    disc_layers: int = 2,
    disc_steps: int = 1,
    learning_rate: float = 1e-3,
    adversarial_learning_rate: float = 1e-3,
    generator_learning_rate: float | None = None,
    seed: int | None = None,
) -> AdversarialAutoencoder:
    """Build and compile an adversarial autoencoder for pixels in [0, 1].

    Args:
        input_dim: pixels per image.
        latent_dim: size of the code.
        num_layers, units, activation, dropout, batch_norm, l2: the encoder and
            decoder, as in `build_dense_autoencoder`.
        prior: "gaussian" or "mixture" (`n_components` Gaussians, one per class).
        disc_units: width of the discriminator's hidden layers (its size).
        disc_layers: hidden layers of the discriminator.
        disc_steps: discriminator updates per generator update.
        learning_rate: Adam's step size in the reconstruction phase.
        adversarial_learning_rate: step size of the discriminator (and, unless
            `generator_learning_rate` is given, of the generator) in the
            regularization phase.
        generator_learning_rate: step size of the encoder's generator updates.
        seed: seeds the prior samples.

    Returns:
        The compiled `AdversarialAutoencoder`.
    """
    input_dim = checks.integer(input_dim, "input_dim", minimum=2)
    batch_norm = checks.boolean(batch_norm, "batch_norm")
    widths = layer_widths(units, num_layers)
    disc_units = checks.integer(disc_units, "disc_units", minimum=1)
    disc_layers = checks.integer(disc_layers, "disc_layers", minimum=0)
    learning_rate = checks.number(learning_rate, "learning_rate", above=0)
    latent_dim, dropout, l2 = check_common(input_dim, latent_dim, activation, dropout, l2)
    if disc_units < 1 or disc_layers < 0:
        raise ValueError(f"disc_units must be >= 1 and disc_layers >= 0, got {disc_units}, {disc_layers}")
    block = dict(
        activation=activation,
        dropout=dropout,
        batch_norm=batch_norm,
        l2=l2,
        initializer=default_initializer(activation),
    )
    inputs = keras.Input(shape=(input_dim,), name="image")
    code = keras.layers.Dense(latent_dim, name="code")(hidden_layers(inputs, widths, prefix="enc", **block))
    encoder = keras.Model(inputs, code, name="encoder")

    code_in = keras.Input(shape=(latent_dim,), name="code_in")
    h = hidden_layers(code_in, widths[::-1], prefix="dec", **block)
    decoder = keras.Model(
        code_in, keras.layers.Dense(input_dim, activation="sigmoid", name="reconstruction")(h), name="decoder"
    )

    disc_in = keras.Input(shape=(latent_dim,), name="code_or_prior")
    h = hidden_layers(disc_in, [disc_units] * disc_layers, prefix="disc", activation="relu")
    discriminator = keras.Model(disc_in, keras.layers.Dense(1, name="logit")(h), name="discriminator")

    model = AdversarialAutoencoder(
        encoder,
        decoder,
        discriminator,
        prior=prior,
        n_components=n_components,
        disc_steps=disc_steps,
        adversarial_learning_rate=adversarial_learning_rate,
        generator_learning_rate=generator_learning_rate,
        seed=seed,
        name="aae",
    )
    model.compile(optimizer=keras.optimizers.Adam(learning_rate))
    model(keras.ops.zeros((1, input_dim)))
    return model


def diagnose_aae(
    model: AdversarialAutoencoder,
    x: np.ndarray,
    history: dict[str, list[float]],
    *,
    baseline_mse: float,
    seed: int = 0,
) -> dict[str, object]:
    """Say whether an adversarial run worked, and if not, how it failed.

    Three measures on validation images `x`:
    - `prior_match`: accuracy of a 5-nearest-neighbour classifier told to separate
      codes from an equal number of prior samples (cross-validated); 0.5 means
      indistinguishable, 1.0 means the codes ignore the prior;
    - `disc_accuracy`: the discriminator's accuracy at the last epoch;
    - `val_mse` against `baseline_mse`, the mean-image error.

    Returns:
        The measures and a `status`: "collapsed" (reconstruction no better than
        the mean image, or all codes at one point), "discriminator dominates"
        (it wins almost every time: the encoder gets no useful signal),
        "prior not matched" (codes and prior samples are easy to tell apart),
        or "ok".
    """
    from sklearn.model_selection import cross_val_score
    from sklearn.neighbors import KNeighborsClassifier

    from lab import evaluate

    codes = evaluate.predict(model.encoder, x)
    prior = keras.ops.convert_to_numpy(model.sample_prior(len(codes), seed=seed))
    both = np.concatenate([codes, prior])
    labels = np.r_[np.zeros(len(codes)), np.ones(len(prior))]
    prior_match = float(cross_val_score(KNeighborsClassifier(5), both, labels, cv=3).mean())
    val_mse = evaluate.reconstruction_error(model, x)
    disc_accuracy = history.get("val_disc_accuracy", history.get("disc_accuracy", [float("nan")]))[-1]
    spread = float(codes.std(axis=0).mean())
    if not np.isfinite(val_mse) or val_mse >= 0.95 * baseline_mse or spread < 1e-3:
        status = "collapsed"
    elif disc_accuracy >= 0.9:
        status = "discriminator dominates"
    elif prior_match >= 0.75:
        status = "prior not matched"
    else:
        status = "ok"
    return dict(
        status=status,
        prior_match=prior_match,
        disc_accuracy=float(disc_accuracy),
        code_spread=spread,
        val_mse=val_mse,
    )
