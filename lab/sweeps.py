"""Controlled experiments: change one setting, hold the rest fixed, collect a table."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from lab import evaluate, vocabulary
from lab._backend import keras
from lab.config import RunConfig
from lab.data import Dataset
from lab.models import build_conv_autoencoder, build_dense_autoencoder
from lab.models.aae import build_aae
from lab.models.vae import build_vae
from lab.seeds import seeds_for, verdict
from lab.training import FitResult, fit_autoencoder

# Settings that belong to training rather than to the model builder.
FIT_ARGUMENTS = ("epochs", "patience", "batch_size", "restore_best", "lr_plateau")


@dataclass
class Trained:
    """A trained model with its training record and the settings that built it."""

    model: keras.Model
    result: FitResult
    settings: dict[str, Any]


@dataclass
class Sweep:
    """The table of a sweep (one row per run) and the trained runs, in the same order."""

    frame: pd.DataFrame
    runs: list[Trained]

    def run(self, **settings: Any) -> Trained:
        """The run whose settings include all of `settings`."""
        for trained in self.runs:
            if all(trained.settings.get(k) == v for k, v in settings.items()):
                return trained
        raise KeyError(f"no run with {settings}")

    def add_column(self, name: str, measure: Callable[[Trained], float]) -> pd.DataFrame:
        """Add a column computed from each trained run, such as the sparsity of its code."""
        self.frame[name] = [measure(trained) for trained in self.runs]
        return self.frame

    def histories(self, param: str) -> dict[str, dict[str, list[float]]]:
        """Training histories keyed by the value of `param` (first seed only), for `plot_loss_curves`."""
        first = {}
        for t in self.runs:
            first.setdefault(f"{param}={t.settings[param]}", t.result.history)
        return first


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


def _check_pair(dataset: Any, cfg: Any) -> None:
    if not isinstance(dataset, Dataset) or not isinstance(cfg, RunConfig):
        raise TypeError(
            "train a model with (dataset, cfg) from data.load_for(cfg) and config.preset(...), got "
            f"({type(dataset).__name__}, {type(cfg).__name__})."
        )


def train_model(
    builder, dataset: Dataset, cfg: RunConfig, defaults: dict[str, Any], **overrides: Any
) -> Trained:
    """Build a model with `builder(n_features, **settings)` and train it on one seed.

    Args:
        builder: a function of `lab.models`, such as `build_vae`.
        dataset: the splits; training uses `train`, early stopping uses `val`.
        cfg: budgets (epochs, patience, batch size) and the seed.
        defaults: the builder's reference settings.
        **overrides: builder arguments to change, the training settings
            `epochs`, `patience`, `batch_size` and `restore_best`, and an
            `on_epoch_end(epoch, logs)` callback for live plots.
    """
    _check_pair(dataset, cfg)
    fit = dict(epochs=cfg.epochs, patience=cfg.patience, batch_size=cfg.batch_size)
    fit.update({k: overrides.pop(k) for k in FIT_ARGUMENTS if k in overrides})
    on_epoch_end = overrides.pop("on_epoch_end", None)
    settings = {**defaults, **overrides}
    keras.utils.set_random_seed(cfg.seed)
    model = builder(dataset.n_features, **settings)
    result = fit_autoencoder(
        model, dataset.x_train, dataset.x_val, seed=cfg.seed, on_epoch_end=on_epoch_end, **fit
    )
    return Trained(model=model, result=result, settings={**settings, **fit})


def train_dense(dataset: Dataset, cfg: RunConfig, **overrides: Any) -> Trained:
    """The reference dense autoencoder, with overrides (see `train_model`)."""
    _check_pair(dataset, cfg)
    return train_model(build_dense_autoencoder, dataset, cfg, reference_settings(cfg), **overrides)


def conv_settings(cfg: RunConfig, **overrides: Any) -> dict[str, Any]:
    """The builder arguments of the book's reference convolutional autoencoder, with overrides."""
    return {
        **dict(
            latent_dim=cfg.latent_dim,
            conv_layers=2,
            filters=16,
            kernel_size=3,
            learning_rate=cfg.learning_rate,
        ),
        **overrides,
    }


def train_conv(dataset: Dataset, cfg: RunConfig, **overrides: Any) -> Trained:
    """The reference convolutional autoencoder on the dataset's images, with overrides (see `train_model`)."""
    _check_pair(dataset, cfg)

    def builder(n_features: int, **settings: Any) -> keras.Model:
        return build_conv_autoencoder(dataset.image_shape, **settings)

    return train_model(builder, dataset, cfg, conv_settings(cfg), **overrides)


def train_vae(dataset: Dataset, cfg: RunConfig, **overrides: Any) -> Trained:
    """The reference VAE (2-D code, KL warm-up), with overrides (see `train_model`)."""
    _check_pair(dataset, cfg)
    defaults = dict(
        latent_dim=cfg.generative_latent_dim,
        num_layers=cfg.num_layers,
        units=cfg.units,
        warmup_epochs=cfg.warmup_epochs,
        learning_rate=1e-3,
        seed=cfg.seed,
    )
    return train_model(build_vae, dataset, cfg, defaults, **overrides)


