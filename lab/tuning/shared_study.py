"""Optuna's way to spread a search over processes: one study in a shared database, no chief.

Where the search is an Optuna one (TPE with pruning, notebooks 09 and 10), every process opens
the same study in the same storage and asks it for trials; the storage's locks keep them from
taking the same one. Nothing listens on a port. A SQLite file serves the processes of one
machine; several machines need a database server that they all reach (a URL such as
`postgresql://user@host/db`), because SQLite's locks are not safe on a network folder.

Faults, with Optuna's own machinery:

- each running trial beats a heartbeat into the storage every `heartbeat` seconds; a trial
  whose process died stops beating, and after `grace` seconds the next process that starts a
  trial marks it FAIL and queues its setting to be tried again (`RetryHeartbeatStaleTrialCallback`, at
  most `retries` times). Until another trial starts, nobody notices: a stale trial is found
  when work is taken, not by a watcher;
- a trial whose loss diverges is FAIL at once (KerasTuner's FailedTrialError is caught), and
  is not retried: its setting would diverge again;
- `trials` counts completed and pruned trials across all the processes (`MaxTrialsCallback`),
  so the study ends at that size however many processes share it (and a trial that another
  process was running at that moment still finishes: a study may end a trial or two over);
- each process samples with its own seed (`oracle_seed(seed) + worker`), or two processes
  started together would propose the same settings.

    python -m lab.search --engine optuna --trials 12 --workers 2        # two processes here
    python -m lab.search --engine optuna --trials 12 --tuner-id tuner1  # one more, by hand
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import keras_tuner as kt

from lab import checks
from lab.cluster import study_table as table  # noqa: F401  (the table of a study, without TensorFlow)
from lab.data import Dataset
from lab.tuning.tuners import oracle_seed
from lab.tuning.with_optuna import quiet

HEARTBEAT = 10  # seconds between a running trial's heartbeats
GRACE = 30  # seconds without one before the trial counts as dead


def storage(where: str | Path, *, heartbeat: int = HEARTBEAT, grace: int = GRACE, retries: int = 2):
    """Optuna's RDB storage with heartbeats: a path makes a SQLite file; a URL (`scheme://...`) is used."""
    quiet()
    import warnings

    from optuna.exceptions import ExperimentalWarning
    from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback

    heartbeat = checks.integer(heartbeat, "heartbeat", minimum=1)
    grace = checks.integer(grace, "grace", minimum=heartbeat + 1, hint="Give the heartbeat time to arrive.")
    retries = checks.integer(retries, "retries", minimum=0)
    text = str(where)
    if "://" in text:
        url, engine = text, None
    else:
        path = Path(text).expanduser().resolve()
        if path.is_dir():
            raise ValueError(f"{path} is a folder: give the study a file, such as {path / 'study.db'}.")
        path.parent.mkdir(parents=True, exist_ok=True)
        # Several processes write one file: wait for its lock rather than fail at once.
        url, engine = f"sqlite:///{path}", {"connect_args": {"timeout": 60}}
    with warnings.catch_warnings(), _creating(path if engine else None):
        warnings.simplefilter("ignore", ExperimentalWarning)  # heartbeats: "experimental" since 2.8
        return RDBStorage(
            url,
            engine_kwargs=engine,
            heartbeat_interval=heartbeat,
            grace_period=grace,
            heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(max_retry=retries),
        )


@contextlib.contextmanager
def _creating(path: Path | None):
    """One process at a time makes a SQLite file's tables (two at once collide on them)."""
    if path is None:
        yield
        return
    import fcntl

    with open(path.with_name(path.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _signature(model_maker, epochs: int, seed: int) -> dict[str, Any]:
    return {
        "hypermodel": type(model_maker).__name__,
        "space": sorted(item.name for item in model_maker.declare().space),
        "epochs": epochs,
        "seed": seed,
    }


def open_study(where, name: str, model_maker, *, epochs: int, seed: int = 0, worker: int = 0, **options):
    """The shared study, created by the first process and joined by the others (same settings or refused)."""
    optuna = quiet()
    checks.hypermodel(model_maker, "open_study")
    epochs = checks.integer(epochs, "epochs", minimum=1)
    seed = checks.integer(seed, "seed", minimum=0, maximum=checks.MAX_SEED)
    worker = checks.integer(worker, "worker", minimum=0, maximum=1000)
    study = optuna.create_study(
        study_name=name,
        storage=storage(where, **options),
        load_if_exists=True,
        direction="minimize",
        sampler=optuna.samplers.TPESampler(seed=oracle_seed(seed) + worker),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=max(1, epochs // 4)),
    )
    wanted = _signature(model_maker, epochs, seed)
    made = study.user_attrs.get("settings")
    if made is None:
        study.set_user_attr("settings", wanted)
    elif made != wanted:
        changed = ", ".join(
            f"{k} {made.get(k)!r} (now {wanted[k]!r})" for k in wanted if made.get(k) != wanted[k]
        )
        raise ValueError(
            f"The study {name!r} in {where} was made with other settings: {changed}. Give this one another "
            "study name (--project-name), or delete the storage file to start afresh."
        )
    return study


def work(study, model_maker, dataset: Dataset, *, trials: int, epochs: int, worker: int = 0) -> int:
    """Run trials of the shared study in this process until it holds `trials` finished ones.

    Returns how many trials this process ran. Another process may run at the same time, on
    this machine or (with a database server) on another.
    """
    quiet()
    from optuna.study import MaxTrialsCallback
    from optuna.trial import TrialState

    from lab.shootout import fit_trial
    from lab.tuning._keras_tuner import search_context

    if not isinstance(dataset, Dataset):
        raise TypeError(f"dataset must be a Dataset (data.load_for(cfg)), got {type(dataset).__name__}")
    trials = checks.integer(trials, "trials", minimum=1)
    ran = 0

    def objective(trial) -> float:
        nonlocal ran
        ran += 1
        trial.set_user_attr("worker", worker)
        return fit_trial(trial, model_maker, dataset, epochs)["val_mse"]

    done = MaxTrialsCallback(trials, states=(TrialState.COMPLETE, TrialState.PRUNED))
    with search_context():
        if _finished(study) < trials:  # MaxTrialsCallback checks only after a trial
            study.optimize(objective, callbacks=[done], catch=(kt.errors.FailedTrialError,))
    return ran


def _finished(study) -> int:
    from optuna.trial import TrialState

    return len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED)))
