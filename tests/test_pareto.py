"""Notebook 10's trade-offs: Pareto fronts and hypervolume (`lab.fronts`), the multi-objective
searches (`lab.pareto`), and what the notebook reads from their table (`lab.tradeoffs`)."""

import json

import keras_tuner as kt
import numpy as np
import pandas as pd
import pytest

from lab import config, data, fronts, pareto, results, tradeoffs
from lab.hypermodels import objective as make_objective

QUICK = config.preset("quick")
COMMITTED = results.RESULTS_DIR / f"{pareto.STUDY}_quick_digits.csv"


@pytest.fixture(scope="module")
def table():
    return pd.read_csv(COMMITTED)


@pytest.fixture(scope="module")
def ds():
    return data.load_for(QUICK)


def _trials(points, status="COMPLETED"):
    """A trials table from (val_mse, val_probe_accuracy, params) triples."""
    frame = pd.DataFrame(points, columns=["val_mse", "val_probe_accuracy", "params"])
    return frame.assign(status=status, latent_dim=[2 ** (i % 5 + 1) for i in range(len(frame))])


# ------------------------------------------------------------------ fronts and hypervolume


def test_the_front_keeps_exactly_the_trials_nothing_beats_on_every_objective():
    frame = _trials(
        [
            (0.01, 0.90, 1e5),  # best error
            (0.02, 0.95, 1e5),  # best accuracy
            (0.03, 0.80, 1e4),  # smallest
            (0.02, 0.90, 1e5),  # dominated by the first (worse error, same rest)
            (0.01, 0.90, 1e5),  # a tie with the first: both stay
            (0.05, 0.70, 2e4),  # dominated by the third
        ]
    )
    mask = fronts.pareto_mask(frame, ["val_mse", "val_probe_accuracy", "params"])
    assert mask.tolist() == [True, True, True, False, True, False]
    # the direction matters: maximizing accuracy, not minimizing it
    two = fronts.pareto_mask(frame, ["val_mse", "val_probe_accuracy"])
    assert two.tolist() == [True, True, False, False, True, False]


def test_trials_without_a_score_are_never_on_the_front():
    frame = _trials([(0.01, 0.9, 1e5), (0.001, 0.99, 1e3), (np.nan, 0.99, 1e3)])
    frame.loc[1, "status"] = "FAILED"
    assert fronts.pareto_mask(frame, ["val_mse", "val_probe_accuracy", "params"]).tolist() == [
        True,
        False,
        False,
    ]


def test_hypervolume_is_the_dominated_share_of_the_unit_box():
    scales = {"val_mse": fronts.Scale(0.0, 1.0), "val_probe_accuracy": fronts.Scale(1.0, 0.0)}
    one = _trials([(0.5, 0.5, 1.0)])
    assert fronts.hypervolume(one, scales) == pytest.approx(0.25)
    two = _trials([(0.5, 0.5, 1.0), (0.2, 0.2, 1.0)])  # adds a box 0.8 x 0.2, overlapping 0.5 x 0.2
    assert fronts.hypervolume(two, scales) == pytest.approx(0.25 + 0.16 - 0.10)
    beyond = _trials([(1.5, 0.9, 1.0)])  # worse than the reference on the error: adds nothing
    assert fronts.hypervolume(beyond, scales) == 0.0
    log = {"params": fronts.Scale(10, 1000, log=True), "val_mse": fronts.Scale(0.0, 1.0)}
    assert fronts.hypervolume(_trials([(0.0, 0.5, 100)]), log) == pytest.approx(0.5)


def test_hypervolume_never_falls_as_trials_are_added(table, ds):
    history = tradeoffs.hypervolumes(table, pareto.scales(ds), list(pareto.SEARCHES))
    for _, group in history.groupby(["experiment", "seed"]):
        assert (np.diff(group["hypervolume"].to_numpy()) >= -1e-12).all()
        assert group["trials"].tolist() == list(range(1, len(group) + 1))
    assert history["hypervolume"].between(0, 1).all()


def test_the_weighted_sum_is_what_keras_tuner_minimizes_given_several_objectives():
    logs = {"val_mse": 0.02, "val_probe_accuracy": 0.9, "params": 12345.0}
    oracle = kt.oracles.RandomSearchOracle(objective=make_objective(list(logs)), max_trials=1)
    summed = oracle.objective.get_value(dict(logs))
    ours = fronts.weighted_sum(pd.DataFrame([logs]), dict.fromkeys(logs, 1.0)).iloc[0]
    assert ours == pytest.approx(summed)


# ------------------------------------------------------------------ the searches and their table


