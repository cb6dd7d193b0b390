"""What to optimize: searches for the trade-off between reconstruction, usefulness and size.

The dense autoencoder's space with the latent size free (`TUNED`) is searched for three
objectives at once: validation MSE (down), the linear probe's accuracy on the codes (up)
and the model's weight count (down). Every trial also records the probe trained on a few
labels only (`FEW`, a share `cfg.few_label_fraction` of the training labels, averaged
over `FEW_DRAWS` draws of them), which no search optimizes. The searches (`SEARCHES`):

- Optuna's NSGA-II and multi-objective TPE, true multi-objective samplers, and Optuna's
  random sampler as the baseline both must beat;
- KerasTuner's Bayesian optimization given the three objectives, which it adds up
  (accuracy subtracted) into one number: what KerasTuner does with several objectives.

And the VAE's own trade-off (`VAE_SEARCHES`): NSGA-II on the rate (`val_kl`) and the
distortion (`val_reconstruction`) over beta, warm-up and the architecture, beside
KerasTuner's Bayesian optimization of their sum, the negative ELBO, as notebook 07 runs it.

Every trial trains for `cfg.race_epochs` epochs without early stopping, so trials compare
on equal training. The reference run is a study of `lab.results` (`10_pareto`), resumable
per (search, seed), and each search resumes from its folder under `runs/10_pareto/`:

    python -m lab.pareto --preset workshop
    table = results.load("10_pareto", cfg)      # the committed table, in a second
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import keras_tuner as kt
import numpy as np
import pandas as pd

from lab import checks, data, evaluate, fronts, tuning, vocabulary
from lab._backend import keras
from lab.config import RunConfig
from lab.data import Dataset
from lab.hypermodels import DENSE_SPACE, DENSE_TUNED, VAE_TUNED, DenseAutoencoderHyperModel, VAEHyperModel
from lab.models.dense import weight_count
from lab.tuning import with_optuna

STUDY = "10_pareto"
OBJECTIVES = ("val_mse", "val_probe_accuracy", "params")
FEW = "val_few_label_probe"
FEW_DRAWS = 5
VAE_OBJECTIVES = ("val_reconstruction", "val_kl")
TUNED = ("latent_dim", *DENSE_TUNED)
VAE_SEARCH_TUNED = ("latent_dim", *VAE_TUNED)
SEARCHES = {
    "nsga2": "NSGA-II (Optuna)",
    "tpe": "multi-objective TPE (Optuna)",
    "random": "random sampling (Optuna)",
    "summed": "the objectives summed, Bayesian (KerasTuner)",
}
VAE_SEARCHES = {
    "vae_front": "NSGA-II on reconstruction and KL (Optuna)",
    "vae_elbo": "Bayesian on the ELBO (KerasTuner)",
}
ALL_SEARCHES = {**SEARCHES, **VAE_SEARCHES}
OPTUNA_SEARCHES = ("nsga2", "tpe", "random", "vae_front")


def few_label_probe(
    z_train: np.ndarray,
    y_train: np.ndarray,
    z_eval: np.ndarray,
    y_eval: np.ndarray,
    fraction: float,
    *,
    seed: int = 0,
) -> float:
    """The linear probe's accuracy when only `fraction` of the training labels are known: the mean
    over `FEW_DRAWS` stratified draws of them (at least one per class), each scored on `z_eval`."""
    y_train = np.asarray(y_train).ravel()
    scores = []
    for draw in range(FEW_DRAWS):
        idx = data.label_subset(y_train, fraction, seed=(seed * FEW_DRAWS + draw) % (checks.MAX_SEED + 1))
        scores.append(evaluate.linear_probe_accuracy(z_train[idx], y_train[idx], z_eval, y_eval, seed=seed))
    return float(np.mean(scores))


class ParetoHyperModel(DenseAutoencoderHyperModel):
    """The dense HyperModel, reporting the weight count and the few-label probe beside its objectives."""

    REPORTS = ("val_mse", "params", FEW)  # and val_probe_accuracy, with labels

    def __init__(self, input_dim: int, *, few_label_fraction: float, **kwargs: Any):
        super().__init__(input_dim, **kwargs)
        self.few_label_fraction = checks.number(few_label_fraction, "few_label_fraction", above=0, maximum=1)

    def objectives(self, model, x, x_val, labels):
        found = {**super().objectives(model, x, x_val, labels), "params": float(model.count_params())}
        if labels is not None:
            z_train, z_val = evaluate.encode(model, x), evaluate.encode(model, x_val)
            found[FEW] = few_label_probe(
                z_train, labels[0], z_val, labels[1], self.few_label_fraction, seed=self.seed
            )
        return found


def hypermodel(dataset: Dataset, cfg: RunConfig, seed: int) -> ParetoHyperModel:
    """The dense space every search of the front searches: `TUNED` (latent size free), no early stopping."""
    return ParetoHyperModel(
        dataset.n_features, tune=TUNED, patience=None, seed=seed, few_label_fraction=cfg.few_label_fraction
    )


def vae_hypermodel(dataset: Dataset, cfg: RunConfig, seed: int) -> VAEHyperModel:
    """The VAE's space: beta, warm-up, learning rate and the architecture, latent size included."""
    return VAEHyperModel(dataset.n_features, tune=VAE_SEARCH_TUNED, patience=None, seed=seed)


