"""What the multi-objective searches of notebook 10 found: fronts, picks for three uses, the
summed objective's choice, hypervolume over seeds, the few-label probe, and the VAE's
rate-distortion front. Every function reads the study's table (`results.load("10_pareto", cfg)`);
`retrain` is the one that trains.

    pooled = tradeoffs.trials(table, seed=0)              # the dense searches' trials of one seed
    pooled["on_front"]                                    # the 3-objective Pareto front
    tradeoffs.picks(pooled)                               # one trial for each of three uses
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from lab import checks, evaluate, fronts, pareto, tuning, vocabulary
from lab.config import RunConfig
from lab.data import Dataset

# The picks' rules: probe accuracy within this of the front's best (a share: 0.01 is one
# point); validation MSE within this share of the front's lowest.
ACCURACY_TOLERANCE = 0.01
ERROR_TOLERANCE = 0.10
USES = {
    "best reconstruction": "the lowest validation MSE",
    "small code for a classifier": "the smallest code within `accuracy_tolerance` of the best probe accuracy",
    "small model, near the best error": "the fewest weights within `error_tolerance` of the lowest MSE",
}


def check_table(table: Any) -> pd.DataFrame:
    """The study's table, or an error that says what to pass."""
    if not isinstance(table, pd.DataFrame):
        raise TypeError(
            f"Pass the study's table (results.load('{pareto.STUDY}', cfg)), got {type(table).__name__}."
        )
    missing = [c for c in ("experiment", "seed", "trial", "status", *pareto.OBJECTIVES) if c not in table]
    if missing:
        raise KeyError(
            f"The table lacks {', '.join(missing)}: pass the whole table, "
            f"results.load('{pareto.STUDY}', cfg)."
        )
    unknown = sorted(set(map(str, table["experiment"])) - set(pareto.ALL_SEARCHES))
    if unknown:
        raise ValueError(
            f"Unknown searches {unknown}; the study's searches are {', '.join(pareto.ALL_SEARCHES)}."
        )
    if table.duplicated(["experiment", "seed", "trial"]).any():
        raise ValueError("Some trials appear twice in the table (loaded or appended twice?).")
    return table


def _seeds(table: pd.DataFrame) -> list[int]:
    return sorted(int(s) for s in table["seed"].unique())


def trials(
    table: pd.DataFrame,
    *,
    seed: int | None = None,
    searches: Sequence[str] = tuple(pareto.SEARCHES),
    objectives: Sequence[str] = pareto.OBJECTIVES,
) -> pd.DataFrame:
    """The completed trials of `searches` on `seed` (every seed when None), pooled, with an
    `on_front` column: True for the trials no other pooled trial dominates on `objectives`."""
    table = check_table(table)
    if isinstance(searches, str):
        searches = [searches]
    objectives = fronts.check_objectives(table, objectives)
    unknown = [s for s in searches if s not in pareto.ALL_SEARCHES]
    if unknown:
        raise KeyError(f"No search {unknown[0]!r}; the searches are {', '.join(pareto.ALL_SEARCHES)}.")
    rows = table[table["experiment"].isin(list(searches))]
    if seed is not None:
        seed = checks.integer(seed, "seed", minimum=0)
        if seed not in _seeds(table):
            raise ValueError(f"The table has no seed {seed}; its seeds are {_seeds(table)}.")
        rows = rows[rows["seed"] == seed]
    rows = rows[rows["status"].map(vocabulary.has_value).astype(bool)].dropna(subset=list(objectives))
    if rows.empty:
        raise ValueError(f"No completed trial of {', '.join(searches)} reports {', '.join(objectives)}.")
    return rows.assign(on_front=fronts.pareto_mask(rows, objectives)).reset_index(drop=True)


def front_table(pooled: pd.DataFrame, columns: Sequence[str] = ()) -> pd.DataFrame:
    """The front's trials, by validation MSE, with their objectives, latent size and search."""
    shown = ["experiment", "latent_dim", *pareto.OBJECTIVES, pareto.FEW, *columns]
    front = pooled[pooled["on_front"]].sort_values("val_mse")
    return front[[c for c in dict.fromkeys(shown) if c in front]].reset_index(drop=True)


