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
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import keras_tuner as kt
import numpy as np
import pandas as pd

from lab import evaluate, tuning, vocabulary
from lab._backend import keras
from lab.config import RunConfig
from lab.data import Dataset
from lab.hypermodels import DENSE_TUNED, DenseAutoencoderHyperModel

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


def optuna_space(model_maker: DenseAutoencoderHyperModel) -> list[tuple[str, Any, tuple[str, tuple] | None]]:
    """The HyperModel's KerasTuner space as Optuna distributions, in declaration order.

    Returns (name, distribution, condition) triples; a condition `(parent, values)` makes
    the hyperparameter exist only when `parent` takes one of `values`, as KerasTuner's
    conditional scopes do (`units_2` only with two layers or more).
    """
    import optuna.distributions as od

    out = []
    for item in model_maker.declare().space:
        config = item.get_config()
        kind = type(item).__name__
        if kind == "Choice":
            distribution = od.CategoricalDistribution(list(config["values"]))
        elif kind == "Int":
            distribution = od.IntDistribution(
                config["min_value"], config["max_value"], step=config["step"] or 1
            )
        elif kind == "Float" and config.get("sampling") == "log":
            distribution = od.FloatDistribution(config["min_value"], config["max_value"], log=True)
        elif kind == "Float":
            distribution = od.FloatDistribution(config["min_value"], config["max_value"], step=config["step"])
        else:
            raise TypeError(f"{item.name}: a {kind} hyperparameter has no Optuna distribution here")
        conditions = [c.get_config() for c in item.conditions]
        if len(conditions) > 1:
            raise ValueError(f"{item.name} depends on {len(conditions)} conditions; one is supported")
        condition = (conditions[0]["name"], tuple(conditions[0]["values"])) if conditions else None
        out.append((item.name, distribution, condition))
    return out


def suggest(trial, model_maker: DenseAutoencoderHyperModel) -> dict[str, Any]:
    """One setting of the HyperModel's space, sampled by an Optuna trial (active values only)."""
    values: dict[str, Any] = {}
    for name, distribution, condition in optuna_space(model_maker):
        if condition is not None and values.get(condition[0]) not in condition[1]:
            continue
        values[name] = _suggest_one(trial, name, distribution)
    return values


def _suggest_one(trial, name: str, distribution) -> Any:
    import optuna.distributions as od

    if isinstance(distribution, od.CategoricalDistribution):
        return trial.suggest_categorical(name, distribution.choices)
    if isinstance(distribution, od.IntDistribution):
        return trial.suggest_int(name, distribution.low, distribution.high, step=distribution.step)
    return trial.suggest_float(
        name, distribution.low, distribution.high, step=distribution.step, log=distribution.log
    )


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


def _optuna_study(cfg: RunConfig, plan: dict[str, int], path: Path):
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    path.parent.mkdir(parents=True, exist_ok=True)
    return optuna.create_study(
        study_name=path.stem,
        storage=JournalStorage(JournalFileBackend(str(path))),
        load_if_exists=True,
        direction="minimize",
        sampler=optuna.samplers.TPESampler(seed=tuning.oracle_seed(cfg.seed)),
        pruner=optuna.pruners.SuccessiveHalvingPruner(
            min_resource=plan["min_epochs"], reduction_factor=plan["factor"]
        ),
    )


def _spent(study) -> int:
    """Epochs spent by the study's closed trials (an interrupted trial's are lost, as in KerasTuner)."""
    return sum(int(t.user_attrs.get("epochs", 0)) for t in study.get_trials(deepcopy=False) if _closed(t))


def _closed(trial) -> bool:
    """True for a trial that ended in this process's hands: completed, pruned or failed, not cut off."""
    return trial.state.is_finished() and bool(trial.user_attrs.get("closed"))


