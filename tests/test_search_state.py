"""A search folder is checked when a search resumes: damaged, mixed or failed state is answered in words."""

import hashlib
import json
import shutil

import numpy as np
import pandas as pd
import pytest

from lab import config, data, tuning
from lab.hypermodels import DenseAutoencoderHyperModel, VAEHyperModel

WAYS_OUT = "OVERWRITE = True"


@pytest.fixture(scope="module")
def ds():
    return data.load_for(config.preset("quick", max_train=120, max_eval=60))


def _hypermodel(ds, **changes):
    settings = dict(tune=("learning_rate",), patience=None, seed=0)
    settings.update(changes)
    return DenseAutoencoderHyperModel(ds.n_features, **settings)


def _tuner(ds, folder, kind="random", hypermodel=None, **kwargs):
    settings = dict(max_trials=2, directory=folder, project_name="p")
    settings.update(kwargs)
    return tuning.make_tuner(kind, hypermodel or _hypermodel(ds), **settings)


@pytest.fixture(scope="module")
def finished(ds, tmp_path_factory):
    """A finished random search of two trials, copied by each test before it is damaged."""
    folder = tmp_path_factory.mktemp("finished")
    tuning.search(_tuner(ds, folder), ds, epochs=1)
    return folder


@pytest.fixture
def search(finished, tmp_path):
    shutil.copytree(finished, tmp_path, dirs_exist_ok=True)
    return tmp_path


def _snapshot(folder):
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _refused(folder, call, *words, error=tuning.SearchStateError):
    before = _snapshot(folder)
    with pytest.raises(error) as info:
        call()
    message = str(info.value)
    for word in words:
        assert word in message, message
    assert _snapshot(folder) == before, "the folder was changed"
    return message


# Damaged or incomplete folders --------------------------------------------------------------


@pytest.mark.parametrize(
    "damage, words",
    [
        (
            lambda p: (p / "oracle.json").write_text('{"start_order": ['),
            ["oracle.json cannot be read as JSON"],
        ),
        (lambda p: (p / "oracle.json").write_text(""), ["oracle.json cannot be read as JSON"]),
        (lambda p: (p / "oracle.json").unlink(), ["oracle.json is missing"]),
        (lambda p: (p / "oracle.json").write_text("[]"), ["oracle.json holds a list, not an object"]),
        (lambda p: (p / "oracle.json").write_text('{"seed": 1}'), ["lacks start_order, end_order"]),
        (
            lambda p: (p / "trial_0" / "trial.json").write_text('{"trial_id": "0", "sta'),
            ["trial.json cannot be read"],
        ),
        (lambda p: (p / "trial_1" / "trial.json").unlink(), ["trial_1", "trial.json is missing"]),
        (lambda p: shutil.rmtree(p / "trial_0"), ["lists trial(s) 0 whose folder or trial.json is gone"]),
        (lambda p: (p / "tuner0.json").unlink(), ["holds trials but no tuner0.json"]),
        (lambda p: (p / "tuner0.json").write_text("{{"), ["tuner0.json cannot be read as JSON"]),
        (lambda p: _edit(p / "oracle.json", ongoing_trials=[]), ["unexpected values for ongoing_trials"]),
        (lambda p: _edit(p / "oracle.json", start_order=None), ["unexpected values for start_order"]),
        (lambda p: (p / tuning.SIGNATURE).write_text("[]"), ["lab_search.json holds a list"]),
        (lambda p: (p / tuning.SIGNATURE).write_text('{"search": 5}'), ["lab_search.json holds unexpected"]),
        (
            lambda p: (p / "trial_0" / tuning.FIT_RECORD).write_text('{"history": {"lo'),
            ["lab_fit.json cannot"],
        ),
        (
            lambda p: _edit(p / "trial_1" / "trial.json", status="BOGUS"),
            ["trial_1/trial.json gives the status 'BOGUS', which is none of KerasTuner's"],
        ),
    ],
    ids=[
        "oracle-truncated",
        "oracle-empty",
        "oracle-missing",
        "oracle-a-list",
        "oracle-missing-keys",
        "trial-truncated",
        "trial-json-deleted",
        "trial-folder-deleted",
        "tuner-state-missing",
        "tuner-state-garbled",
        "oracle-ongoing-a-list",
        "oracle-start-order-null",
        "signature-a-list",
        "signature-odd",
        "fit-record-truncated",
        "trial-status-unknown",
    ],
)
def test_a_damaged_search_folder_is_named_with_the_ways_out(ds, search, damage, words):
    folder = search / "p"
    damage(folder)
    message = _refused(search, lambda: _tuner(ds, search), str(folder), *words, "is damaged", WAYS_OUT)
    assert "delete the folder" in message


