"""Controlled experiments: change one setting, hold the rest fixed, collect a table."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from lab import evaluate
from lab._backend import keras
from lab.config import RunConfig
from lab.data import Dataset
from lab.models import build_dense_autoencoder
from lab.training import FitResult, fit_autoencoder


@dataclass
class Trained:
    """A trained model with its training record and the settings that built it."""

    model: keras.Model
    result: FitResult
    settings: dict[str, Any]


def reference_settings(cfg: RunConfig, **overrides: Any) -> dict[str, Any]:
    """The builder arguments of the book's reference dense autoencoder, with overrides."""
    settings: dict[str, Any] = dict(
        latent_dim=cfg.latent_dim,
        num_layers=cfg.num_layers,
        units=cfg.units,
        learning_rate=cfg.learning_rate,
    )
    settings.update(overrides)
    return settings


def train_dense(dataset: Dataset, cfg: RunConfig, **overrides: Any) -> Trained:
    """Build and train the reference dense autoencoder (with overrides) on one seed.

    Args:
        dataset: the splits; training uses `train`, early stopping uses `val`.
        cfg: budgets (epochs, patience, batch size) and the seed.
        **overrides: builder arguments to change, such as `latent_dim=2`.
    """
    settings = reference_settings(cfg, **overrides)
    keras.utils.set_random_seed(cfg.seed)
    model = build_dense_autoencoder(dataset.n_features, **settings)
    result = fit_autoencoder(
        model,
        dataset.x_train,
        dataset.x_val,
        epochs=cfg.epochs,
        batch_size=cfg.batch_size,
        patience=cfg.patience,
        seed=cfg.seed,
    )
    return Trained(model=model, result=result, settings=settings)


def latent_size_sweep(
    dataset: Dataset, cfg: RunConfig, sizes: tuple[int, ...] | None = None
) -> tuple[pd.DataFrame, dict[int, Trained]]:
    """Autoencoder and PCA at each latent size, scored on the validation split.

    Returns:
        A table with one row per (method, latent_dim): `val_mse`,
        `probe_accuracy` (logistic regression trained on the training codes),
        `epochs_trained` and `seconds`; and the trained autoencoders by size.
    """
    sizes = sizes or cfg.latent_sizes
    rows, models = [], {}
    for size in sizes:
        trained = train_dense(dataset, cfg, latent_dim=size)
        models[size] = trained
        z_train = evaluate.encode(trained.model, dataset.x_train)
        z_val = evaluate.encode(trained.model, dataset.x_val)
        rows.append(
            dict(
                method="autoencoder",
                latent_dim=size,
                val_mse=evaluate.reconstruction_error(trained.model, dataset.x_val),
                probe_accuracy=evaluate.linear_probe_accuracy(
                    z_train, dataset.y_train, z_val, dataset.y_val, seed=cfg.seed
                ),
                epochs_trained=trained.result.epochs_trained,
                seconds=trained.result.seconds,
            )
        )
        pca = evaluate.fit_pca(dataset.x_train, size, seed=cfg.seed)
        rows.append(
            dict(
                method="PCA",
                latent_dim=size,
                val_mse=float(evaluate.pca_reconstruction_errors(pca, dataset.x_val).mean()),
                probe_accuracy=evaluate.linear_probe_accuracy(
                    pca.transform(dataset.x_train),
                    dataset.y_train,
                    pca.transform(dataset.x_val),
                    dataset.y_val,
                    seed=cfg.seed,
                ),
                epochs_trained=0,
                seconds=0.0,
            )
        )
    return pd.DataFrame(rows), models


def compare_with_pca(
    dataset: Dataset, models: dict[int, Trained], split: str = "test", *, seed: int = 0
) -> pd.DataFrame:
    """Reconstruction MSE of each trained autoencoder beside PCA's at the same latent size.

    Returns:
        One row per latent size: `autoencoder_mse`, `pca_mse` and
        `reduction` (the autoencoder's error relative to PCA's, 0.4 = 40% lower).
    """
    x, _ = dataset.split(split)
    rows = []
    for size, trained in sorted(models.items()):
        pca = evaluate.fit_pca(dataset.x_train, size, seed=seed)
        ae = evaluate.reconstruction_error(trained.model, x)
        pc = float(evaluate.pca_reconstruction_errors(pca, x).mean())
        rows.append(dict(latent_dim=size, autoencoder_mse=ae, pca_mse=pc, reduction=1 - ae / pc))
    return pd.DataFrame(rows).set_index("latent_dim")
