"""Searches with KerasTuner: one `make_tuner` for the four kinds, and every trial in a table.

    tuner = make_tuner("random", DenseAutoencoderHyperModel(64), objective="val_mse",
                       max_trials=8, directory="runs", project_name="06_random")
    search(tuner, dataset, epochs=60)
    trials_frame(tuner)

Searches write under `directory/project_name` and never overwrite by default, so a
search that is interrupted (kernel restart, kill) resumes where it stopped: finished
trials are reloaded, not retrained, and the trial that was running is run again.

Each trial is trained by `lab.training.fit_autoencoder` (through the HyperModel's
`fit`), its best weights are saved once at the end (not at every improving epoch), and
its per-epoch history is kept beside KerasTuner's own `trial.json` as `lab_fit.json`.
A trial whose loss becomes NaN is recorded as failed, and the search goes on.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import math
import os
import reprlib
import time
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import keras_tuner as kt
import numpy as np
import pandas as pd
from keras_tuner.src import config as kt_config
from keras_tuner.src import utils as kt_utils
from keras_tuner.src.engine import tuner_utils
from sklearn.exceptions import ConvergenceWarning

from lab import checks, config
from lab._backend import keras
from lab.data import Dataset
from lab.hypermodels import OBJECTIVES
from lab.hypermodels import objective as make_objective

KINDS = ("grid", "random", "bayesian", "hyperband")
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
FIT_RECORD = "lab_fit.json"


class _LabTrials:
    """Train each trial with the HyperModel's own fit; save its best weights and history once."""

    def reload(self):
        """Reload a search; a trial that had finished when the process died is not run again.

        KerasTuner writes a finished trial's `trial.json` before it removes the trial from
        the running ones in `oracle.json`; a kill between the two writes would otherwise
        make the reloaded search train that finished trial a second time.
        """
        check_search_folder(Path(self.project_dir))
        try:
            super().reload()
        except Exception as exc:  # noqa: BLE001 - any failure here means a state KerasTuner cannot read
            raise SearchStateError(
                _damaged(Path(self.project_dir), f"KerasTuner could not reload it ({exc})")
            ) from exc
        oracle = self.oracle
        finished = (kt.engine.trial.TrialStatus.COMPLETED, kt.engine.trial.TrialStatus.FAILED)
        # The oracle's reload queues every trial that was running for a retry.
        for trial_id in list(oracle._retry_queue):
            trial = oracle.trials.get(trial_id)
            if trial is not None and trial.status in finished:
                oracle._retry_queue.remove(trial_id)
                if trial_id not in oracle.end_order:
                    oracle.end_order.append(trial_id)

    # Set to True to restore KerasTuner's full garbage collection before every build.
    collect_between_trials = False

    def _try_build(self, hp):
        """Clear Keras's session and build the trial's model.

        KerasTuner also runs a full garbage collection here, and its `clear_session()`
        runs another: about 0.5 s a trial on 2 cores, a fifth of a short search's time
        (`benchmarks/tuning_overhead.py`). Python's own collector frees the old models
        as the search goes on, and the explicit collections free no more: the benchmark
        prints the peak memory either way (811 against 805 MiB on digits).
        """
        if self.collect_between_trials:
            return super()._try_build(hp)
        keras.backend.clear_session(free_memory=False)
        model = self._build_hypermodel(hp)
        if not isinstance(model, keras.Model):
            raise kt.errors.FatalTypeError(
                f"HyperModel.build() must return a Keras Model; it returned {type(model).__name__}."
            )
        return model

    def _build_and_fit_model(self, trial, *args, **kwargs):
        hp = trial.hyperparameters
        model = self._try_build(hp)
        # The tuner's per-epoch checkpoint callback is replaced by one save at the end
        # (the fit restores the best epoch's weights); the user's callbacks are kept.
        skip = (tuner_utils.SaveBestEpoch, tuner_utils.TunerCallback)
        kwargs["callbacks"] = [c for c in kwargs.get("callbacks", []) if not isinstance(c, skip)]
        started = time.perf_counter()
        self.hypermodel.last_fit = None
        try:
            results = self.hypermodel.fit(hp, model, *args, **kwargs)
        finally:
            self._record(trial, kwargs, time.perf_counter() - started)
        model.save_weights(self._get_checkpoint_fname(trial.trial_id))
        _save_json(self._get_build_config_fname(trial.trial_id), model.get_build_config())
        return results

    def _record(self, trial, kwargs: dict, seconds: float) -> None:
        fit = self.hypermodel.last_fit
        if fit is None:
            return
        initial = int(kwargs.get("initial_epoch", 0))
        record = {
            "history": fit.history,
            "initial_epoch": initial,
            "budget": kwargs.get("epochs"),
            "epochs_trained": fit.epochs_trained,
            "best_epoch": fit.best_epoch,
            "stopped_early": fit.stopped_early,
            "diverged": fit.diverged,
            "seconds": seconds,
        }
        _save_json(Path(self.get_trial_dir(trial.trial_id)) / FIT_RECORD, record)