def _edit(path, **changes):
    state = json.loads(path.read_text())
    state.update(changes)
    path.write_text(json.dumps(state))


@pytest.mark.parametrize("damage", ["missing", "truncated", "empty"])
def test_damaged_saved_weights_are_named_when_the_model_is_loaded(ds, search, damage):
    tuner = _tuner(ds, search)
    checkpoint = search / "p" / "trial_0" / "checkpoint.weights.h5"
    assert checkpoint.exists()
    if damage == "missing":
        checkpoint.unlink()
    else:
        checkpoint.write_bytes(checkpoint.read_bytes()[:100] if damage == "truncated" else b"")
    with pytest.raises(tuning.SearchStateError, match="saved weights of trial 0 .* cannot be loaded"):
        tuning.load_trial_model(tuner, "0")


def test_numpy_numbers_in_fixed_values_are_the_same_setting(ds, tmp_path):
    plain = _hypermodel(ds, fixed={"batch_size": 16})
    tuning.search(_tuner(ds, tmp_path, hypermodel=plain, max_trials=1), ds, epochs=1)
    numpy = _hypermodel(ds, fixed={"batch_size": np.int64(16)})
    assert len(tuning.search(_tuner(ds, tmp_path, hypermodel=numpy, max_trials=1), ds, epochs=1)) == 1


def test_a_damaged_folder_can_be_started_afresh_with_overwrite(ds, search):
    (search / "p" / "oracle.json").write_text("not json")
    tuner = _tuner(ds, search, overwrite=True)
    assert tuner.oracle.trials == {}


def test_a_file_where_the_search_folder_should_be_is_refused(ds, tmp_path):
    (tmp_path / "p").write_text("notes")
    _refused(tmp_path, lambda: _tuner(ds, tmp_path), "is a file, not a search folder")


# A resumed search whose settings or data changed --------------------------------------------


@pytest.mark.parametrize(
    "changes, words",
    [
        (dict(hypermodel=dict(tune=("units",))), ["space differs for learning_rate, units"]),
        (dict(hypermodel=dict(fixed={"latent_dim": 4})), ['fixed latent_dim was "(not set)", now 4']),
        (dict(hypermodel=dict(patience=3)), ["patience was null, now 3"]),
        (dict(hypermodel=dict(seed=1)), ["seed was 0, now 1"]),
        (dict(objective="val_probe_accuracy"), ['objective was "val_mse", now "val_probe_accuracy"']),
        (dict(kind="bayesian"), ['kind was "random", now "bayesian"']),
        (dict(seed=5), ["oracle_seed was 1, now 5001"]),
    ],
    ids=["space", "fixed", "patience", "model-seed", "objective", "kind", "search-seed"],
)
def test_a_search_resumed_with_other_settings_refuses_to_mix_them(ds, search, changes, words):
    hypermodel = _hypermodel(ds, **changes.pop("hypermodel", {}))
    _refused(
        search,
        lambda: _tuner(ds, search, hypermodel=hypermodel, **changes),
        "was started with other settings",
        *words,
        "another project_name",
        WAYS_OUT,
    )


def test_a_search_resumed_on_other_data_or_epochs_refuses_to_mix_them(ds, search):
    tuner = _tuner(ds, search)
    other_split = data.load_for(config.preset("quick", max_train=120, max_eval=60, seed=1))
    _refused(search, lambda: tuning.search(tuner, other_split, epochs=1), "checksum was")
    _refused(search, lambda: tuning.search(tuner, ds, epochs=2), "epochs was 1, now 2")
    _refused(search, lambda: tuning.search(tuner, ds, epochs=1, labels=False), "labels was true, now false")