def _share(value: Any, name: str, top: float) -> float:
    if isinstance(value, str):  # "0.1" would be read as a number, "10%" not: refuse both alike
        raise ValueError(f"{name} must be a number from 0 to {top:g}, a share (0.1 for 10%), got {value!r}.")
    return checks.number(value, name, minimum=0, maximum=top, hint="It is a share: 0.1 for 10%.")


def picks(
    pooled: pd.DataFrame,
    *,
    accuracy_tolerance: float = ACCURACY_TOLERANCE,
    error_tolerance: float = ERROR_TOLERANCE,
) -> pd.DataFrame:
    """One trial of the front for each of three uses (`USES`), indexed by use:

    - best reconstruction: the lowest validation MSE;
    - small code for a classifier: the smallest latent size whose probe accuracy is within
      `accuracy_tolerance` of the best (the most accurate of that size);
    - small model, near the best error: the fewest weights among trials within
      `error_tolerance` (a share) of the lowest MSE (the lowest MSE among equals).
    """
    accuracy_tolerance = _share(accuracy_tolerance, "accuracy_tolerance", 1)
    error_tolerance = _share(error_tolerance, "error_tolerance", 10)
    front = _front(pooled)
    if front.empty:
        raise ValueError("The pooled trials have no front: no trial completed with every objective.")
    best_error = front.loc[front["val_mse"].idxmin()]
    good = front[front["val_probe_accuracy"] >= front["val_probe_accuracy"].max() - accuracy_tolerance]
    classifier = good.sort_values(["latent_dim", "val_probe_accuracy"], ascending=[True, False]).iloc[0]
    near = front[front["val_mse"] <= front["val_mse"].min() * (1 + error_tolerance)]
    small = near.sort_values(["params", "val_mse"]).iloc[0]
    out = pd.DataFrame([best_error, classifier, small], index=list(USES))
    out.index.name = "use"
    return out


def smallest_within(
    pooled: pd.DataFrame, tolerances: Sequence[float] = (ERROR_TOLERANCE, 0.25, 0.5, 1.0)
) -> pd.DataFrame:
    """What a looser error budget buys in size: for each tolerance (a share of the front's
    lowest validation MSE), the front trial `picks` takes as the small model near the best
    error, with its error and weights as multiples of the lowest-error trial's."""
    if isinstance(tolerances, (str, bytes)) or not isinstance(tolerances, Sequence) or not tolerances:
        raise TypeError(f"tolerances must be a list of shares such as [0.1, 0.25], got {tolerances!r}.")
    tolerances = [_share(t, "each of tolerances", 10) for t in tolerances]
    labels = [f"{t * 100:.4g}%" for t in tolerances]
    if len(set(labels)) < len(labels):
        raise ValueError(f"tolerances repeats a value: {labels}; give each share once.")
    rows = {}
    for tolerance, label in zip(tolerances, labels, strict=True):
        chosen = picks(pooled, error_tolerance=tolerance)
        best, small = chosen.loc["best reconstruction"], chosen.loc["small model, near the best error"]
        rows[label] = dict(
            experiment=small["experiment"],
            latent_dim=int(small["latent_dim"]),
            params=int(small["params"]),
            val_mse=float(small["val_mse"]),
            val_probe_accuracy=float(small["val_probe_accuracy"]),
            error_ratio=float(small["val_mse"] / best["val_mse"]),
            weights_ratio=float(small["params"] / best["params"]),
        )
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = "error tolerance"
    return out


def _front(pooled: Any) -> pd.DataFrame:
    """The front trials of a pooled frame of the dense searches, or an error that says what to pass."""
    if not isinstance(pooled, pd.DataFrame) or "on_front" not in pooled:
        raise TypeError("Pass the pooled trials of tradeoffs.trials(table, seed=...).")
    if pooled["on_front"].dtype != bool:
        raise TypeError(
            "on_front must hold True or False for each trial, as tradeoffs.trials(table, seed=...) "
            f"makes it; got a column of {pooled['on_front'].dtype}."
        )
    lacking = [
        o for o in pareto.OBJECTIVES if o not in pooled or pooled.loc[pooled["on_front"], o].isna().any()
    ]
    if lacking:
        raise ValueError(
            f"The front's trials lack {', '.join(lacking)}: picks read the dense searches' trials, "
            "tradeoffs.trials(table, seed=...) with its default searches and objectives."
        )
    return pooled[pooled["on_front"]]


