"""Making a tuner of one of the four kinds, and running (or resuming) its search."""

from __future__ import annotations

import os
import reprlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import keras_tuner as kt
import pandas as pd

from lab import checks, config
from lab.data import Dataset
from lab.hypermodels import objective as make_objective
from lab.tuning import distributed, recycled
from lab.tuning._keras_tuner import _CLASSES, search_context
from lab.tuning.state import (
    SIGNATURE,
    WAYS_OUT,
    SearchStateError,
    _agree,
    _check_is_a_search,
    _checksum,
    _last_line,
    _read_state,
    _search_signature,
    check_search_folder,
    tuner_files,
)
from lab.tuning.trials import trials_frame

KINDS = ("grid", "random", "bayesian", "hyperband")


def make_tuner(
    kind: str,
    hypermodel: kt.HyperModel,
    *,
    objective: str | Sequence[str] = "val_mse",
    max_trials: int = 10,
    max_epochs: int = 60,
    factor: int = 3,
    hyperband_iterations: int = 1,
    num_initial_points: int | None = None,
    directory: str | os.PathLike = "runs",
    project_name: str = "search",
    overwrite: bool = False,
    seed: int = 0,
    max_consecutive_failed_trials: int = 5,
) -> kt.Tuner:
    """A KerasTuner tuner of one kind, writing under `directory/project_name`.

    Args:
        kind: "grid", "random", "bayesian" or "hyperband".
        hypermodel: a HyperModel of `lab.hypermodels`.
        objective: "val_mse", "val_probe_accuracy" or "val_neg_elbo" (the direction is known);
            a list of names makes KerasTuner add them up into one number (notebook 10).
        max_trials: the most trials (grid, random, Bayesian; a grid also stops when it is
            exhausted). Hyperband's trial count follows from `max_epochs` and `factor`.
        max_epochs: Hyperband's largest per-trial budget.
        factor: Hyperband's reduction factor: each round keeps about 1/factor of the trials.
        hyperband_iterations: how many times Hyperband runs its whole set of brackets.
        num_initial_points: random trials before the Bayesian surrogate is used. The
            default, `initial_points(max_trials)`, is a third of the trials (at least 2);
            KerasTuner's own default, 3 per hyperparameter, would spend a small budget
            entirely on random trials.
        directory, project_name: where the search's state lives.
        overwrite: start afresh, deleting an earlier search there. The default, False,
            resumes an earlier search of the same name.
        seed: seeds the tuner's own sampling: the same seed draws the same trials. (KerasTuner
            takes a seed of 0 for "no seed", and steps its seed by one for every value it draws,
            so nearby seeds would repeat each other's trials; the oracle gets `oracle_seed(seed)`.)
        max_consecutive_failed_trials: stop the search after this many failures in a row.
    """
    overwrite = config.flag(overwrite, "overwrite")  # before anything on disk is touched
    where = distributed.role()
    if overwrite and where is not None and not where.is_chief:
        raise ValueError(
            f"A worker ({where.tuner_id}) must not overwrite the search: it would delete the trials "
            "the other workers finished. Start afresh from the chief (overwrite=True there, or "
            "--overwrite), never from a worker."
        )
    if not isinstance(kind, str) or kind not in _CLASSES:
        raise ValueError(f"Unknown tuner kind {kind!r}; choose one of {', '.join(KINDS)}.")
    if not isinstance(hypermodel, kt.HyperModel):
        raise TypeError(
            "hypermodel must be one of lab's hypermodels, such as DenseAutoencoderHyperModel(ds.n_features), "
            f"got {type(hypermodel).__name__}."
        )
    seed = checks.integer(seed, "seed", minimum=0, maximum=checks.MAX_SEED)
    max_consecutive_failed_trials = checks.integer(
        max_consecutive_failed_trials, "max_consecutive_failed_trials", minimum=1
    )
    _check_objective_reported(hypermodel, objective)
    options: dict[str, Any] = {}
    if kind == "hyperband":
        max_epochs = checks.integer(max_epochs, "max_epochs", minimum=1)
        factor = checks.integer(factor, "factor", minimum=2)
        if max_epochs < factor:
            raise ValueError(f"Hyperband needs max_epochs >= factor, got {max_epochs} and {factor}")
        iterations = checks.integer(hyperband_iterations, "hyperband_iterations", minimum=1, maximum=100)
        options = dict(max_epochs=max_epochs, factor=factor, hyperband_iterations=iterations)
    else:
        max_trials = checks.integer(max_trials, "max_trials", minimum=1)
        options = dict(max_trials=max_trials)
        if kind == "grid":
            _check_grid(hypermodel)
        if kind == "bayesian":
            options["num_initial_points"] = (
                initial_points(max_trials)
                if num_initial_points is None
                else checks.integer(
                    num_initial_points,
                    "num_initial_points",
                    minimum=1,
                    maximum=max_trials,
                    hint="More initial points than trials would make every trial random: use kind='random'.",
                )
            )
    directory = checks.folder(directory, "directory")
    if (
        not isinstance(project_name, str)
        or project_name.strip() in ("", ".", "..")
        or any(c in project_name for c in "/\\\0")
        or len(project_name.encode()) > 255
    ):
        raise ValueError(
            "project_name must be a plain folder name (no slashes, not '.' or '..', at most 255 bytes), "
            f"got {reprlib.repr(project_name)}"
        )
    folder = directory / project_name
    budget = {k: v for k, v in options.items() if k != "max_trials"}  # more trials may be added later
    signature = _search_signature(hypermodel, kind, objective, {"oracle_seed": oracle_seed(seed), **budget})
    if overwrite:
        _check_is_a_search(folder)
    if not overwrite:
        check_search_folder(folder)  # a damaged folder is reported before KerasTuner touches it
        trials = [_read_state(p, ("status",)) for p in sorted(folder.glob("trial_*/trial.json"))]
        if trials and all(t["status"] in ("FAILED", "INVALID") for t in trials):
            # A failed trial holds no work, and the settings may have changed to fix the cause.
            last = _last_line(trials[-1].get("message") or "") or "no message"
            print(
                f"Every trial of the earlier search in {folder} failed ({len(trials)}; the last said: "
                f"{last}). A failed trial holds no work, so the search starts afresh."
            )
            overwrite = True
        else:
            _agree(folder, "search", signature, record=False)
            _own_tuner_file(folder)
    tuner = _CLASSES[kind](
        hypermodel=hypermodel,
        objective=make_objective(objective),
        seed=oracle_seed(seed),
        directory=str(directory),
        project_name=project_name,
        overwrite=overwrite,
        max_consecutive_failed_trials=max_consecutive_failed_trials,
        **options,
    )
    _agree(folder, "search", signature)
    # What a worker process needs to make the same tuner again (search(..., trials_per_process=N)).
    tuner.lab_made = dict(
        kind=kind,
        hypermodel=hypermodel,
        objective=objective,
        max_trials=max_trials,
        max_epochs=max_epochs,
        factor=factor,
        hyperband_iterations=hyperband_iterations,
        num_initial_points=options.get("num_initial_points", num_initial_points),
        directory=str(directory),
        project_name=project_name,
        seed=seed,
        max_consecutive_failed_trials=max_consecutive_failed_trials,
    )
    return tuner


