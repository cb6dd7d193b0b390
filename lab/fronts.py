"""Pareto fronts of a trials table: which trials no other beats on every objective, and how
much of the objective space a set of trials covers (its hypervolume).

Several objectives are kept apart rather than added up: trial A dominates trial B when A is
at least as good on every objective and better on one; the front is the trials nothing
dominates. Directions come from `lab.vocabulary` (`val_mse` down, `val_probe_accuracy` up).

    mask = fronts.pareto_mask(frame, ["val_mse", "val_probe_accuracy", "params"])
    scales = {"val_mse": fronts.Scale(0, 0.06), "val_probe_accuracy": fronts.Scale(1, 0),
              "params": fronts.Scale(5e3, 1e6, log=True)}
    fronts.hypervolume(frame, scales)             # 0 (nothing) to 1 (the ideal point reached)

The front is a few lines of NumPy on the table, because the table mixes KerasTuner's and
Optuna's trials (Optuna's `study.best_trials` sees one study). The hypervolume is Optuna's
exact computation (WFG), reached in `_optuna_hypervolume` only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from lab import vocabulary


@dataclass(frozen=True)
class Scale:
    """How one objective maps onto [0, 1] for the hypervolume: `best` to 0, `worst` to 1.

    `worst` is the reference point: a trial no better than it on some objective adds nothing.
    `log` measures on a log scale (for a parameter count, which spans orders of magnitude).
    """

    best: float
    worst: float
    log: bool = False

    def __post_init__(self):
        for name in ("best", "worst"):
            value = getattr(self, name)
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float, np.number))
                or not math.isfinite(value)
            ):
                raise ValueError(f"Scale's {name} must be a finite number, got {value!r}.")
        if self.best == self.worst:
            raise ValueError(f"Scale's best and worst are both {self.best}: they must differ.")
        if self.log and min(self.best, self.worst) <= 0:
            raise ValueError(f"A log scale needs positive best and worst, got {self.best} and {self.worst}.")

    def unit(self, values: np.ndarray) -> np.ndarray:
        """`values` as 0 (best) to 1 (worst); beyond the worst, above 1."""
        values = np.asarray(values, dtype=float)
        f = np.log10 if self.log else (lambda v: v)
        with np.errstate(divide="ignore", invalid="ignore"):
            return (f(values) - f(self.best)) / (f(self.worst) - f(self.best))


def check_objectives(frame: pd.DataFrame, objectives: Sequence[str]) -> list[str]:
    """The names as a list, each one of the book's objectives and a column of `frame`."""
    if isinstance(objectives, str) or not isinstance(objectives, Sequence) or not objectives:
        raise TypeError(
            f"objectives must be a list of names, such as ['val_mse', 'params'], got {objectives!r}."
        )
    objectives = list(objectives)
    for name in objectives:
        vocabulary.direction(name)  # an unknown objective is refused, with the known ones
    missing = [name for name in objectives if name not in frame]
    if missing:
        raise KeyError(
            f"The table has no column {', '.join(missing)}; it has {', '.join(map(str, frame.columns))}."
        )
    return objectives


def _check(frame: pd.DataFrame, objectives: Sequence[str]) -> list[str]:
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"Pass a table of trials (a pandas DataFrame), got {type(frame).__name__}.")
    if isinstance(objectives, str) or not isinstance(objectives, Sequence) or len(objectives) < 2:
        raise ValueError(
            "A front needs two objectives or more, such as ['val_mse', 'val_probe_accuracy'], "
            f"got {objectives!r}."
        )
    return check_objectives(frame, objectives)


def _minimized(frame: pd.DataFrame, objectives: Sequence[str]) -> np.ndarray:
    """The objectives as an (n, k) array in which lower is better on every column."""
    signs = np.array([vocabulary.sign(name) for name in objectives], dtype=float)
    return frame[list(objectives)].to_numpy(dtype=float) * signs


def _scored(frame: pd.DataFrame, objectives: Sequence[str]) -> np.ndarray:
    """True for the completed trials with a finite value of every objective."""
    done = frame["status"].map(vocabulary.has_value).to_numpy(bool) if "status" in frame else True
    return np.isfinite(frame[list(objectives)].to_numpy(dtype=float)).all(axis=1) & done


