"""Search spaces, the four tuner kinds, the trials table, resuming, and failed trials."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import keras_tuner as kt
import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import ConvergenceWarning

from lab import config, data, tuning
from lab._backend import keras
from lab.hypermodels import DENSE_SPACE, VAE_SPACE, DenseAutoencoderHyperModel, VAEHyperModel

DOCUMENTED = {"trial", "status", "best_epoch", "epochs", "initial_epoch", "seconds", "message", "history"}


@pytest.fixture(scope="module")
def ds():
    return data.load_for(config.preset("quick", max_train=120, max_eval=60))


def _dense_layers(model) -> list[int]:
    """Widths of the Dense layers in order, looking inside the encoder and decoder."""
    widths = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.Dense):
            widths.append(layer.units)
        elif hasattr(layer, "layers"):
            widths.extend(_dense_layers(layer))
    return widths


@pytest.mark.parametrize("name", sorted(DENSE_SPACE))
def test_every_choice_of_the_dense_space_builds(name):
    spec = DENSE_SPACE[name]
    values = spec.values if spec.kind == "choice" else spec.values[:2]
    for value in values:
        hm = DenseAutoencoderHyperModel(64, tune=(), fixed={name: value})
        model = hm.build(kt.HyperParameters())
        assert model(np.zeros((3, 64), "float32")).shape == (3, 64)


@pytest.mark.parametrize("name", sorted(set(VAE_SPACE) - set(DENSE_SPACE)) + ["latent_dim"])
def test_every_choice_of_the_vae_space_builds(name):
    spec = VAE_SPACE[name]
    values = spec.values if spec.kind == "choice" else spec.values[:2]
    for value in values:
        model = VAEHyperModel(64, tune=(), fixed={name: value}).build(kt.HyperParameters())
        assert model(np.zeros((3, 64), "float32")).shape == (3, 64)


def test_per_layer_widths_exist_only_with_their_layer():
    hm = DenseAutoencoderHyperModel(64, tune=("num_layers", "units"), fixed={"latent_dim": 4})
    space = hm.declare()
    assert {"units_1", "units_2", "units_3"} <= {item.name for item in space.space}
    for layers in (1, 2, 3):
        hp = hm.declare()
        hp.values.update(num_layers=layers, units_1=32, units_2=64, units_3=128)
        active = [name for name in ("units_1", "units_2", "units_3") if hp.is_active(name)]
        assert len(active) == layers
        widths = _dense_layers(hm.build(hp))
        # Encoder widths, the code, then the decoder mirrored, then the output.
        assert widths[:layers] == [32, 64, 128][:layers] and widths[layers] == 4


def test_unknown_or_conflicting_names_are_refused():
    with pytest.raises(ValueError, match="Unknown hyperparameter"):
        DenseAutoencoderHyperModel(64, tune=("depth",))
    with pytest.raises(ValueError, match="both tuned and fixed"):
        DenseAutoencoderHyperModel(64, tune=("units",), fixed={"units": 64})
    with pytest.raises(ValueError, match="not tuned"):
        DenseAutoencoderHyperModel(64, tune=(), choices={"units": [32]})
    with pytest.raises(ValueError, match="Unknown tuner kind"):
        tuning.make_tuner("annealing", DenseAutoencoderHyperModel(64))
    with pytest.raises(ValueError, match="list of values for learning_rate"):
        tuning.make_tuner("grid", DenseAutoencoderHyperModel(64, tune=("learning_rate",)))


@pytest.mark.parametrize("kind", tuning.KINDS)
def test_each_tuner_kind_runs_a_small_search(kind, ds, tmp_path):
    choices = {"units": [32, 64], "learning_rate": [3e-3, 1e-2]}
    hm = DenseAutoencoderHyperModel(ds.n_features, tune=tuple(choices), choices=choices, patience=None)
    tuner = tuning.make_tuner(
        kind, hm, max_trials=2, max_epochs=3, directory=tmp_path, project_name=kind, num_initial_points=1
    )
    frame = tuning.search(tuner, ds, epochs=2)
    assert len(frame) >= 2 and (frame["status"] == "COMPLETED").all()
    assert DOCUMENTED | {"units_1", "units_2", "learning_rate", "val_mse", "val_probe_accuracy"} <= set(frame)
    assert frame["val_mse"].between(0, 1).all() and frame["val_probe_accuracy"].between(0, 1).all()
    for _, row in frame.iterrows():
        assert len(row["history"]["loss"]) == row["epochs"] >= 1
    if kind == "hyperband":
        assert {"tuner/epochs", "tuner/bracket", "tuner/round"} <= set(frame)
        # The plan read from KerasTuner's oracle is the schedule the search ran.
        plan = tuning.hyperband_plan(3, 3)
        assert plan["trials"].sum() == len(frame)
        ran = frame.groupby(["tuner/bracket", "tuner/round"]).size()
        assert ran.to_dict() == plan.set_index(["bracket", "round"])["trials"].to_dict()
    else:
        assert (frame["epochs"] == 2).all()
    # The best trial's saved weights reload.
    best = tuner.get_best_models(1)[0]
    assert best(ds.x_val[:2]).shape == (2, ds.n_features)


def test_a_fit_that_does_not_report_the_objective_stops_the_search_in_keras_tuners_words(ds, tmp_path):
    class Silent(DenseAutoencoderHyperModel):
        def fit(self, hp, model, *args, **kwargs):
            super().fit(hp, model, *args, **kwargs)
            return {"something_else": 1.0}

    hm = Silent(ds.n_features, tune=("learning_rate",), patience=None)
    tuner = tuning.make_tuner("random", hm, max_trials=2, directory=tmp_path)
    # KerasTuner's own check of a trial's results: a programming error, so the search stops at once.
    words = r"HyperModel.fit\(\) to have the specified objective"
    with pytest.raises(kt.errors.FatalValueError, match=words):
        tuning.search(tuner, ds, epochs=1, labels=False)


def test_the_vae_search_reports_the_negative_elbo(ds, tmp_path):
    hm = VAEHyperModel(ds.n_features, tune=("beta",), fixed={"warmup_epochs": 0}, patience=None)
    tuner = tuning.make_tuner("random", hm, objective="val_neg_elbo", max_trials=2, directory=tmp_path)
    frame = tuning.search(tuner, ds, epochs=2, labels=False)
    assert np.isfinite(frame["val_neg_elbo"]).all() and frame["beta"].nunique() == 2
    # The objective is the sum of the ELBO's two terms, each reported on its own.
    np.testing.assert_allclose(
        frame["val_neg_elbo"], frame["val_reconstruction"] + frame["val_kl"], rtol=1e-5
    )
    assert (frame["val_kl"] >= 0).all()
    best = tuning.best_trial(frame, "val_neg_elbo")
    assert best["val_neg_elbo"] == frame["val_neg_elbo"].min()


@pytest.mark.parametrize("seed", [0, 7])
def test_the_same_seed_draws_the_same_trials(seed, tmp_path):
    hm = DenseAutoencoderHyperModel(64)

    def draws(name: str, seed: int) -> list[dict]:
        tuner = tuning.make_tuner(
            "random", hm, max_trials=6, directory=tmp_path, project_name=name, seed=seed
        )
        return [tuner.oracle.create_trial(f"t{i}").hyperparameters.values for i in range(6)]

    assert draws("a", seed) == draws("b", seed) != draws("c", seed + 1)
    # Nearby seeds share no trial (KerasTuner alone steps its seed by one per value drawn).
    later = draws("d", seed + 2)
    assert not [values for values in draws("e", seed) if values in later]


def test_trials_skip_the_full_garbage_collection_unless_asked(ds, tmp_path, monkeypatch):
    import gc

    calls = []
    collect = gc.collect
    monkeypatch.setattr(gc, "collect", lambda *a: calls.append(1) or collect(*a))
    hm = DenseAutoencoderHyperModel(ds.n_features, tune=("learning_rate",), patience=None)
    tuner = tuning.make_tuner("random", hm, max_trials=2, directory=tmp_path, project_name="fast")
    tuning.search(tuner, ds, epochs=1, labels=False)
    assert len(tuning.trials_frame(tuner)) == 2 and calls == []
    monkeypatch.setattr(tuning.RandomSearch, "collect_between_trials", True)
    # One trial is enough: KerasTuner collects twice before building it (its own call and clear_session's).
    tuner = tuning.make_tuner("random", hm, max_trials=1, directory=tmp_path, project_name="collecting")
    tuning.search(tuner, ds, epochs=1, labels=False)
    assert len(calls) >= 2


def test_a_bayesian_search_starts_with_a_third_of_its_trials_at_random(tmp_path):
    hm = DenseAutoencoderHyperModel(64, tune=("learning_rate",))
    for trials, expected in [(2, 2), (9, 3), (30, 10)]:
        tuner = tuning.make_tuner(
            "bayesian", hm, max_trials=trials, directory=tmp_path, project_name=str(trials)
        )
        assert tuner.oracle.num_initial_points == expected == tuning.initial_points(trials)
    tuner = tuning.make_tuner("bayesian", hm, max_trials=9, num_initial_points=5, directory=tmp_path)
    assert tuner.oracle.num_initial_points == 5


def test_the_acquisition_step_finds_a_bound_no_random_point_beats():
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import Matern

    rng = np.random.RandomState(0)
    x = rng.uniform(size=(8, 3))
    gpr = GaussianProcessRegressor(Matern(nu=2.5), normalize_y=True, alpha=1e-4, random_state=0)
    with warnings.catch_warnings():  # a length scale at its bound on 8 points is expected
        warnings.simplefilter("ignore", ConvergenceWarning)
        gpr.fit(x, ((x - 0.4) ** 2).sum(axis=1))
    bounds = np.array([[0.0, 1.0]] * 3)
    best = tuning.minimize_bound(gpr, bounds, 2.6, np.random.RandomState(1), candidates=200, restarts=2)
    assert best.shape == (3,) and (best >= 0).all() and (best <= 1).all()

    def bound(points):
        mean, std = gpr.predict(np.atleast_2d(points), return_std=True)
        return mean - 2.6 * std

    assert bound(best)[0] <= bound(np.random.RandomState(2).uniform(size=(5000, 3))).min() + 1e-9
    away = tuning.minimize_bound(
        gpr,
        bounds,
        2.6,
        np.random.RandomState(1),
        candidates=200,
        restarts=2,
        avoid=best[None, :],
        min_distance=0.2,
    )
    assert np.linalg.norm(away - best) >= 0.2, "a point beside a trial already run is left out"


def test_a_bayesian_search_proposes_its_later_trials_with_the_batch_acquisition(ds, tmp_path, monkeypatch):
    hm = DenseAutoencoderHyperModel(ds.n_features, tune=("learning_rate", "dropout"), patience=None)
    tuner = tuning.make_tuner("bayesian", hm, max_trials=4, num_initial_points=2, directory=tmp_path)
    assert isinstance(tuner.oracle, tuning.BatchAcquisitionOracle)
    calls = []
    real = tuning.minimize_bound
    spy = lambda *a, **k: calls.append(1) or real(*a, **k)  # noqa: E731
    monkeypatch.setattr(tuning._keras_tuner, "minimize_bound", spy)
    frame = tuning.search(tuner, ds, epochs=1, labels=False)
    assert len(frame) == 4 and len(calls) == 2  # the two trials after the two random ones


def test_a_diverging_trial_is_failed_and_the_search_goes_on(ds, tmp_path):
    hm = DenseAutoencoderHyperModel(
        ds.n_features,
        tune=("learning_rate",),
        choices={"learning_rate": [1e6, 1e-2]},
        fixed={"optimizer": "momentum"},
        patience=None,
    )
    tuner = tuning.make_tuner("grid", hm, max_trials=5, directory=tmp_path)
    frame = tuning.search(tuner, ds, epochs=3)
    assert list(frame["status"]) == ["FAILED", "COMPLETED"]
    assert "NaN" in frame.loc[0, "message"] and np.isnan(frame.loc[0, "val_mse"])
    assert tuning.best_trial(frame, "val_mse")["learning_rate"] == 1e-2
    curve = tuning.best_so_far(frame, "val_mse")
    assert np.isnan(curve["best"].iloc[0]) or not np.isfinite(curve["best"].iloc[0])
    assert curve["best"].iloc[1] == frame.loc[1, "val_mse"]


def test_best_so_far_never_gets_worse_and_counts_epochs():
    import pandas as pd

    frame = pd.DataFrame(
        {
            "trial": ["0", "1", "2"],
            "status": ["COMPLETED", "COMPLETED", "COMPLETED"],
            "val_probe_accuracy": [0.5, 0.4, 0.7],
            "epochs": [3, 5, 2],
        }
    )
    curve = tuning.best_so_far(frame, "val_probe_accuracy")
    assert list(curve["best"]) == [0.5, 0.5, 0.7] and list(curve["epochs_consumed"]) == [3, 8, 10]


SEARCH_SCRIPT = textwrap.dedent(
    """
    import sys
    from lab import config, data, tuning
    from lab.hypermodels import DenseAutoencoderHyperModel
    ds = data.load_for(config.preset("quick", max_train=120, max_eval=60))
    choices = {"units": [32, 64, 128], "learning_rate": [1e-3, 3e-3]}
    hm = DenseAutoencoderHyperModel(ds.n_features, tune=tuple(choices), choices=choices, patience=None)
    tuner = tuning.make_tuner(sys.argv[1], hm, max_trials=4, directory=sys.argv[2], project_name="resume")
    frame = tuning.search(tuner, ds, epochs=25)
    print("TRIALS", len(frame), (frame["status"] == "COMPLETED").sum())
    """
)


@pytest.mark.parametrize("kind", ["grid", "random"])
def test_a_killed_search_resumes_without_losing_finished_trials(kind, tmp_path):
    script = tmp_path / "search.py"
    script.write_text(SEARCH_SCRIPT)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    command = [sys.executable, str(script), kind, str(tmp_path)]
    project = tmp_path / "resume"
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while len(list(project.glob("trial_*/lab_fit.json"))) < 2:
        assert process.poll() is None, process.stdout.read().decode()[-2000:]
        assert time.monotonic() < deadline, "the search did not finish two trials in time"
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    finished = {path.parent.name: path.read_text() for path in project.glob("trial_*/lab_fit.json")}
    states = {path.parent.name: json.loads(path.read_text()) for path in project.glob("trial_*/trial.json")}
    done_before = {name for name, state in states.items() if state["status"] == "COMPLETED"}
    assert done_before, "no trial was recorded as finished before the kill"

    rerun = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stdout[-2000:] + rerun.stderr[-2000:]
    assert "Reloading Tuner" in rerun.stdout
    assert "TRIALS 4 4" in rerun.stdout
    for name in done_before:
        # Finished trials were reloaded, not trained again: their records are untouched.
        assert (project / name / "lab_fit.json").read_text() == finished[name]
    settings = [
        tuple(sorted((k, v) for k, v in json.loads(p.read_text())["hyperparameters"]["values"].items()))
        for p in project.glob("trial_*/trial.json")
    ]
    assert len(set(settings)) == len(settings) == 4, "a resumed search tried a setting twice"


def test_trial_records_are_beside_keras_tuner_state(ds, tmp_path):
    hm = DenseAutoencoderHyperModel(ds.n_features, tune=("units",), choices={"units": [32]}, patience=None)
    tuner = tuning.make_tuner("grid", hm, max_trials=3, directory=tmp_path, project_name="p")
    frame = tuning.search(tuner, ds, epochs=2)
    assert len(frame) == 1  # the grid had one point
    record = json.loads(Path(tmp_path, "p", "trial_0", "lab_fit.json").read_text())
    assert record["epochs_trained"] == 2 and len(record["history"]["val_loss"]) == 2


def test_retraining_one_setting_over_seeds_gives_one_row_per_seed(ds):
    hm = DenseAutoencoderHyperModel(ds.n_features, tune=("learning_rate",), patience=None, seed=0)
    row = {"trial": "00", "learning_rate": 3e-3, "val_mse": 0.1}
    values = tuning.hyperparameter_values(pd.Series(row), hm)
    assert values == {"learning_rate": 3e-3}
    again = tuning.retrain_over_seeds(hm, values, ds, [0, 1, 0], epochs=2)
    assert list(again["seed"]) == [0, 1, 0] and (again["status"] == "ok").all()
    assert again["capped"].all() and (again["epochs"] == 2).all()
    # The seed sets the weights and batch order: the same seed repeats, another differs.
    assert again["val_mse"][0] == pytest.approx(again["val_mse"][2], rel=1e-5)
    assert again["val_mse"][0] != again["val_mse"][1]
    assert hm.seed == 0, "the hypermodel passed in is left as it was"


def test_the_best_trial_over_seeds_reuses_a_trial_that_trained_from_scratch(ds, tmp_path):
    hm = DenseAutoencoderHyperModel(ds.n_features, tune=("learning_rate",), patience=None, seed=0)
    tuner = tuning.make_tuner("random", hm, max_trials=2, directory=tmp_path, project_name="r", seed=0)
    frame = tuning.search(tuner, ds, epochs=2, labels=False)
    rows = tuning.best_over_seeds(frame, hm, ds, [0, 1], epochs=2)
    best = tuning.best_trial(frame, "val_mse")
    assert list(rows["seed"]) == [0, 1] and rows["val_mse"][0] == best["val_mse"]
    # The reused row is what training that setting on seed 0 gives.
    again = tuning.retrain_over_seeds(hm, tuning.hyperparameter_values(best, hm), ds, [0], epochs=2)
    assert again["val_mse"][0] == pytest.approx(best["val_mse"], rel=1e-5)
    assert tuning.capped(frame, 2).all() and not tuning.capped(frame, 3).any()


@pytest.mark.parametrize("bad", ["false", "False", "True", "no", "", 0, 1, None, 0.0, [False]])
def test_overwrite_that_is_not_exactly_a_bool_is_refused_and_nothing_is_deleted(ds, tmp_path, bad):
    hm = DenseAutoencoderHyperModel(ds.n_features, tune=("learning_rate",), patience=None)
    tuning.search(
        tuning.make_tuner("random", hm, max_trials=1, directory=tmp_path, project_name="p"), ds, epochs=1
    )
    before = sorted((p.relative_to(tmp_path), p.stat().st_mtime_ns) for p in tmp_path.rglob("*"))
    with pytest.raises(ValueError, match=r"overwrite must be True or False, got .*nothing was changed"):
        tuning.make_tuner("random", hm, max_trials=1, directory=tmp_path, project_name="p", overwrite=bad)
    assert sorted((p.relative_to(tmp_path), p.stat().st_mtime_ns) for p in tmp_path.rglob("*")) == before


def test_a_flag_from_the_command_line_is_told_how_to_write_it():
    with pytest.raises(ValueError, match=r"-p OVERWRITE False"):
        config.flag("false", "OVERWRITE")
    assert config.flag(np.bool_(True), "x") is True and config.flag(False, "x") is False


def test_a_search_whose_every_trial_failed_has_no_best_yet():
    frame = pd.DataFrame(
        {"trial": ["0", "1"], "status": ["FAILED", "FAILED"], "epochs": [2, 1], "message": ["NaN", "NaN"]}
    )
    curve = tuning.best_so_far(frame, "val_mse")
    assert list(curve["epochs_consumed"]) == [2, 3] and np.isinf(curve["best"]).all()
    with pytest.raises(KeyError, match="the book's objectives"):
        tuning.best_so_far(frame, "val_accuracy")


def test_a_search_in_recycled_worker_processes_trains_the_same_trials(ds, tmp_path):
    hm = DenseAutoencoderHyperModel(ds.n_features, patience=None, seed=0)
    here = tuning.make_tuner("random", hm, max_trials=5, directory=tmp_path, project_name="here")
    in_process = tuning.search(here, ds, epochs=1, labels=False)
    away = tuning.make_tuner("random", hm, max_trials=5, directory=tmp_path, project_name="away")
    workers = tuning.recycled.run(away.lab_made, ds, epochs=1, labels=False, trials_per_process=2)
    assert workers == 3  # 2 + 2 + 1 trials, each share in a fresh process
    away.reload()
    recycled = tuning.trials_frame(away)
    settings = ["num_layers", "units_1", "activation", "learning_rate", "batch_size"]
    assert (recycled["status"] == "COMPLETED").all() and len(recycled) == 5
    pd.testing.assert_frame_equal(recycled[settings], in_process[settings])
    # search(..., trials_per_process=N) is the same, and a finished search needs one worker only
    again = tuning.search(away, ds, epochs=1, labels=False, trials_per_process=2)
    assert len(again) == 5


def test_recycling_needs_a_tuner_it_can_make_again_and_a_share_of_at_least_one(ds, tmp_path):
    hm = DenseAutoencoderHyperModel(ds.n_features, patience=None, seed=0)
    tuner = tuning.make_tuner("random", hm, max_trials=2, directory=tmp_path, project_name="t")
    with pytest.raises(ValueError, match="trials_per_process"):
        tuning.search(tuner, ds, epochs=1, trials_per_process=0)
    plain = kt.RandomSearch(hm, objective=kt.Objective("val_mse", "min"), max_trials=1, directory=tmp_path)
    with pytest.raises(TypeError, match="made by make_tuner"):
        tuning.search(plain, ds, epochs=1, trials_per_process=2)


def test_an_interrupted_recycled_search_leaves_no_worker_training(ds, tmp_path, monkeypatch):
    hm = DenseAutoencoderHyperModel(ds.n_features, patience=None, seed=0)
    tuner = tuning.make_tuner("random", hm, max_trials=2, directory=tmp_path, project_name="t")
    started = []

    def interrupted(worker, queue):  # the kernel is interrupted while the worker trains
        started.append(worker)
        raise KeyboardInterrupt

    monkeypatch.setattr(tuning.recycled, "_wait", interrupted)
    with pytest.raises(KeyboardInterrupt):
        tuning.search(tuner, ds, epochs=1, trials_per_process=1)
    assert len(started) == 1 and not started[0].is_alive()
