"""The book's words, each defined once: objectives and their directions, the statuses
of runs and trials, and when a range of values is drawn on a log scale.

Every module that needs one of these asks here, so a new objective, a new status or
another log-scale threshold is one edit:

    vocabulary.direction("val_probe_accuracy")    # "max"
    vocabulary.has_value("PRUNED")                 # False: a pruned trial has no final score
    vocabulary.log_scaled([1e-4, 1e-2])            # True: the values span more than 20 times
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

# Every objective a HyperModel's fit (or an Optuna trial) reports, and which way is better.
OBJECTIVES: dict[str, str] = {
    "val_mse": "min",
    "val_probe_accuracy": "max",
    "val_neg_elbo": "min",
    "val_reconstruction": "min",
    "val_kl": "min",
    "val_loss": "min",
    "params": "min",  # the model's weights, a measure of its size (notebook 10)
    "val_few_label_probe": "max",  # the linear probe trained on a few labels only (notebook 10)
}


def direction(objective: str) -> str:
    """ "min" or "max" for one of the book's objectives; a KeyError naming them for any other."""
    if not isinstance(objective, str) or objective not in OBJECTIVES:
        raise KeyError(f"Unknown objective {objective!r}; the book's objectives are {', '.join(OBJECTIVES)}.")
    return OBJECTIVES[objective]


def sign(objective: str) -> int:
    """1 for an objective to minimize, -1 for one to maximize: `sign * value` is always minimized."""
    return 1 if direction(objective) == "min" else -1


# One training run (a sweep's row, the panel's retraining, a setting retrained over seeds).
OK, POOR, STALLED, DIVERGED = "ok", "poor", "stalled", "diverged"
POOR_FACTOR = 2.0  # a finished run is "poor" beyond this many times its comparison's best error
RUN_STATUSES: dict[str, str] = {
    OK: "finished, and within twice the error of the best run it is compared with",
    POOR: f"finished, but its error is more than {POOR_FACTOR:g} times the best run's of the same "
    "comparison, seed and code size (a training setting far from working well)",
    STALLED: "no better than always answering the mean training image (95% of its error or more)",
    DIVERGED: "the loss became NaN or infinite; the run stopped",
}

# One trial of a search, KerasTuner's or Optuna's, as the trials tables give it.
COMPLETED, FAILED, PRUNED = "COMPLETED", "FAILED", "PRUNED"
RUNNING, IDLE, INVALID, STOPPED = "RUNNING", "IDLE", "INVALID", "STOPPED"
TRIAL_STATUSES: dict[str, str] = {
    COMPLETED: "trained to its budget (or stopped early) and reported its objectives",
    FAILED: "raised an error or diverged; its message says why, and it has no score",
    PRUNED: "stopped by the search's pruner after some epochs; its last score is not a final one",
    RUNNING: "being trained now, or cut off by an interruption (a resumed search runs it again)",
    IDLE: "waiting for the search to hand it values",
    INVALID: "refused by the search before training (its values could not build a model)",
    STOPPED: "stopped by the search before it finished",
}
# KerasTuner's own statuses: the ones a trial.json on disk may hold.
KERAS_TUNER_STATUSES = (RUNNING, IDLE, INVALID, STOPPED, COMPLETED, FAILED)
# Optuna's trial states, in the same words.
OPTUNA_STATES = {"COMPLETE": COMPLETED, "PRUNED": PRUNED, "FAIL": FAILED, "RUNNING": RUNNING, "WAITING": IDLE}

# Statuses whose score stands: a finished run, a completed trial.
FINISHED = (OK, POOR, COMPLETED)
# Statuses that mean the run or trial broke: drawn with a mark of their own, never as a value.
BROKEN = (STALLED, DIVERGED, FAILED)


def has_value(status: str) -> bool:
    """True when a run or trial with this status has a score that can be ranked."""
    return status in FINISHED


def known_status(status: str) -> bool:
    return status in RUN_STATUSES or status in TRIAL_STATUSES


# A range of positive values is shown on a log scale when its largest value is more than
# LOG_SPAN times its smallest: learning rates and penalties then spread out instead of
# bunching at one end. Plots whose y axis holds errors use a narrower span (ERROR_SPAN),
# so one far-off run does not flatten the ones that decide a ranking.
LOG_SPAN = 20.0
ERROR_SPAN = 3.0


def log_scaled(values: Iterable[float], span: float = LOG_SPAN) -> bool:
    """True when the finite values are all positive and the largest is over `span` times the smallest."""
    v = np.asarray(list(values) if not isinstance(values, np.ndarray) else values, dtype=float)
    v = v[np.isfinite(v)]
    return bool(len(v) > 1 and (v > 0).all() and v.max() / v.min() > span)