@pytest.fixture(scope="module")
def fresh(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pareto")
    cfg = config.preset("quick", runs_dir=folder / "runs")
    return cfg, folder, results.compute(pareto.STUDY, cfg, n_seeds=1, out_dir=folder, log=None)


def test_the_committed_quick_table_is_exactly_what_the_runner_writes(fresh):
    """The first seed is run again here (every seed runs the same code)."""
    cfg, folder, table = fresh
    record = results.check(pareto.STUDY, cfg)
    assert record["seeds"] == list(range(QUICK.pareto_seeds))
    committed = pd.read_csv(COMMITTED)
    assert list(table.columns) == list(committed.columns)
    first = committed[committed["seed"] == 0].reset_index(drop=True)
    measures = [
        "val_mse",
        "val_probe_accuracy",
        "val_few_label_probe",
        "multi_objective",
        "val_neg_elbo",
        "val_reconstruction",
        "val_kl",
        "learning_rate",
        "beta",
    ]
    left, right = (
        table.drop(columns=["seconds", "wall_seconds"]),
        first.drop(columns=["seconds", "wall_seconds"]),
    )
    pd.testing.assert_frame_equal(left.drop(columns=measures), right.drop(columns=measures))
    np.testing.assert_allclose(left[measures].to_numpy(float), right[measures].to_numpy(float), rtol=1e-4)
    stored = json.loads((folder / f"{pareto.STUDY}_quick_digits.json").read_text())
    assert stored["plan"] == record["plan"] and stored["budgets"] == record["budgets"]


def test_every_search_runs_its_trials_and_reports_every_objective(table):
    counts = table.groupby(["experiment", "seed"]).size()
    for (name, _seed), n in counts.items():
        assert n == (QUICK.pareto_vae_trials if name in pareto.VAE_SEARCHES else QUICK.pareto_trials), name
    dense = table[table["experiment"].isin(list(pareto.SEARCHES))]
    assert dense[[*pareto.OBJECTIVES, pareto.FEW]].notna().all().all()
    assert dense["val_probe_accuracy"].between(0, 1).all() and dense[pareto.FEW].between(0, 1).all()
    vae = table[table["experiment"].isin(list(pareto.VAE_SEARCHES))]
    np.testing.assert_allclose(vae["val_neg_elbo"], vae["val_reconstruction"] + vae["val_kl"], rtol=1e-6)
    assert dense["latent_dim"].nunique() > 1  # the latent size is searched


def test_keras_tuners_sum_is_recorded_and_its_best_trial_is_the_summed_pick(table):
    summed = table[(table["experiment"] == "summed") & (table["seed"] == 0)]
    np.testing.assert_allclose(
        summed["multi_objective"],
        summed["val_mse"] - summed["val_probe_accuracy"] + summed["params"],
        rtol=1e-9,
    )
    pick = tradeoffs.summed_pick(tradeoffs.trials(table, seed=0, searches="summed"))
    assert pick["multi_objective"] == summed["multi_objective"].min()


def test_a_finished_search_is_read_back_and_another_budget_is_refused(fresh, ds):
    cfg, _, table = fresh
    again = pareto.run_entry(ds, cfg, "nsga2", {})
    assert [r["trial"] for r in again] == table.loc[table["experiment"] == "nsga2", "trial"].tolist()
    assert [r["val_mse"] for r in again] == pytest.approx(
        table.loc[table["experiment"] == "nsga2", "val_mse"].tolist()
    )
    longer = config.preset("quick", runs_dir=cfg.runs_dir, race_epochs=5)
    with pytest.raises(ValueError, match="made with other settings"):
        pareto.run_entry(ds, longer, "nsga2", {})


def test_the_hypermodel_counts_its_weights_and_probes_with_few_labels(ds):
    maker = pareto.hypermodel(ds, QUICK, 0)
    hp = maker.hyperparameters(latent_dim=4, num_layers=1, units_1=32)
    model = maker.build(hp)
    found = maker.fit(
        hp, model, ds.x_train, validation_data=ds.x_val, labels=(ds.y_train, ds.y_val), epochs=1
    )
    assert found["params"] == model.count_params() == 64 * 32 + 32 + 32 * 4 + 4 + 4 * 32 + 32 + 32 * 64 + 64
    assert 0 <= found[pareto.FEW] <= 1 and 0 <= found["val_probe_accuracy"] <= 1


def test_the_few_label_probe_uses_a_few_labels_per_class():
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(10), 20)
    z = np.eye(10)[y] + 0.01 * rng.standard_normal((200, 10))  # perfectly separable codes
    assert pareto.few_label_probe(z, y, z, y, 0.05, seed=0) == 1.0
    with pytest.raises(ValueError, match="fraction"):
        pareto.few_label_probe(z, y, z, y, 0.0)


