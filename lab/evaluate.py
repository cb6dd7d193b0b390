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
    x = _rows(x, "x", model)
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
    x = _rows(x, "x", autoencoder)
    if len(x) == 0:
        raise ValueError("x is empty: give at least one image to measure.")
    if _expects_unit_pixels(autoencoder):
        _check_pixels(x, "input")
    target = x if target is None else _rows(target, "target")
    if target.shape != x.shape:
        raise ValueError(
            f"target has shape {target.shape} but x has {x.shape}: give one target image per input image "
            "(the clean images, for denoising)."
        )
    return np.mean((predict(autoencoder, x) - target) ** 2, axis=1)


def reconstruction_error(autoencoder: keras.Model, x: np.ndarray, target: np.ndarray | None = None) -> float:
    """Mean squared error over pixels and examples (see `reconstruction_errors`)."""
    return float(np.mean(reconstruction_errors(autoencoder, x, target)))


def mean_image_error(x_train: np.ndarray, x_eval: np.ndarray) -> float:
    """MSE of always answering the mean training image: the floor any model must beat."""
    x_train, x_eval = _rows(x_train, "x_train"), _rows(x_eval, "x_eval")
    if x_train.shape[1] != x_eval.shape[1] or not len(x_train) or not len(x_eval):
        raise ValueError(
            f"x_train {x_train.shape} and x_eval {x_eval.shape} must both hold images of the same width."
        )
    return float(np.mean((x_eval - x_train.mean(axis=0)) ** 2))


def code_sparsity(z: np.ndarray, *, tol: float = 1e-2) -> float:
    """Share of code entries whose magnitude is below `tol` (near zero)."""
    tol = checks.number(tol, "tol", minimum=0)
    return float(np.mean(np.abs(z) < tol))


def roc(scores: np.ndarray, is_anomaly: np.ndarray) -> dict[str, np.ndarray | float]:
    """The ROC curve of anomaly `scores` (higher = more anomalous) and its area.

    Returns:
        A dict with `fpr`, `tpr`, `thresholds` (arrays) and `auc` (a float).
    """
    from sklearn.metrics import roc_auc_score, roc_curve

    scores, is_anomaly = _scores_and_flags(scores, is_anomaly, "roc")
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
    false_alarm_rate = checks.number(false_alarm_rate, "false_alarm_rate", above=0, below=1)
    normal_scores = np.asarray(normal_scores, dtype=float)
    if normal_scores.ndim != 1:
        raise ValueError(
            f"normal_scores has shape {normal_scores.shape}; give one score per image (a 1-D array)."
        )
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
    tpr = checks.number(tpr, "tpr", minimum=0, maximum=1)
    fpr = checks.number(fpr, "fpr", minimum=0, maximum=1)
    share = checks.number(share, "share", above=0, below=1)
    caught, false_alarms = tpr * share, fpr * (1 - share)
    return float(caught / (caught + false_alarms)) if caught + false_alarms > 0 else float("nan")


def detection_rates(scores: np.ndarray, is_anomaly: np.ndarray, threshold: float) -> dict[str, float]:
    """True- and false-positive rates and precision of flagging `scores >= threshold`."""
    scores, is_anomaly = _scores_and_flags(scores, is_anomaly, "detection_rates")
    threshold = checks.number(threshold, "threshold")
    if len(np.unique(is_anomaly)) != 2:
        raise ValueError("detection_rates needs both normal and anomalous examples, to rate both.")
    flagged = scores >= threshold
    return dict(
        tpr=float(flagged[is_anomaly].mean()),
        fpr=float(flagged[~is_anomaly].mean()),
        precision=float(is_anomaly[flagged].mean()) if flagged.any() else float("nan"),
    )


def fit_pca(x_train: np.ndarray, latent_dim: int, *, seed: int = 0) -> PCA:
    """PCA with `latent_dim` components, fitted on the training split only."""
    x_train = _rows(x_train, "x_train")
    seed = checks.integer(seed, "seed", minimum=0, maximum=checks.MAX_SEED)
    latent_dim = checks.integer(latent_dim, "latent_dim")
    if not 1 <= latent_dim <= min(x_train.shape):
        raise ValueError(f"PCA needs 1 <= latent_dim <= {min(x_train.shape)} for this data, got {latent_dim}")
    return PCA(n_components=latent_dim, random_state=seed).fit(x_train)


def pca_reconstruction_errors(pca: PCA, x: np.ndarray) -> np.ndarray:
    """Per-example MSE of projecting `x` onto the PCA subspace and back."""
    x = _rows(x, "x")
    if x.shape[1] != pca.n_features_in_:
        raise ValueError(f"x is {x.shape[1]} values wide, but this PCA was fitted on {pca.n_features_in_}.")
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
    seed = checks.integer(seed, "seed", minimum=0, maximum=checks.MAX_SEED)
    z_train, z_eval = _rows(z_train, "z_train"), _rows(z_eval, "z_eval")
    y_train, y_eval = np.asarray(y_train).ravel(), np.asarray(y_eval).ravel()
    for z, y, split in ((z_train, y_train, "train"), (z_eval, y_eval, "eval")):
        if len(z) != len(y):
            raise ValueError(f"z_{split} holds {len(z)} codes for {len(y)} labels; give one label per code.")
        if not np.isfinite(z).all():
            raise ValueError(
                f"z_{split} holds NaN or infinite codes (a diverged model?); "
                "retrain it before probing its codes."
            )
    if len(np.unique(y_train)) < 2:
        raise ValueError("A linear probe needs at least two classes in y_train.")
    unseen = sorted(set(np.unique(y_eval).tolist()) - set(np.unique(y_train).tolist()))
    if unseen:
        raise ValueError(
            f"y_eval holds classes {unseen[:5]} that y_train does not: the probe cannot predict them."
        )
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
    _check_vae(vae, "elbo")
    seed = checks.integer(seed, "seed", minimum=0, maximum=checks.MAX_SEED)
    x = _rows(x, "x", vae)
    if len(x) == 0:
        raise ValueError("x is empty: give at least one image to estimate the ELBO on.")
    _check_pixels(x, "input")
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
    _check_vae(vae, "active_units")
    mean, _ = vae.encoder(_rows(x, "x", vae), training=False)
    variances = np.var(keras.ops.convert_to_numpy(mean), axis=0)
    return int(np.sum(variances > threshold)), variances


