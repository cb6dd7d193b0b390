import numpy as np
import pytest

from lab import config, data, evaluate, sweeps
from lab._backend import keras
from lab.models.aae import PRIORS, build_aae, diagnose_aae, mixture_means
from lab.models.vae import build_vae
from lab.training import fit_autoencoder


@pytest.fixture(scope="module")
def digits():
    return data.load_dataset("digits", max_train=300, max_eval=120)


def test_vae_losses_are_finite_and_fall(digits):
    keras.utils.set_random_seed(0)
    vae = build_vae(64, latent_dim=2, units=32, seed=0)
    result = fit_autoencoder(vae, digits.x_train, digits.x_val, epochs=6, batch_size=32, patience=None)
    h = result.history
    for key in ("loss", "reconstruction_loss", "kl_loss", "neg_elbo"):
        assert np.isfinite(h[key]).all() and np.isfinite(h[f"val_{key}"]).all()
    assert h["reconstruction_loss"][-1] < h["reconstruction_loss"][0]
    # With beta = 1 and no warm-up the loss is the negative ELBO, the sum of its two terms.
    np.testing.assert_allclose(h["neg_elbo"], np.add(h["reconstruction_loss"], h["kl_loss"]), rtol=1e-4)


def test_vae_evaluate_returns_every_metric_on_validation(digits):
    vae = build_vae(64, latent_dim=2, units=16)
    fit_autoencoder(vae, digits.x_train, epochs=1)
    logs = vae.evaluate(digits.x_val, digits.x_val, verbose=0, return_dict=True)
    assert set(logs) >= {"loss", "reconstruction_loss", "kl_loss", "neg_elbo"}
    terms = evaluate.elbo(vae, digits.x_val)
    assert terms["neg_elbo"] == pytest.approx(terms["reconstruction"] + terms["kl"])
    count, variances = evaluate.active_units(vae, digits.x_val)
    assert variances.shape == (2,) and 0 <= count <= 2


def test_the_elbo_estimate_depends_on_the_weights_and_seed_only(digits):
    vae = build_vae(64, latent_dim=2, units=16, seed=0)
    fit_autoencoder(vae, digits.x_train, epochs=1, batch_size=64)
    first = evaluate.elbo(vae, digits.x_val, seed=3)
    vae.terms(digits.x_val, training=False)  # sampling in between advances the layer's generator
    assert evaluate.elbo(vae, digits.x_val, seed=3) == first
    # A copy with the same weights, whose generator has never drawn, gives the same figure.
    copy = build_vae(64, latent_dim=2, units=16, seed=0)
    copy(digits.x_val[:2])
    copy.set_weights(vae.get_weights())
    assert evaluate.elbo(copy, digits.x_val, seed=3) == first
    # Another seed draws other codes.
    assert evaluate.elbo(vae, digits.x_val, seed=4)["neg_elbo"] != first["neg_elbo"]


def test_kl_warmup_ramps_and_pauses_early_stopping(digits):
    vae = build_vae(64, latent_dim=2, units=16, warmup_epochs=4)
    weights = []
    fit_autoencoder(
        vae,
        digits.x_train,
        digits.x_val,
        epochs=6,
        patience=1,
        on_epoch_end=lambda e, logs: weights.append(float(vae.kl_weight.numpy())),
    )
    assert weights[:5] == pytest.approx([0.0, 0.25, 0.5, 0.75, 1.0])


def test_large_beta_collapses_the_posterior(digits):
    cfg = config.preset("quick", epochs=15, batch_size=32)
    trained = sweeps.train_vae(digits, cfg, beta=20.0, latent_dim=4, warmup_epochs=0, patience=None)
    assert evaluate.active_units(trained.model, digits.x_val)[0] == 0


def test_vae_saves_and_loads(tmp_path, digits):
    vae = build_vae(64, latent_dim=3, units=16, beta=2.0, warmup_epochs=3)
    vae.save(tmp_path / "vae.keras")
    loaded = keras.models.load_model(tmp_path / "vae.keras")
    assert loaded.beta == 2.0 and loaded.warmup_epochs == 3
    np.testing.assert_allclose(
        evaluate.predict(loaded, digits.x_val), evaluate.predict(vae, digits.x_val), atol=1e-6
    )


@pytest.mark.parametrize("prior", PRIORS)
def test_aae_trains_and_reports_the_game(prior, digits):
    keras.utils.set_random_seed(0)
    model = build_aae(64, latent_dim=2, units=32, prior=prior, seed=0)
    result = fit_autoencoder(model, digits.x_train, digits.x_val, epochs=5, batch_size=32, patience=None)
    h = result.history
    for key in ("loss", "disc_loss", "gen_loss", "disc_accuracy"):
        assert np.isfinite(h[key]).all() and f"val_{key}" in h
    assert h["loss"][-1] < h["loss"][0]
    logs = model.evaluate(digits.x_val, digits.x_val, verbose=0, return_dict=True)
    assert set(logs) >= {"loss", "disc_loss", "gen_loss", "disc_accuracy"}


def test_mixture_prior_samples_sit_on_the_circle():
    model = build_aae(64, latent_dim=2, units=8, prior="mixture", n_components=10)
    samples = keras.ops.convert_to_numpy(model.sample_prior(2000, seed=1))
    radii = np.linalg.norm(samples, axis=1)
    assert 3.0 < np.median(radii) < 5.0
    np.testing.assert_array_equal(samples, keras.ops.convert_to_numpy(model.sample_prior(2000, seed=1)))
    assert mixture_means(4, 3, 1.0).shape == (4, 3)


