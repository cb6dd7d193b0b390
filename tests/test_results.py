import dataclasses
import json

import pandas as pd
import pytest

from lab import config, results, studies


def _tiny_study(calls: list, fail_after: int | None = None) -> results.Study:
    def plan(cfg):
        return [("latent_dim", {"latent_dim": k}) for k in (2, 4)]

    def run(dataset, cfg, experiment, settings):
        if fail_after is not None and len(calls) >= fail_after:
            raise KeyboardInterrupt("stopped")
        calls.append((experiment, settings["latent_dim"], cfg.seed))
        return studies.run_sweep_entry(dataset, cfg, experiment, settings)

    return results.Study(
        name="tiny", title="two latent sizes", plan=plan, run=run, budgets=("sweep_epochs", "batch_size")
    )


@pytest.fixture
def cfg(tmp_path):
    return dataclasses.replace(config.preset("quick", sweep_epochs=2), runs_dir=tmp_path / "runs")


def test_compute_writes_every_run_and_a_record_that_check_accepts(cfg, tmp_path):
    calls = []
    study = _tiny_study(calls)
    table = results.compute(study, cfg, out_dir=tmp_path, log=None)
    assert len(table) == 2 * cfg.n_seeds == len(calls)
    assert list(zip(table["latent_dim"], table["seed"], strict=True)) == [(2, 0), (2, 1), (4, 0), (4, 1)]
    assert {"experiment", "setting", "seed", "val_mse", "status"} <= set(table.columns)
    record = results.check(study, cfg, tmp_path)
    assert record["seeds"] == [0, 1] and record["budgets"] == {
        "sweep_epochs": 2,
        "batch_size": cfg.batch_size,
    }
    assert not list(tmp_path.glob("*.partial.*"))
    saved = pd.read_csv(tmp_path / "tiny_quick_digits.csv")
    pd.testing.assert_frame_equal(saved, table)


def test_an_interrupted_study_resumes_without_rerunning_finished_runs(cfg, tmp_path):
    calls = []
    with pytest.raises(KeyboardInterrupt):
        results.compute(_tiny_study(calls, fail_after=3), cfg, out_dir=tmp_path, log=None)
    assert len(calls) == 3 and (tmp_path / "tiny_quick_digits.partial.jsonl").exists()
    more = []
    table = results.compute(_tiny_study(more), cfg, out_dir=tmp_path, log=None)
    assert len(more) == 1 and len(table) == 4


def test_a_per_split_table_is_kept_per_split_and_never_read_for_another(cfg, tmp_path):
    calls = []
    study = dataclasses.replace(_tiny_study(calls), per_split=True)
    results.compute(study, cfg, out_dir=tmp_path, log=None)
    assert (tmp_path / "tiny_quick_digits_seed0.csv").exists()
    assert results.check(study, cfg, tmp_path)["split_seed"] == 0
    with pytest.raises(FileNotFoundError, match="tiny_quick_digits_seed1.csv"):
        results.check(study, dataclasses.replace(cfg, seed=1), tmp_path)
    # A file renamed by hand to another split is refused, not read as that split's runs.
    for suffix in (".csv", ".json"):
        (tmp_path / f"tiny_quick_digits_seed0{suffix}").rename(tmp_path / f"tiny_quick_digits_seed1{suffix}")
    with pytest.raises(ValueError, match="holds runs on the split of seed 0, not of seed 1"):
        results.check(study, dataclasses.replace(cfg, seed=1), tmp_path)


def test_notebook_07s_reference_is_notebook_04s_on_the_same_split():
    cfg = config.preset("workshop")
    stored = results.experiment(results.load("07_vae_reference", cfg, log=None), "reference")
    beta = results.experiment(results.load("04_beta", cfg, log=None), "reference")
    same = [c for c in beta.columns if c != "wall_seconds"]  # the same runs, timed on another occasion
    pd.testing.assert_frame_equal(stored[same].reset_index(drop=True), beta[same], check_dtype=False)
    for seed in (1, 2):  # the book's other claims seeds have their own split's table
        record = results.check("07_vae_reference", config.preset("workshop", seed=seed))
        assert record["split_seed"] == seed and record["seeds"] == [seed, seed + 1, seed + 2]


def _interrupted(cfg, tmp_path, after=3):
    with pytest.raises(KeyboardInterrupt):
        results.compute(_tiny_study([], fail_after=after), cfg, out_dir=tmp_path, log=None)
    return tmp_path / "tiny_quick_digits.partial.jsonl"


