"""The book's multi-seed studies (run by `python -m lab.results NAME`, read by notebooks).

- `02_sweeps`: every one-at-a-time comparison of notebook 02, on `cfg.n_seeds`
  training seeds (the split stays that of `cfg.seed`), at the sweep budget.
- `reference_table`: the reference dense autoencoder and PCA at latent sizes 2 to 32,
  on 5 seeds that each draw their own split, scored once on the test split: test
  MSE and linear-probe accuracy, with raw pixels' probe accuracy as the ceiling.
- `03_comparisons`, `04_beta`, `05_aae_runs`: the comparisons notebooks 03 to 05 run
  live on one seed, repeated on `cfg.n_seeds` seeds (the split stays that of
  `cfg.seed`; a subset drawn for a comparison, such as the labelled images or the
  small training set, is drawn again on each seed).
- `07_vae_reference`: notebook 04's reference VAE on the split that notebook 07
  searches, one table per split seed, so 07 compares its winner with it on the
  same images without training it again.
"""

from __future__ import annotations

import itertools
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from lab import evaluate, sweeps
from lab.config import RunConfig
from lab.data import Dataset
from lab.results import Entry, Study, register

SWEEP_BUDGETS = (
    "epochs",
    "patience",
    "sweep_epochs",
    "sweep_patience",
    "batch_size",
    "latent_dim",
    "units",
    "num_layers",
    "learning_rate",
    "max_train",
    "max_eval",
    "max_sweep_values",
)

# Notebook 02's comparisons: (experiment, the setting(s) it varies and their values).
# Each experiment is a one-at-a-time sweep from the reference model, or a small grid.
NOTEBOOK_02: dict[str, list[dict[str, Any]] | dict[str, list[Any]]] = {
    "latent_dim": {"latent_dim": [2, 8, 32]},
    "num_layers": {"num_layers": [1, 2, 3]},
    "units": {"units": [32, 128, 512]},
    "activation": {"activation": ["relu", "leaky_relu", "elu", "tanh", "sigmoid"]},
    "output_activation": {"output_activation": ["sigmoid", "linear"]},
    "optimizer": [
        dict(optimizer="sgd", learning_rate=1.0),
        dict(optimizer="momentum", learning_rate=0.1),
        dict(optimizer="rmsprop", learning_rate=1e-3),
        dict(optimizer="adagrad", learning_rate=0.05),
        dict(optimizer="adam", learning_rate=2e-3),
    ],
    "learning_rate": {"optimizer": ["adam", "momentum"], "learning_rate": [1e-4, 1e-3, 1e-2, 1e-1, 1.0, 3.0]},
    "batch_size": {"batch_size": [8, 16, 64, 256]},
    "kernel_initializer": {"kernel_initializer": ["glorot_uniform", "he_normal", "zeros"]},
    "manual_grid": {"latent_dim": [2, 8, 32], "learning_rate": [1e-3, 1e-2]},
}