def scales(dataset: Dataset, objectives: Sequence[str] = OBJECTIVES) -> dict[str, fronts.Scale]:
    """The unit scales of the hypervolume: from the best conceivable value to a reference point
    no useful model is worse than. MSE: 0 to the mean image's error (a model that ignores its
    input); probe accuracy: 1 to 0; weights: the smallest to the largest model of the space, on
    a log scale; the VAE's rate and distortion: 0 to the largest value a trial of theirs may
    reasonably take (see `vae_scales`)."""
    if not isinstance(dataset, Dataset):
        raise TypeError(f"dataset must be a Dataset (data.load_for(cfg)), got {type(dataset).__name__}.")
    space = DENSE_SPACE
    latents, widths = space["latent_dim"].values, space["units"].values
    smallest = weight_count(dataset.n_features, min(latents), [min(widths)] * space["num_layers"].values[0])
    largest = weight_count(dataset.n_features, max(latents), [max(widths)] * space["num_layers"].values[1])
    known = {
        "val_mse": fronts.Scale(0.0, evaluate.mean_image_error(dataset.x_train, dataset.x_val)),
        "val_probe_accuracy": fronts.Scale(1.0, 0.0),
        FEW: fronts.Scale(1.0, 0.0),
        "params": fronts.Scale(smallest, largest, log=True),
    }
    unknown = [o for o in objectives if o not in known]
    if unknown:
        raise KeyError(f"No scale for {', '.join(unknown)}; scales are known for {', '.join(known)}.")
    return {o: known[o] for o in objectives}


def vae_scales(table: pd.DataFrame) -> dict[str, fronts.Scale]:
    """The VAE's rate and distortion from 0 to a reference point: the largest value among the
    trials of every VAE search on every seed, so the hypervolumes of two searches compare."""
    rows = table[table["experiment"].isin(list(VAE_SEARCHES))].dropna(subset=list(VAE_OBJECTIVES))
    if rows.empty:
        raise ValueError("The table holds no VAE trials with a rate and a distortion: load the whole study.")
    return {o: fronts.Scale(0.0, float(rows[o].max()) * 1.05) for o in VAE_OBJECTIVES}