def _own_tuner_file(folder: Path) -> None:
    """Let this process reload a search another process's tuner saved (a distributed search's chief).

    KerasTuner reloads a search only when it finds `<tuner id>.json` (`tuner0.json` in one
    process); its content is empty. A search run by a chief and workers holds `chief.json` and the
    workers' files instead, so reading its table afterwards would otherwise start a new search.
    """
    own = folder / f"{os.environ.get('KERASTUNER_TUNER_ID', 'tuner0')}.json"
    if (folder / "oracle.json").exists() and not own.exists() and any(tuner_files(folder)):
        own.write_text("{}")


def _check_objective_reported(hypermodel, objective: str | Sequence[str]) -> None:
    make_objective(objective)  # an unknown name is refused with the list of known ones
    reports = getattr(hypermodel, "REPORTS", None)
    for name in [objective] if isinstance(objective, str) else objective:
        if reports is not None and name not in (*reports, "val_probe_accuracy"):
            raise ValueError(
                f"{type(hypermodel).__name__} does not report {name!r}; its trials report "
                f"{', '.join(reports)}, and val_probe_accuracy when the search is given labels."
            )


def oracle_seed(seed: int) -> int:
    """The oracle's seed for a search seed: `1000 * seed + 1`, wrapped to stay in NumPy's range.

    KerasTuner steps the oracle's seed by one for every value it draws and seeds NumPy
    with it, so the wrap leaves room for a million draws below NumPy's largest seed.
    """
    return (1000 * seed + 1) % (checks.MAX_SEED + 1 - 2**20)


