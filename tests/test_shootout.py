"""The shoot-out of notebook 09: the runner, its committed table, and what the notebook reads from it."""

import json
import math

import numpy as np
import optuna
import pandas as pd
import pytest

from lab import config, data, results, shootout, tuning

QUICK = config.preset("quick")
COMMITTED = results.RESULTS_DIR / f"{shootout.STUDY}_quick_digits.csv"


@pytest.fixture(scope="module")
def table():
    return pd.read_csv(COMMITTED)


@pytest.fixture(scope="module")
def ds():
    return data.load_for(QUICK)


def test_the_committed_quick_table_is_exactly_what_the_runner_writes(tmp_path):
    """Same columns, plan, budgets and seeds as the command writes; the first seed is run again here
    (every seed runs the same code, and the whole table would double the test's time)."""
    cfg = config.preset("quick", runs_dir=tmp_path / "runs")
    record = results.check(shootout.STUDY, cfg)
    assert record["seeds"] == list(range(QUICK.shootout_seeds))
    fresh = results.compute(shootout.STUDY, cfg, n_seeds=1, out_dir=tmp_path, log=None)
    committed = pd.read_csv(COMMITTED)
    assert list(fresh.columns) == list(committed.columns)
    assert list(committed["seed"].unique()) == record["seeds"]
    first = committed[committed["seed"] == cfg.seed].reset_index(drop=True)
    timing = ["seconds", "wall_seconds"]
    left, right = fresh.drop(columns=timing), first.drop(columns=timing)
    measures = ["val_mse", "test_mse", "learning_rate"]
    pd.testing.assert_frame_equal(left.drop(columns=measures), right.drop(columns=measures))
    # float32 training: another release of NumPy, TensorFlow or Keras moves the fifth digit (measured:
    # 2.8e-5 relative on one trial of the committed table), never the plan, the trials or their order.
    np.testing.assert_allclose(left[measures].to_numpy(float), right[measures].to_numpy(float), rtol=1e-4)
    stored = json.loads((tmp_path / f"{shootout.STUDY}_quick_digits.json").read_text())
    assert stored["plan"] == record["plan"] and stored["budgets"] == record["budgets"]


def test_every_search_spends_the_same_budget_in_epochs(table):
    plan = shootout.budget(QUICK)
    assert (
        plan["epochs"]
        == tuning.hyperband_plan(QUICK.race_epochs, QUICK.hyperband_factor)["planned_epochs"].sum()
    )
    spent = shootout.spent(table).groupby(["experiment", "seed"])["epochs"].sum()
    for (name, _seed), epochs in spent.items():
        if name in ("hyperband", "tpe"):
            assert epochs == plan["epochs"], name  # Hyperband's plan; Optuna's last trial cut to fit
        else:
            assert epochs == plan["trials"] * plan["max_epochs"] <= plan["epochs"], name
    assert set(table["experiment"]) == {*shootout.CONTENDERS, shootout.UNTUNED}


def test_the_order_of_the_rows_does_not_change_the_curves(table):
    shuffled = table.sample(frac=1.0, random_state=0)
    pd.testing.assert_frame_equal(shootout.best_so_far(shuffled, 11), shootout.best_so_far(table, 11))


def test_best_so_far_never_rises_and_the_ranks_add_up(table):
    plan = shootout.budget(QUICK)
    curves = shootout.best_so_far(table, plan["epochs"])
    for _, curve in curves.groupby(["experiment", "seed"]):
        values = curve["best"].dropna().to_numpy()
        assert len(values) and (np.diff(values) <= 0).all()
    ranks = shootout.mean_ranks(curves, plan["epochs"])
    assert list(ranks.columns) == ["25%", "50%", "100%"]
    # Four searches ranked 1 to 4 on every seed: the mean ranks add up to 10.
    np.testing.assert_allclose(ranks.sum(), 10)
    bands = shootout.median_curves(curves)
    ok = bands.dropna()
    assert (ok["q25"] <= ok["median"]).all() and (ok["median"] <= ok["q75"]).all()