def summed_pick(pooled_summed: pd.DataFrame, weights: dict[str, float] | None = None) -> pd.Series:
    """The trial with the lowest weighted sum of the objectives (those to maximize subtracted):
    with every weight 1 (the default), the one KerasTuner's summed objective picked."""
    if not isinstance(pooled_summed, pd.DataFrame):
        raise TypeError(
            "Pass the summed search's trials, pooled[pooled['experiment'] == 'summed'], "
            f"got {type(pooled_summed).__name__}."
        )
    if weights is None:
        weights = {name: 1.0 for name in pareto.OBJECTIVES}
    if not isinstance(weights, dict) or not weights:
        raise TypeError(
            f"weights must be a dict of objectives and numbers, such as {{'val_mse': 1, 'params': 1e-6}}, "
            f"got {weights!r}; leave it out for KerasTuner's weights (every one 1)."
        )
    weights = {name: checks.number(w, f"the weight of {name}") for name, w in weights.items()}
    total = fronts.weighted_sum(pooled_summed, weights)
    if total.isna().all():
        raise ValueError("No trial has every objective of the weighted sum.")
    return pooled_summed.loc[total.idxmin()]


def hypervolumes(
    table: pd.DataFrame, scales: dict[str, fronts.Scale], searches: Sequence[str]
) -> pd.DataFrame:
    """Each search's hypervolume after each trial, on every seed (experiment, seed, trials, hypervolume)."""
    table = check_table(table)
    rows = table[table["experiment"].isin(list(searches))].sort_values(["experiment", "seed", "trial"])
    order = {name: i for i, name in enumerate(searches)}
    history = fronts.hypervolume_history(rows, scales)
    return history.sort_values(
        ["experiment", "seed", "trials"], key=lambda c: c.map(order) if c.name == "experiment" else c
    )


def hypervolume_bands(history: pd.DataFrame) -> pd.DataFrame:
    """Median and interquartile range over seeds of each search's hypervolume, per trial."""
    grouped = history.groupby(["experiment", "trials"], sort=False)["hypervolume"]
    out = grouped.quantile(0.5).rename("median").to_frame()
    out["q25"], out["q75"] = grouped.quantile(0.25), grouped.quantile(0.75)
    return out.reset_index()


def final_hypervolumes(history: pd.DataFrame) -> pd.DataFrame:
    """Each search's hypervolume after its last trial: one column per search, one row per seed."""
    last = history.sort_values("trials").groupby(["experiment", "seed"], sort=False).tail(1)
    order = list(dict.fromkeys(history["experiment"]))
    return last.pivot(index="seed", columns="experiment", values="hypervolume")[order]


def probe_by_code_size(table: pd.DataFrame, searches: Sequence[str] = tuple(pareto.SEARCHES)) -> pd.DataFrame:
    """Median probe accuracy with all labels and with few, by latent size, over every completed
    dense trial on every seed (with the trial count and the median MSE beside them)."""
    if isinstance(table, pd.DataFrame) and pareto.FEW not in table:
        raise KeyError(
            f"The table lacks {pareto.FEW}: pass the whole table, results.load('{pareto.STUDY}', cfg)."
        )
    rows = trials(table, searches=searches, objectives=[*pareto.OBJECTIVES, pareto.FEW])
    grouped = rows.groupby("latent_dim")
    out = pd.DataFrame(
        {
            "trials": grouped.size(),
            "all labels": grouped["val_probe_accuracy"].median(),
            "few labels": grouped[pareto.FEW].median(),
            "few labels q25": grouped[pareto.FEW].quantile(0.25),
            "few labels q75": grouped[pareto.FEW].quantile(0.75),
            "all labels q25": grouped["val_probe_accuracy"].quantile(0.25),
            "all labels q75": grouped["val_probe_accuracy"].quantile(0.75),
            "val_mse": grouped["val_mse"].median(),
        }
    )
    out.index = out.index.astype(int)
    return out