def kl_per_unit(vae: keras.Model, x: np.ndarray) -> np.ndarray:
    """Mean KL divergence of each latent unit's posterior from the prior, in nats (one per unit).

    The units' values sum to the KL term of `elbo`. A unit near 0 carries no information
    about the input (collapsed); unlike a count of active units, this says how much
    each unit carries, so a unit just above a variance threshold is not mistaken for a working one.
    """
    _check_vae(vae, "kl_per_unit")
    x = _rows(x, "x", vae)
    if len(x) == 0:
        raise ValueError("x is empty: give at least one image.")
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
    x = _rows(x, "x")
    _check_pixels(x, "input")
    p = np.clip(x.astype("float64"), eps, 1 - eps)
    return float(np.mean(-(p * np.log(p) + (1 - p) * np.log1p(-p)).sum(axis=1)))


def neighbours_kept(z: np.ndarray, embedding: np.ndarray, *, n_neighbors: int = 10) -> float:
    """How well a 2-D view keeps each code's nearest neighbours: scikit-learn's trustworthiness.

    1 means every point's nearest neighbours in the view were near it in the code space
    too; it falls as the view puts strangers side by side.
    """
    from sklearn.manifold import trustworthiness

    z, embedding = _rows(z, "z"), _rows(embedding, "embedding")
    if len(z) != len(embedding):
        raise ValueError(f"z holds {len(z)} codes but embedding {len(embedding)} points; give one per code.")
    n_neighbors = checks.integer(n_neighbors, "n_neighbors", minimum=1, maximum=max(1, len(z) // 2 - 1))
    return float(trustworthiness(z, embedding, n_neighbors=n_neighbors))


def cluster_distances_kept(z: np.ndarray, embedding: np.ndarray, labels: np.ndarray) -> float:
    """Rank correlation between the distances of the classes' centres in the codes and in a view.

    1 means the view keeps which classes are far apart and which are close; near 0 means
    the distances between clusters in the view say nothing about those in the code space.
    """
    from scipy.spatial.distance import pdist
    from scipy.stats import spearmanr

    z, embedding = _rows(z, "z"), _rows(embedding, "embedding")
    labels = np.asarray(labels).ravel()
    if not len(z) == len(embedding) == len(labels):
        raise ValueError(
            f"got {len(z)} codes, {len(embedding)} points and {len(labels)} labels; give one of each."
        )
    classes = np.unique(labels)
    if len(classes) < 3:
        raise ValueError("comparing distances between clusters needs at least 3 classes.")
    centres = [np.stack([v[labels == c].mean(axis=0) for c in classes]) for v in (z, embedding)]
    return float(spearmanr(pdist(centres[0]), pdist(centres[1])).statistic)


def _rows(x, name: str, model: keras.Model | None = None) -> np.ndarray:
    """`x` as a 2-D numeric array, one example per row (as wide as `model`'s input, when given)."""
    from lab.training import _width

    x = np.asarray(x)
    if x.dtype.kind not in "fiub":
        raise TypeError(f"{name} must be an array of numbers, got values of type {x.dtype}.")
    if x.ndim != 2:
        raise ValueError(
            f"{name} has shape {x.shape}; give a 2-D array, one flattened image (or code) per row "
            "(for one image, x[None, :])."
        )
    width = None if model is None else _width(model, "input")
    if width is not None and x.shape[1] != width:
        raise ValueError(f"{name} is {x.shape[1]} values wide, but the model takes {width}.")
    return x


def _check_pixels(x: np.ndarray, name: str) -> None:
    from lab.training import _check_pixels as check

    check(x, name)


def _expects_unit_pixels(model: keras.Model) -> bool:
    """True for models trained on values in [0, 1] with binary cross-entropy (the book's default)."""
    from lab.training import expects_unit_range

    return expects_unit_range(model)


def _check_vae(model: keras.Model, helper: str) -> None:
    if not hasattr(model, "terms") or not hasattr(model, "encoder"):
        raise TypeError(
            f"{helper} needs a VAE (from lab.models.build_vae or train_vae), got {type(model).__name__}; "
            "for other autoencoders use reconstruction_error."
        )


def _scores_and_flags(scores, is_anomaly, helper: str) -> tuple[np.ndarray, np.ndarray]:
    """One finite score and one True/False flag per image, or a message that says what is wrong."""
    scores = np.asarray(scores, dtype=float)
    is_anomaly = np.asarray(is_anomaly)
    if scores.ndim != 1 or is_anomaly.ndim != 1:
        raise ValueError(
            f"{helper} takes one score and one flag per image (1-D arrays), got shapes "
            f"{scores.shape} and {is_anomaly.shape}."
        )
    if len(scores) != len(is_anomaly):
        raise ValueError(
            f"{helper} got {len(scores)} scores for {len(is_anomaly)} labels; give one score per image."
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
            "retrain the model or drop those images first."
        )
    return scores, is_anomaly.astype(bool)
