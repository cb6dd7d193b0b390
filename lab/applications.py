"""What a trained autoencoder is for: denoising, anomaly detection, features with few labels."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from lab import data, evaluate
from lab._backend import keras
from lab.config import RunConfig
from lab.data import Dataset
from lab.models.classifier import build_code_classifier, unfreeze
from lab.training import fit_autoencoder


def denoising_table(
    models: dict[float, keras.Model],
    x_clean: np.ndarray,
    noise_levels: tuple[float, ...],
    *,
    seed: int = 0,
) -> pd.DataFrame:
    """MSE against the clean images, for each model at each test noise level.

    Args:
        models: name (the training noise level, say) -> trained autoencoder.
        x_clean: clean validation images.
        noise_levels: standard deviations of the Gaussian noise to test at.

    Returns:
        One row per (model, test noise level): `denoised_mse` (the model's
        output against the clean image), `noisy_mse` (the noisy input itself,
        the error of doing nothing) and `gain` (the share of the noisy input's
        error that the model removed: 1 - denoised / noisy; negative when the
        model makes things worse, NaN at test noise 0 where there is nothing to
        remove).
    """
    rows = []
    for level in noise_levels:
        noisy = data.add_gaussian_noise(x_clean, level, seed=seed)
        noisy_mse = float(np.mean((noisy - x_clean) ** 2))
        for name, model in models.items():
            rows.append(
                dict(
                    trained_with=name,
                    test_noise=level,
                    denoised_mse=(denoised := evaluate.reconstruction_error(model, noisy, x_clean)),
                    noisy_mse=noisy_mse,
                    gain=1 - denoised / noisy_mse if noisy_mse > 0 else float("nan"),
                )
            )
    return pd.DataFrame(rows)


def anomaly_report(
    model: keras.Model,
    dataset: Dataset,
    anomaly_classes: tuple[int, ...],
    *,
    false_alarm_rate: float = 0.05,
    share: float = 0.01,
) -> dict[str, Any]:
    """Score validation and test images by reconstruction error; set thresholds on validation.

    Two thresholds, both chosen on the validation split: `threshold` needs labelled
    anomalies (it maximizes TPR - FPR, Youden's J); `normal_threshold` needs normal
    images only (it flags the top `false_alarm_rate` of their scores), which is
    what a detector without anomaly labels can do.

    Returns:
        A dict with per-split `scores` and `is_anomaly` arrays, the validation
        `roc`, both thresholds, the `false_alarm_rate` asked for, the test `roc`, and `test_rates` and
        `test_rates_normal`: TPR, FPR and precision on the test split at each
        threshold, plus `precision_at_share`, the precision if only `share` of
        all images were anomalies (the test split holds far more).
    """
    report: dict[str, Any] = {"scores": {}, "is_anomaly": {}}
    for split in ("val", "test"):
        x, y = dataset.split(split)
        report["scores"][split] = evaluate.reconstruction_errors(model, x)
        report["is_anomaly"][split] = np.isin(y, anomaly_classes)
    report["val_roc"] = evaluate.roc(report["scores"]["val"], report["is_anomaly"]["val"])
    report["threshold"] = evaluate.choose_threshold(report["scores"]["val"], report["is_anomaly"]["val"])
    report["test_roc"] = evaluate.roc(report["scores"]["test"], report["is_anomaly"]["test"])
    normal_val = report["scores"]["val"][~report["is_anomaly"]["val"]]
    report["normal_threshold"] = evaluate.normal_threshold(normal_val, false_alarm_rate)
    report["false_alarm_rate"] = false_alarm_rate
    report["share"] = share
    report["test_share"] = float(report["is_anomaly"]["test"].mean())
    for key, threshold in (
        ("test_rates", report["threshold"]),
        ("test_rates_normal", report["normal_threshold"]),
    ):
        rates = evaluate.detection_rates(report["scores"]["test"], report["is_anomaly"]["test"], threshold)
        rates["precision_at_share"] = evaluate.precision_at_share(rates["tpr"], rates["fpr"], share)
        report[key] = rates
    return report


def few_label_comparison(
    autoencoder: keras.Model, dataset: Dataset, cfg: RunConfig, fractions: tuple[float, ...]
) -> pd.DataFrame:
    """Validation accuracy with a few labels: features compared, and fine-tuning against scratch.

    For each fraction of labelled training images (stratified, at least one per
    class), five classifiers are trained on those labels only:
    logistic regression on raw pixels, on PCA codes and on the autoencoder's
    codes (the autoencoder itself saw every training image, without labels);
    the encoder with a softmax layer, fine-tuned from the autoencoder's weights;
    and the same network trained from random weights.

    Returns:
        One row per (fraction, method): `n_labels` and `val_accuracy`.
    """
    encoder = autoencoder.get_layer("encoder")
    latent_dim = encoder.output.shape[-1]
    pca = evaluate.fit_pca(dataset.x_train, latent_dim, seed=cfg.seed)
    features = {
        "pixels + logistic regression": lambda x: x,
        "PCA codes + logistic regression": pca.transform,
        "autoencoder codes + logistic regression": lambda x: evaluate.predict(encoder, x),
    }
    rows = []
    for fraction in fractions:
        idx = data.label_subset(dataset.y_train, fraction, seed=cfg.seed)
        x_few, y_few = dataset.x_train[idx], dataset.y_train[idx]
        for method, transform in features.items():
            accuracy = evaluate.linear_probe_accuracy(
                transform(x_few), y_few, transform(dataset.x_val), dataset.y_val, seed=cfg.seed
            )
            rows.append(dict(fraction=fraction, n_labels=len(idx), method=method, val_accuracy=accuracy))
        for method, pretrained in (("encoder fine-tuned", True), ("same network from scratch", False)):
            classifier = _train_classifier(encoder, dataset, x_few, y_few, cfg, pretrained=pretrained)
            accuracy = float(
                np.mean(evaluate.predict(classifier, dataset.x_val).argmax(axis=1) == dataset.y_val)
            )
            rows.append(dict(fraction=fraction, n_labels=len(idx), method=method, val_accuracy=accuracy))
    return pd.DataFrame(rows)


def _train_classifier(encoder, dataset, x_few, y_few, cfg, *, pretrained: bool) -> keras.Model:
    """Fine-tune in two phases (head on a frozen encoder, then all at a small rate), or train
    from scratch for the same number of epochs."""
    keras.utils.set_random_seed(cfg.seed)
    # A fixed budget: early stopping would consult far more validation labels
    # than the few this experiment allows itself.
    fit = dict(
        y_train=y_few,
        y_val=dataset.y_val,
        patience=None,
        restore_best=False,
        batch_size=min(cfg.batch_size, len(y_few)),
        seed=cfg.seed,
    )
    if pretrained:
        classifier = build_code_classifier(
            encoder, dataset.n_classes, pretrained=True, freeze_encoder=True, learning_rate=1e-2
        )
        fit_autoencoder(classifier, x_few, dataset.x_val, epochs=cfg.sweep_epochs, **fit)
        unfreeze(classifier, learning_rate=1e-4)
        fit_autoencoder(classifier, x_few, dataset.x_val, epochs=cfg.sweep_epochs, **fit)
    else:
        classifier = build_code_classifier(encoder, dataset.n_classes, pretrained=False)
        fit_autoencoder(classifier, x_few, dataset.x_val, epochs=2 * cfg.sweep_epochs, **fit)
    return classifier


def compare_models(models: dict[str, keras.Model], dataset: Dataset, *, seed: int = 0) -> pd.DataFrame:
    """Validation reconstruction MSE and linear-probe accuracy of several autoencoders on the same splits."""
    rows = []
    for name, model in models.items():
        z_train, z_val = evaluate.encode(model, dataset.x_train), evaluate.encode(model, dataset.x_val)
        rows.append(
            dict(
                model=name,
                latent_dim=z_val.shape[1],
                val_mse=evaluate.reconstruction_error(model, dataset.x_val),
                probe_accuracy=evaluate.linear_probe_accuracy(
                    z_train, dataset.y_train, z_val, dataset.y_val, seed=seed
                ),
            )
        )
    return pd.DataFrame(rows).set_index("model")
