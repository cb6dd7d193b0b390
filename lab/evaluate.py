"""Measuring autoencoders: reconstruction error, the PCA baseline, and a linear probe."""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from lab import checks
from lab._backend import keras

# Rows per forward pass when predicting: large enough to be fast, small enough
# that MNIST fits in memory on a laptop.
_CHUNK = 4096


def predict(model: keras.Model, x: np.ndarray) -> np.ndarray:
    """Run a model (or an encoder) on `x` in inference mode, without `model.predict`'s overhead."""
    parts = [
        keras.ops.convert_to_numpy(model(x[i : i + _CHUNK], training=False)) for i in range(0, len(x), _CHUNK)
    ]
    return np.concatenate(parts) if parts else np.empty((0,), dtype="float32")


def encode(autoencoder: keras.Model, x: np.ndarray) -> np.ndarray:
    """The latent codes of `x` from an autoencoder's `encoder` (a VAE's posterior means)."""
    encoder = autoencoder.encoder if hasattr(autoencoder, "encoder") else autoencoder.get_layer("encoder")
    if isinstance(encoder.output, (list, tuple)):
        return np.concatenate(
            [
                keras.ops.convert_to_numpy(encoder(x[i : i + _CHUNK], training=False)[0])
                for i in range(0, len(x), _CHUNK)
            ]
        )
    return predict(encoder, x)


def reconstruction_errors(
    autoencoder: keras.Model, x: np.ndarray, target: np.ndarray | None = None
) -> np.ndarray:
    """Mean squared error over pixels, one value per example.

    Args:
        autoencoder: the model.
        x: its inputs.
        target: what the output should be; defaults to `x`. Pass the clean
            images with noisy inputs to measure denoising.
    """
    target = x if target is None else target
    return np.mean((predict(autoencoder, x) - target) ** 2, axis=1)


def reconstruction_error(autoencoder: keras.Model, x: np.ndarray, target: np.ndarray | None = None) -> float:
    """Mean squared error over pixels and examples (see `reconstruction_errors`)."""
    return float(np.mean(reconstruction_errors(autoencoder, x, target)))


def mean_image_error(x_train: np.ndarray, x_eval: np.ndarray) -> float:
    """MSE of always answering the mean training image: the floor any model must beat."""
    return float(np.mean((x_eval - x_train.mean(axis=0)) ** 2))


def code_sparsity(z: np.ndarray, *, tol: float = 1e-2) -> float:
    """Share of code entries whose magnitude is below `tol` (near zero)."""
    return float(np.mean(np.abs(z) < tol))


def roc(scores: np.ndarray, is_anomaly: np.ndarray) -> dict[str, np.ndarray | float]:
    """The ROC curve of anomaly `scores` (higher = more anomalous) and its area.

    Returns:
        A dict with `fpr`, `tpr`, `thresholds` (arrays) and `auc` (a float).
    """
    from sklearn.metrics import roc_auc_score, roc_curve

    scores = np.asarray(scores, dtype=float).ravel()
    is_anomaly = np.asarray(is_anomaly).ravel()
    if len(scores) != len(is_anomaly):
        raise ValueError(
            f"roc got {len(scores)} scores for {len(is_anomaly)} labels; give one score per image."
        )
    if not set(np.unique(is_anomaly).tolist()) <= {0, 1}:
        raise ValueError(
            "is_anomaly must be True/False (or 1/0) for each image, got the values "
            f"{np.unique(is_anomaly)[:5].tolist()}; compare class labels first, "
            "e.g. np.isin(y, ANOMALY_CLASSES)."
        )
    if not np.isfinite(scores).all():
        bad = int((~np.isfinite(scores)).sum())
        raise ValueError(
            f"{bad} of the {len(scores)} anomaly scores are NaN or infinite (a diverged model?); "
            "retrain the model or drop those images before drawing a ROC curve."
        )
    if len(np.unique(is_anomaly)) != 2:
        raise ValueError("ROC needs both normal and anomalous examples")
    fpr, tpr, thresholds = roc_curve(is_anomaly, scores)
    return dict(fpr=fpr, tpr=tpr, thresholds=thresholds, auc=float(roc_auc_score(is_anomaly, scores)))