def vae_over_seeds(dataset: Dataset, cfg: RunConfig, seeds: Sequence[int], **overrides: Any) -> pd.DataFrame:
    """A VAE setting (`train_vae` with `overrides`) trained on each seed, at `cfg`'s full budget.

    Returns one row per seed: `seed`, the ELBO's terms on the validation split (estimated
    with that seed), `epochs` trained and `status` ("ok", or "diverged" for a NaN ELBO).
    """
    rows = []
    for seed in seeds:
        run = train_vae(dataset, cfg, **{**overrides, "seed": seed})
        terms = evaluate.elbo(run.model, dataset.x_val, seed=seed)
        status = "ok" if np.isfinite(terms["neg_elbo"]) else "diverged"
        rows.append(dict(seed=seed, **terms, epochs=run.result.epochs_trained, status=status))
    return pd.DataFrame(rows)


def train_aae(dataset: Dataset, cfg: RunConfig, **overrides: Any) -> Trained:
    """The reference adversarial autoencoder, trained for a fixed `cfg.aae_epochs`.

    Early stopping watches reconstruction only, which says nothing about whether
    the codes have matched the prior yet, so the adversarial game always gets its
    full budget: `patience` and `restore_best` are ignored, `epochs` is honoured.
    """
    _check_pair(dataset, cfg)
    defaults = dict(
        latent_dim=cfg.generative_latent_dim, num_layers=cfg.num_layers, units=cfg.units, seed=cfg.seed
    )
    overrides = {"epochs": cfg.aae_epochs, **overrides, "patience": None, "restore_best": False}
    return train_model(build_aae, dataset, cfg, defaults, **overrides)


# The statuses of a run and the "poor" threshold live in lab.vocabulary; the names stay here
# for the notebooks that read them from lab.sweeps.
STATUSES = vocabulary.RUN_STATUSES
POOR_FACTOR = vocabulary.POOR_FACTOR


def run_status(val_mse: float, baseline_mse: float, diverged: bool) -> str:
    """ "diverged" (a non-finite loss), "stalled" (no better than the mean image) or "ok".

    `runs` then marks a finished run "poor" against the best of its comparison
    (see `STATUSES`); a single run has nothing to be compared with.
    """
    if diverged or not math.isfinite(val_mse):
        return "diverged"
    if val_mse >= 0.95 * baseline_mse:
        return "stalled"
    return "ok"


def _row(dataset: Dataset, trained: Trained, baseline: float) -> dict[str, Any]:
    result = trained.result
    with np.errstate(all="ignore"):
        val_mse = evaluate.reconstruction_error(trained.model, dataset.x_val)
        train_mse = evaluate.reconstruction_error(trained.model, dataset.x_train)
    finite = [v for v in result.history.get("loss", []) if math.isfinite(v)]
    status = run_status(val_mse, baseline, result.diverged)
    return dict(
        val_mse=val_mse if status != "diverged" else float("nan"),
        train_mse=train_mse if status != "diverged" else float("nan"),
        best_val_loss=result.best_val_loss,
        final_train_loss=finite[-1] if finite else float("nan"),
        epochs_trained=result.epochs_trained,
        best_epoch=result.best_epoch,
        seconds=result.seconds,
        seconds_per_epoch=result.seconds / max(result.epochs_trained, 1),
        status=status,
    )


def runs(
    dataset: Dataset,
    cfg: RunConfig,
    settings: Sequence[dict[str, Any]],
    *,
    trainer: Callable[..., Trained] | None = None,
    seeds: int | Sequence[int] | None = None,
    **fixed: Any,
) -> Sweep:
    """Train one model per entry of `settings` (and per seed), everything else held fixed.

    Every run uses the sweep budget (`cfg.sweep_epochs`, `cfg.sweep_patience`)
    unless `fixed` or an entry sets `epochs` or `patience`. With `cfg.max_sweep_values`
    set (the quick preset), only the first entries run.

    Args:
        dataset: the splits.
        cfg: budgets and the seed.
        settings: one dict of settings per run, such as
            [{"optimizer": "sgd", "learning_rate": 0.5}, {"optimizer": "adam"}].
        trainer: `train_dense` (the default), `train_vae` or `train_aae`.
        seeds: None trains each entry once, on `cfg.seed`; a number n trains it on
            `cfg.seed` and the next n - 1 seeds (initial weights and batch order
            change, the split does not); a list names the seeds.
        **fixed: further settings shared by every run.

    Returns:
        A `Sweep` whose frame has one column per setting named in `settings`,
        `seed`, `val_mse`, `train_mse`, `best_val_loss`, `final_train_loss`,
        `epochs_trained`, `best_epoch`, `seconds`, `seconds_per_epoch` and `status`.
    """
    if not settings:
        raise ValueError("settings must list at least one run")
    budget = dict(epochs=cfg.sweep_epochs, patience=cfg.sweep_patience)
    baseline = evaluate.mean_image_error(dataset.x_train, dataset.x_val)
    if seeds is None:
        seed_list: Sequence[int] = (cfg.seed,)
    elif isinstance(seeds, int):
        seed_list = seeds_for(cfg, seeds)
    else:
        seed_list = list(seeds)
    rows, trained_runs = [], []
    for combo in list(settings)[: cfg.max_sweep_values]:
        for seed in seed_list:
            trained = (trainer or train_dense)(
                dataset, replace(cfg, seed=seed), **{**budget, **fixed, **combo}
            )
            trained_runs.append(trained)
            rows.append({**combo, "seed": seed, **_row(dataset, trained, baseline)})
    frame = pd.DataFrame(rows)
    frame["status"] = mark_poor(frame, [t.settings.get("latent_dim") for t in trained_runs])
    return Sweep(frame=frame, runs=trained_runs)