def schedule_settings(cfg: RunConfig) -> list[dict[str, Any]]:
    """Notebook 02's schedule comparison: a large constant rate, the same rate decayed, a small one."""
    steps_per_epoch = -(-_train_size(cfg) // cfg.batch_size)
    return [
        dict(learning_rate=1e-2, lr_decay_rate=None),
        dict(learning_rate=1e-2, lr_decay_rate=0.7, lr_decay_steps=5 * steps_per_epoch),
        dict(learning_rate=1e-3, lr_decay_rate=None),
    ]


SCHEDULES = ("constant", "exponential", "step", "cosine", "plateau")


def schedules_plan(cfg: RunConfig) -> list[Entry]:
    """Notebook 02's schedules side by side, each starting from the same large rate, 1e-2."""
    return [("schedules", {"schedule": name}) for name in SCHEDULES[: cfg.max_sweep_values]]


def schedule_arguments(cfg: RunConfig, name: str) -> dict[str, Any]:
    """The builder (and, for "plateau", training) arguments of one named schedule.

    exponential: x0.7 every 5 epochs, smoothly; step: x0.5 every 10 epochs, at once; cosine:
    down to 0 over the sweep budget; plateau: x0.5 after 3 epochs without a better validation loss.
    """
    per_epoch = -(-_train_size(cfg) // cfg.batch_size)
    return {
        "constant": {},
        "exponential": dict(lr_decay_rate=0.7, lr_decay_steps=5 * per_epoch),
        "step": dict(lr_decay_rate=0.5, lr_decay_steps=10 * per_epoch, lr_schedule="step"),
        "cosine": dict(lr_decay_rate=1.0, lr_decay_steps=cfg.sweep_epochs * per_epoch, lr_schedule="cosine"),
        "plateau": dict(lr_plateau=(0.5, 3)),
    }[name]


def run_schedule_entry(
    dataset: Dataset, cfg: RunConfig, experiment: str, settings: dict[str, Any]
) -> dict[str, Any]:
    """One schedule on one seed, at the sweep budget, from a learning rate of 1e-2."""
    arguments = {"learning_rate": 1e-2, **schedule_arguments(cfg, settings["schedule"])}
    return run_sweep_entry(dataset, cfg, experiment, arguments)


def _train_size(cfg: RunConfig) -> int:
    from lab import data

    return len(data.load_for(cfg).x_train)


def sweep_plan(cfg: RunConfig) -> list[Entry]:
    """Notebook 02's experiments as (experiment, settings) entries, cut as `sweeps.grid` cuts them."""
    plan: list[Entry] = []
    for experiment, spec in {**NOTEBOOK_02, "schedule": schedule_settings(cfg)}.items():
        if isinstance(spec, dict):
            names = list(spec)
            cut = [list(spec[n])[: cfg.max_sweep_values] for n in names]
            combos = [dict(zip(names, c, strict=True)) for c in itertools.product(*cut)]
        else:
            combos = list(spec)[: cfg.max_sweep_values]
        plan += [(experiment, combo) for combo in combos]
    return plan


def run_sweep_entry(
    dataset: Dataset, cfg: RunConfig, experiment: str, settings: dict[str, Any]
) -> dict[str, Any]:
    """One run of a sweep at the sweep budget; the row `sweeps.runs` would give, minus the settings."""
    frame = sweeps.runs(dataset, replace(cfg, max_sweep_values=None), [settings]).frame
    row = frame.iloc[0].to_dict()
    row["code_size"] = settings.get("latent_dim", cfg.latent_dim)
    return {k: v for k, v in row.items() if k not in settings and k != "seed"}


def finish_sweeps(table: pd.DataFrame) -> pd.DataFrame:
    """Mark "poor" runs within each experiment (see `lab.sweeps.mark_poor`)."""
    table = table.copy()
    table.loc[table["status"] == "poor", "status"] = "ok"
    for _, rows in table.groupby("experiment", sort=False):
        table.loc[rows.index, "status"] = sweeps.mark_poor(rows, rows["code_size"].tolist())
    return table


register(
    Study(
        name="02_sweeps",
        title="notebook 02's one-at-a-time comparisons, each setting on several training seeds",
        plan=sweep_plan,
        run=run_sweep_entry,
        budgets=SWEEP_BUDGETS,
        finish=finish_sweeps,
    )
)


def reference_plan(cfg: RunConfig) -> list[Entry]:
    """Autoencoder and PCA at each of `cfg.latent_sizes`, then raw pixels."""
    plan: list[Entry] = [("autoencoder", {"latent_dim": k}) for k in cfg.latent_sizes]
    plan += [("PCA", {"latent_dim": k}) for k in cfg.latent_sizes]
    return plan + [("pixels", {})]


def run_reference_entry(
    dataset: Dataset, cfg: RunConfig, method: str, settings: dict[str, Any]
) -> dict[str, Any]:
    """Test MSE and test probe accuracy of one method on one seed's split."""
    if method == "pixels":
        z_train, z_test = dataset.x_train, dataset.x_test
        mse, seconds, epochs = float("nan"), 0.0, 0
    elif method == "PCA":
        pca = evaluate.fit_pca(dataset.x_train, settings["latent_dim"], seed=cfg.seed)
        z_train, z_test = pca.transform(dataset.x_train), pca.transform(dataset.x_test)
        mse, seconds, epochs = float(evaluate.pca_reconstruction_errors(pca, dataset.x_test).mean()), 0.0, 0
    else:
        trained = sweeps.train_dense(dataset, cfg, latent_dim=settings["latent_dim"])
        z_train, z_test = (
            evaluate.encode(trained.model, dataset.x_train),
            evaluate.encode(trained.model, dataset.x_test),
        )
        mse = evaluate.reconstruction_error(trained.model, dataset.x_test)
        seconds, epochs = trained.result.seconds, trained.result.epochs_trained
    accuracy = evaluate.linear_probe_accuracy(z_train, dataset.y_train, z_test, dataset.y_test, seed=cfg.seed)
    return dict(test_mse=mse, probe_accuracy=accuracy, epochs_trained=epochs, seconds=seconds)


register(
    Study(
        name="02_schedules",
        title="notebook 02's learning-rate schedules (constant, exponential, step, cosine, on plateau)",
        plan=schedules_plan,
        run=run_schedule_entry,
        budgets=SWEEP_BUDGETS,
    )
)


register(
    Study(
        name="reference_table",
        title="dense autoencoder and PCA at latent sizes 2-32 (and raw pixels), test MSE and probe accuracy",
        plan=reference_plan,
        run=run_reference_entry,
        budgets=(
            "epochs",
            "patience",
            "batch_size",
            "units",
            "num_layers",
            "learning_rate",
            "latent_sizes",
            "max_train",
            "max_eval",
        ),
        splits_follow_seed=True,
        seeds=5,
    )
)


def reference_summary(table: pd.DataFrame) -> pd.DataFrame:
    """The reference table as it is shown: one row per latent size, mean ± standard deviation.

    Columns: test MSE and probe accuracy of the autoencoder and of PCA, and the
    autoencoder's error relative to PCA's; a last row gives raw pixels' probe
    accuracy (in both probe columns), the ceiling a code of any size is measured against.
    """

    def cell(rows: pd.DataFrame, column: str, digits: int) -> str:
        values = rows[column].dropna()
        if values.empty:
            return ""
        spread = f" ± {values.std(ddof=1):.{digits}f}" if len(values) > 1 else ""
        return f"{values.mean():.{digits}f}{spread}"

    out = []
    ae, pca = table[table["experiment"] == "autoencoder"], table[table["experiment"] == "PCA"]
    for size in sorted(ae["latent_dim"].unique()):
        a, p = ae[ae["latent_dim"] == size], pca[pca["latent_dim"] == size]
        paired = a.set_index("seed")["test_mse"] / p.set_index("seed")["test_mse"]
        out.append(
            {
                "latent size": int(size),
                "autoencoder test MSE": cell(a, "test_mse", 4),
                "PCA test MSE": cell(p, "test_mse", 4),
                "autoencoder / PCA error": cell(paired.to_frame("ratio"), "ratio", 2),
                "autoencoder probe accuracy": cell(a, "probe_accuracy", 3),
                "PCA probe accuracy": cell(p, "probe_accuracy", 3),
            }
        )
    pixels = table[table["experiment"] == "pixels"]
    ceiling = cell(pixels, "probe_accuracy", 3)
    out.append(
        {
            "latent size": "raw pixels (64)",
            "autoencoder probe accuracy": ceiling,
            "PCA probe accuracy": ceiling,
        }
    )
    return pd.DataFrame(out).fillna("").set_index("latent size")


# -- Notebooks 03 to 05: the live comparisons, repeated over seeds ------------------------

REGULARIZERS: dict[str, dict[str, Any]] = {
    "none": {},
    "L2 1e-4": {"l2": 1e-4},
    "dropout 0.2": {"dropout": 0.2},
    "batch norm": {"batch_norm": True},
}
_PLAIN: dict[tuple[int, int], Any] = {}  # (seed, id of the dataset) -> the plain autoencoder


def _plain_autoencoder(dataset: Dataset, cfg: RunConfig):
    """Notebook 03's plain autoencoder (its denoiser at noise 0), trained once per seed and split."""
    key = (cfg.seed, id(dataset))
    if key not in _PLAIN:
        _PLAIN.clear()
        _PLAIN[key] = _one_run(dataset, cfg, {"noise_std": 0.0})[0].model
    return _PLAIN[key]


def _one_run(dataset: Dataset, cfg: RunConfig, settings: dict[str, Any], **fixed: Any):
    """One run at the sweep budget: the trained model and its row of `sweeps.runs`."""
    done = sweeps.runs(dataset, replace(cfg, max_sweep_values=None), [settings], **fixed)
    return done.runs[0], done.frame.iloc[0].to_dict()


def _overfit_row(dataset: Dataset, cfg: RunConfig, settings: dict[str, Any]) -> dict[str, Any]:
    """Notebook 03's overfitting setup on one seed: a small training set drawn by the seed, fixed
    epochs, no early stopping, the last weights kept; the errors and their gap."""
    from lab import data

    small = data.take_train(dataset, cfg.overfit_train_size, seed=cfg.seed)
    _, row = _one_run(small, cfg, settings, epochs=cfg.overfit_epochs, patience=None, restore_best=False)
    return dict(
        train_mse=row["train_mse"],
        val_mse=row["val_mse"],
        gap=row["val_mse"] - row["train_mse"],
        status=row["status"],
    )


def regularized_plan(cfg: RunConfig) -> list[Entry]:
    """Notebook 03's comparisons: regularizers, L1 strengths, denoisers, masking, anomalies, few labels."""
    plan: list[Entry] = [("regularizer", {"regularizer": name}) for name in REGULARIZERS]
    plan += [("l1", {"l1": value}) for value in cfg.l1_values]
    plan += [("denoising", {"noise_std": level}) for level in cfg.noise_levels]
    plan += [("masking", {"mask_fraction": 0.3}), ("anomaly", {"classes": list(cfg.anomaly_classes)})]
    return plan + [("few_labels", {"fraction": fraction}) for fraction in cfg.label_fractions]


FEW_LABEL_COLUMNS = {
    "pixels + logistic regression": "pixels",
    "PCA codes + logistic regression": "pca_codes",
    "autoencoder codes + logistic regression": "autoencoder_codes",
    "encoder fine-tuned": "fine_tuned",
    "same network from scratch": "from_scratch",
}


def run_regularized_entry(
    dataset: Dataset, cfg: RunConfig, experiment: str, settings: dict[str, Any]
) -> dict[str, Any]:
    """One entry of notebook 03's plan on one seed (which also draws any subset it needs)."""
    from lab import applications, data

    if experiment == "regularizer":
        return _overfit_row(dataset, cfg, REGULARIZERS[settings["regularizer"]])
    if experiment == "l1":
        run, row = _one_run(dataset, cfg, {"l1": settings["l1"]}, latent_dim=32, latent_activation="relu")
        sparsity = evaluate.code_sparsity(evaluate.encode(run.model, dataset.x_val))
        return dict(sparsity=sparsity, val_mse=row["val_mse"], status=row["status"])
    if experiment == "denoising":
        level = settings["noise_std"]
        model = (
            _plain_autoencoder(dataset, cfg)
            if level == 0
            else _one_run(dataset, cfg, {"noise_std": level})[0].model
        )
        table = applications.denoising_table({level: model}, dataset.x_val, cfg.noise_levels, seed=cfg.seed)
        out = {"clean_mse": float(table.loc[table.test_noise == 0, "denoised_mse"].iloc[0]), "status": "ok"}
        out.update({f"gain_at_{t:g}": g for t, g in zip(table.test_noise, table.gain, strict=True) if t > 0})
        return out
    if experiment == "masking":
        masker = _one_run(dataset, cfg, {"mask_fraction": settings["mask_fraction"]})[0].model
        masked = data.add_masking_noise(dataset.x_val, settings["mask_fraction"], seed=cfg.seed)
        return dict(
            nothing_mse=float(np.mean((masked - dataset.x_val) ** 2)),
            plain_mse=evaluate.reconstruction_error(_plain_autoencoder(dataset, cfg), masked, dataset.x_val),
            masker_mse=evaluate.reconstruction_error(masker, masked, dataset.x_val),
            status="ok",
        )
    if experiment == "anomaly":
        classes = tuple(settings["classes"])
        normal = data.without_classes(dataset, classes, splits=("train", "val"))
        report = applications.anomaly_report(sweeps.train_dense(normal, cfg).model, dataset, classes)
        return dict(
            test_auc=report["test_roc"]["auc"],
            precision_at_share=report["test_rates"]["precision_at_share"],
            precision_at_share_normal=report["test_rates_normal"]["precision_at_share"],
            test_fpr_normal=report["test_rates_normal"]["fpr"],
            status="ok",
        )
    if experiment == "few_labels":
        few = applications.few_label_comparison(
            _plain_autoencoder(dataset, cfg), dataset, cfg, [settings["fraction"]]
        )
        out = {FEW_LABEL_COLUMNS[m]: a for m, a in zip(few.method, few.val_accuracy, strict=True)}
        return dict(n_labels=int(few.n_labels.iloc[0]), **out, status="ok")
    raise ValueError(f"unknown experiment {experiment!r} of notebook 03's study")


REGULARIZED_BUDGETS = (
    *SWEEP_BUDGETS,
    "overfit_train_size",
    "overfit_epochs",
    "l1_values",
    "noise_levels",
    "anomaly_classes",
    "label_fractions",
)

register(
    Study(
        name="03_comparisons",
        title="notebook 03's comparisons on several seeds, each seed drawing its own subsets",
        plan=regularized_plan,
        run=run_regularized_entry,
        budgets=REGULARIZED_BUDGETS,
    )
)

STRENGTHS: dict[str, tuple[float, ...]] = {
    "l2": (1e-5, 1e-4, 1e-3, 1e-2),
    "l1_weights": (1e-6, 1e-5, 1e-4, 1e-3),
    "dropout": (0.1, 0.2, 0.3, 0.5),
}


def strength_plan(cfg: RunConfig) -> list[Entry]:
    """Each weight penalty and dropout at several strengths, and no penalty at all, on the small set."""
    plan: list[Entry] = [("strength", {"penalty": "none", "value": 0.0})]
    return plan + [
        ("strength", {"penalty": penalty, "value": value})
        for penalty, values in STRENGTHS.items()
        for value in values
    ]


def run_strength_entry(
    dataset: Dataset, cfg: RunConfig, experiment: str, settings: dict[str, Any]
) -> dict[str, Any]:
    """One strength on one seed, as notebook 03's overfitting experiment runs it (each seed draws its
    own small training set; fixed epochs, no early stopping, the last weights kept)."""
    penalty = {} if settings["penalty"] == "none" else {settings["penalty"]: settings["value"]}
    return _overfit_row(dataset, cfg, penalty)


register(
    Study(
        name="03_strength",
        title="notebook 03's regularizers at several strengths (L2, L1 on weights, dropout), several seeds",
        plan=strength_plan,
        run=run_strength_entry,
        budgets=(*SWEEP_BUDGETS, "overfit_train_size", "overfit_epochs"),
    )
)

BETAS = (0.1, 0.5, 1.0, 2.0, 4.0)


def beta_plan(cfg: RunConfig) -> list[Entry]:
    """Notebook 04's beta sweep (8-number codes), and its reference VAE at the full budget."""
    plan: list[Entry] = [("beta", {"beta": beta}) for beta in BETAS[: cfg.max_sweep_values]]
    return plan + [("reference", {"latent_dim": cfg.generative_latent_dim})]


def run_beta_entry(
    dataset: Dataset, cfg: RunConfig, experiment: str, settings: dict[str, Any]
) -> dict[str, Any]:
    """One VAE of the beta sweep: the ELBO's two terms, units carrying information, MSE.

    The "reference" entry is notebook 04's VAE (2-D code, beta 1, warm-up) trained at the
    full budget, as notebook 07 trains it beside its search's winner: its ELBO terms on
    the validation split (estimated with the training seed) and the epochs it trained.
    """
    if experiment == "reference":
        return run_vae_reference_entry(dataset, cfg, experiment, settings)
    run, row = _one_run(dataset, cfg, {"beta": settings["beta"]}, trainer=sweeps.train_vae, latent_dim=8)
    terms = evaluate.elbo(run.model, dataset.x_val, seed=cfg.seed)
    units = evaluate.kl_per_unit(run.model, dataset.x_val)
    return dict(
        **terms,
        units_carrying=int((units > 0.1).sum()),
        val_mse=row["val_mse"],
        epochs_trained=row["epochs_trained"],
        status="diverged" if row["status"] == "diverged" else "ok",
    )


register(
    Study(
        name="04_beta",
        title="notebook 04's beta sweep, and its reference VAE at the full budget, on several training seeds",
        plan=beta_plan,
        run=run_beta_entry,
        budgets=(*SWEEP_BUDGETS, "warmup_epochs", "generative_latent_dim"),
    )
)


def run_vae_reference_entry(
    dataset: Dataset, cfg: RunConfig, experiment: str, settings: dict[str, Any]
) -> dict[str, Any]:
    """Notebook 04's reference VAE at the full budget on one training seed (see `run_beta_entry`)."""
    return sweeps.vae_over_seeds(dataset, cfg, [cfg.seed]).drop(columns="seed").to_dict("records")[0]


register(
    Study(
        name="07_vae_reference",
        title="notebook 04's reference VAE at the full budget, on the split notebook 07 searches",
        plan=lambda cfg: [("reference", {"latent_dim": cfg.generative_latent_dim})],
        run=run_vae_reference_entry,
        budgets=(*SWEEP_BUDGETS, "warmup_epochs", "generative_latent_dim"),
        per_split=True,
    )
)

AAE_RUNS: dict[str, dict[str, Any]] = {
    "reference": {},
    "small discriminator": {"disc_units": 4, "disc_layers": 1},
    "dominant discriminator": {"disc_steps": 5, "generator_learning_rate": 1e-6},
    "starved reconstruction": {"learning_rate": 1e-5},
}


def aae_plan(cfg: RunConfig) -> list[Entry]:
    """Notebook 05's four adversarial runs."""
    return [("aae", {"run": name}) for name in list(AAE_RUNS)[: cfg.max_sweep_values]]


def run_aae_entry(
    dataset: Dataset, cfg: RunConfig, experiment: str, settings: dict[str, Any]
) -> dict[str, Any]:
    """One adversarial run and its diagnosis."""
    from lab.models.aae import diagnose_aae

    trained = sweeps.train_aae(dataset, cfg, **AAE_RUNS[settings["run"]])
    baseline = evaluate.mean_image_error(dataset.x_train, dataset.x_val)
    diagnosis = diagnose_aae(
        trained.model, dataset.x_val, trained.result.history, baseline_mse=baseline, seed=cfg.seed
    )
    return dict(diagnosis, baseline_mse=baseline)


register(
    Study(
        name="05_aae_runs",
        title="notebook 05's adversarial runs (reference and failures) on several training seeds",
        plan=aae_plan,
        run=run_aae_entry,
        budgets=(
            "aae_epochs",
            "generative_latent_dim",
            "num_layers",
            "units",
            "batch_size",
            "max_train",
            "max_eval",
            "max_sweep_values",
        ),
    )
)