def population(trials: int) -> int:
    """NSGA-II's population for a budget of `trials`: a quarter of them (at least 4), so the
    search breeds four generations (Optuna's default of 50 would be one random generation)."""
    return max(4, trials // 4)


def _folder(cfg: RunConfig) -> Path:
    return Path(cfg.runs_dir) / STUDY / f"{cfg.preset}_{cfg.dataset}"


def _setup(search: str, dataset: Dataset, cfg: RunConfig):
    """The HyperModel, objectives and trial count of one search."""
    if search in VAE_SEARCHES:
        return vae_hypermodel(dataset, cfg, cfg.seed), VAE_OBJECTIVES, cfg.pareto_vae_trials
    return hypermodel(dataset, cfg, cfg.seed), OBJECTIVES, cfg.pareto_trials


def _sampler(search: str, cfg: RunConfig, trials: int):
    optuna = with_optuna.quiet()
    seed = tuning.oracle_seed(cfg.seed)
    if search in ("nsga2", "vae_front"):
        return optuna.samplers.NSGAIISampler(population_size=population(trials), seed=seed)
    if search == "tpe":
        return optuna.samplers.TPESampler(seed=seed, n_startup_trials=tuning.initial_points(trials))
    return optuna.samplers.RandomSampler(seed=seed)


def _closed(trial) -> bool:
    return trial.state.is_finished() and bool(trial.user_attrs.get("closed"))


def run_optuna(dataset: Dataset, cfg: RunConfig, search: str) -> list[dict[str, Any]]:
    """One of Optuna's multi-objective searches on `cfg.seed`: one row per trial, every measure kept.

    Resumes from `runs/10_pareto/<preset>_<dataset>/<search>_seed<N>.journal`; a trial left
    running by an interrupted process is marked failed and replaced.
    """
    import optuna

    if search not in OPTUNA_SEARCHES:
        raise KeyError(f"No Optuna search {search!r}; they are {', '.join(OPTUNA_SEARCHES)}.")
    model_maker, objectives, trials = _setup(search, dataset, cfg)
    path = _folder(cfg) / f"{search}_seed{cfg.seed}.journal"
    path.parent.mkdir(parents=True, exist_ok=True)
    made = dict(trials=trials, epochs=cfg.race_epochs, few_label_fraction=cfg.few_label_fraction)
    existed = path.exists()  # (opening the journal creates the file)
    storage = with_optuna.journal(path)
    if existed:
        stored = (
            with_optuna.quiet().load_study(study_name=path.stem, storage=storage).user_attrs.get("budget")
        )
        if stored not in (None, made):
            raise ValueError(
                f"{path} holds a search made with other settings ({stored}; these: {made}). "
                "Delete that file, or give this run another runs_dir."
            )
    study = with_optuna.quiet().create_study(
        study_name=path.stem,
        storage=storage,
        load_if_exists=True,
        directions=["minimize" if vocabulary.direction(o) == "min" else "maximize" for o in objectives],
        sampler=_sampler(search, cfg, trials),
    )
    study.set_user_attr("budget", made)
    for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        study.tell(trial.number, state=optuna.trial.TrialState.FAIL)

    def objective(trial) -> list[float]:
        hp = model_maker.hyperparameters(**with_optuna.suggest(trial, model_maker))
        keras.backend.clear_session(free_memory=False)
        started = time.perf_counter()
        try:
            found = model_maker.fit(
                hp,
                model_maker.build(hp),
                dataset.x_train,
                validation_data=dataset.x_val,
                labels=(dataset.y_train, dataset.y_val),
                epochs=cfg.race_epochs,
            )
        finally:
            trial.set_user_attr("seconds", round(time.perf_counter() - started, 3))
            trial.set_user_attr("closed", True)
        for name, value in found.items():
            trial.set_user_attr(name, float(value))
        return [found[o] for o in objectives]

    with tuning._keras_tuner.search_context():
        while sum(_closed(t) for t in study.get_trials(deepcopy=False)) < trials:
            study.optimize(objective, n_trials=1, catch=(kt.errors.FailedTrialError,))
    names = [item.name for item in model_maker.declare().space]
    rows = []
    for trial in study.get_trials(deepcopy=False):
        if not _closed(trial):
            continue
        status = vocabulary.OPTUNA_STATES.get(trial.state.name, trial.state.name)
        rows.append(
            dict(
                trial=trial.number,
                status=status,
                **{name: _plain(trial.params.get(name)) for name in names},
                **_measures(trial.user_attrs if status == vocabulary.COMPLETED else {}),
                seconds=trial.user_attrs.get("seconds"),
                message=trial.system_attrs.get("fail_reason") if status == vocabulary.FAILED else None,
            )
        )
    return rows


# Every measure a row keeps; `multi_objective` is the sum KerasTuner minimized (`summed` only).
MEASURES = (*OBJECTIVES, FEW, "multi_objective", "val_neg_elbo", *VAE_OBJECTIVES)


def _measures(found: Any) -> dict[str, Any]:
    return {name: _plain(found.get(name)) for name in MEASURES}


def _plain(value: Any) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if hasattr(value, "item"):
        value = value.item()
    return None if isinstance(value, float) and math.isnan(value) else value


def run_keras_tuner(dataset: Dataset, cfg: RunConfig, search: str) -> list[dict[str, Any]]:
    """KerasTuner's Bayesian search of the summed objectives (`summed`), or of the ELBO (`vae_elbo`)."""
    if search not in ("summed", "vae_elbo"):
        raise KeyError(f"No KerasTuner search {search!r}; they are summed and vae_elbo.")
    model_maker, objectives, trials = _setup(search, dataset, cfg)
    tuner = tuning.make_tuner(
        "bayesian",
        model_maker,
        objective=list(objectives) if search == "summed" else "val_neg_elbo",
        max_trials=trials,
        directory=_folder(cfg),
        project_name=f"{search}_seed{cfg.seed}",
        seed=cfg.seed,
    )
    frame = tuning.search(tuner, dataset, epochs=cfg.race_epochs, labels=True)
    names = [item.name for item in model_maker.declare().space]
    return [
        dict(
            trial=int(row["trial"]),
            status=row["status"],
            **{name: _plain(row.get(name)) for name in names},
            **_measures(row if row["status"] == vocabulary.COMPLETED else {}),
            seconds=round(float(row["seconds"]), 3) if pd.notna(row["seconds"]) else None,
            message=row["message"] or None,
        )
        for _, row in frame.iterrows()
    ]


def plan(cfg: RunConfig) -> list[tuple[str, dict[str, Any]]]:
    """The study's entries: the dense searches, then the VAE's."""
    return [(name, {}) for name in ALL_SEARCHES]


def run_entry(dataset: Dataset, cfg: RunConfig, experiment: str, settings: dict[str, Any]) -> list[dict]:
    """Every trial of one search on `cfg.seed`, one row each."""
    if settings:
        raise ValueError(f"The searches of {STUDY} take no settings, got {settings!r}.")
    if experiment not in ALL_SEARCHES:
        raise KeyError(f"No search {experiment!r}; the searches are {', '.join(ALL_SEARCHES)}.")
    if experiment in OPTUNA_SEARCHES:
        return run_optuna(dataset, cfg, experiment)
    return run_keras_tuner(dataset, cfg, experiment)


def _register() -> None:
    from lab import results

    results.register(
        results.Study(
            name=STUDY,
            title="multi-objective searches (NSGA-II, TPE, random; KerasTuner's sum) of the dense "
            "autoencoder and the VAE, every trial",
            plan=plan,
            run=run_entry,
            budgets=("race_epochs", "pareto_trials", "pareto_vae_trials", "few_label_fraction"),
            seeds="pareto_seeds",
        )
    )


_register()


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m lab.pareto [--preset workshop] [--seeds N]`: the reference run, resumable."""
    from lab import results

    return results.study_main(
        STUDY,
        argv,
        prog="python -m lab.pareto",
        description="Run notebook 10's searches: the multi-objective searches of the dense autoencoder "
        "and of the VAE on every seed, writing every trial to results/ (resumable: run it again to go on).",
        seeds_field="pareto_seeds",
        duration="about 40 minutes on 2 cores",
    )


if __name__ == "__main__":
    raise SystemExit(main())