def mark_poor(frame: pd.DataFrame, code_sizes: Sequence[Any] | None = None) -> pd.Series:
    """The `status` column with "ok" runs far behind their comparison's best turned "poor".

    Runs are compared within the same seed and code size: a smaller code has a
    higher error by design, which is a trade-off, not a failure.
    """
    status = frame["status"].copy()
    sizes = pd.Series(list(code_sizes) if code_sizes is not None else [None] * len(frame), index=frame.index)
    keys = frame["seed"].astype(str) + "|" + sizes.astype(str)
    for idx in frame.groupby(keys).groups.values():
        ok = frame.loc[idx][status.loc[idx] == "ok"]
        if len(ok) < 2:
            continue
        status.loc[ok.index[ok["val_mse"] > POOR_FACTOR * ok["val_mse"].min()]] = "poor"
    return status


def grid(
    dataset: Dataset,
    cfg: RunConfig,
    params: dict[str, Sequence[Any]],
    *,
    trainer=None,
    seeds: int | Sequence[int] | None = None,
    **fixed: Any,
) -> Sweep:
    """One run per combination of `params` (each list cut to `cfg.max_sweep_values`); see `runs`."""
    if not params:
        raise ValueError("params must name at least one setting to vary")
    names = list(params)
    values = [list(params[n])[: cfg.max_sweep_values] for n in names]
    combos = [dict(zip(names, combo, strict=True)) for combo in itertools.product(*values)]
    return runs(dataset, replace(cfg, max_sweep_values=None), combos, trainer=trainer, seeds=seeds, **fixed)


def sweep(
    dataset: Dataset,
    cfg: RunConfig,
    param: str,
    values: Sequence[Any],
    *,
    trainer=None,
    seeds: int | Sequence[int] | None = None,
    **fixed: Any,
) -> Sweep:
    """Vary one setting over `values`, holding the rest fixed (see `runs`)."""
    return grid(dataset, cfg, {param: values}, trainer=trainer, seeds=seeds, **fixed)


def summarize(
    frame: pd.DataFrame, param: str, metric: str = "val_mse", *, lower_is_better: bool = True
) -> str:
    """One sentence on a sweep, honest about noise.

    With several seeds per setting (a `seed` column), this is `lab.seeds.verdict`:
    a winner is named only when its range over seeds clears every other setting's,
    otherwise the settings within noise of the best are listed. With one seed, the
    sentence gives the best and worst value and says that one seed is no verdict.
    """
    if "seed" in frame and frame["seed"].nunique() > 1:
        return verdict(frame, param, metric, lower_is_better=lower_is_better)
    ok = frame[frame["status"] == "ok"]
    parts = []
    if not ok.empty:
        best, worst = ok.loc[ok[metric].idxmin()], ok.loc[ok[metric].idxmax()]
        if not lower_is_better:
            best, worst = worst, best
        word = ("lowest", "highest") if lower_is_better else ("highest", "lowest")
        parts.append(f"{word[0]} {metric} with {param}={best[param]} ({best[metric]:.4f})")
        if len(ok) > 1:
            parts.append(
                f"{word[1]} with {param}={worst[param]} ({worst[metric]:.4f}); "
                "one seed, so differences of this size may be noise"
            )
    for status in ("poor", "stalled", "diverged"):
        bad = frame[frame["status"] == status]
        if not bad.empty:
            parts.append(f"{status}: {', '.join(f'{param}={v}' for v in bad[param])}")
    return "; ".join(parts) + "."


def latent_size_sweep(
    dataset: Dataset, cfg: RunConfig, sizes: tuple[int, ...] | None = None
) -> tuple[pd.DataFrame, dict[int, Trained]]:
    """Autoencoder and PCA at each latent size, scored on the validation split.

    The autoencoders train with the full budget (`cfg.epochs`, `cfg.patience`).

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