@pytest.mark.parametrize(
    "change, words",
    [
        (dict(seed=1), "split_seed differ"),
        (dict(sweep_epochs=3), "budgets differ"),
        (dict(max_train=100), "max_train"),
    ],
)
def test_a_resume_with_other_settings_refuses_to_mix_the_runs(cfg, tmp_path, change, words):
    partial = _interrupted(cfg, tmp_path)
    before = partial.read_text()
    calls = []
    with pytest.raises(ValueError) as info:
        results.compute(_tiny_study(calls), dataclasses.replace(cfg, **change), out_dir=tmp_path, log=None)
    message = str(info.value)
    assert words in message and "Finish that one with: python -m lab.results tiny" in message
    assert calls == [] and partial.read_text() == before


def test_a_cut_off_last_line_is_redone_and_a_damaged_line_is_named(cfg, tmp_path):
    partial = _interrupted(cfg, tmp_path)
    lines = partial.read_text().splitlines()
    partial.write_text("\n".join([*lines[:-1], lines[-1][:20]]) + "\n")  # a kill during the append
    calls, log = [], []
    table = results.compute(_tiny_study(calls), cfg, out_dir=tmp_path, log=log.append)
    assert len(calls) == 2 and len(table) == 4 and any("was cut off" in line for line in log)

    partial = _interrupted(cfg, tmp_path / "again")
    lines = partial.read_text().splitlines()
    partial.write_text("\n".join([lines[0], "{not json", *lines[1:]]) + "\n")
    with pytest.raises(ValueError, match="Line 2 of .* is damaged .* Delete that line"):
        results.compute(_tiny_study([]), cfg, out_dir=tmp_path / "again", log=None)


@pytest.mark.parametrize(
    "damage, words",
    [
        (lambda json_path, csv: json_path.write_text('{"seeds": [0,'), "is damaged"),
        (lambda json_path, csv: json_path.write_text("[]"), "holds a list"),
        (lambda json_path, csv: json_path.write_text('{"seeds": [0, 1]}'), "lacks budgets, plan"),
        (lambda json_path, csv: csv.write_text(""), "is damaged"),
        (lambda json_path, csv: csv.write_text(csv.read_text().splitlines()[0] + "\n"), "holds no runs"),
    ],
    ids=["record-truncated", "record-a-list", "record-keys", "table-empty", "table-header-only"],
)
def test_a_damaged_stored_table_says_how_to_regenerate_it(cfg, tmp_path, monkeypatch, damage, words):
    study = _tiny_study([])
    monkeypatch.setitem(results.STUDIES, "tiny", study)
    results.compute(study, cfg, out_dir=tmp_path, log=None)
    damage(tmp_path / "tiny_quick_digits.json", tmp_path / "tiny_quick_digits.csv")
    with pytest.raises(ValueError) as info:
        results.load("tiny", cfg, folder=tmp_path, log=None)
    assert words in str(info.value)


def test_a_stale_table_says_how_to_regenerate_it(cfg, tmp_path):
    study = _tiny_study([])
    results.compute(study, cfg, out_dir=tmp_path, log=None)
    with pytest.raises(ValueError, match="Regenerate it with: python -m lab.results tiny"):
        results.check(study, dataclasses.replace(cfg, sweep_epochs=5), tmp_path)
    with pytest.raises(FileNotFoundError):
        results.check(study, dataclasses.replace(cfg, dataset="mnist"), tmp_path)


def test_load_computes_and_keeps_a_missing_table_under_runs(cfg, tmp_path, monkeypatch):
    calls = []
    monkeypatch.setitem(results.STUDIES, "tiny", _tiny_study(calls))
    lines = []
    first = results.load("tiny", cfg, folder=tmp_path / "none", log=lines.append)
    assert len(calls) == 4 and "computing now" in lines[0]
    assert (cfg.runs_dir / "results" / "tiny_quick_digits.csv").exists()
    again = results.load("tiny", cfg, folder=tmp_path / "none", log=lines.append)
    assert len(calls) == 4 and "read from" in lines[1]
    pd.testing.assert_frame_equal(first, again)


@pytest.mark.parametrize("bad", ["false", "True", 1, None])
def test_recompute_that_is_not_exactly_a_bool_is_refused_before_any_run(cfg, tmp_path, monkeypatch, bad):
    calls = []
    monkeypatch.setitem(results.STUDIES, "tiny", _tiny_study(calls))
    with pytest.raises(ValueError, match="recompute must be True or False"):
        results.load("tiny", cfg, folder=tmp_path / "none", recompute=bad, log=None)
    assert calls == [] and not cfg.runs_dir.exists()