def _tpe_rows(dataset: Dataset, cfg: RunConfig) -> list[dict[str, Any]]:
    import optuna

    plan = budget(cfg)
    study = _optuna_study(cfg, plan, _folder(cfg) / f"tpe_seed{cfg.seed}.journal")
    # A trial left running by an interrupted process is marked failed; it never closed, so it
    # is left out of the table and the budget, and a new trial takes its place.
    for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        study.tell(trial.number, state=optuna.trial.TrialState.FAIL)
    model_maker = hypermodel(dataset, cfg, cfg.seed)

    def objective(trial) -> float:
        values = suggest(trial, model_maker)
        hp = model_maker.hyperparameters(**values)
        epochs = min(plan["max_epochs"], plan["epochs"] - _spent(study))
        trial.set_user_attr("budget", epochs)
        keras.backend.clear_session(free_memory=False)  # as KerasTuner does before every trial
        started = time.perf_counter()
        report = _Report(trial)
        try:
            found = model_maker.fit(
                hp,
                model_maker.build(hp),
                dataset.x_train,
                validation_data=dataset.x_val,
                epochs=epochs,
                callbacks=[report],
            )
        finally:
            trial.set_user_attr("seconds", round(time.perf_counter() - started, 3))
            trial.set_user_attr("closed", True)
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
    if experiment == UNTUNED:
        return _untuned_rows(dataset, cfg)
    if experiment == "tpe":
        return _tpe_rows(dataset, cfg)
    if experiment not in CONTENDERS:
        raise KeyError(f"No contender {experiment!r}; the contenders are {', '.join(CONTENDERS)}.")
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


def _check_table(table: Any) -> pd.DataFrame:
    if not isinstance(table, pd.DataFrame):
        raise TypeError(
            f"Pass the shoot-out's table (results.load('{STUDY}', cfg)), got {type(table).__name__}."
        )
    missing = [c for c in ("experiment", "seed", "trial", "status", "epochs", OBJECTIVE) if c not in table]
    if missing:
        raise KeyError(f"The table lacks {', '.join(missing)}: pass the whole shoot-out table.")
    return table


def spent(table: pd.DataFrame) -> pd.DataFrame:
    """One row per trial of the searches, in the order they ran, with `start` and `end`: the
    epochs its search had spent before and after it (`end` is when its result was known)."""
    table = _check_table(table)
    searches = table[table["experiment"].isin(CONTENDERS)].copy()
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
    """Median and interquartile range over seeds of each search's best-so-far, per epoch."""
    grouped = curves.groupby(["experiment", "epochs"], sort=False)["best"]
    out = grouped.quantile(0.5).rename("median").to_frame()
    out["q25"], out["q75"] = grouped.quantile(0.25), grouped.quantile(0.75)
    out["seeds_with_result"] = grouped.count()
    return out.reset_index()


def at_fractions(
    curves: pd.DataFrame, budget_epochs: int, fractions: Sequence[float] = FRACTIONS
) -> pd.DataFrame:
    """Each search's best on each seed at fractions of the budget (experiment, seed, fraction, best)."""
    rows = []
    for fraction in fractions:
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
    table.columns = [f"{int(round(100 * f))}%" for f in table.columns]
    return table.loc[[c for c in CONTENDERS if c in table.index]]


def winners(table: pd.DataFrame, budget_epochs: int) -> pd.DataFrame:
    """Each search's winner on every seed within the budget: its trial, validation and test error."""
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
    import optuna

    table = _check_table(table)
    evaluators = {
        "ped_anova": lambda: optuna.importance.PedAnovaImportanceEvaluator(),
        "fanova": lambda: optuna.importance.FanovaImportanceEvaluator(seed=0),
    }
    if evaluator not in evaluators:
        raise ValueError(f"evaluator must be one of {', '.join(evaluators)}, got {evaluator!r}")
    model_maker = hypermodel(dataset, cfg, 0)
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
    return pd.DataFrame(rows, columns=["seed", "hyperparameter", "importance", "trials"])


def timeline(table: pd.DataFrame, experiment: str, seed: int) -> pd.DataFrame:
    """One search's trials in the order they ran: where each started and ended in the budget,
    how many epochs it trained, its status, and (for Hyperband) its bracket and round."""
    searches = spent(table)
    rows = searches[(searches["experiment"] == experiment) & (searches["seed"] == seed)]
    if rows.empty:
        raise KeyError(f"No {experiment!r} search on seed {seed} in the table.")
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

    argv = list(sys.argv[1:] if argv is None else argv)
    return results.main([STUDY, *argv])


if __name__ == "__main__":
    raise SystemExit(main())