def initial_points(max_trials: int) -> int:
    """Random trials a Bayesian search of `max_trials` runs before its surrogate: a third, at least 2."""
    return max(2, max_trials // 3)


def search(
    tuner: kt.Tuner,
    dataset: Dataset,
    *,
    epochs: int = 60,
    labels: bool = True,
    trials_per_process: int | None = None,
) -> pd.DataFrame | None:
    """Run (or resume) a search on the dataset's training and validation splits.

    A search resumed on other data (another dataset, split or seed) or with another
    epoch budget is refused: its trials would not compare with the earlier ones.

    Args:
        epochs: per-trial epochs (Hyperband sets its own per trial).
        labels: pass the labels too, so every trial also reports `val_probe_accuracy`.
        trials_per_process: None trains every trial in this process. A number runs the search
            in worker processes instead, each replaced after that many trials, so memory stays
            flat over a long search (`lab.tuning.recycled`); the tuner must come from
            `make_tuner`, and is reloaded here when the workers are done.

    In a distributed search (KerasTuner's environment variables set, `lab.tuning.distributed`),
    the chief serves the trials to the workers and returns the table once they are done; a
    worker trains the trials it is handed and returns None (it holds no table).

    Returns:
        `trials_frame(tuner)`, or None in a distributed search's worker.
    """
    labels = config.flag(labels, "labels")
    epochs = checks.integer(epochs, "epochs", minimum=1)
    if trials_per_process is not None:
        trials_per_process = checks.integer(trials_per_process, "trials_per_process", minimum=1)
        if getattr(tuner, "lab_made", None) is None:
            raise TypeError(
                "trials_per_process needs a tuner made by make_tuner, which workers can make again."
            )
    if not isinstance(dataset, Dataset):
        raise TypeError(f"dataset must be a Dataset (data.load_for(cfg)), got {type(dataset).__name__}")
    where = distributed.role()
    if where is not None and trials_per_process is not None:
        raise ValueError(
            "trials_per_process runs a search in worker processes of its own; a distributed search's "
            "processes are started by you (or python -m lab.search --workers N): drop one of the two."
        )
    worker = where is not None and not where.is_chief
    folder = Path(tuner.project_dir)
    if worker:
        distributed.wait_for_chief(where, folder)  # the chief records the data before it listens
    objective = tuner.oracle.objective
    names = [o.name for o in getattr(objective, "objectives", [objective])]
    if "val_probe_accuracy" in names and not labels:
        raise ValueError("The objective val_probe_accuracy needs the labels: call search(..., labels=True).")
    stored = _read_state(folder / SIGNATURE, ()) if (folder / SIGNATURE).exists() else {}
    if "data" not in stored and not worker and tuner.oracle.trials:
        raise SearchStateError(
            f"The search in {folder} holds trials but no record of the data they were trained on, "
            f"so resuming it could mix two searches. {WAYS_OUT}"
        )
    _agree(
        folder,
        "data",
        {
            "dataset": dataset.name,
            "sizes": dataset.sizes(),
            "checksum": _checksum(dataset),
            "labels": labels,
            "epochs": None if isinstance(tuner, kt.Hyperband) else epochs,
        },
    )
    if trials_per_process is not None:
        recycled.run(
            tuner.lab_made, dataset, epochs=epochs, labels=labels, trials_per_process=trials_per_process
        )
        tuner.reload()
        return trials_frame(tuner)
    if where is not None:
        fit = dict(
            x=dataset.x_train,
            validation_data=dataset.x_val,
            labels=(dataset.y_train, dataset.y_val) if labels else None,
            epochs=epochs,
            verbose=0,
        )
        if worker:
            distributed.run_worker(tuner, where, fit)
            return None
        distributed.run_chief(tuner, where, fit)
        return trials_frame(tuner)
    with search_context():
        try:
            tuner.search(
                dataset.x_train,
                validation_data=dataset.x_val,
                labels=(dataset.y_train, dataset.y_val) if labels else None,
                epochs=epochs,
                verbose=0,
            )
        except RuntimeError as exc:
            if "consecutive failures" not in str(exc):
                raise
            raise RuntimeError(
                f"The search in {tuner.project_dir} stopped after "
                f"{tuner.oracle.max_consecutive_failed_trials} failed trials in a row; the last said: "
                f"{_last_line(str(exc))}. Every trial's message is in trials_frame(tuner)['message']. "
                "Fix the cause and run the search again: its finished trials are kept (and a search "
                "whose trials all failed starts afresh)."
            ) from None
    return trials_frame(tuner)


def _check_grid(hypermodel: kt.HyperModel) -> None:
    """A grid needs a finite list of values for every searched hyperparameter."""
    if not hasattr(hypermodel, "declare"):
        return
    continuous = [
        item.name
        for item in hypermodel.declare().space
        if type(item).__name__ == "Float" and getattr(item, "step", None) is None
    ]
    if continuous:
        raise ValueError(
            f"A grid search needs a list of values for {', '.join(continuous)}: pass, for example, "
            f"choices={{{continuous[0]!r}: [1e-3, 3e-3, 1e-2]}} to the HyperModel, or use another tuner kind."
        )