def choose_threshold(scores: np.ndarray, is_anomaly: np.ndarray) -> float:
    """The score threshold that maximizes TPR - FPR (Youden's J), to be chosen on validation data."""
    curve = roc(scores, is_anomaly)
    best = int(np.argmax(curve["tpr"] - curve["fpr"]))
    return float(min(curve["thresholds"][best], np.max(scores)))


def normal_threshold(normal_scores: np.ndarray, false_alarm_rate: float = 0.05) -> float:
    """A threshold set from normal images alone: flag the top `false_alarm_rate` of their scores.

    This is what a deployment can do when no labelled anomalies exist: it fixes
    the expected share of false alarms, not the share of anomalies caught.
    """
    if not 0 < false_alarm_rate < 1:
        raise ValueError(f"false_alarm_rate must be between 0 and 1, got {false_alarm_rate}")
    normal_scores = np.asarray(normal_scores, dtype=float)
    if normal_scores.size == 0:
        raise ValueError("normal_scores is empty: score some normal validation images first")
    if not np.isfinite(normal_scores).all():
        raise ValueError(
            f"{int((~np.isfinite(normal_scores)).sum())} of the normal scores are NaN or infinite "
            "(a diverged model?); retrain the model before setting a threshold."
        )
    return float(np.quantile(normal_scores, 1 - false_alarm_rate))


def precision_at_share(tpr: float, fpr: float, share: float) -> float:
    """Precision of a detector with these rates when a `share` of all images are anomalies.

    A test split with 30% anomalies flatters precision; at a realistic 1%, even a
    small false-positive rate means most flagged images are normal.
    """
    if not 0 < share < 1:
        raise ValueError(f"share must be between 0 and 1, got {share}")
    caught, false_alarms = tpr * share, fpr * (1 - share)
    return float(caught / (caught + false_alarms)) if caught + false_alarms > 0 else float("nan")


def detection_rates(scores: np.ndarray, is_anomaly: np.ndarray, threshold: float) -> dict[str, float]:
    """True- and false-positive rates and precision of flagging `scores >= threshold`."""
    flagged = scores >= threshold
    is_anomaly = np.asarray(is_anomaly, bool)
    return dict(
        tpr=float(flagged[is_anomaly].mean()),
        fpr=float(flagged[~is_anomaly].mean()),
        precision=float(is_anomaly[flagged].mean()) if flagged.any() else float("nan"),
    )


def fit_pca(x_train: np.ndarray, latent_dim: int, *, seed: int = 0) -> PCA:
    """PCA with `latent_dim` components, fitted on the training split only."""
    latent_dim = checks.integer(latent_dim, "latent_dim")
    if not 1 <= latent_dim <= min(x_train.shape):
        raise ValueError(f"PCA needs 1 <= latent_dim <= {min(x_train.shape)} for this data, got {latent_dim}")
    return PCA(n_components=latent_dim, random_state=seed).fit(x_train)


def pca_reconstruction_errors(pca: PCA, x: np.ndarray) -> np.ndarray:
    """Per-example MSE of projecting `x` onto the PCA subspace and back."""
    return np.mean((pca.inverse_transform(pca.transform(x)) - x) ** 2, axis=1)


def linear_probe_accuracy(
    z_train: np.ndarray,
    y_train: np.ndarray,
    z_eval: np.ndarray,
    y_eval: np.ndarray,
    *,
    seed: int = 0,
) -> float:
    """Accuracy of a logistic regression trained on codes `z_train` and scored on `z_eval`.

    A high accuracy means the classes are linearly separable in the code: a
    measure of how useful the code is downstream, independent of reconstruction.
    """
    if len(np.unique(y_train)) < 2:
        raise ValueError("A linear probe needs at least two classes in y_train.")
    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, random_state=seed))
    with warnings.catch_warnings():
        # A probe that has not fully converged still measures separability.
        warnings.simplefilter("ignore", ConvergenceWarning)
        probe.fit(z_train, y_train)
    return float(probe.score(z_eval, y_eval))