def test_the_same_search_resumes_and_more_trials_may_be_added(ds, search):
    frame = tuning.search(_tuner(ds, search, max_trials=3), ds, epochs=1)
    assert len(frame) == 3 and (frame["status"] == "COMPLETED").all()


def test_a_search_from_before_the_signature_is_refused_not_adopted(ds, search):
    """Its trials may come from another budget or another version of the book: nothing says."""
    (search / "p" / tuning.SIGNATURE).unlink()
    _refused(search, lambda: _tuner(ds, search), f"holds trials but no {tuning.SIGNATURE}", WAYS_OUT)
    assert len(tuning.search(_tuner(ds, search, overwrite=True), ds, epochs=1)) == 2


def test_a_search_without_a_record_of_its_data_is_refused(ds, search):
    path = search / "p" / tuning.SIGNATURE
    path.write_text(json.dumps({"search": json.loads(path.read_text())["search"]}))
    _refused(search, lambda: _tuner(ds, search), "lacks the record of their data", WAYS_OUT)


# Failed trials ------------------------------------------------------------------------------


def _diverging(ds, rate=1e6):
    return _hypermodel(
        ds,
        tune=("learning_rate",),
        fixed={"optimizer": "momentum"},
        choices={"learning_rate": [rate, rate * 2]},
    )


def test_a_search_whose_trials_all_failed_starts_afresh_when_run_again(ds, tmp_path, capsys):
    failing = tuning.search(_tuner(ds, tmp_path, "grid", _diverging(ds)), ds, epochs=2)
    assert (failing["status"] == "FAILED").all() and len(failing) == 2
    # Run again with a setting that works: the failed trials are not kept, the new ones run.
    working = _diverging(ds, rate=1e-3)
    frame = tuning.search(_tuner(ds, tmp_path, "grid", working), ds, epochs=2)
    assert "Every trial of the earlier search" in capsys.readouterr().out
    assert list(frame["status"]) == ["COMPLETED", "COMPLETED"]
    assert sorted(frame["learning_rate"]) == [1e-3, 2e-3]


def test_too_many_failures_in_a_row_stop_the_search_in_words(ds, tmp_path):
    tuner = _tuner(ds, tmp_path, "grid", _diverging(ds), max_consecutive_failed_trials=2)
    with pytest.raises(RuntimeError) as info:
        tuning.search(tuner, ds, epochs=2)
    message = str(info.value)
    assert "stopped after 2 failed trials in a row" in message and "NaN" in message
    assert "trials_frame(tuner)['message']" in message


def test_the_model_of_a_failed_or_unknown_trial_is_refused_in_words(ds, tmp_path):
    hm = _hypermodel(ds, fixed={"optimizer": "momentum"}, choices={"learning_rate": [1e6, 1e-2]})
    tuner = _tuner(ds, tmp_path, "grid", hm)
    frame = tuning.search(tuner, ds, epochs=2)
    assert list(frame["status"]) == ["FAILED", "COMPLETED"]
    with pytest.raises(ValueError, match="Trial 0 is FAILED: .*NaN.*saved no model"):
        tuning.load_trial_model(tuner, "0")
    with pytest.raises(KeyError, match="no trial '7'; its trials are 0, 1"):
        tuning.load_trial_model(tuner, 7)
    assert tuning.load_trial_model(tuner, 1)(ds.x_val[:2]).shape == (2, ds.n_features)


# Table helpers and objectives ---------------------------------------------------------------


def test_table_helpers_work_on_a_search_with_no_trials(ds, tmp_path):
    frame = tuning.trials_frame(_tuner(ds, tmp_path))
    assert list(frame.columns) == list(tuning.TRIAL_COLUMNS) and frame.empty
    assert tuning.completed(frame).empty and tuning.best_so_far(frame, "val_mse").empty
    assert not tuning.capped(frame, 3).any()
    with pytest.raises(ValueError, match="No trial has completed yet"):
        tuning.best_trial(frame, "val_mse")
    with pytest.raises(TypeError, match="trials_frame takes a KerasTuner tuner .* got NoneType"):
        tuning.trials_frame(None)
    with pytest.raises(TypeError, match="space_table takes one of lab's HyperModels.*got str"):
        tuning.space_table("units")