class SearchStateError(RuntimeError):
    """A search folder that cannot be resumed as it is; the message names it and the ways out."""


WAYS_OUT = (
    "Two ways out: delete the folder (or move it away to keep it), or start this search afresh "
    "with OVERWRITE = True (overwrite=True), which deletes it."
)
SIGNATURE = "lab_search.json"  # what a search was started with, beside KerasTuner's own state


def _damaged(folder: Path, problem: str) -> str:
    return (
        f"The search folder {folder} is damaged: {problem}. Its trials cannot be resumed safely. {WAYS_OUT}"
    )


def _read_state(path: Path, keys: Sequence[str]) -> dict[str, Any]:
    try:
        state = json.loads(path.read_text())
    except FileNotFoundError:
        raise SearchStateError(_damaged(path.parent, f"{path.name} is missing")) from None
    except (OSError, ValueError) as exc:
        raise SearchStateError(_damaged(path.parent, f"{path} cannot be read as JSON ({exc})")) from None
    if not isinstance(state, dict):
        raise SearchStateError(_damaged(path.parent, f"{path} holds a {type(state).__name__}, not an object"))
    missing = [k for k in keys if k not in state]
    if missing:
        raise SearchStateError(_damaged(path.parent, f"{path} lacks {', '.join(missing)}"))
    return state


def check_search_folder(folder: Path | str) -> None:
    """Raise `SearchStateError` if a search folder on disk cannot be resumed as it is.

    Checks that KerasTuner's `oracle.json` and every trial's `trial.json` can be read,
    that every trial the oracle lists still has its folder, and that a folder holding
    trials also holds the tuner's own state (without it KerasTuner would start afresh
    and write new trials over the old ones). Changes nothing on disk.
    """
    folder = Path(folder)
    if not folder.exists():
        return
    if not folder.is_dir():
        raise SearchStateError(
            f"{folder} is a file, not a search folder. Choose another project_name or directory."
        )
    trial_dirs = sorted(p for p in folder.glob("trial_*") if p.is_dir())
    tuner_file = folder / f"{os.environ.get('KERASTUNER_TUNER_ID', 'tuner0')}.json"
    if not tuner_file.exists():
        if trial_dirs or (folder / "oracle.json").exists():
            raise SearchStateError(
                _damaged(folder, f"it holds trials but no {tuner_file.name}, the tuner's state")
            )
        return
    _read_state(tuner_file, ())
    oracle = _read_state(
        folder / "oracle.json", ("start_order", "end_order", "ongoing_trials", "hyperparameters")
    )
    kinds = {"start_order": list, "end_order": list, "ongoing_trials": dict, "hyperparameters": dict}
    wrong = [key for key, kind in kinds.items() if not isinstance(oracle[key], kind)]
    if wrong:
        raise SearchStateError(
            _damaged(folder, f"oracle.json holds unexpected values for {', '.join(wrong)}")
        )
    on_disk = set()
    for trial_dir in trial_dirs:
        trial = _read_state(trial_dir / "trial.json", ("trial_id", "status", "hyperparameters"))
        if trial["status"] not in _TRIAL_STATUSES:
            raise SearchStateError(
                _damaged(
                    folder,
                    f"{trial_dir.name}/trial.json gives the status {trial['status']!r}, which is none of "
                    f"KerasTuner's ({', '.join(_TRIAL_STATUSES)})",
                )
            )
        on_disk.add(str(trial["trial_id"]))
        if (trial_dir / FIT_RECORD).exists():
            _read_state(trial_dir / FIT_RECORD, ())
    if (folder / SIGNATURE).exists():
        signature = _read_state(folder / SIGNATURE, ())
        if not all(isinstance(v, dict) for v in signature.values()):
            raise SearchStateError(_damaged(folder, f"{SIGNATURE} holds unexpected values"))
        finished = [d for d in trial_dirs if (d / "trial.json").exists()]
        lacking = [part for part in ("search", "data") if part not in signature]
        if finished and lacking:
            raise SearchStateError(
                _damaged(
                    folder,
                    f"it holds trials, but its {SIGNATURE} lacks the record of their {' and '.join(lacking)}",
                )
            )
    elif trial_dirs:
        # Every search writes its signature before its first trial; without one, nothing
        # says which settings, budget or data these trials were made with.
        raise SearchStateError(
            f"The search folder {folder} holds trials but no {SIGNATURE}, the record of the settings "
            "they were made with (it comes from an older version of the book, or from KerasTuner "
            f"alone), so resuming it could mix two searches. {WAYS_OUT}"
        )
    listed = {
        str(t) for t in [*oracle["start_order"], *oracle["end_order"], *oracle["ongoing_trials"].values()]
    }
    lost = sorted(listed - on_disk, key=lambda t: (len(t), t))
    if lost:
        raise SearchStateError(
            _damaged(
                folder, f"oracle.json lists trial(s) {', '.join(lost)} whose folder or trial.json is gone"
            )
        )