# ------------------------------------------------------------------ what the notebook reads


def test_the_three_picks_answer_their_uses():
    pooled = _trials(
        [
            (0.010, 0.95, 4e5),  # best error, big
            (0.0105, 0.94, 5e4),  # within 10% of the best error, smaller
            (0.030, 0.945, 8e3),  # accurate enough, with a code of 4
            (0.050, 0.80, 5e3),  # smallest, poor
        ]
    )
    pooled = pooled.assign(latent_dim=[32, 16, 4, 2], experiment="nsga2")
    pooled["on_front"] = fronts.pareto_mask(pooled, pareto.OBJECTIVES)
    assert pooled["on_front"].all()
    chosen = tradeoffs.picks(pooled)
    assert chosen.loc["best reconstruction", "val_mse"] == 0.010
    assert chosen.loc["small model, near the best error", "params"] == 5e4
    assert chosen.loc["small code for a classifier", "latent_dim"] == 4  # 0.94 is within 0.01 of 0.95
    tight = tradeoffs.picks(pooled, accuracy_tolerance=0.0)
    assert tight.loc["small code for a classifier", "val_probe_accuracy"] == 0.95


def test_a_looser_error_budget_buys_a_smaller_model():
    pooled = _trials([(0.010, 0.95, 4e5), (0.012, 0.94, 5e4), (0.018, 0.93, 8e3), (0.050, 0.80, 5e3)])
    pooled = pooled.assign(latent_dim=[32, 16, 8, 2], experiment="tpe")
    pooled["on_front"] = fronts.pareto_mask(pooled, pareto.OBJECTIVES)
    bought = tradeoffs.smallest_within(pooled, [0.1, 0.25, 1.0, 5.0])
    assert bought.index.tolist() == ["10%", "25%", "100%", "500%"]
    assert bought["params"].tolist() == [4e5, 5e4, 8e3, 5e3]  # each looser budget, a smaller model
    assert bought["error_ratio"].tolist() == pytest.approx([1.0, 1.2, 1.8, 5.0])
    assert bought["weights_ratio"].iloc[0] == 1.0 and bought["weights_ratio"].is_monotonic_decreasing
    with pytest.raises(TypeError, match="list of shares"):
        tradeoffs.smallest_within(pooled, 0.1)
    with pytest.raises(ValueError, match="each of tolerances must be"):
        tradeoffs.smallest_within(pooled, [-0.5])


def test_probe_by_code_size_and_the_vae_summary_read_every_seed(table):
    summary = tradeoffs.probe_by_code_size(table)
    dense = table[table["experiment"].isin(list(pareto.SEARCHES))]
    assert summary["trials"].sum() == len(dense) and summary.index.is_monotonic_increasing
    elbo = tradeoffs.elbo_summary(table)
    assert set(elbo["experiment"]) == set(pareto.VAE_SEARCHES)
    for _, rows in elbo.groupby("seed"):
        assert rows["front_share"].sum() == pytest.approx(1.0, abs=0.5)  # ties may count twice


def test_the_picks_are_tested_on_the_split_the_searches_ran_on():
    other_seed = config.preset("quick", seed=1)
    assert results.split_seed(pareto.STUDY, other_seed) == 0  # the committed table's split
    study_split = results.study_dataset(pareto.STUDY, other_seed)
    seed_zero = data.load_for(config.preset("quick", seed=0))
    assert np.array_equal(study_split.x_test, seed_zero.x_test)
    # the notebook's own seed would have drawn another split, whose test images the searches saw
    assert not np.array_equal(data.load_for(other_seed).x_test, seed_zero.x_test)
    assert results.split_seed(pareto.STUDY, other_seed, recompute=True) == 1


def test_a_pick_retrained_is_tested_once(table, ds):
    pooled = tradeoffs.trials(table, seed=0)
    row = tradeoffs.picks(pooled).iloc[0]
    found = tradeoffs.retrain(ds, QUICK, row)
    assert found["latent_dim"] == row["latent_dim"] and found["params"] == row["params"]
    assert 0 < found["test_mse"] < 1 and 0 <= found["test_probe_accuracy"] <= 1


