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

The package is split by what each part does: `tuners` makes a tuner and runs its search,
`trials` turns its trials into a table and answers questions of it, `over_seeds` trains a
trial's setting again on other seeds, `recycled` runs a long search in worker processes
replaced every few trials (so memory stays flat), `distributed` runs a search as KerasTuner's
chief or one of its workers with the faults handled (`python -m lab.search`), `shared_study`
spreads an Optuna study over processes through a database, `state` keeps a search folder
resumable, and `_keras_tuner` holds everything that reaches into KerasTuner's internals, so an upgrade of
KerasTuner is checked in that one module. Every public name of the first five is importable
from `lab.tuning` itself; `distributed` and `shared_study` are imported as modules.
"""

from lab.tuning._keras_tuner import (
    BatchAcquisitionOracle,
    BayesianOptimization,
    GridOracle,
    GridSearch,
    Hyperband,
    RandomSearch,
    grid_points,
    hyperband_plan,
    minimize_bound,
    surrogate_slice,
)
from lab.tuning.over_seeds import best_over_seeds, retrain_over_seeds
from lab.tuning.state import FIT_RECORD, SIGNATURE, WAYS_OUT, SearchStateError, check_search_folder
from lab.tuning.trials import (
    TRIAL_COLUMNS,
    best_so_far,
    best_trial,
    capped,
    completed,
    hyperparameter_values,
    load_trial_model,
    space_table,
    trials_frame,
)
from lab.tuning.tuners import KINDS, initial_points, make_tuner, oracle_seed, search

__all__ = [
    "KINDS",
    "TRIAL_COLUMNS",
    "FIT_RECORD",
    "SIGNATURE",
    "WAYS_OUT",
    "SearchStateError",
    "check_search_folder",
    "make_tuner",
    "search",
    "oracle_seed",
    "initial_points",
    "trials_frame",
    "best_so_far",
    "best_trial",
    "completed",
    "capped",
    "hyperparameter_values",
    "space_table",
    "load_trial_model",
    "retrain_over_seeds",
    "best_over_seeds",
    "surrogate_slice",
    "hyperband_plan",
    "grid_points",
    "minimize_bound",
    "GridOracle",
    "BatchAcquisitionOracle",
    "GridSearch",
    "RandomSearch",
    "BayesianOptimization",
    "Hyperband",
]
