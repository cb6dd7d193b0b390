"""Optuna beside KerasTuner: the same HyperModel's space sampled by an Optuna trial.

`optuna_space` reads a HyperModel's KerasTuner space (conditional widths included) as
Optuna distributions, `suggest` samples one setting of it in an Optuna trial, so an Optuna
study drives the HyperModel's own `build` and `fit`, as notebooks 09 and 10 do; `journal`
is the append-only storage every resumable study here writes to.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keras_tuner as kt

from lab import checks


def optuna_space(model_maker: kt.HyperModel) -> list[tuple[str, Any, tuple[str, tuple] | None]]:
    """The HyperModel's KerasTuner space as Optuna distributions, in declaration order.

    Returns (name, distribution, condition) triples; a condition `(parent, values)` makes
    the hyperparameter exist only when `parent` takes one of `values`, as KerasTuner's
    conditional scopes do (`units_2` only with two layers or more).
    """
    import optuna.distributions as od

    checks.hypermodel(model_maker, "optuna_space")
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


def suggest(trial, model_maker: kt.HyperModel) -> dict[str, Any]:
    """One setting of the HyperModel's space, sampled by an Optuna trial (active values only)."""
    if not callable(getattr(trial, "suggest_categorical", None)):
        raise TypeError(
            "trial must be an Optuna trial (study.ask(), or the objective's argument), "
            f"got {type(trial).__name__}."
        )
    values: dict[str, Any] = {}
    for name, distribution, condition in optuna_space(model_maker):
        if condition is not None and values.get(condition[0]) not in condition[1]:
            continue
        values[name] = suggest_one(trial, name, distribution)
    return values


def suggest_one(trial, name: str, distribution) -> Any:
    import optuna.distributions as od

    if isinstance(distribution, od.CategoricalDistribution):
        return trial.suggest_categorical(name, distribution.choices)
    if isinstance(distribution, od.IntDistribution):
        return trial.suggest_int(name, distribution.low, distribution.high, step=distribution.step)
    return trial.suggest_float(
        name, distribution.low, distribution.high, step=distribution.step, log=distribution.log
    )


def quiet():
    """Optuna, with its one line per trial and per study silenced (the tables say it all)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


def journal(path: str | Path):
    """Optuna's append-only journal file: every trial's report is on disk as soon as it is made."""
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    return JournalStorage(JournalFileBackend(str(path)))