def subspace_angles_to_pca(basis: np.ndarray, pca: PCA) -> np.ndarray:
    """Principal angles, in degrees, between the span of `basis` rows and PCA's subspace.

    For a linear autoencoder pass the decoder's weight matrix (latent_dim x pixels):
    angles near zero mean it learned the same subspace as PCA, even though its
    individual directions need not be the principal components.
    """
    from scipy.linalg import subspace_angles

    if basis.shape[0] != pca.n_components_:
        raise ValueError(f"basis has {basis.shape[0]} rows but PCA has {pca.n_components_} components")
    return np.degrees(subspace_angles(basis.T, pca.components_.T))


def elbo(vae: keras.Model, x: np.ndarray, *, seed: int = 0) -> dict[str, float]:
    """Mean reconstruction loss, KL divergence and negative ELBO (nats per image) of a VAE on `x`.

    One code is sampled per image, as in training. The estimate depends on `seed` only:
    the sampling layer's generator is set from it for the estimate and put back after,
    so the same weights give the same figure however much the model has sampled before.
    """
    keras.utils.set_random_seed(seed)
    generator = getattr(getattr(vae, "sampling", None), "seed_generator", None)
    saved = None if generator is None else keras.ops.convert_to_numpy(generator.state)
    if generator is not None:
        generator.state.assign(np.array([seed, 0], dtype=saved.dtype))
    try:
        parts = [vae.terms(x[i : i + _CHUNK], training=False) for i in range(0, len(x), _CHUNK)]
    finally:
        if generator is not None:
            generator.state.assign(saved)
    rec = float(np.mean(np.concatenate([keras.ops.convert_to_numpy(r) for r, _ in parts])))
    kl = float(np.mean(np.concatenate([keras.ops.convert_to_numpy(k) for _, k in parts])))
    return dict(reconstruction=rec, kl=kl, neg_elbo=rec + kl)


def active_units(vae: keras.Model, x: np.ndarray, *, threshold: float = 0.01) -> tuple[int, np.ndarray]:
    """Latent units whose posterior mean varies across inputs (Burda et al., 2015).

    A unit whose mean barely moves with the input carries no information: its
    posterior equals the prior (posterior collapse).

    Returns:
        The number of units with variance of the posterior mean above
        `threshold`, and every unit's variance.
    """
    mean, _ = vae.encoder(x, training=False)
    variances = np.var(keras.ops.convert_to_numpy(mean), axis=0)
    return int(np.sum(variances > threshold)), variances


def kl_per_unit(vae: keras.Model, x: np.ndarray) -> np.ndarray:
    """Mean KL divergence of each latent unit's posterior from the prior, in nats (one per unit).

    The units' values sum to the KL term of `elbo`. A unit near 0 carries no information
    about the input (collapsed); unlike a count of active units, this says how much
    each unit carries, so a unit just above a variance threshold is not mistaken for a working one.
    """
    parts = [vae.encoder(x[i : i + _CHUNK], training=False) for i in range(0, len(x), _CHUNK)]
    mean = np.concatenate([keras.ops.convert_to_numpy(m) for m, _ in parts])
    log_var = np.concatenate([keras.ops.convert_to_numpy(v) for _, v in parts])
    return np.mean(-0.5 * (1 + log_var - mean**2 - np.exp(log_var)), axis=0)


def bce_floor(x: np.ndarray, eps: float = 1e-7) -> float:
    """The lowest summed binary cross-entropy any reconstruction of `x` can reach, per image.

    For grey-level pixels, cross-entropy with a perfect reconstruction is the pixels' own
    entropy, not 0: binary cross-entropy is a normalized likelihood only for binary
    pixels. The floor is that entropy, clipped as Keras clips (`eps`).
    """
    p = np.clip(np.asarray(x, dtype="float64"), eps, 1 - eps)
    return float(np.mean(-(p * np.log(p) + (1 - p) * np.log1p(-p)).sum(axis=1)))