def test_an_objective_the_trials_do_not_report_is_named_with_the_ones_they_do(finished):
    frame = tuning.trials_frame(_tuner_for_reading(finished))
    for helper in (tuning.best_trial, tuning.best_so_far):
        with pytest.raises(
            KeyError, match="do not report 'val_neg_elbo'; objectives they report: val_mse, val_pro"
        ):
            helper(frame, "val_neg_elbo")
        with pytest.raises(KeyError, match="do not report 'loss'"):
            helper(frame, "loss")


def _tuner_for_reading(folder):
    ds = data.load_for(config.preset("quick", max_train=120, max_eval=60))
    return _tuner(ds, folder)


def test_an_objective_the_hypermodel_cannot_report_is_refused_before_the_search(ds, tmp_path):
    with pytest.raises(ValueError, match="does not report 'val_neg_elbo'; its trials report val_mse"):
        _tuner(ds, tmp_path, objective="val_neg_elbo")
    with pytest.raises(ValueError, match="Unknown objective 'mse'"):
        _tuner(ds, tmp_path, objective="mse")
    vae = VAEHyperModel(ds.n_features, tune=("beta",), patience=None)
    assert _tuner(ds, tmp_path, hypermodel=vae, project_name="vae", objective="val_kl") is not None
    tuner = _tuner(ds, tmp_path, project_name="probe", objective="val_probe_accuracy")
    with pytest.raises(ValueError, match="needs the labels"):
        tuning.search(tuner, ds, epochs=1, labels=False)
    assert not list((tmp_path / "p").glob("trial_*"))


@pytest.mark.parametrize(
    "kwargs, words",
    [
        (dict(max_trials=0), "max_trials must be a whole number of 1 or more"),
        (dict(max_trials="2"), None),
        (dict(seed=-1), "seed must be a whole number from 0"),
        (dict(seed=2**32), "seed must be a whole number from 0"),
        (dict(kind="hyperband", max_epochs=2, factor=3), "max_epochs >= factor"),
        (dict(kind="hyperband", factor=1), "factor must be a whole number of 2 or more"),
        (dict(kind="annealing"), "Unknown tuner kind 'annealing'"),
        (
            dict(kind="hyperband", max_epochs=3, hyperband_iterations=0),
            "hyperband_iterations must be a whole",
        ),
        (dict(kind="hyperband", max_epochs=3, hyperband_iterations=None), "hyperband_iterations must be"),
        (dict(max_consecutive_failed_trials=0), "max_consecutive_failed_trials must be a whole number of 1"),
        (dict(kind="bayesian", num_initial_points=0), "num_initial_points must be a whole number from 1"),
        (dict(kind="bayesian", num_initial_points=-1), "num_initial_points must be"),
    ],
)
def test_bad_tuner_arguments_are_named(ds, tmp_path, kwargs, words):
    if words is None:
        assert _tuner(ds, tmp_path, **kwargs).oracle.max_trials == 2
        return
    with pytest.raises(ValueError, match=None) as info:
        _tuner(ds, tmp_path, **kwargs)
    assert words in str(info.value)
    assert not (tmp_path / "p").exists()


def test_a_large_seed_stays_in_numpys_range():
    assert tuning.oracle_seed(0) == 1 and tuning.oracle_seed(5) == 5001
    assert 0 <= tuning.oracle_seed(2**32 - 1) < 2**32 - 2**20
    assert np.random.RandomState(tuning.oracle_seed(2**32 - 1)) is not None


def test_a_search_directory_that_is_a_file_or_a_project_name_with_a_slash_is_refused(ds, tmp_path):
    a_file = tmp_path / "notes.txt"
    a_file.write_text("mine")
    with pytest.raises(ValueError, match="directory is .*notes.txt', which is a file"):
        _tuner(ds, a_file)
    for name in ("a/b", "", "..\\x", 3, ".", "..", " .. "):
        with pytest.raises(ValueError, match="project_name must be a plain folder name"):
            _tuner(ds, tmp_path, project_name=name)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_a_single_hyperparameter_name_is_taken_as_one_name(ds):
    assert DenseAutoencoderHyperModel(ds.n_features, tune="units").tune == ("units",)