def test_the_command_lists_studies_and_refuses_unknown_ones(capsys):
    assert results.main(["--list"]) == 0
    assert "02_sweeps" in capsys.readouterr().out
    assert results.main(["no_such_study"]) == 2
    assert "Studies: " in capsys.readouterr().err
    assert results.main(["02_sweeps", "--preset", "huge"]) == 2
    assert "Did you mean" not in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv, words",
    [
        (["--preset", "Quick"], "Did you mean 'quick'?"),
        (["--seed", "-2"], "error: --seed must be a whole number from 0"),
        (["--seeds", "0"], "--seeds must be a whole number from 1 to 1,000, got 0"),
        (["--seed", str(2**32 - 2), "--seeds", "3", "--preset", "quick"], "past NumPy's largest seed"),
        (["--out", "README.md"], "--out is 'README.md', which is a file"),
        (["--dataset", "cifar"], "dataset (DATASET in a notebook's parameters) must be one of"),
    ],
)
def test_the_command_checks_its_options_before_running(capsys, monkeypatch, argv, words):
    monkeypatch.chdir(config.ROOT)
    ran = []
    monkeypatch.setattr(results, "compute", lambda *a, **k: ran.append(a))
    assert results.main(["02_sweeps", *argv]) == 2
    assert words in capsys.readouterr().err
    assert ran == []


STUDY_RECORDS = sorted(
    p
    for p in results.RESULTS_DIR.glob("*.json")
    if not p.name.startswith("claims_") and not p.name.endswith(".partial.json")  # a run in progress
)


@pytest.mark.parametrize("path", STUDY_RECORDS, ids=lambda p: p.stem)
def test_committed_tables_are_what_the_command_writes_now(path):
    """Same plan, budgets and seeds as the command would use, and one row per planned run."""
    record = json.loads(path.read_text())
    cfg = config.preset(record["preset"], dataset=record["dataset"], seed=record["seeds"][0])
    study = results.get(record["study"])
    results.check(study, cfg)
    table = pd.read_csv(path.with_suffix(".csv"))
    planned = {(e, results._canonical(s), seed) for e, s in study.plan(cfg) for seed in record["seeds"]}
    assert set(zip(table["experiment"], table["setting"], table["seed"], strict=True)) == planned
    if "trial" in table:  # a run that gives one row per trial (the shoot-out's): each trial once
        assert not table.duplicated(["experiment", "setting", "seed", "trial"]).any()
    else:
        assert len(table) == len(planned)
    assert len(record["seeds"]) >= cfg.n_seeds and record["command"].startswith(
        f"python -m lab.results {study.name}"
    )


def test_the_book_registers_its_studies():
    assert {"02_sweeps", "reference_table", "03_comparisons", "04_beta", "05_aae_runs"} <= set(
        results.STUDIES
    ) | {
        results.get("02_sweeps").name,
        results.get("reference_table").name,
    }
    plan = results.get("02_sweeps").plan(config.preset("workshop"))
    assert ("latent_dim", {"latent_dim": 32}) in plan and len({e for e, _ in plan}) == 11
    quick = results.get("02_sweeps").plan(config.preset("quick"))
    assert len([1 for e, _ in quick if e == "learning_rate"]) == 4


def test_reference_summary_gives_mean_and_spread_per_size_and_the_pixel_ceiling():
    rows = []
    for seed in (0, 1):
        for size in (2, 8):
            rows.append(
                dict(
                    experiment="autoencoder",
                    latent_dim=size,
                    seed=seed,
                    test_mse=0.02 / size + seed * 0.001,
                    probe_accuracy=0.8 + size / 100,
                )
            )
            rows.append(
                dict(
                    experiment="PCA",
                    latent_dim=size,
                    seed=seed,
                    test_mse=0.04 / size,
                    probe_accuracy=0.7 + size / 100,
                )
            )
        rows.append(dict(experiment="pixels", latent_dim=None, seed=seed, test_mse=None, probe_accuracy=0.95))
    summary = studies.reference_summary(pd.DataFrame(rows))
    assert list(summary.index) == [2, 8, "raw pixels (64)"]
    assert summary.loc[2, "autoencoder test MSE"] == "0.0105 ± 0.0007"
    assert summary.loc[2, "PCA test MSE"] == "0.0200 ± 0.0000"
    assert summary.loc["raw pixels (64)", "PCA probe accuracy"] == "0.950 ± 0.000"


def test_the_command_expands_a_tilde_and_reports_a_missing_dataset_in_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "empty"))
    monkeypatch.chdir(tmp_path)
    seen = []
    monkeypatch.setattr(
        results, "compute", lambda study, cfg, **k: seen.append(k["out_dir"]) or pd.DataFrame()
    )
    assert results.main(["02_sweeps", "--preset", "quick", "--out=~/res"]) == 0
    assert seen == [tmp_path / "home" / "res"] and not (tmp_path / "~").exists()
    assert results.main(["02_sweeps", "--preset", "quick", "--dataset", "mnist"]) == 2
    err = capsys.readouterr().err
    assert "The mnist dataset is not available" in err and "Traceback" not in err and len(seen) == 1


def test_list_takes_no_study(capsys):
    assert results.main(["--list", "02_sweeps"]) == 2
    assert "--list takes no study" in capsys.readouterr().err