def retrain(dataset: Dataset, cfg: RunConfig, row: pd.Series) -> dict[str, Any]:
    """Train a trial's setting again on `cfg.seed` with the searches' budget and evaluate it once
    on the test split: test MSE, the probe's test accuracy (all labels, and few), weights, code size."""
    if not isinstance(dataset, Dataset) or not isinstance(cfg, RunConfig):
        raise TypeError(
            "Call retrain(ds, cfg, row) with the study's dataset (results.study_dataset(pareto.STUDY, cfg)), "
            f"the RunConfig and one trial; got {type(dataset).__name__} and {type(cfg).__name__}."
        )
    if not isinstance(row, pd.Series):
        raise TypeError(
            f"row must be one trial (a row such as picks(pooled).iloc[0]), got {type(row).__name__}."
        )
    if "experiment" in row and row["experiment"] not in pareto.SEARCHES:
        raise ValueError(f"retrain trains the dense searches' trials; this row is of {row['experiment']!r}.")
    missing = [n for n in ("latent_dim", "num_layers", "learning_rate") if n not in row or pd.isna(row[n])]
    if missing:
        raise ValueError(f"The row lacks {', '.join(missing)}: pass a trial of tradeoffs.trials(table, ...).")
    model_maker = pareto.hypermodel(dataset, cfg, cfg.seed)
    hp = model_maker.hyperparameters(**tuning.hyperparameter_values(row, model_maker))
    model = model_maker.build(hp)
    model_maker.fit(hp, model, dataset.x_train, validation_data=dataset.x_val, epochs=cfg.race_epochs)
    z_train, z_test = evaluate.encode(model, dataset.x_train), evaluate.encode(model, dataset.x_test)
    return dict(
        latent_dim=int(hp.get("latent_dim")),
        params=int(model.count_params()),
        test_mse=evaluate.reconstruction_error(model, dataset.x_test),
        test_probe_accuracy=evaluate.linear_probe_accuracy(
            z_train, dataset.y_train, z_test, dataset.y_test, seed=cfg.seed
        ),
        test_few_label_probe=pareto.few_label_probe(
            z_train, dataset.y_train, z_test, dataset.y_test, cfg.few_label_fraction, seed=cfg.seed
        ),
        model=model,
    )


def elbo_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per seed, the VAE searches side by side: the lowest negative ELBO each reached, and the
    share of the pooled (two-search) rate-distortion front each contributed."""
    table = check_table(table)
    rows = []
    for seed in _seeds(table):
        pooled = trials(
            table, seed=seed, searches=list(pareto.VAE_SEARCHES), objectives=pareto.VAE_OBJECTIVES
        )
        for name in pareto.VAE_SEARCHES:
            own = pooled[pooled["experiment"] == name]
            rows.append(
                dict(
                    seed=seed,
                    experiment=name,
                    best_neg_elbo=float(own["val_neg_elbo"].min()) if len(own) else np.nan,
                    front_share=float(own["on_front"].sum() / max(1, pooled["on_front"].sum())),
                )
            )
    return pd.DataFrame(rows)


def summed_picks(table: pd.DataFrame, rescaled: dict[str, float] | None = None) -> pd.DataFrame:
    """Per seed, what KerasTuner's summed objective picked from its own trials, against the
    front of every dense search on that seed: the pick's objectives, whether it is on that
    front, whether it is the smallest model its search tried; and, when `rescaled` weights are
    given (such as the weights counted in millions), the pick of the same trials by that sum."""
    table = check_table(table)
    rows = []
    for seed in _seeds(table):
        pooled = trials(table, seed=seed)
        summed = pooled[pooled["experiment"] == "summed"]
        if summed.empty:
            continue
        pick = summed_pick(summed)
        row = dict(
            seed=seed,
            latent_dim=int(pick["latent_dim"]),
            params=int(pick["params"]),
            val_mse=float(pick["val_mse"]),
            val_probe_accuracy=float(pick["val_probe_accuracy"]),
            on_front=bool(pick["on_front"]),
            smallest_tried=bool(pick["params"] == summed["params"].min()),
            best_val_mse_on_seed=float(pooled["val_mse"].min()),
        )
        if rescaled:
            other = summed_pick(summed, rescaled)
            row.update(
                rescaled_latent_dim=int(other["latent_dim"]),
                rescaled_params=int(other["params"]),
                rescaled_val_mse=float(other["val_mse"]),
                rescaled_val_probe_accuracy=float(other["val_probe_accuracy"]),
            )
        rows.append(row)
    if not rows:
        raise ValueError("The table holds no completed trial of KerasTuner's summed search ('summed').")
    return pd.DataFrame(rows).set_index("seed")