def pareto_mask(frame: pd.DataFrame, objectives: Sequence[str]) -> np.ndarray:
    """True for each trial on the Pareto front of `objectives`: no other scored trial is at least
    as good on all of them and better on one. Trials without a score (failed, pruned) are False;
    two trials with equal values are both on the front."""
    objectives = _check(frame, objectives)
    scored = _scored(frame, objectives)
    points = _minimized(frame, objectives)
    mask = np.zeros(len(frame), dtype=bool)
    rows = np.flatnonzero(scored)
    if len(rows) == 0:
        return mask
    p = points[rows]
    # a[i, j]: trial j is at least as good as trial i everywhere and better somewhere.
    no_worse = (p[None, :, :] <= p[:, None, :]).all(axis=2)
    better = (p[None, :, :] < p[:, None, :]).any(axis=2)
    mask[rows] = ~(no_worse & better).any(axis=1)
    return mask


def pareto_front(frame: pd.DataFrame, objectives: Sequence[str]) -> pd.DataFrame:
    """The trials on the front, sorted by the first objective from best to worst."""
    objectives = _check(frame, objectives)
    front = frame[pareto_mask(frame, objectives)]
    return front.sort_values(objectives[0], ascending=vocabulary.direction(objectives[0]) == "min")


def _check_scales(frame: pd.DataFrame, scales: Mapping[str, Scale]) -> list[str]:
    if not isinstance(scales, Mapping) or not all(isinstance(s, Scale) for s in scales.values()):
        raise TypeError(
            "scales must be a dict of objective names and fronts.Scale(best, worst), "
            f"such as pareto.scales(ds, model_maker), got {scales!r}."
        )
    objectives = _check(frame, list(scales))
    for name, scale in scales.items():
        if (scale.best < scale.worst) != (vocabulary.direction(name) == "min"):
            raise ValueError(
                f"{name} is to be {'minimized' if vocabulary.direction(name) == 'min' else 'maximized'}, "
                f"but its Scale runs from best={scale.best} to worst={scale.worst}: swap them."
            )
    return objectives


def unit_points(frame: pd.DataFrame, scales: Mapping[str, Scale]) -> np.ndarray:
    """The scored trials' objectives on the unit scales: (n, k), 0 best and 1 the reference point."""
    objectives = _check_scales(frame, scales)
    rows = frame[_scored(frame, objectives)]
    return np.column_stack([scales[name].unit(rows[name].to_numpy(dtype=float)) for name in objectives])


def _optuna_hypervolume(points: np.ndarray) -> float:
    from optuna._hypervolume import compute_hypervolume

    return float(compute_hypervolume(points, np.ones(points.shape[1])))


def hypervolume(frame: pd.DataFrame, scales: Mapping[str, Scale]) -> float:
    """The share of the unit box, between the best values and the reference point (`worst`),
    that the scored trials dominate: 0 when none beats the reference on every objective,
    1 when one trial reached every best value. More is better; it never falls as trials are added."""
    points = unit_points(frame, scales)
    points = points[(points < 1).all(axis=1)] if len(points) else points
    if len(points) == 0:
        return 0.0
    return _optuna_hypervolume(np.clip(points, 0.0, None))


def hypervolume_history(
    table: pd.DataFrame, scales: Mapping[str, Scale], *, by: Sequence[str] = ("experiment", "seed")
) -> pd.DataFrame:
    """The hypervolume after each trial, for each group of `by`: columns `*by`, `trials`, `hypervolume`.

    Trials count in the table's order within a group (the order they ran); a failed trial
    counts as spent and adds nothing.
    """
    _check_scales(table, scales)
    by = list(by)
    missing = [c for c in by if c not in table]
    if missing:
        raise KeyError(f"The table has no column {', '.join(missing)} to group by.")
    rows = []
    for key, group in table.groupby(by, sort=False):
        named = dict(zip(by, key if isinstance(key, tuple) else (key,), strict=True))
        for n in range(1, len(group) + 1):
            rows.append({**named, "trials": n, "hypervolume": hypervolume(group.iloc[:n], scales)})
    return pd.DataFrame(rows, columns=[*by, "trials", "hypervolume"])


def weighted_sum(frame: pd.DataFrame, weights: Mapping[str, float]) -> pd.Series:
    """Each trial's weighted sum of objectives, those to maximize subtracted: what KerasTuner
    minimizes when given several objectives (with every weight 1). NaN for unscored trials."""
    if not isinstance(weights, Mapping) or not weights:
        raise TypeError(f"weights must be a dict of objective names and numbers, got {weights!r}.")
    objectives = list(weights)
    for name in objectives:
        vocabulary.direction(name)
    missing = [name for name in objectives if name not in frame]
    if missing:
        raise KeyError(f"The table has no column {', '.join(missing)}.")
    total = sum(weights[name] * vocabulary.sign(name) * frame[name].astype(float) for name in objectives)
    scored = _scored(frame, objectives) if "status" in frame else np.ones(len(frame), bool)
    return total.where(scored)