@pytest.mark.parametrize(
    "call, error, words",
    [
        (lambda t, d: tradeoffs.trials(t.drop(columns="params")), KeyError, "lacks params"),
        (lambda t, d: tradeoffs.trials(t, seed=9), ValueError, "no seed 9"),
        (lambda t, d: tradeoffs.trials(t, searches=["grid"]), KeyError, "No search 'grid'"),
        (lambda t, d: tradeoffs.trials(pd.concat([t, t])), ValueError, "twice"),
        (lambda t, d: tradeoffs.trials(t.values), TypeError, "results.load"),
        (lambda t, d: tradeoffs.picks(t), TypeError, "tradeoffs.trials"),
        (
            lambda t, d: tradeoffs.picks(tradeoffs.trials(t, seed=0), error_tolerance=-1),
            ValueError,
            "error_tolerance must be a finite number >= 0 and <= 10",
        ),
        (
            lambda t, d: tradeoffs.picks(tradeoffs.trials(t, seed=0), error_tolerance="10%"),
            ValueError,
            "0.1 for 10%",
        ),
        (
            lambda t, d: tradeoffs.smallest_within(tradeoffs.trials(t, seed=0), [0.1, 0.1]),
            ValueError,
            "repeats",
        ),
        (
            lambda t, d: tradeoffs.smallest_within(tradeoffs.trials(t, seed=0), [25]),
            ValueError,
            "0.1 for 10%",
        ),
        (
            lambda t, d: tradeoffs.picks(tradeoffs.trials(t, seed=0).assign(on_front=1)),
            TypeError,
            "True or False",
        ),
        (
            lambda t, d: tradeoffs.picks(
                tradeoffs.trials(
                    t, seed=0, searches=list(pareto.VAE_SEARCHES), objectives=pareto.VAE_OBJECTIVES
                )
            ),
            ValueError,
            "dense searches",
        ),
        (lambda t, d: tradeoffs.trials(t, seed=True), ValueError, "seed"),
        (lambda t, d: tradeoffs.trials(t, searches=[]), ValueError, "No completed trial"),
        (lambda t, d: tradeoffs.trials(t.iloc[:0]), ValueError, "No completed trial"),
        (
            lambda t, d: tradeoffs.trials(t, objectives="val_mse"),
            TypeError,
            "a list of names",
        ),
        (lambda t, d: tradeoffs.trials(t, objectives=["accuracy", "val_mse"]), KeyError, "Unknown objective"),
        (
            lambda t, d: tradeoffs.summed_picks(t[t["experiment"] != "summed"]),
            ValueError,
            "no completed trial",
        ),
        (lambda t, d: tradeoffs.summed_pick(t, {}), TypeError, "dict of objectives"),
        (lambda t, d: tradeoffs.summed_pick(t, {"val_mse": float("nan")}), ValueError, "weight of val_mse"),
        (lambda t, d: tradeoffs.summed_pick("summed"), TypeError, "summed search's trials"),
        (lambda t, d: tradeoffs.probe_by_code_size(t.drop(columns=pareto.FEW)), KeyError, "lacks val_few"),
        (lambda t, d: tradeoffs.retrain(d, QUICK, pd.Series(dtype=float)), ValueError, "lacks latent_dim"),
        (
            lambda t, d: tradeoffs.retrain(d, QUICK, t[t["experiment"] == "vae_elbo"].iloc[0]),
            ValueError,
            "vae_elbo",
        ),
        (lambda t, d: tradeoffs.retrain(QUICK, d, t.iloc[0]), TypeError, "retrain\\(ds, cfg, row\\)"),
        (lambda t, d: tradeoffs.retrain(d, QUICK, t.iloc[:3]), TypeError, "one trial"),
        (lambda t, d: results.split_seed(pareto.STUDY, "quick"), TypeError, "config.preset"),
        (lambda t, d: fronts.pareto_mask(t, ["val_mse"]), ValueError, "two objectives or more"),
        (lambda t, d: fronts.pareto_mask(t, ["val_mse", "accuracy"]), KeyError, "Unknown objective"),
        (lambda t, d: fronts.Scale(1.0, 1.0), ValueError, "must differ"),
        (lambda t, d: fronts.Scale(0.0, 10.0, log=True), ValueError, "positive"),
        (
            lambda t, d: fronts.hypervolume(t, {"val_mse": fronts.Scale(1, 0), "params": fronts.Scale(1, 9)}),
            ValueError,
            "swap them",
        ),
        (lambda t, d: pareto.scales(d, ["val_kl"]), KeyError, "No scale for val_kl"),
        (lambda t, d: pareto.run_entry(d, QUICK, "grid", {}), KeyError, "the searches are"),
        (lambda t, d: make_objective([]), ValueError, "at least one"),
        (lambda t, d: make_objective(["val_mse", "val_mse"]), ValueError, "named twice"),
    ],
)
def test_bad_input_is_refused_in_words(table, ds, call, error, words):
    with pytest.raises(error, match=words):
        call(table, ds)


@pytest.mark.parametrize("argv, words", [(["--preset", "fast"], "preset"), (["--seeds", "0"], "--seeds")])
def test_the_command_refuses_bad_options_in_one_line(argv, words, capsys):
    assert pareto.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and words in err