def test_cost_spread_and_importance_summary_read_the_table(table, ds):
    cost = shootout.cost(table)
    counts = shootout.spent(table).groupby(["experiment", "seed"]).size().groupby("experiment").median()
    assert list(cost.index) == list(shootout.CONTENDERS)
    assert (cost["trials"] == counts[cost.index]).all() and (
        cost.loc["tpe", "pruned"] <= cost.loc["tpe", "trials"]
    )
    spread = shootout.final_spread(shootout.best_so_far(table, 11), 11)
    assert (spread["best seed"] <= spread["median"]).all() and (
        spread["median"] <= spread["worst seed"]
    ).all()
    summary = shootout.importance_summary(
        shootout.importance(table, ds, QUICK), shootout.importance(table, ds, QUICK, evaluator="fanova")
    )
    medians = summary["PED-ANOVA median"].to_numpy()
    assert (np.diff(medians) <= 0).all() and np.isnan(summary.loc["units_2", "fANOVA median"])
    assert summary.attrs["trials_per_seed"] >= 4


def test_win_rates_of_two_searches_add_up_to_one(table):
    curves = shootout.best_so_far(table, shootout.budget(QUICK)["epochs"])
    rates = shootout.win_rates(curves, shootout.budget(QUICK)["epochs"])
    assert list(rates.index) == list(shootout.CONTENDERS)
    for a in rates.index:
        for b in rates.columns:
            if a != b:
                assert rates.loc[a, b] + rates.loc[b, a] == pytest.approx(1.0)
                # Two seeds each: four pairs of runs, ties counting half.
                assert rates.loc[a, b] * 8 == int(rates.loc[a, b] * 8)


def test_each_winner_is_the_lowest_validation_error_within_the_budget(table):
    plan = shootout.budget(QUICK)
    found = shootout.winners(table, plan["epochs"])
    assert set(found["experiment"]) == {*shootout.CONTENDERS, shootout.UNTUNED}
    spent = shootout.spent(table)
    for _, row in found[found["experiment"] != shootout.UNTUNED].iterrows():
        trials = spent[(spent["experiment"] == row["experiment"]) & (spent["seed"] == row["seed"])]
        within = trials[(trials["status"] == "COMPLETED") & (trials["end"] <= plan["epochs"])]
        assert row["val_mse"] == within["val_mse"].min()
        assert math.isfinite(row["test_mse"])


def test_the_timeline_shows_where_a_search_spent_its_epochs(table):
    line = shootout.timeline(table, "hyperband", 0)
    assert (line["start"].diff().dropna() >= 0).all()
    assert (line["end"] - line["start"] == line["epochs"]).all()
    assert line["bracket"].notna().all() and (line["epochs"] < line["budget"]).any()
    with pytest.raises(KeyError, match="No 'hyperband' search on seed 99"):
        shootout.timeline(table, "hyperband", 99)


def test_optuna_samples_the_same_space_as_keras_tuner(ds):
    model_maker = shootout.hypermodel(ds, QUICK, 0)
    space = {name: condition for name, _, condition in shootout.optuna_space(model_maker)}
    assert set(space) == {item.name for item in model_maker.declare().space}
    assert space["units_2"] == ("num_layers", (2, 3)) and space["learning_rate"] is None
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(30):
        trial = study.ask()
        values = shootout.suggest(trial, model_maker)
        hp = model_maker.hyperparameters(**values)  # refuses a value outside the space
        layers = values["num_layers"]
        assert all((f"units_{k}" in values) == (k <= layers) for k in (1, 2, 3))
        assert 1e-4 <= hp.values["learning_rate"] <= 3e-2
        study.tell(trial, 0.0)


def test_an_interrupted_optuna_search_resumes_without_counting_the_lost_trial(ds, tmp_path):
    cfg = config.preset("quick", runs_dir=tmp_path, seed=5)
    plan = shootout.budget(cfg)
    path = shootout._folder(cfg) / f"tpe_seed{cfg.seed}.journal"
    study = shootout._optuna_study(cfg, plan, path)
    cut_off = study.ask()  # a trial whose process died while it trained
    cut_off.set_user_attr("epochs", 2)
    rows = shootout.run_entry(ds, cfg, "tpe", {})
    assert sum(r["epochs"] for r in rows) == plan["epochs"]
    assert cut_off.number not in [r["trial"] for r in rows]
    again = shootout.run_entry(ds, cfg, "tpe", {})  # a finished search is read back, not rerun
    assert again == rows
    with pytest.raises(ValueError, match="pruner='halving', not 'none'"):
        shootout.run_tpe(ds, cfg, pruner="none")  # the same file, another search: refused
    longer = config.preset("quick", runs_dir=tmp_path, seed=5, race_epochs=6)
    with pytest.raises(ValueError, match="made with another budget"):
        shootout.run_tpe(ds, longer)