def test_aae_diagnosis_names_a_failed_run(digits):
    baseline = evaluate.mean_image_error(digits.x_train, digits.x_val)
    cfg = config.preset("quick", aae_epochs=30, batch_size=16)
    weak = sweeps.train_aae(digits, cfg, adversarial_learning_rate=1e-7, units=64)
    verdict = diagnose_aae(weak.model, digits.x_val, weak.result.history, baseline_mse=baseline)
    assert verdict["status"] in ("prior not matched", "discriminator dominates")
    assert verdict["prior_match"] > 0.75


def test_aae_saves_loads_and_refuses_bad_settings(tmp_path, digits):
    model = build_aae(64, latent_dim=2, units=8, prior="mixture", disc_steps=2)
    model.save(tmp_path / "aae.keras")
    loaded = keras.models.load_model(tmp_path / "aae.keras")
    assert loaded.prior == "mixture" and loaded.disc_steps == 2
    np.testing.assert_allclose(
        evaluate.predict(loaded, digits.x_val), evaluate.predict(model, digits.x_val), atol=1e-6
    )
    with pytest.raises(ValueError, match="Unknown prior"):
        build_aae(64, prior="uniform")
    with pytest.raises(ValueError, match="disc_steps"):
        build_aae(64, disc_steps=0)


def test_kl_per_unit_sums_to_the_kl_term_and_finds_collapsed_units(digits):
    vae = build_vae(64, latent_dim=4, units=32, seed=0, beta=1.0)
    fit_autoencoder(vae, digits.x_train, digits.x_val, epochs=3, batch_size=32, patience=None)
    units = evaluate.kl_per_unit(vae, digits.x_val)
    assert units.shape == (4,) and (units >= -1e-6).all()
    assert units.sum() == pytest.approx(evaluate.elbo(vae, digits.x_val)["kl"], rel=1e-3, abs=1e-3)


def test_the_bce_floor_is_zero_for_binary_pixels_and_bounds_every_reconstruction(digits):
    assert evaluate.bce_floor(np.array([[0.0, 1.0, 1.0, 0.0]])) == pytest.approx(0.0, abs=1e-5)
    assert evaluate.bce_floor(np.full((2, 4), 0.5)) == pytest.approx(4 * np.log(2))
    floor = evaluate.bce_floor(digits.x_val)
    vae = build_vae(64, latent_dim=2, units=32, seed=0)
    fit_autoencoder(vae, digits.x_train, digits.x_val, epochs=2, batch_size=32, patience=None)
    assert 0 < floor < evaluate.elbo(vae, digits.x_val)["reconstruction"]


@pytest.mark.parametrize(
    "kwargs, words",
    [
        (dict(warmup_epochs=2.5), "warmup_epochs must be a whole number of 0 or more, got 2.5"),
        (dict(beta=float("nan")), "beta must be a finite number >= 0"),
    ],
)
def test_vae_settings_of_the_wrong_kind_are_refused(kwargs, words):
    with pytest.raises(ValueError) as info:
        build_vae(64, **kwargs)
    assert words in str(info.value)


def test_pca_sizes_are_whole_numbers():
    x = np.random.default_rng(0).random((20, 8))
    with pytest.raises(ValueError, match="latent_dim must be a whole number"):
        evaluate.fit_pca(x, 4.5)
    assert evaluate.fit_pca(x, "4").n_components == 4


@pytest.mark.parametrize(
    "kwargs, words",
    [
        (dict(generator_learning_rate=0), "generator_learning_rate must be a finite number > 0, got 0"),
        (dict(generator_learning_rate=-1e-3), "generator_learning_rate must be a finite number > 0"),
        (dict(adversarial_learning_rate=float("inf")), "adversarial_learning_rate must be a finite number"),
        (dict(learning_rate=float("nan")), "learning_rate must be a finite number > 0"),
        (dict(disc_units="wide"), "disc_units must be a whole number"),
        (dict(disc_layers=1.5), "disc_layers must be a whole number"),
        (dict(disc_steps=1.5), "disc_steps must be a whole number of 1 or more"),
        (dict(disc_steps=True), "disc_steps must be a whole number"),
        (dict(prior="mixture", n_components=0), "n_components must be a whole number of 1 or more"),
        (dict(prior="mixture", latent_dim=1), "needs latent_dim >= 2"),
        (dict(seed="x"), "seed must be a whole number"),
        (dict(batch_norm="False"), "batch_norm must be True or False, got 'False'"),
    ],
)
def test_aae_settings_are_checked_when_the_model_is_built(kwargs, words):
    with pytest.raises(ValueError) as info:
        build_aae(64, **kwargs)
    assert words in str(info.value)


def test_an_aae_without_a_generator_rate_uses_the_adversarial_one():
    model = build_aae(64, adversarial_learning_rate=3e-4)
    assert float(model.gen_optimizer.learning_rate) == pytest.approx(3e-4)


@pytest.mark.parametrize(
    "kwargs, words",
    [(dict(seed=-1), "seed must be a whole number from 0"), (dict(input_dim="sixty"), "input_dim must be")],
)
def test_vae_settings_are_checked_when_the_model_is_built(kwargs, words):
    with pytest.raises(ValueError) as info:
        build_vae(**{"input_dim": 64, **kwargs})
    assert words in str(info.value)