def test_the_best_setting_over_seeds_is_retrained_when_the_epochs_differ(ds, finished):
    tuner = _tuner(ds, finished)
    frame = tuning.trials_frame(tuner)
    assert (frame["budget"] == 1).all()
    same = tuning.best_over_seeds(frame, tuner.hypermodel, ds, [0, 1], epochs=1)
    other = tuning.best_over_seeds(frame, tuner.hypermodel, ds, [0, 1], epochs=2)
    assert same.loc[0, "val_mse"] == tuning.best_trial(frame, "val_mse")["val_mse"]  # the trial itself
    assert list(other["epochs"]) == [2, 2]  # both seeds retrained for 2 epochs, none reused


def test_the_probe_objective_over_seeds_gets_the_labels(ds, tmp_path):
    tuner = _tuner(ds, tmp_path, objective="val_probe_accuracy", max_trials=1)
    frame = tuning.search(tuner, ds, epochs=1)
    rows = tuning.best_over_seeds(
        frame, tuner.hypermodel, ds, [0, 1], epochs=1, objective="val_probe_accuracy"
    )
    assert rows["val_probe_accuracy"].notna().all()


def test_hypermodel_and_helper_arguments_are_checked(ds, finished):
    for kwargs, words in [
        (dict(patience=0), "patience must be a whole number of 1 or more"),
        (dict(seed=-1), "seed must be a whole number from 0"),
        (dict(tune=("units",), choices={"units": []}), "gives no values for ['units']"),
        (dict(input_dim=1), "input_dim must be a whole number of 2 or more"),
        (
            dict(fixed={"latent_dim": 0}),
            "The fixed values {'latent_dim': 0} cannot build a model: latent_dim",
        ),
        (
            dict(tune=("units",), fixed={"activation": "gelu"}),
            "cannot build a model: Unknown activation 'gelu'",
        ),
        (dict(tune=("units",), choices={"units": [16, "x"]}), "cannot be searched: A `Choice` can contain"),
    ]:
        with pytest.raises(ValueError) as info:
            DenseAutoencoderHyperModel(**{"input_dim": ds.n_features, **kwargs})
        assert words in str(info.value)
    tuner = _tuner(ds, finished)
    with pytest.raises(ValueError, match="surrogate_slice needs a Bayesian search"):
        tuning.surrogate_slice(tuner, "learning_rate")
    with pytest.raises(TypeError, match="dataset must be a Dataset"):
        tuning.search(tuner, (ds.x_train, ds.x_val))
    with pytest.raises(ValueError, match="epochs must be a whole number"):
        tuning.capped(tuning.trials_frame(tuner), "one")
    with pytest.raises(ValueError, match="project_name must be a plain folder name .* at most 255 bytes"):
        _tuner(ds, finished.parent, project_name="p" * 300)
    assert not (finished.parent / ("p" * 255)).exists()


def test_table_helpers_refuse_what_is_not_a_trials_table(ds, finished):
    frame = tuning.trials_frame(_tuner(ds, finished))
    with pytest.raises(TypeError, match="completed takes the trials table that search"):
        tuning.completed(frame.to_dict("records"))
    with pytest.raises(KeyError, match="best_trial needs the trials table's status column"):
        tuning.best_trial(frame.drop(columns="status"), "val_mse")
    with pytest.raises(KeyError, match="Unknown objective 'bogus'; the book's objectives are val_mse"):
        tuning.best_so_far(frame.iloc[:0], "bogus")
    with pytest.raises(KeyError, match="capped needs the trials table's epochs"):
        tuning.capped(frame[["trial", "status"]], 3)


def test_over_seeds_helpers_refuse_seeds_and_hypermodels_that_do_not_fit(ds, finished):
    tuner = _tuner(ds, finished)
    frame = tuning.trials_frame(tuner)
    other = DenseAutoencoderHyperModel(ds.n_features, tune=("units",), patience=None)
    with pytest.raises(ValueError, match="do not come from this hypermodel's search: it searches .*units_1"):
        tuning.best_over_seeds(frame, other, ds, [0, 1], epochs=1)
    for seeds, words in [("01", "seeds must be a list"), ([1.7], "each seed must be a whole number")]:
        with pytest.raises(ValueError, match=words):
            tuning.retrain_over_seeds(tuner.hypermodel, {}, ds, seeds, epochs=1)