def test_importance_rates_the_conditional_widths_and_sums_to_one(table, ds):
    found = shootout.importance(table, ds, QUICK)
    assert set(found["seed"]) == set(table["seed"])
    sums = found.groupby("seed")["importance"].sum()
    np.testing.assert_allclose(sums, 1.0, atol=1e-6)
    assert (found["importance"] >= 0).all()
    assert {"learning_rate", "num_layers"} <= set(found["hyperparameter"])
    fanova = shootout.importance(table, ds, QUICK, evaluator="fanova")
    # fANOVA rates only what every trial has: the per-layer widths beyond the first are left out.
    assert not {"units_2", "units_3"} & set(fanova["hyperparameter"])


@pytest.mark.parametrize(
    "call, error, words",
    [
        (lambda t, d: shootout.importance(t, d, QUICK, evaluator="shap"), ValueError, "ped_anova, fanova"),
        (lambda t, d: shootout.importance(t[["seed"]], d, QUICK), KeyError, "pass the whole shoot-out table"),
        (lambda t, d: shootout.best_so_far(t.to_dict(), 10), TypeError, "results.load"),
        (lambda t, d: shootout.run_entry(d, QUICK, "grid", {}), KeyError, "random, bayesian, hyperband, tpe"),
        (lambda t, d: shootout.run_tpe(d, QUICK, pruner="hyperband"), ValueError, "halving, none"),
        (lambda t, d: shootout.run_tpe(QUICK, d), TypeError, "cfg must be the settings"),
        (lambda t, d: shootout.mean_ranks(t, 11), TypeError, "takes the curves from shootout.best_so_far"),
        (lambda t, d: shootout.best_so_far(t, shootout.budget(QUICK)), TypeError, "not the dict"),
        (lambda t, d: shootout.best_so_far(t, 0), ValueError, "budget_epochs"),
        (lambda t, d: shootout.mean_ranks(shootout.best_so_far(t, 11), 3), ValueError, "last epoch"),
        (
            lambda t, d: shootout.mean_ranks(shootout.best_so_far(t, 11), 11, [25, 50]),
            ValueError,
            "percentages",
        ),
        (
            lambda t, d: shootout.mean_ranks(shootout.best_so_far(t, 11), 11, [0.5, 0.5]),
            ValueError,
            "distinct",
        ),
        (lambda t, d: shootout.best_so_far(t[t["seed"] == 7], 11), ValueError, "holds no search trials"),
        (lambda t, d: shootout.best_so_far(pd.concat([t, t]), 11), ValueError, "appears twice"),
        (
            lambda t, d: shootout.best_so_far(t.assign(status=t["status"].str.lower()), 11),
            ValueError,
            "statuses",
        ),
        (lambda t, d: shootout.timeline(t, "untuned", 0), KeyError, "one baseline run"),
        (lambda t, d: shootout.timeline(t, "tpe", 5), KeyError, "its seeds are 0, 1"),
        (lambda t, d: shootout.importance(t, d, config.preset("workshop")), ValueError, "too few to rate"),
        (lambda t, d: shootout.optuna_space(d), TypeError, "lab's HyperModels"),
        (lambda t, d: shootout.run_tpe(d, QUICK, name="../x"), ValueError, "a plain name"),
    ],
)
def test_bad_input_is_refused_in_words(table, ds, call, error, words):
    with pytest.raises(error, match=words):
        call(table, ds)


@pytest.mark.parametrize(
    "argv, words",
    [
        (["--preset", "fast"], "preset"),
        (["--seeds", "0"], "--seeds"),
        (["--dataset", "cifar"], "dataset"),
    ],
)
def test_the_command_refuses_bad_options_in_one_line(argv, words, capsys):
    assert shootout.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and words in err
