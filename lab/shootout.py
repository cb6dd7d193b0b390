"""Which search wins, over many seeds: four searches on one space, one split and one epoch budget.

The contenders search the same `DenseAutoencoderHyperModel` space (`TUNED`) on the same
split, each with the same budget counted in training epochs (`budget(cfg)`):

- KerasTuner's random search, Bayesian optimization (a Gaussian process) and Hyperband,
  made by `lab.tuning.make_tuner` and run as notebooks 06 to 08 run them;
- Optuna's TPE sampler with a successive-halving pruner, driving the very same
  HyperModel `fit`: every epoch's validation error is reported to the trial, and a
  trial the pruner stops has spent the epochs it trained.

Every trial trains without early stopping (each spends exactly the epochs it is given),
so the epochs a search spends are the budget's own unit. The budget is the epochs of one
Hyperband iteration at `race_epochs` per trial and `hyperband_factor`; random and
Bayesian searches run as many full trials as fit in it, and Optuna runs trials until it
is spent (its last trial is cut to what is left).

Each trial also records the test error of its model, which no search sees: only the
winners' are ever shown. `untuned` trains the HyperModel's default setting once per seed
for `race_epochs`, the baseline every search should beat.

The reference run is a study of `lab.results` (`09_shootout`), resumable at two levels:
finished (search, seed) units are kept in the study's partial file, and an interrupted
search resumes from its own folder under `runs/09_shootout/` (KerasTuner's state, or
Optuna's journal file).

    python -m lab.shootout --preset workshop --seeds 10
    table = results.load("09_shootout", cfg)     # the committed table, in a second
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

from lab import checks, config, evaluate, tuning, vocabulary
from lab._backend import keras
from lab.config import RunConfig
from lab.data import Dataset
from lab.hypermodels import DENSE_TUNED, DenseAutoencoderHyperModel
from lab.tuning import with_optuna
from lab.tuning.with_optuna import optuna_space, suggest

# Searched hyperparameters: the book's dense space plus two penalties, whose importance
# is one of the things the comparison measures.
TUNED = (*DENSE_TUNED, "dropout", "l2")
CONTENDERS = {
    "random": "random search (KerasTuner)",
    "bayesian": "Bayesian optimization, GP (KerasTuner)",
    "hyperband": "Hyperband (KerasTuner)",
    "tpe": "TPE + successive-halving pruning (Optuna)",
}
UNTUNED = "untuned"
OBJECTIVE = "val_mse"
STUDY = "09_shootout"
FRACTIONS = (0.25, 0.5, 1.0)


class ShootoutHyperModel(DenseAutoencoderHyperModel):
    """The dense HyperModel, with each trial's test error recorded beside its objectives.

    The test split is never used to choose: the searches rank trials by `val_mse` only.
    """

    def __init__(self, input_dim: int, x_test: np.ndarray, **kwargs: Any):
        super().__init__(input_dim, **kwargs)
        self.x_test = x_test

    def objectives(self, model, x, x_val, labels):
        found = super().objectives(model, x, x_val, labels)
        found["test_mse"] = evaluate.reconstruction_error(model, self.x_test)
        return found


def hypermodel(dataset: Dataset, cfg: RunConfig, seed: int) -> ShootoutHyperModel:
    """The space every contender searches: `TUNED`, latent size fixed, no early stopping."""
    return ShootoutHyperModel(
        dataset.n_features,
        dataset.x_test,
        tune=TUNED,
        fixed={"latent_dim": cfg.latent_dim},
        patience=None,
        seed=seed,
    )


def budget(cfg: RunConfig) -> dict[str, int]:
    """The comparison's budget: `epochs` in all, `max_epochs` per trial, Hyperband's `factor`,
    the full trials random and Bayesian searches run (`trials`), and the pruner's first rung
    (`min_epochs`, Hyperband's smallest per-trial budget)."""
    if not isinstance(cfg, RunConfig):
        raise TypeError(f"cfg must be the settings from config.preset(...), got {type(cfg).__name__}.")
    plan = tuning.hyperband_plan(cfg.race_epochs, cfg.hyperband_factor)
    epochs = int(plan["planned_epochs"].sum())
    return dict(
        epochs=epochs,
        max_epochs=cfg.race_epochs,
        factor=cfg.hyperband_factor,
        trials=max(1, epochs // cfg.race_epochs),
        min_epochs=int(plan.loc[plan["round"] == 0, "trained_to"].min()),
    )


def _folder(cfg: RunConfig) -> Path:
    return Path(cfg.runs_dir) / STUDY / f"{cfg.preset}_{cfg.dataset}"


# ---------------------------------------------------------------- the KerasTuner contenders


def _keras_tuner_rows(kind: str, dataset: Dataset, cfg: RunConfig) -> list[dict[str, Any]]:
    plan = budget(cfg)
    tuner = tuning.make_tuner(
        kind,
        hypermodel(dataset, cfg, cfg.seed),
        objective=OBJECTIVE,
        max_trials=plan["trials"],
        max_epochs=plan["max_epochs"],
        factor=plan["factor"],
        directory=_folder(cfg),
        project_name=f"{kind}_seed{cfg.seed}",
        seed=cfg.seed,
    )
    frame = tuning.search(tuner, dataset, epochs=plan["max_epochs"], labels=False)
    rows = []
    for _, row in frame.iterrows():
        rows.append(
            dict(
                trial=int(row["trial"]),
                status=row["status"],
                **{name: _plain(row.get(name)) for name in _space_names(dataset, cfg)},
                val_mse=_plain(row.get("val_mse")),
                test_mse=_plain(row.get("test_mse")),
                epochs=int(row["epochs"]),
                initial_epoch=int(row.get("tuner/initial_epoch", 0) or 0),
                budget=int(row.get("tuner/epochs", plan["max_epochs"]) or plan["max_epochs"]),
                bracket=_plain(row.get("tuner/bracket")),
                round=_plain(row.get("tuner/round")),
                continues=_trial_number(row.get("tuner/trial_id")),
                seconds=round(float(row["seconds"]), 3) if pd.notna(row["seconds"]) else None,
                message=row["message"] or None,
            )
        )
    return rows


def _trial_number(trial_id: Any) -> int | None:
    """KerasTuner's trial id ("0003") as a number; None for a trial that continues none."""
    return int(trial_id) if isinstance(trial_id, str) and trial_id.strip() else None


def _space_names(dataset: Dataset, cfg: RunConfig) -> list[str]:
    return [item.name for item in hypermodel(dataset, cfg, 0).declare().space]


def _plain(value: Any) -> Any:
    """A table cell as a plain Python value; NaN and None as None."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, str):
        return value or None
    if hasattr(value, "item"):
        value = value.item()
        return None if isinstance(value, float) and math.isnan(value) else value
    return value


# ---------------------------------------------------------------- the Optuna contender


class _Report(keras.callbacks.Callback):
    """Report each epoch's validation error to the Optuna trial; stop the trial when it is pruned."""

    def __init__(self, trial, initial: int = 0):
        super().__init__()
        self.trial, self.epochs, self.best = trial, initial, math.inf

    def on_epoch_end(self, epoch, logs=None):
        import optuna

        value = float((logs or {}).get("val_mse", math.nan))
        self.epochs += 1
        self.trial.set_user_attr("epochs", self.epochs)
        if not math.isfinite(value):
            return  # the fit raises FailedTrialError for a NaN loss itself
        self.best = min(self.best, value)
        self.trial.report(value, self.epochs)
        if self.trial.should_prune():
            self.trial.set_user_attr("val_mse", self.best)
            raise optuna.TrialPruned(f"pruned after {self.epochs} epochs")


def fit_trial(
    trial, model_maker: DenseAutoencoderHyperModel, dataset: Dataset, epochs: int
) -> dict[str, float]:
    """One Optuna trial of the HyperModel: sample a setting, build and train it with the HyperModel's
    own `fit`, reporting each epoch's validation MSE to the trial (so a pruner may stop it).

    Records the trial's `epochs` and `seconds` as user attributes, and `closed` once it has ended
    in this process (completed, pruned or failed), and returns the HyperModel's objectives.
    """
    hp = model_maker.hyperparameters(**suggest(trial, model_maker))
    keras.backend.clear_session(free_memory=False)  # as KerasTuner does before every trial
    started = time.perf_counter()
    try:
        return model_maker.fit(
            hp,
            model_maker.build(hp),
            dataset.x_train,
            validation_data=dataset.x_val,
            epochs=epochs,
            callbacks=[_Report(trial)],
        )
    finally:
        trial.set_user_attr("seconds", round(time.perf_counter() - started, 3))
        trial.set_user_attr("closed", True)


PRUNERS = ("halving", "none")


def _optuna_study(cfg: RunConfig, plan: dict[str, int], path: Path, pruner: str = "halving"):
    optuna = with_optuna.quiet()
    path.parent.mkdir(parents=True, exist_ok=True)
    return optuna.create_study(
        study_name=path.stem,
        storage=with_optuna.journal(path),
        load_if_exists=True,
        direction="minimize",
        sampler=optuna.samplers.TPESampler(seed=tuning.oracle_seed(cfg.seed)),
        pruner=optuna.pruners.SuccessiveHalvingPruner(
            min_resource=plan["min_epochs"], reduction_factor=plan["factor"]
        )
        if pruner == "halving"
        else optuna.pruners.NopPruner(),
    )


def _spent(study) -> int:
    """Epochs spent by the study's closed trials (an interrupted trial's are lost, as in KerasTuner)."""
    return sum(int(t.user_attrs.get("epochs", 0)) for t in study.get_trials(deepcopy=False) if _closed(t))


def _closed(trial) -> bool:
    """True for a trial that ended in this process's hands: completed, pruned or failed, not cut off."""
    return trial.state.is_finished() and bool(trial.user_attrs.get("closed"))


def run_tpe(
    dataset: Dataset, cfg: RunConfig, *, pruner: str = "halving", name: str = "tpe"
) -> list[dict[str, Any]]:
    """Optuna's TPE search on `cfg.seed` with the comparison's space and budget: one row per trial.

    Args:
        pruner: "halving" (successive halving at Hyperband's rungs, the contender) or
            "none" (every trial trains its full budget).
        name: the search's file under `runs/09_shootout/` (`<name>_seed<N>.journal`); the
            same name resumes the same search, so give a variant a name of its own.
    """
    import optuna

    _check_run(dataset, cfg)
    if pruner not in PRUNERS:
        raise ValueError(f"pruner must be one of {', '.join(PRUNERS)}, got {pruner!r}")
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"name must be a plain name such as 'tpe_unpruned', got {name!r}")
    plan = budget(cfg)
    path = _folder(cfg) / f"{name}_seed{cfg.seed}.journal"
    if path.exists():
        stored = with_optuna.quiet().load_study(study_name=path.stem, storage=with_optuna.journal(path))
        used = stored.user_attrs.get("pruner")
        if used not in (None, pruner):
            raise ValueError(
                f"{path} holds a search with pruner={used!r}, not {pruner!r}: give this one another name "
                "(name=...), or delete that file to start afresh."
            )
        made = stored.user_attrs.get("budget")
        if made not in (None, plan):
            raise ValueError(
                f"{path} holds a search made with another budget ({made['epochs']} epochs, at most "
                f"{made['max_epochs']} per trial; this one: {plan['epochs']} and {plan['max_epochs']}). "
                "Delete that file, or give this search another runs_dir or name."
            )
    study = _optuna_study(cfg, plan, path, pruner)
    study.set_user_attr("pruner", pruner)
    study.set_user_attr("budget", plan)
    # A trial left running by an interrupted process is marked failed; it never closed, so it
    # is left out of the table and the budget, and a new trial takes its place.
    for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        study.tell(trial.number, state=optuna.trial.TrialState.FAIL)
    model_maker = hypermodel(dataset, cfg, cfg.seed)

    def objective(trial) -> float:
        epochs = min(plan["max_epochs"], plan["epochs"] - _spent(study))
        trial.set_user_attr("budget", epochs)
        found = fit_trial(trial, model_maker, dataset, epochs)
        trial.set_user_attr("test_mse", found["test_mse"])
        return found["val_mse"]

    with tuning._keras_tuner.search_context():
        while _spent(study) < plan["epochs"]:
            study.optimize(objective, n_trials=1, catch=(kt.errors.FailedTrialError,))
    rows = []
    for trial in study.get_trials(deepcopy=False):
        if not _closed(trial):
            continue
        status = vocabulary.OPTUNA_STATES.get(trial.state.name, trial.state.name)
        value = trial.value if trial.state.name == "COMPLETE" else trial.user_attrs.get("val_mse")
        rows.append(
            dict(
                trial=trial.number,
                status=status,
                **{name: _plain(trial.params.get(name)) for name in _space_names(dataset, cfg)},
                val_mse=_plain(value),
                test_mse=_plain(trial.user_attrs.get("test_mse")) if status == vocabulary.COMPLETED else None,
                epochs=int(trial.user_attrs.get("epochs", 0)),
                initial_epoch=0,
                budget=int(trial.user_attrs.get("budget", plan["max_epochs"])),
                bracket=None,
                round=None,
                continues=None,
                seconds=trial.user_attrs.get("seconds"),
                message=trial.system_attrs.get("fail_reason") if status == vocabulary.FAILED else None,
            )
        )
    return rows


# ---------------------------------------------------------------- the study


def _untuned_rows(dataset: Dataset, cfg: RunConfig) -> list[dict[str, Any]]:
    rows = tuning.retrain_over_seeds(
        hypermodel(dataset, cfg, cfg.seed), {}, dataset, [cfg.seed], epochs=cfg.race_epochs
    )
    row = rows.iloc[0]
    status = vocabulary.COMPLETED if row["status"] == vocabulary.OK else vocabulary.FAILED
    return [
        dict(
            trial=0,
            status=status,
            val_mse=_plain(row.get("val_mse")),
            test_mse=_plain(row.get("test_mse")),
            epochs=int(row["epochs"]),
            initial_epoch=0,
            budget=cfg.race_epochs,
        )
    ]


def plan(cfg: RunConfig) -> list[tuple[str, dict[str, Any]]]:
    """The study's entries: each contender, then the untuned baseline."""
    return [(name, {}) for name in CONTENDERS] + [(UNTUNED, {})]


def run_entry(dataset: Dataset, cfg: RunConfig, experiment: str, settings: dict[str, Any]) -> list[dict]:
    """Every trial of one contender's search on `cfg.seed` (or the untuned run), one row each."""
    if settings:
        raise ValueError(f"The shoot-out's entries take no settings, got {settings!r}.")
    if experiment == UNTUNED:
        return _untuned_rows(dataset, cfg)
    if experiment == "tpe":
        return run_tpe(dataset, cfg)
    if experiment not in CONTENDERS:
        raise KeyError(
            f"No contender {experiment!r}; the contenders are {', '.join(CONTENDERS)}, and {UNTUNED!r}."
        )
    return _keras_tuner_rows(experiment, dataset, cfg)


def _register() -> None:
    from lab import results

    results.register(
        results.Study(
            name=STUDY,
            title="random, Bayesian, Hyperband (KerasTuner) and TPE with pruning (Optuna), every trial",
            plan=plan,
            run=run_entry,
            budgets=("race_epochs", "hyperband_factor", "latent_dim"),
            seeds="shootout_seeds",
        )
    )


# ---------------------------------------------------------------- what the table says


TABLE_COLUMNS = ("experiment", "seed", "trial", "status", "epochs", "initial_epoch", OBJECTIVE)
CURVE_COLUMNS = ("experiment", "seed", "epochs", "best")


def _check_table(table: Any) -> pd.DataFrame:
    """The shoot-out's table with its trials in the order they ran, or an error that says what to pass."""
    if not isinstance(table, pd.DataFrame):
        raise TypeError(
            f"Pass the shoot-out's table (results.load('{STUDY}', cfg)), got {type(table).__name__}."
        )
    if set(CURVE_COLUMNS) <= set(table.columns) and "trial" not in table:
        raise TypeError("This is a table of curves (from best_so_far); pass the shoot-out's table itself.")
    missing = [c for c in TABLE_COLUMNS if c not in table]
    if missing:
        raise KeyError(f"The table lacks {', '.join(missing)}: pass the whole shoot-out table.")
    searches = table[table["experiment"].isin(list(CONTENDERS))]
    if searches.empty:
        held = ", ".join(map(str, dict.fromkeys(table["experiment"]))) or "no rows"
        raise ValueError(
            f"The table holds no search trials (it has: {held}); the searches are {', '.join(CONTENDERS)}. "
            f"Pass the whole table from results.load('{STUDY}', cfg), or a selection with some searches."
        )
    for column in ("seed", "trial", "epochs", OBJECTIVE):
        if not pd.api.types.is_numeric_dtype(searches[column]):
            raise TypeError(
                f"The table's {column} column is not numeric: read the CSV with pandas' defaults."
            )
    if searches[["seed", "trial", "epochs"]].isna().any().any():
        raise ValueError("The table has trials without a seed, trial number or epochs: it is damaged.")
    unknown = set(searches["status"]) - set(vocabulary.TRIAL_STATUSES)
    if unknown:
        raise ValueError(
            f"Unknown trial statuses {sorted(map(str, unknown))}; a trial's status is one of "
            f"{', '.join(vocabulary.TRIAL_STATUSES)}."
        )
    twice = searches.duplicated(["experiment", "seed", "trial"])
    if twice.any():
        row = searches[twice].iloc[0]
        raise ValueError(
            f"Trial {row['trial']} of {row['experiment']!r} on seed {row['seed']} appears twice: "
            "the table holds duplicated runs (loaded or appended twice?)."
        )
    # Trials in the order they ran (trial numbers count up in both libraries), searches in CONTENDERS order.
    order = {name: i for i, name in enumerate([*CONTENDERS, UNTUNED])}
    key = table["experiment"].map(order).fillna(len(order))
    return (
        table.assign(_order=key)
        .sort_values(["_order", "seed", "trial"], kind="stable")
        .drop(columns="_order")
    )


def _check_curves(curves: Any, helper: str) -> pd.DataFrame:
    if not isinstance(curves, pd.DataFrame) or not set(CURVE_COLUMNS) <= set(curves.columns):
        raise TypeError(
            f"{helper} takes the curves from shootout.best_so_far(table, budget_epochs), "
            f"not {'the shoot-out table' if isinstance(curves, pd.DataFrame) else type(curves).__name__}."
        )
    if curves.empty:
        raise ValueError(f"{helper} got no curves: best_so_far found no search trials in its table.")
    return curves


def _check_budget(budget_epochs: Any, curves: pd.DataFrame | None = None) -> int:
    """A whole number of epochs; with curves, the budget they were drawn to."""
    if isinstance(budget_epochs, dict):
        raise TypeError(
            "budget_epochs is a number of epochs, such as shootout.budget(cfg)['epochs'], not the dict."
        )
    budget_epochs = checks.integer(budget_epochs, "budget_epochs", minimum=1, maximum=10**6)
    if curves is not None and int(curves["epochs"].max()) != budget_epochs:
        raise ValueError(
            f"budget_epochs ({budget_epochs}) is not the budget these curves were drawn to "
            f"({int(curves['epochs'].max())}, their last epoch): pass the value given to best_so_far."
        )
    return budget_epochs


def _check_fractions(fractions: Any) -> list[float]:
    if isinstance(fractions, (str, bytes)) or not hasattr(fractions, "__iter__"):
        raise TypeError(
            f"fractions must be a list of shares of the budget, such as (0.25, 0.5, 1.0), got {fractions!r}"
        )
    values = list(fractions)
    ok = values and all(
        isinstance(v, (int, float, np.number)) and not isinstance(v, bool) and 0 < v <= 1 for v in values
    )
    if not ok or len(set(values)) != len(values):
        hint = (
            " (percentages? write 0.25 for 25%)"
            if any(isinstance(v, (int, float)) and v > 1 for v in values)
            else ""
        )
        raise ValueError(
            "fractions must be distinct shares of the budget in (0, 1], such as (0.25, 0.5, 1.0), "
            f"got {values}{hint}"
        )
    labels = [f"{100 * v:g}%" for v in values]
    if len(set(labels)) != len(labels):
        raise ValueError(f"fractions {values} are too close to tell apart in percent; space them further.")
    return [float(v) for v in values]


def _check_run(dataset: Any, cfg: Any) -> None:
    if not isinstance(cfg, RunConfig):
        raise TypeError(f"cfg must be the settings from config.preset(...), got {type(cfg).__name__}.")
    if not isinstance(dataset, Dataset):
        raise TypeError(f"dataset must be data.load_for(cfg), got {type(dataset).__name__}.")


def spent(table: pd.DataFrame) -> pd.DataFrame:
    """One row per trial of the searches, in the order they ran, with `start` and `end`: the
    epochs its search had spent before and after it (`end` is when its result was known)."""
    table = _check_table(table)
    searches = table[table["experiment"].isin(list(CONTENDERS))].copy()
    searches["end"] = searches.groupby(["experiment", "seed"], sort=False)["epochs"].cumsum()
    searches["start"] = searches["end"] - searches["epochs"]
    return searches


def best_so_far(table: pd.DataFrame, budget_epochs: int) -> pd.DataFrame:
    """Each search's best validation error after every epoch of the budget, on every seed.

    A trial counts from the epoch its search had spent when it ended; only trials with a
    final value count (KerasTuner's completed trials, Hyperband's short rounds included,
    and Optuna's completed ones; a pruned trial is not a candidate, as in Optuna's own
    `best_trial`). Returns columns `experiment`, `seed`, `epochs` (1 to `budget_epochs`)
    and `best` (NaN before a first result).
    """
    budget_epochs = _check_budget(budget_epochs)
    rows = []
    grid = np.arange(1, budget_epochs + 1)
    for (name, seed), trials in spent(table).groupby(["experiment", "seed"], sort=False):
        done = trials[trials["status"].map(vocabulary.has_value) & trials[OBJECTIVE].notna()]
        best = np.full(len(grid), np.nan)
        running = math.inf
        for end, value in sorted(zip(done["end"], done[OBJECTIVE], strict=True)):
            running = min(running, value)
            best[grid >= end] = np.fmin(best[grid >= end], running)
        rows.append(pd.DataFrame({"experiment": name, "seed": seed, "epochs": grid, "best": best}))
    return (
        pd.concat(rows, ignore_index=True)
        if rows
        else pd.DataFrame(columns=["experiment", "seed", "epochs", "best"])
    )


def median_curves(curves: pd.DataFrame) -> pd.DataFrame:
    """Median and interquartile range over seeds of each search's best-so-far, per epoch
    (NaN until every seed of that search has a first result)."""
    curves = _check_curves(curves, "median_curves")
    grouped = curves.groupby(["experiment", "epochs"], sort=False)["best"]
    out = grouped.quantile(0.5).rename("median").to_frame()
    out["q25"], out["q75"] = grouped.quantile(0.25), grouped.quantile(0.75)
    out["seeds_with_result"] = grouped.count()
    # A median over the seeds that have a result so far would mix seeds: drawn once every seed has one.
    seeds = curves.groupby("experiment")["seed"].nunique()
    out = out.reset_index()
    partial = out["seeds_with_result"] < out["experiment"].map(seeds)
    out.loc[partial, ["median", "q25", "q75"]] = np.nan
    return out


def at_fractions(
    curves: pd.DataFrame, budget_epochs: int, fractions: Sequence[float] = FRACTIONS
) -> pd.DataFrame:
    """Each search's best on each seed at fractions of the budget (experiment, seed, fraction, best)."""
    curves = _check_curves(curves, "at_fractions")
    budget_epochs = _check_budget(budget_epochs, curves)
    rows = []
    for fraction in _check_fractions(fractions):
        epochs = max(1, int(math.floor(fraction * budget_epochs)))
        at = curves[curves["epochs"] == epochs]
        rows.append(at.assign(fraction=fraction)[["experiment", "seed", "fraction", "best"]])
    return pd.concat(rows, ignore_index=True)


def mean_ranks(
    curves: pd.DataFrame, budget_epochs: int, fractions: Sequence[float] = FRACTIONS
) -> pd.DataFrame:
    """The mean rank (1 = best) of each search over seeds at each fraction of the budget.

    On every seed the searches are ranked by their best validation error so far; a search
    with no result yet ranks last, and ties share their mean rank.
    """
    values = at_fractions(curves, budget_epochs, fractions)
    values["rank"] = values.groupby(["seed", "fraction"])["best"].rank(method="average", na_option="bottom")
    table = values.pivot_table(index="experiment", columns="fraction", values="rank", aggfunc="mean")
    table.columns = [f"{100 * f:g}%" for f in table.columns]
    return table.loc[[c for c in CONTENDERS if c in table.index]]


def cost(table: pd.DataFrame) -> pd.DataFrame:
    """What each search spent per seed (median over seeds): trials, pruned trials, epochs and wall
    seconds, and the minutes of the whole run over every seed."""
    per_seed = (
        spent(table)
        .groupby(["experiment", "seed"], sort=False)
        .agg(
            trials=("trial", "count"),
            pruned=("status", lambda s: int((s == vocabulary.PRUNED).sum())),
            epochs=("epochs", "sum"),
            wall_seconds=("wall_seconds", "first"),
        )
    )
    return per_seed.groupby("experiment", sort=False).agg(
        trials=("trials", "median"),
        pruned=("pruned", "median"),
        epochs=("epochs", "median"),
        median_seconds=("wall_seconds", "median"),
        total_minutes=("wall_seconds", lambda s: s.sum() / 60),
    )


def final_spread(curves: pd.DataFrame, budget_epochs: int) -> pd.DataFrame:
    """Each search's best validation MSE at the full budget: median, best and worst seed."""
    at = at_fractions(curves, budget_epochs, [1.0]).pivot(index="seed", columns="experiment", values="best")
    at = at[[c for c in CONTENDERS if c in at.columns]]
    return pd.DataFrame({"median": at.median(), "best seed": at.min(), "worst seed": at.max()})


def win_rates(curves: pd.DataFrame, budget_epochs: int, fraction: float = 1.0) -> pd.DataFrame:
    """The chance that one run of the row's search ends lower than one run of the column's.

    Every seed of one search is compared with every seed of the other (the runs are
    independent, so seed 3 of one has nothing to do with seed 3 of the other); ties count
    half. With one result per seed at `fraction` of the budget, a search with none yet
    loses every comparison.
    """
    if isinstance(fraction, (list, tuple)):
        raise TypeError(f"fraction is one share of the budget, such as 1.0, got {fraction!r}")
    at = at_fractions(curves, budget_epochs, [fraction])
    names = [c for c in CONTENDERS if c in set(at["experiment"])]
    ends = {name: at.loc[at["experiment"] == name, "best"].fillna(np.inf).to_numpy() for name in names}
    rates = pd.DataFrame(index=names, columns=names, dtype=float)
    for row in names:
        for column in names:
            if row != column:
                a, b = ends[row][:, None], ends[column][None, :]
                rates.loc[row, column] = float(np.mean((a < b) + 0.5 * (a == b)))
    return rates


def winners(table: pd.DataFrame, budget_epochs: int) -> pd.DataFrame:
    """Each search's winner on every seed within the budget: its trial, validation and test error."""
    budget_epochs = _check_budget(budget_epochs)
    rows = []
    for (name, seed), trials in spent(table).groupby(["experiment", "seed"], sort=False):
        done = trials[
            trials["status"].map(vocabulary.has_value)
            & trials[OBJECTIVE].notna()
            & (trials["end"] <= budget_epochs)
        ]
        if done.empty:
            continue
        best = done.loc[done[OBJECTIVE].idxmin()]
        rows.append(
            dict(
                experiment=name,
                seed=seed,
                trial=best["trial"],
                val_mse=best[OBJECTIVE],
                test_mse=best.get("test_mse"),
                epochs=best["epochs"] + best.get("initial_epoch", 0),
            )
        )
    untuned = table[table["experiment"] == UNTUNED]
    for _, row in untuned.iterrows():
        rows.append(
            dict(
                experiment=UNTUNED,
                seed=row["seed"],
                trial=row["trial"],
                val_mse=row[OBJECTIVE],
                test_mse=row.get("test_mse"),
                epochs=row["epochs"],
            )
        )
    return pd.DataFrame(rows)


def to_optuna_trials(trials: pd.DataFrame, model_maker: DenseAutoencoderHyperModel) -> list:
    """Finished trials of a table as Optuna `FrozenTrial`s with the HyperModel's distributions
    (a conditional width only where its trial had that many layers)."""
    import optuna

    space = optuna_space(model_maker)
    frozen = []
    for _, row in trials.iterrows():
        params, distributions = {}, {}
        for name, distribution, _condition in space:
            value = row.get(name)
            if value is None or (isinstance(value, float) and math.isnan(value)):
                continue
            if isinstance(distribution, optuna.distributions.IntDistribution) or (
                isinstance(distribution, optuna.distributions.CategoricalDistribution)
                and all(isinstance(c, int) for c in distribution.choices)
            ):
                value = int(value)
            elif isinstance(distribution, optuna.distributions.CategoricalDistribution) and all(
                isinstance(c, float) for c in distribution.choices
            ):
                # A CSV gives 1e-05 back as 1e-05, but a sum of floats may come back a hair away.
                value = min(distribution.choices, key=lambda c: abs(float(c) - float(value)))
            elif isinstance(distribution, optuna.distributions.FloatDistribution):
                # Values written to CSV and read back can sit a rounding error outside the range or step.
                value = float(np.clip(value, distribution.low, distribution.high))
                if distribution.step:
                    steps = round((value - distribution.low) / distribution.step)
                    value = float(
                        np.clip(
                            round(distribution.low + steps * distribution.step, 12),
                            distribution.low,
                            distribution.high,
                        )
                    )
            params[name], distributions[name] = value, distribution
        frozen.append(
            optuna.trial.create_trial(params=params, distributions=distributions, value=float(row[OBJECTIVE]))
        )
    return frozen


def importance(
    table: pd.DataFrame,
    dataset: Dataset,
    cfg: RunConfig,
    *,
    evaluator: str = "ped_anova",
    full_budget: bool = True,
) -> pd.DataFrame:
    """Hyperparameter importance on every seed, from all the searches' trials pooled.

    Each seed's finished trials (by default only those trained to the full per-trial
    budget, so that a short Hyperband round does not read as a bad setting) are loaded
    into an in-memory Optuna study, and Optuna's evaluator rates each hyperparameter:
    `ped_anova` (Optuna's default; it rates the conditional per-layer widths over the
    trials that have them) or `fanova` (a random forest's functional ANOVA; it rates
    only the hyperparameters every trial has, so the per-layer widths are left out).

    Returns:
        One row per seed and hyperparameter: `seed`, `hyperparameter`, `importance`
        (normalized to sum to 1 on each seed), `trials` (how many entered).
    """
    optuna = with_optuna.quiet()
    table = _check_table(table)
    evaluators = {
        "ped_anova": lambda: optuna.importance.PedAnovaImportanceEvaluator(),
        "fanova": lambda: optuna.importance.FanovaImportanceEvaluator(seed=0),
    }
    if evaluator not in evaluators:
        raise ValueError(f"evaluator must be one of {', '.join(evaluators)}, got {evaluator!r}")
    _check_run(dataset, cfg)
    full_budget = config.flag(full_budget, "full_budget")
    model_maker = hypermodel(dataset, cfg, 0)
    space = [name for name, _, _ in optuna_space(model_maker)]
    absent = [name for name in space if name not in table]
    if absent:
        raise KeyError(
            f"The table lacks the searched hyperparameters {', '.join(absent)}: pass the whole table."
        )
    rows = []
    searches = spent(table)
    for seed, trials in searches.groupby("seed"):
        done = trials[trials["status"].map(vocabulary.has_value) & trials[OBJECTIVE].notna()]
        if full_budget:
            done = done[done["epochs"] + done["initial_epoch"].fillna(0) >= cfg.race_epochs]
        if len(done) < 4:
            continue
        study = optuna.create_study(direction="minimize")
        study.add_trials(to_optuna_trials(done, model_maker))
        found = optuna.importance.get_param_importances(study, evaluator=evaluators[evaluator]())
        rows += [dict(seed=seed, hyperparameter=k, importance=v, trials=len(done)) for k, v in found.items()]
    if not rows:
        raise ValueError(
            f"No seed has 4 finished trials{f' of the full {cfg.race_epochs} epochs' if full_budget else ''}"
            f": too few to rate anything. Pass the cfg the table was made with (its race_epochs), "
            "full_budget=False to use shorter trials too, or a table with more trials."
        )
    return pd.DataFrame(rows, columns=["seed", "hyperparameter", "importance", "trials"])


def importance_summary(ped_anova: pd.DataFrame, fanova: pd.DataFrame) -> pd.DataFrame:
    """The two evaluators side by side (from `importance`), most important first: PED-ANOVA's median
    and interquartile range over seeds, fANOVA's median (NaN where it cannot rate a hyperparameter),
    and the median number of trials each seed's rating rests on."""
    grouped = ped_anova.groupby("hyperparameter")["importance"]
    summary = pd.DataFrame(
        {
            "PED-ANOVA median": grouped.median(),
            "PED-ANOVA 25-75%": grouped.agg(lambda v: f"{v.quantile(0.25):.2f} to {v.quantile(0.75):.2f}"),
            "fANOVA median": fanova.groupby("hyperparameter")["importance"].median(),
        }
    ).sort_values("PED-ANOVA median", ascending=False)
    summary.attrs["trials_per_seed"] = float(ped_anova.groupby("seed")["trials"].first().median())
    return summary


def timeline(table: pd.DataFrame, experiment: str, seed: int) -> pd.DataFrame:
    """One search's trials in the order they ran: where each started and ended in the budget,
    how many epochs it trained, its status, and (for Hyperband) its bracket and round."""
    searches = spent(table)
    seeds = sorted(int(s) for s in searches["seed"].unique())
    if experiment not in CONTENDERS:
        extra = f" ('{UNTUNED}' is one baseline run, not a search)" if experiment == UNTUNED else ""
        raise KeyError(f"No search {experiment!r}{extra}; the searches are {', '.join(CONTENDERS)}.")
    seed = checks.integer(seed, "seed", minimum=0)
    rows = searches[(searches["experiment"] == experiment) & (searches["seed"] == seed)]
    if rows.empty:
        raise KeyError(
            f"No {experiment!r} search on seed {seed} in the table; "
            f"its seeds are {', '.join(map(str, seeds))}."
        )
    columns = [
        "trial",
        "status",
        "start",
        "end",
        "epochs",
        "initial_epoch",
        "budget",
        "bracket",
        "round",
        OBJECTIVE,
    ]
    return rows[[c for c in columns if c in rows]].reset_index(drop=True)


_register()


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m lab.shootout [--preset workshop] [--seeds N]`: the reference run, resumable."""
    from lab import results

    return results.study_main(
        STUDY,
        argv,
        prog="python -m lab.shootout",
        description="Run notebook 09's comparison: the four searches and the untuned baseline on every seed, "
        "writing every trial to results/ (resumable: run it again to go on).",
        seeds_field="shootout_seeds",
        duration="most of an hour on 2 cores",
    )


if __name__ == "__main__":
    raise SystemExit(main())