def _plain_json(value: Any) -> Any:
    """`value` as JSON would give it back; NumPy numbers as Python numbers, anything else as text."""
    return json.loads(json.dumps(value, default=lambda v: v.item() if isinstance(v, np.generic) else str(v)))


def _search_signature(hypermodel, kind: str, objective: str, extra: dict[str, Any]) -> dict[str, Any]:
    """What makes trials of one search comparable: kind, objective, space, fixed values, seed, budgets."""
    signature: dict[str, Any] = {
        "kind": kind,
        "objective": objective,
        "hypermodel": type(hypermodel).__name__,
    }
    if hasattr(hypermodel, "declare"):
        space = hypermodel.declare().get_config()["space"]
        signature["space"] = {item["config"]["name"]: item for item in space}
        signature["fixed"] = hypermodel.fixed
        signature["patience"] = hypermodel.patience
        signature["seed"] = hypermodel.seed
    signature.update(extra)
    return _plain_json(signature)


def _differences(stored: dict[str, Any], new: dict[str, Any]) -> list[str]:
    lines = []
    for key in sorted(set(stored) | set(new)):
        old_value, new_value = stored.get(key, "(not recorded)"), new.get(key, "(not recorded)")
        if old_value == new_value:
            continue
        if isinstance(old_value, dict) and isinstance(new_value, dict):
            names = sorted(set(old_value) | set(new_value))
            changed = [n for n in names if old_value.get(n) != new_value.get(n)]
            if key == "space":  # whole hyperparameter declarations: name them only
                lines.append(f"space differs for {', '.join(changed)}")
                continue
            for n in changed:
                was, now = old_value.get(n, "(not set)"), new_value.get(n, "(not set)")
                lines.append(f"{key} {n} was {_short(was)}, now {_short(now)}")
        else:
            lines.append(f"{key} was {_short(old_value)}, now {_short(new_value)}")
    return lines


