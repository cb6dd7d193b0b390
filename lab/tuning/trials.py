"""The trials of a search as one table, and the questions the book asks of it.

`trials_frame(tuner)` gives one row per trial (KerasTuner's; `lab.shootout` writes
Optuna's trials in the same columns and the same status words, `lab.vocabulary`), and
every helper here takes that table: the best trial, the best value against the epochs
spent, which trials used their whole budget.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Any

import keras_tuner as kt
import numpy as np
import pandas as pd

from lab import checks, vocabulary
from lab.tuning import _keras_tuner
from lab.tuning.state import FIT_RECORD, SearchStateError, _last_line, _read_state
from lab.vocabulary import OBJECTIVES

# The columns of `trials_frame` that every search has, even one with no trial yet.
TRIAL_COLUMNS = (
    "trial",
    "status",
    "best_epoch",
    "epochs",
    "budget",
    "initial_epoch",
    "seconds",
    "message",
    "history",
)


def trials_frame(tuner: kt.Tuner) -> pd.DataFrame:
    """One row per trial, in the order they ran.

    Columns: `trial`, `status`, every hyperparameter (NaN where a conditional one is
    inactive; Hyperband's `tuner/...` entries too), every objective the trial reported,
    `best_epoch`, `epochs` (epochs consumed by the trial), `budget` (the epochs it was given),
    `initial_epoch`, `seconds`,
    `message` (why a trial failed) and `history` (its per-epoch history, a dict of lists).
    """
    if not isinstance(getattr(tuner, "oracle", None), kt.Oracle):
        raise TypeError(
            f"trials_frame takes a KerasTuner tuner (from make_tuner), got {type(tuner).__name__}."
        )
    rows = []
    for trial_id, trial in sorted(tuner.oracle.trials.items(), key=lambda item: int(item[0])):
        hp = trial.hyperparameters
        row: dict[str, Any] = {"trial": trial_id, "status": str(trial.status)}
        for item in hp.space:
            row[item.name] = hp.values.get(item.name) if hp.is_active(item) else np.nan
        for name in hp.values:
            row.setdefault(name, hp.values[name])
        for name in sorted(trial.metrics.metrics):
            row[name] = trial.metrics.get_best_value(name)
        record = _fit_record(tuner, trial_id)
        row["best_epoch"] = record.get("best_epoch", np.nan)
        row["epochs"] = record.get("epochs_trained", 0)
        row["budget"] = record.get("budget", np.nan)
        row["initial_epoch"] = record.get("initial_epoch", 0)
        row["seconds"] = record.get("seconds", np.nan)
        row["message"] = _last_line(trial.message) if trial.message else ""
        row["history"] = record.get("history", {})
        rows.append(row)
    frame = pd.DataFrame(rows, columns=None if rows else list(TRIAL_COLUMNS))
    for name in OBJECTIVES:
        if name in frame and frame[name].dtype == object:
            frame[name] = pd.to_numeric(frame[name])
    return frame


def _fit_record(tuner: kt.Tuner, trial_id: str) -> dict[str, Any]:
    path = Path(tuner.project_dir) / f"trial_{trial_id}" / FIT_RECORD
    return _read_state(path, ()) if path.exists() else {}


def _objective_column(frame: pd.DataFrame, objective: str) -> str:
    """`objective` if the trials report it; otherwise a KeyError naming the ones they do report."""
    reported = [name for name in OBJECTIVES if name in frame.columns]
    if objective not in OBJECTIVES or objective not in frame.columns:
        have = ", ".join(reported) if reported else "none yet (no trial has finished)"
        raise KeyError(f"The trials do not report {objective!r}; objectives they report: {have}.")
    return objective


def _check_frame(frame: Any, helper: str, needs: tuple[str, ...] = ("status",)) -> None:
    """A trials table from `trials_frame` (or `search`), or a TypeError/KeyError that says so."""
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(
            f"{helper} takes the trials table that search(...) or trials_frame(tuner) returns, "
            f"got {type(frame).__name__}."
        )
    missing = [name for name in needs if name not in frame.columns]
    if missing:
        raise KeyError(
            f"{helper} needs the trials table's {', '.join(missing)} column(s), which this table lacks; "
            "pass the whole table from search(...) or trials_frame(tuner), not a selection of its columns."
        )


def best_so_far(frame: pd.DataFrame, objective: str) -> pd.DataFrame:
    """The best objective after each trial against the epochs consumed so far (empty for no trials)."""
    _check_frame(frame, "best_so_far", ("trial", "status", "epochs"))
    if frame.empty:
        vocabulary.direction(objective)  # an unknown name is refused, with the known ones
        return pd.DataFrame(columns=["trial", "epochs_consumed", "best"])
    if objective in frame.columns or frame["status"].map(vocabulary.has_value).any():
        _objective_column(frame, objective)
    else:  # every trial failed, so none reported anything: no best yet
        frame = frame.assign(**{objective: np.nan})
    sign = vocabulary.sign(objective)
    best, points = math.inf, []
    consumed = 0
    for _, row in frame.iterrows():
        consumed += int(row["epochs"])
        value = row.get(objective, np.nan)
        if vocabulary.has_value(row["status"]) and value is not None and math.isfinite(value):
            best = min(best, sign * value)
        points.append({"trial": row["trial"], "epochs_consumed": consumed, "best": sign * best})
    return pd.DataFrame(points)


def completed(frame: pd.DataFrame) -> pd.DataFrame:
    """The finished trials only."""
    _check_frame(frame, "completed")
    return frame[frame["status"] == "COMPLETED"]


def best_trial(frame: pd.DataFrame, objective: str) -> pd.Series:
    """The best completed trial's row."""
    _check_frame(frame, "best_trial")
    if completed(frame).empty:
        failed = int((frame["status"] == "FAILED").sum())
        why = f" ({failed} failed: see the table's message column)" if failed else ""
        raise ValueError(f"No trial has completed yet{why}: run (or resume) the search first.")
    done = completed(frame).dropna(subset=[_objective_column(frame, objective)])
    if done.empty:
        raise ValueError(f"No completed trial reports {objective!r}.")
    values = done[objective].to_numpy()
    position = int(np.argmin(values) if vocabulary.direction(objective) == "min" else np.argmax(values))
    return done.iloc[position]  # by position: a table with repeated index labels still gives one row


def capped(frame: pd.DataFrame, epochs: int) -> pd.Series:
    """True for each finished trial that used every one of `epochs` (counting the epochs a
    Hyperband trial continued from): early stopping never fired, so it was still
    improving when the cap cut it, and its rank partly measures how fast it learns."""
    _check_frame(frame, "capped", ("status", "epochs"))
    epochs = checks.integer(epochs, "epochs", minimum=1)
    start = frame["tuner/initial_epoch"].fillna(0) if "tuner/initial_epoch" in frame else 0
    return (frame["status"] == "COMPLETED") & (start + frame["epochs"] >= epochs)


def hyperparameter_values(frame_row: pd.Series, hypermodel) -> dict[str, Any]:
    """The searched hyperparameters' values in one row of a trials frame (active ones only)."""
    values = {}
    for item in hypermodel.declare().space:
        value = frame_row.get(item.name)
        if value is None or (not isinstance(value, str) and pd.isna(value)):
            continue
        value = value.item() if hasattr(value, "item") else value
        whole = type(item).__name__ == "Int" or all(
            isinstance(v, int) and not isinstance(v, bool) for v in getattr(item, "values", None) or [0.5]
        )
        # A table read from CSV holds a column of widths with gaps (inactive layers) as floats.
        values[item.name] = int(value) if whole and isinstance(value, float) and value.is_integer() else value
    return values


def space_table(hypermodel) -> pd.DataFrame:
    """The search space as a table: each hyperparameter, its range, default, and condition."""
    checks.hypermodel(hypermodel, "space_table")
    rows = []
    for item in hypermodel.declare().space:
        config = item.get_config()
        if "values" in config:
            span = ", ".join(str(v) for v in config["values"])
        else:
            span = f"{config['min_value']:g} to {config['max_value']:g}"
            if config.get("sampling") == "log":
                span += " (log scale)"
            elif config.get("step"):
                span += f" (step {config['step']:g})"
        conditions = [c.get_config() for c in item.conditions]
        when = "; ".join(f"{c['name']} in {c['values']}" for c in conditions)
        rows.append({"hyperparameter": item.name, "values": span, "default": item.default, "only when": when})
    fixed = {
        name: hypermodel.fixed.get(name, spec.default)
        for name, spec in hypermodel.SPACE.items()
        if name not in hypermodel.tune
    }
    for name, value in fixed.items():
        rows.append({"hyperparameter": name, "values": "fixed", "default": value, "only when": ""})
    return pd.DataFrame(rows).set_index("hyperparameter")


def load_trial_model(tuner: kt.Tuner, trial_id: str):
    """A trial's model with its best weights, as saved at the end of the trial.

    Raises:
        KeyError: for a trial the search does not have.
        ValueError: for a trial that did not complete (it saved no weights).
    """
    if not isinstance(getattr(tuner, "oracle", None), kt.Oracle):
        raise TypeError(
            f"load_trial_model takes a KerasTuner tuner (from make_tuner), got {type(tuner).__name__}."
        )
    trial_id = str(trial_id)
    trials = tuner.oracle.trials
    if trial_id not in trials:
        known = sorted(trials, key=lambda t: (len(t), t))
        raise KeyError(
            f"The search has no trial {trial_id!r}; its trials are {', '.join(known) or 'none yet'}."
        )
    trial = trials[trial_id]
    if trial.status != "COMPLETED":
        why = f": {_last_line(trial.message)}" if trial.message else ""
        raise ValueError(
            f"Trial {trial_id} is {trial.status}{why}, so it saved no model. Load a completed trial, "
            "for example tuning.best_trial(frame, objective)['trial']."
        )
    checkpoint = _keras_tuner.checkpoint_path(tuner, trial_id)
    try:
        with warnings.catch_warnings():
            # Only weights are saved; the optimizer starts afresh, as intended.
            warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
            return tuner.load_model(trial)
    except Exception as exc:  # noqa: BLE001 - h5py, OSError, ValueError: the file is not what was saved
        raise SearchStateError(
            f"The saved weights of trial {trial_id} ({checkpoint}) cannot be loaded: {_last_line(str(exc))}. "
            "Train that setting again (tuning.retrain_over_seeds), or rerun the search with OVERWRITE = True."
        ) from exc
