"""The book's words are defined once: objectives' directions, run and trial statuses, the log-scale rule."""

import numpy as np
import pytest

from lab import hypermodels, plots, seeds, sweeps, vocabulary


def test_every_objective_a_hypermodel_reports_has_a_direction():
    reported = {
        name
        for model in (hypermodels.DenseAutoencoderHyperModel, hypermodels.VAEHyperModel)
        for name in model.REPORTS
    }
    assert reported | {"val_probe_accuracy"} <= set(vocabulary.OBJECTIVES)
    assert vocabulary.direction("val_probe_accuracy") == "max" and vocabulary.sign("val_probe_accuracy") == -1
    assert vocabulary.direction("val_mse") == "min" and vocabulary.sign("val_neg_elbo") == 1
    # The plots ask the same table instead of guessing from the name.
    assert plots.objective_direction("val_kl") == "min"
    assert hypermodels.objective("val_probe_accuracy").direction == "max"


@pytest.mark.parametrize("name", ["mse", "val_accuracy", "", None, "VAL_MSE"])
def test_an_unknown_objective_is_refused_with_the_known_ones(name):
    with pytest.raises(KeyError, match="val_mse, val_probe_accuracy"):
        vocabulary.direction(name)
    with pytest.raises(KeyError, match="the book's objectives"):
        plots.objective_direction(name)


def test_runs_and_trials_share_one_status_vocabulary():
    assert sweeps.STATUSES is vocabulary.RUN_STATUSES
    assert set(seeds.FINISHED) == {"ok", "poor", "COMPLETED"}
    for status in ("ok", "poor", "COMPLETED"):
        assert vocabulary.has_value(status)
    for status in ("stalled", "diverged", "FAILED", "PRUNED", "RUNNING"):
        assert not vocabulary.has_value(status) and vocabulary.known_status(status)
    assert not vocabulary.known_status("done")
    # Optuna's states read in the same words as KerasTuner's.
    assert set(vocabulary.OPTUNA_STATES.values()) <= set(vocabulary.TRIAL_STATUSES)
    assert sweeps.run_status(float("nan"), 0.1, False) in vocabulary.RUN_STATUSES


@pytest.mark.parametrize(
    "values, expected",
    [
        ([1e-4, 1e-2], True),
        ([1, 20], False),
        ([1, 21], True),
        ([0, 1, 100], False),  # zero has no logarithm
        ([-1, 100], False),
        ([1e-3, np.nan, 1e-1], True),
        ([3.0], False),
        ([], False),
    ],
)
def test_one_log_scale_rule(values, expected):
    assert vocabulary.log_scaled(values) is expected
    assert vocabulary.log_scaled(np.asarray(values, dtype=float)) is expected
