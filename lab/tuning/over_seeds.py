"""One setting of a search trained again on several seeds: how much of a ranking is noise."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import keras_tuner as kt
import pandas as pd

from lab import checks
from lab.data import Dataset
from lab.tuning.trials import best_trial, hyperparameter_values
from lab.vocabulary import OBJECTIVES


def _seed_list(seeds: Any) -> list[int]:
    """`seeds` as a list of whole seeds in NumPy's range, or a message that shows the form."""
    if isinstance(seeds, (str, bytes)) or not hasattr(seeds, "__iter__"):
        raise ValueError(f"seeds must be a list of whole numbers, such as [0, 1, 2], got {seeds!r}")
    return [checks.integer(s, "each seed", minimum=0, maximum=checks.MAX_SEED) for s in seeds]


def retrain_over_seeds(
    hypermodel,
    values: dict[str, Any],
    dataset: Dataset,
    seeds: Sequence[int],
    *,
    epochs: int,
    labels: bool = False,
) -> pd.DataFrame:
    """Train one setting of a search space again on several seeds: the spread of one trial.

    A search ranks its trials by one run each; a gap between two trials smaller than
    the spread of one setting across seeds is noise. The hypermodel is copied with
    each seed (initial weights and batch order), the split stays the same.

    Returns:
        One row per seed: `seed`, `status` ("ok", or "diverged"), every objective,
        `epochs` trained and `capped` (True when the run used every epoch, so it was
        still improving when it was cut).
    """
    seeds = _seed_list(seeds)
    rows = []
    for seed in seeds:
        model_maker = copy.copy(hypermodel)
        model_maker.seed, model_maker.last_fit = int(seed), None
        hp = model_maker.hyperparameters(**values)
        fit_labels = (dataset.y_train, dataset.y_val) if labels else None
        try:
            found = model_maker.fit(
                hp,
                model_maker.build(hp),
                dataset.x_train,
                validation_data=dataset.x_val,
                labels=fit_labels,
                epochs=epochs,
            )
            status = "ok"
        except kt.errors.FailedTrialError:
            found, status = {}, "diverged"
        trained = model_maker.last_fit.epochs_trained if model_maker.last_fit else 0
        rows.append(dict(seed=int(seed), status=status, **found, epochs=trained, capped=trained >= epochs))
    return pd.DataFrame(rows)


def best_over_seeds(
    frame: pd.DataFrame,
    hypermodel,
    dataset: Dataset,
    seeds: Sequence[int],
    *,
    epochs: int,
    objective: str = "val_mse",
) -> pd.DataFrame:
    """The best trial's setting on every seed (see `retrain_over_seeds`).

    A trial that trained from scratch for `epochs` on the hypermodel's own seed (any
    trial of a grid, random or Bayesian search, or a Hyperband trial of the full budget
    that continued nothing) is already that seed's run, so it is used as it is; a
    Hyperband trial that continued an earlier one is retrained on every seed.
    """
    seeds = _seed_list(seeds)
    best = best_trial(frame, objective)
    reports = set(getattr(hypermodel, "REPORTS", ())) | {"val_probe_accuracy", "val_loss"}
    foreign = [
        name
        for name in OBJECTIVES
        if name in frame.columns and frame[name].notna().any() and name not in reports
    ]
    # ...and the hypermodel's own first objective must be there (a dense search has no val_neg_elbo).
    own = [n for n in getattr(hypermodel, "REPORTS", ())[:1] if n not in frame or frame[n].isna().all()]
    if own:
        raise ValueError(
            f"The trials do not report {own[0]}, which every {type(hypermodel).__name__} trial does: they "
            "come from another kind of model. Pass the hypermodel the search was made with."
        )
    if foreign:
        raise ValueError(
            f"The trials report {', '.join(foreign)}, which a {type(hypermodel).__name__} does not: "
            "they come from another kind of model. Pass the hypermodel the search was made with."
        )
    searched = [item.name for item in hypermodel.declare().space if not item.conditions]
    absent = [name for name in searched if name not in frame.columns]
    if absent:
        raise ValueError(
            f"The trials do not come from this hypermodel's search: it searches {', '.join(searched)}, "
            f"and the table has no {', '.join(absent)}. Pass the hypermodel the search was made with."
        )
    start = best.get("tuner/initial_epoch", 0)
    budget = best.get("tuner/epochs", best.get("budget", epochs))
    own = (
        (pd.isna(start) or start == 0) and (pd.isna(budget) or budget == epochs) and hypermodel.seed in seeds
    )
    rest = [s for s in seeds if not (own and s == hypermodel.seed)]
    rows = retrain_over_seeds(
        hypermodel,
        hyperparameter_values(best, hypermodel),
        dataset,
        rest,
        epochs=epochs,
        labels=objective == "val_probe_accuracy",
    )
    if own:
        first = {
            "seed": hypermodel.seed,
            "status": "ok",
            objective: best[objective],
            "epochs": int(best["epochs"]),
            "capped": bool(best["epochs"] >= epochs),
        }
        rows = pd.concat([pd.DataFrame([first]), rows], ignore_index=True)
    return rows