def _short(value: Any, limit: int = 80) -> str:
    text = json.dumps(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _agree(folder: Path, part: str, new: dict[str, Any], *, record: bool = True) -> None:
    """Record `new` under `part` of the folder's signature (when `record`), or refuse if another is there."""
    path = folder / SIGNATURE
    stored = _read_state(path, ()) if path.exists() else {}
    if part in stored and stored[part] != new:
        changes = "; ".join(_differences(stored[part], new))
        if part == "data":
            changes += "; another dataset, seed or subset size gives other splits"
        raise SearchStateError(
            f"The search in {folder} was started with other settings than this one ({changes}). "
            "Resuming would mix trials of two searches in one table. Give this search another "
            "project_name, or start afresh with OVERWRITE = True (overwrite=True), which deletes the old one."
        )
    if record and stored.get(part) != new:
        _save_json(path, {**stored, part: new})


class GridOracle(kt.Oracle):
    """Every combination of the (discrete) search space, in order, each tried once.

    Unlike KerasTuner 1.4.8's GridSearchOracle, whose order is kept only in memory
    (it raises a KeyError when a search is reloaded), this one works out what is left
    from the trials on disk, so an interrupted grid resumes like the other searches.
    """

    def populate_space(self, trial_id):
        tried = {_key(trial.hyperparameters) for trial in self.trials.values() if trial.trial_id != trial_id}
        for values in grid_points(self.get_space()):
            hp = self.get_space()
            hp.values = dict(values)
            if _key(hp) not in tried:
                return {"status": kt.engine.trial.TrialStatus.RUNNING, "values": values}
        if self.ongoing_trials:
            return {"status": kt.engine.trial.TrialStatus.IDLE, "values": None}
        return {"status": kt.engine.trial.TrialStatus.STOPPED, "values": None}


def grid_points(space: kt.HyperParameters) -> list[dict[str, Any]]:
    """Every distinct combination of active values, in the order a grid visits them."""
    items = list(space.space)
    points, seen = [], set()
    for combination in itertools.product(*(list(item.values) for item in items)):
        hp = space.copy()
        hp.values = {item.name: value for item, value in zip(items, combination, strict=True)}
        active = {item.name: hp.values[item.name] for item in items if hp.is_active(item)}
        key = tuple(active.items())
        if key not in seen:
            seen.add(key)
            points.append(active)
    return points


def _key(hp: kt.HyperParameters) -> tuple:
    return tuple((item.name, hp.values.get(item.name)) for item in hp.space if hp.is_active(item))


class GridSearch(_LabTrials, kt.Tuner):
    def __init__(
        self, hypermodel, objective, max_trials, seed=None, max_consecutive_failed_trials=5, **kwargs
    ):
        oracle = GridOracle(
            objective=objective,
            max_trials=max_trials,
            seed=seed,
            max_consecutive_failed_trials=max_consecutive_failed_trials,
        )
        super().__init__(oracle=oracle, hypermodel=hypermodel, **kwargs)


class RandomSearch(_LabTrials, kt.RandomSearch):
    pass


class BatchAcquisitionOracle(kt.oracles.BayesianOptimizationOracle):
    """KerasTuner's Bayesian oracle, with the acquisition minimized from a scored batch.

    The surrogate (a Gaussian process) and the acquisition (the lower confidence bound
    `mean - beta * std` of the objective to minimize) are KerasTuner's own. KerasTuner
    minimizes that bound with L-BFGS-B from 50 random starting points and numerical
    gradients: about 4,000 one-point predictions of the process, 2 to 4 s a trial on 2
    cores, longer than training a trial of the book's searches. This oracle scores
    `candidates` random points in one prediction and refines the best `restarts` of
    them with L-BFGS-B, keeping the lowest bound found (`benchmarks/acquisition.py`
    compares the two on the same fitted processes: time and bound reached).

    Points closer than `min_distance` (in the unit cube where KerasTuner encodes the
    space) to a trial already run are left out: the bound can dip sharply right beside
    the best trial, and a search that follows the dip repeats that trial with a learning
    rate a few percent away, learns nothing new and degrades its own process (two nearly
    equal inputs with different scores). 0.01 is a factor of about 1.07 on a learning
    rate searched over three decades.
    """

    candidates = 2000
    restarts = 3
    min_distance = 0.01

    def populate_space(self, trial_id):
        completed = [t for t in self.trials.values() if t.status == "COMPLETED"]
        initial = self.num_initial_points or max(3 * len(self.hyperparameters.space), 3)
        if len(completed) < initial:
            return self._random_populate_space()
        x, y = self._vectorize_trials()
        x = np.nan_to_num(x, posinf=0, neginf=0)
        y = np.nan_to_num(y, posinf=0, neginf=0)
        self.gpr.fit(x, y)
        best_x = minimize_bound(
            self.gpr,
            self._get_hp_bounds(),
            self.beta,
            self._random_state,
            candidates=self.candidates,
            restarts=self.restarts,
            avoid=x,
            min_distance=self.min_distance,
        )
        return {"status": kt.engine.trial.TrialStatus.RUNNING, "values": self._vector_to_values(best_x)}


def minimize_bound(
    gpr,
    bounds: np.ndarray,
    beta: float,
    rng: np.random.RandomState,
    *,
    candidates: int = 2000,
    restarts: int = 3,
    avoid: np.ndarray | None = None,
    min_distance: float = 0.0,
) -> np.ndarray:
    """The point within `bounds` where `mean - beta * std` of the fitted `gpr` is lowest.

    `candidates` random points are scored in one prediction; the best `restarts` of them
    are refined with L-BFGS-B. Points closer than `min_distance` to a row of `avoid` (the
    trials already run) are not returned (see `BatchAcquisitionOracle`).
    """
    import scipy.optimize

    def bound(points):
        mean, std = gpr.predict(np.atleast_2d(points), return_std=True)
        return mean - beta * std

    def far(points):
        if avoid is None or not len(avoid) or min_distance <= 0:
            return np.ones(len(points), dtype=bool)
        gaps = np.linalg.norm(points[:, None, :] - np.asarray(avoid)[None, :, :], axis=-1)
        return gaps.min(axis=1) >= min_distance

    pool = rng.uniform(bounds[:, 0], bounds[:, 1], size=(candidates, bounds.shape[0]))
    allowed = far(pool)
    if not allowed.any():  # the space is covered by trials already: take the least covered point
        gaps = np.linalg.norm(pool[:, None, :] - np.asarray(avoid)[None, :, :], axis=-1).min(axis=1)
        return pool[np.argmax(gaps)]
    scores = np.where(allowed, bound(pool), np.inf)
    best, best_value = pool[np.argmin(scores)], float(scores.min())
    for k in np.argsort(scores)[:restarts]:
        if not allowed[k]:
            continue
        result = scipy.optimize.minimize(
            lambda v: float(bound(v)[0]), x0=pool[k], bounds=bounds, method="L-BFGS-B"
        )
        value = float(np.ravel(result.fun)[0])
        if value < best_value and far(result.x[None, :])[0]:
            best, best_value = result.x, value
    return best


class BayesianOptimization(_LabTrials, kt.BayesianOptimization):
    """KerasTuner's Bayesian search with the lab's faster acquisition (`BatchAcquisitionOracle`)."""

    def __init__(
        self,
        hypermodel=None,
        objective=None,
        max_trials=10,
        num_initial_points=None,
        alpha=1e-4,
        beta=2.6,
        seed=None,
        max_consecutive_failed_trials=3,
        **kwargs,
    ):
        oracle = BatchAcquisitionOracle(
            objective=objective,
            max_trials=max_trials,
            num_initial_points=num_initial_points,
            alpha=alpha,
            beta=beta,
            seed=seed,
            max_consecutive_failed_trials=max_consecutive_failed_trials,
        )
        kt.Tuner.__init__(self, oracle=oracle, hypermodel=hypermodel, **kwargs)


class Hyperband(_LabTrials, kt.Hyperband):
    pass


_CLASSES = {
    "grid": GridSearch,
    "random": RandomSearch,
    "bayesian": BayesianOptimization,
    "hyperband": Hyperband,
}


def make_tuner(
    kind: str,
    hypermodel: kt.HyperModel,
    *,
    objective: str = "val_mse",
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
        objective: "val_mse", "val_probe_accuracy" or "val_neg_elbo" (the direction is known).
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
    return tuner


def _check_is_a_search(folder: Path) -> None:
    """Refuse to let overwrite=True delete a folder that holds files but no search."""
    if not folder.is_dir() or not any(folder.iterdir()):
        return
    marks = [folder / "oracle.json", folder / "tuner0.json", folder / SIGNATURE]
    if any(p.exists() for p in marks) or any(folder.glob("trial_*")):
        return
    raise SearchStateError(
        f"{folder} holds files but no search (no oracle.json, tuner0.json, {SIGNATURE} or trial folders), "
        "so overwrite=True will not delete it. Give this search another project_name or directory, "
        "or move those files away."
    )


def _check_objective_reported(hypermodel, objective: str) -> None:
    make_objective(objective)  # an unknown name is refused with the list of known ones
    reports = getattr(hypermodel, "REPORTS", None)
    if reports is not None and objective not in (*reports, "val_probe_accuracy"):
        raise ValueError(
            f"{type(hypermodel).__name__} does not report {objective!r}; its trials report "
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


def search(tuner: kt.Tuner, dataset: Dataset, *, epochs: int = 60, labels: bool = True) -> pd.DataFrame:
    """Run (or resume) a search on the dataset's training and validation splits.

    A search resumed on other data (another dataset, split or seed) or with another
    epoch budget is refused: its trials would not compare with the earlier ones.

    Args:
        epochs: per-trial epochs (Hyperband sets its own per trial).
        labels: pass the labels too, so every trial also reports `val_probe_accuracy`.

    Returns:
        `trials_frame(tuner)`.
    """
    labels = config.flag(labels, "labels")
    epochs = checks.integer(epochs, "epochs", minimum=1)
    if not isinstance(dataset, Dataset):
        raise TypeError(f"dataset must be a Dataset (data.load_for(cfg)), got {type(dataset).__name__}")
    objective = tuner.oracle.objective.name
    if objective == "val_probe_accuracy" and not labels:
        raise ValueError("The objective val_probe_accuracy needs the labels: call search(..., labels=True).")
    folder = Path(tuner.project_dir)
    stored = _read_state(folder / SIGNATURE, ()) if (folder / SIGNATURE).exists() else {}
    if "data" not in stored and tuner.oracle.trials:
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
    with _search_context():
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


def _checksum(dataset: Dataset) -> str:
    """A short fingerprint of the training and validation splits a search trains on."""
    import zlib

    value = 0
    for array in (dataset.x_train, dataset.y_train, dataset.x_val, dataset.y_val):
        value = zlib.crc32(np.ascontiguousarray(array).tobytes(), value)
    return f"{value:08x}"


@contextlib.contextmanager
def _search_context() -> Iterator[None]:
    """Atomic state files; no stack trace per failed trial (the table has its message), no retracing notices
    (every trial is a new model, so a new compiled function), and no notice that a
    Hyperband continuation starts its optimizer afresh (as KerasTuner intends)."""
    from lab._backend import tf

    debug, level, save_json = kt_config.DEBUG, tf.get_logger().level, kt_utils.save_json
    kt_config.DEBUG = False
    tf.get_logger().setLevel("ERROR")
    # KerasTuner writes its state files in place; a kill during a write would leave an
    # empty oracle.json that cannot be resumed. Write them whole or not at all.
    kt_utils.save_json = _save_json
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
            # The Bayesian oracle's GP hitting a length-scale bound on few trials is expected.
            warnings.filterwarnings("ignore", category=ConvergenceWarning)
            yield
    finally:
        kt_config.DEBUG = debug
        tf.get_logger().setLevel(level)
        kt_utils.save_json = save_json


def _save_json(path, obj) -> str:
    """Write JSON to a temporary file and move it into place (atomic on one file system)."""
    text = json.dumps(obj, allow_nan=True)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text)
    os.replace(partial, path)
    return text


_TRIAL_STATUSES = ("RUNNING", "IDLE", "INVALID", "STOPPED", "COMPLETED", "FAILED")


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
        if objective not in OBJECTIVES:
            raise KeyError(
                f"Unknown objective {objective!r}; the book's objectives are {', '.join(OBJECTIVES)}."
            )
        return pd.DataFrame(columns=["trial", "epochs_consumed", "best"])
    _objective_column(frame, objective)
    sign = 1 if OBJECTIVES[objective] == "min" else -1
    best, points = math.inf, []
    consumed = 0
    for _, row in frame.iterrows():
        consumed += int(row["epochs"])
        value = row.get(objective, np.nan)
        if row["status"] == "COMPLETED" and value is not None and math.isfinite(value):
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
    position = int(np.argmin(values) if OBJECTIVES[objective] == "min" else np.argmax(values))
    return done.iloc[position]  # by position: a table with repeated index labels still gives one row


def _fit_record(tuner: kt.Tuner, trial_id: str) -> dict[str, Any]:
    path = Path(tuner.project_dir) / f"trial_{trial_id}" / FIT_RECORD
    return _read_state(path, ()) if path.exists() else {}


def _last_line(message: str) -> str:
    lines = [line for line in message.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


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


def surrogate_slice(tuner: kt.Tuner, name: str, *, trials: int | None = None, points: int = 200) -> dict:
    """The Bayesian search's Gaussian process, refitted on a one-hyperparameter search, across its range.

    The same regressor the oracle uses (`oracle._make_gpr()`: Matern 5/2 kernel,
    normalized targets), fitted on the same encoding of the trials (each value mapped
    to [0, 1] by the hyperparameter's own sampling, log for a log-scaled one).

    Args:
        tuner: a Bayesian tuner whose search varies `name` only.
        name: the hyperparameter.
        trials: fit on the first this many completed trials only (to show the
            surrogate as it stood before a later trial was chosen).

    Returns:
        `values` (the hyperparameter along its range), `mean` and `std` (the surrogate's
        prediction of the objective), `observed_x` and `observed_y` (the trials), `beta`,
        and `next`: where the lower confidence bound is lowest on the grid, leaving out
        points beside a trial already run, as the book's Bayesian tuner does.
    """
    oracle = tuner.oracle
    if not isinstance(oracle, kt.oracles.BayesianOptimizationOracle):
        raise ValueError(f"surrogate_slice needs a Bayesian search; this one is {type(tuner).__name__}.")
    searched = [hp.name for hp in oracle._nonfixed_space()]
    if searched != [name]:
        raise ValueError(f"surrogate_slice needs a search over {name!r} alone; this one searches {searched}.")
    hp = next(h for h in oracle.hyperparameters.space if h.name == name)
    done = [
        t for _, t in sorted(oracle.trials.items(), key=lambda item: int(item[0])) if t.status == "COMPLETED"
    ]
    done = done[:trials] if trials is not None else done
    if len(done) < 2:
        raise ValueError("The surrogate needs at least two completed trials.")
    sign = -1.0 if oracle.objective.direction == "max" else 1.0
    x = np.array([[hp.value_to_prob(t.hyperparameters.values[name])] for t in done])
    y = np.array([sign * t.score for t in done])
    gpr = oracle._make_gpr()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=ConvergenceWarning)
        gpr.fit(x, y)
    probs = np.linspace(0.0005, 0.9995, points)
    mean, std = gpr.predict(probs[:, None], return_std=True)
    values = np.array([hp.prob_to_value(p) for p in probs])
    far = np.abs(probs[:, None] - x[None, :, 0]).min(axis=1) >= BatchAcquisitionOracle.min_distance
    return dict(
        next=values[np.argmin(np.where(far, mean - oracle.beta * std, np.inf))],
        values=values,
        mean=sign * mean,
        std=std,
        observed_x=np.array([t.hyperparameters.values[name] for t in done]),
        observed_y=sign * y,
        beta=oracle.beta,
    )


def space_table(hypermodel) -> pd.DataFrame:
    """The search space as a table: each hyperparameter, its range, default, and condition."""
    if not callable(getattr(hypermodel, "declare", None)):
        raise TypeError(
            "space_table takes one of lab's hypermodels (such as DenseAutoencoderHyperModel(...)), "
            f"got {type(hypermodel).__name__}."
        )
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
    checkpoint = Path(tuner._get_checkpoint_fname(trial_id))
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


def hyperparameter_values(frame_row: pd.Series, hypermodel) -> dict[str, Any]:
    """The searched hyperparameters' values in one row of a trials frame (active ones only)."""
    names = [item.name for item in hypermodel.declare().space]
    return {
        name: (frame_row[name].item() if hasattr(frame_row[name], "item") else frame_row[name])
        for name in names
        if name in frame_row and pd.notna(frame_row[name])
    }


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
    import copy

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


def capped(frame: pd.DataFrame, epochs: int) -> pd.Series:
    """True for each finished trial that used every one of `epochs` (counting the epochs a
    Hyperband trial continued from): early stopping never fired, so it was still
    improving when the cap cut it, and its rank partly measures how fast it learns."""
    _check_frame(frame, "capped", ("status", "epochs"))
    epochs = checks.integer(epochs, "epochs", minimum=1)
    start = frame["tuner/initial_epoch"].fillna(0) if "tuner/initial_epoch" in frame else 0
    return (frame["status"] == "COMPLETED") & (start + frame["epochs"] >= epochs)


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