def test_hypermodel_values_that_would_be_truncated_or_split_are_refused(ds):
    for kwargs, words in [
        (dict(tune=("units",), fixed={"batch_size": 16.7}), "fixed batch_size must be a whole number"),
        (dict(tune=("units",), fixed={"batch_size": True}), "fixed batch_size must be a whole number"),
        (
            dict(tune=("units",), fixed={"batch_size": 0}),
            "fixed batch_size must be a whole number of 1 or more",
        ),
        (
            dict(tune=("learning_rate",), choices={"learning_rate": "1e-3"}),
            "choices['learning_rate'] must be a list",
        ),
        (dict(tune=("learning_rate",), choices={"learning_rate": 1e-3}), "must be a list of values"),
        (dict(fixed="units=16"), "fixed must be a dict of hyperparameter names"),
        (
            dict(tune=("latent_dim",), choices={"latent_dim": [64]}),
            "The choices {'latent_dim': (64,)} cannot build",
        ),
    ]:
        with pytest.raises((TypeError, ValueError)) as info:
            DenseAutoencoderHyperModel(ds.n_features, **kwargs)
        assert words in str(info.value), str(info.value)
    hm = DenseAutoencoderHyperModel(ds.n_features, tune=("learning_rate", "units"))
    for values, words in [
        (dict(learning_rate=5.0), "learning_rate=5 lies outside the searched range"),
        (dict(units_1=100), "units_1=100 is not among the searched values"),
    ]:
        with pytest.raises(ValueError, match=words):
            hm.hyperparameters(**values)
    assert hm.hyperparameters(learning_rate=np.float64(1e-3)).values["learning_rate"] == 1e-3


def test_over_seeds_refuses_another_kind_of_model_and_seeds_that_are_not_a_list(ds, finished):
    frame = tuning.trials_frame(_tuner(ds, finished))
    vae = VAEHyperModel(ds.n_features, tune=("learning_rate",), patience=None)
    with pytest.raises(
        ValueError,
        match="do not report val_neg_elbo, which every VAEHyperModel trial does: they come from another kind",
    ):
        tuning.best_over_seeds(frame, vae, ds, [1], epochs=1)
    for seeds in ("0,1", 5):
        with pytest.raises(ValueError, match="seeds must be a list of whole numbers"):
            tuning.best_over_seeds(frame, _hypermodel(ds), ds, seeds, epochs=1)


def test_a_signature_without_its_search_or_data_part_is_damage(ds, search):
    folder = search / "p"
    signature = json.loads((folder / tuning.SIGNATURE).read_text())
    (folder / tuning.SIGNATURE).write_text(json.dumps({"data": signature["data"]}))
    _refused(search, lambda: _tuner(ds, search), "lacks the record of their search", "is damaged")


def test_overwrite_does_not_delete_a_folder_that_is_not_a_search(ds, tmp_path):
    mine = tmp_path / "thesis"
    mine.mkdir()
    (mine / "chapter1.txt").write_text("precious")
    with pytest.raises(tuning.SearchStateError, match="holds files but no search .* will not delete it"):
        _tuner(ds, tmp_path, project_name="thesis", overwrite=True)
    assert (mine / "chapter1.txt").read_text() == "precious"


def test_tuner_arguments_of_the_wrong_kind_are_named(ds, tmp_path):
    with pytest.raises(ValueError, match="Unknown tuner kind \\['random'\\]"):
        _tuner(ds, tmp_path, kind=["random"])
    with pytest.raises(TypeError, match="hypermodel must be one of lab's hypermodels"):
        tuning.make_tuner("random", None, directory=tmp_path, project_name="p")
    with pytest.raises(
        ValueError, match="num_initial_points must be a whole number from 1 to 2.*kind='random'"
    ):
        _tuner(ds, tmp_path, kind="bayesian", num_initial_points=50)
    assert not any(tmp_path.iterdir())


def test_the_last_helpers_refuse_in_words(ds, finished):
    frame = tuning.trials_frame(_tuner(ds, finished))
    doubled = pd.concat([frame, frame])  # repeated index labels, as a careless concat makes them
    assert isinstance(tuning.best_trial(doubled, "val_mse"), pd.Series)
    with pytest.raises(TypeError, match="load_trial_model takes a KerasTuner tuner"):
        tuning.load_trial_model(None, 0)
