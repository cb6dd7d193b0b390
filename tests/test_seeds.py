import dataclasses

import numpy as np
import pandas as pd
import pytest

from lab import config, data, plots, seeds, sweeps


def _frame(values: dict[str, list[float]], status: dict[str, list[str]] | None = None) -> pd.DataFrame:
    rows = []
    for name, vals in values.items():
        for seed, v in enumerate(vals):
            st = (status or {}).get(name, ["ok"] * len(vals))[seed]
            rows.append(dict(act=name, seed=seed, val_mse=v, status=st))
    return pd.DataFrame(rows)


def test_seeds_for_counts_up_from_the_config_seed():
    cfg = config.preset("workshop", seed=7)
    assert seeds.seeds_for(cfg) == (7, 8, 9) == tuple(range(7, 7 + cfg.n_seeds))
    assert seeds.seeds_for(cfg, 1) == (7,)
    with pytest.raises(ValueError, match="at least one seed"):
        seeds.seeds_for(cfg, 0)


def test_spread_summarizes_only_finished_runs():
    frame = _frame({"a": [1.0, 2.0, 3.0], "b": [5.0, np.nan, 7.0]}, {"b": ["ok", "diverged", "ok"]})
    table = seeds.spread(frame, "act")
    assert list(table.index) == ["a", "b"]
    assert table.loc["a", "mean"] == pytest.approx(2.0) and table.loc["a", "std"] == pytest.approx(1.0)
    assert (table.loc["a", "min"], table.loc["a", "max"]) == (1.0, 3.0)
    assert table.loc["b", "n_ok"] == 2 and table.loc["b", "n"] == 3
    assert table.loc["b", "failed"] == "diverged 1"
    with pytest.raises(KeyError, match="no column"):
        seeds.spread(frame, "optimizer")


def test_a_winner_is_named_only_when_the_ranges_do_not_overlap():
    clear = seeds.verdict(_frame({"a": [1.0, 1.1, 1.2], "b": [2.0, 2.1, 2.2]}), "act")
    assert "act=a" in clear and "better than the other setting on every seed" in clear
    three = seeds.verdict(_frame({"a": [1.0, 1.1], "b": [2.0, 2.1], "c": [3.0, 3.1]}), "act")
    assert "better than every other setting on every seed" in three
    assert "within noise" not in clear
    close = seeds.verdict(_frame({"a": [1.0, 1.5, 2.0], "b": [1.4, 2.5, 2.6]}), "act")
    assert "within noise of it: act=b" in close and "every seed" not in close


def test_higher_is_better_flips_the_ranking():
    text = seeds.verdict(
        _frame({"a": [0.5, 0.55, 0.6], "b": [0.9, 0.92, 0.95]}), "act", lower_is_better=False
    )
    assert text.startswith("highest mean val_mse with act=b")


def test_failed_settings_are_named_and_left_out_of_the_ranking():
    frame = _frame({"a": [1.0, 1.1, 1.2], "b": [0.1, np.nan, 0.2]}, {"b": ["ok", "diverged", "ok"]})
    text = seeds.verdict(frame, "act")
    assert "with act=a" in text and "act=b: diverged 1 of 3 seeds" in text


def test_one_seed_is_never_a_verdict():
    text = seeds.verdict(_frame({"a": [1.0], "b": [2.0]}), "act")
    assert "one seed" in text and "every seed" not in text
    single = sweeps.summarize(_frame({"a": [1.0], "b": [2.0]}), "act")
    assert "one seed" in single and "may be noise" in single


def test_summarize_uses_the_seeds_when_there_are_several():
    frame = _frame({"a": [1.0, 1.5, 2.0], "b": [1.4, 2.5, 2.6]})
    assert sweeps.summarize(frame, "act") == seeds.verdict(frame, "act")


def test_a_sweep_over_seeds_trains_each_setting_on_each_seed():
    cfg = dataclasses.replace(config.preset("quick", sweep_epochs=2), max_sweep_values=None)
    ds = data.load_for(cfg)
    result = sweeps.sweep(ds, cfg, "latent_dim", [2, 4], seeds=2)
    assert list(zip(result.frame["latent_dim"], result.frame["seed"], strict=True)) == [
        (2, 0),
        (2, 1),
        (4, 0),
        (4, 1),
    ]
    # Different seeds give different weights, so different errors.
    first = result.frame[result.frame["latent_dim"] == 2]["val_mse"].to_numpy()
    assert first[0] != first[1]
    assert len(result.histories("latent_dim")) == 2
    fig = plots.plot_sweep(result.frame, "latent_dim", ["val_mse"])
    ax = fig.axes[0]
    assert "2 seeds" in ax.get_title() and ax.collections, "the spread is drawn as a band"


def test_runs_far_behind_the_best_of_their_seed_and_code_size_are_marked_poor():
    frame = pd.DataFrame(
        dict(
            seed=[0, 0, 0, 1, 1],
            val_mse=[0.01, 0.05, 0.03, 0.01, 0.015],
            status=["ok", "ok", "stalled", "ok", "ok"],
        )
    )
    assert list(sweeps.mark_poor(frame, [8, 8, 8, 8, 8])) == ["ok", "poor", "stalled", "ok", "ok"]
    # A smaller code is a trade-off, not a failure: different code sizes are not compared.
    assert list(sweeps.mark_poor(frame, [32, 2, 8, 8, 8])) == ["ok", "ok", "stalled", "ok", "ok"]
    assert sweeps.STATUSES.keys() == {"ok", "poor", "stalled", "diverged"}


def test_status_counts_and_mean_span_summarize_over_seeds():
    frame = pd.DataFrame(
        {
            "lr": [0.1, 0.1, 0.1, 1.0, 1.0, 1.0],
            "opt": ["adam"] * 6,
            "seed": [0, 1, 2] * 2,
            "status": ["ok", "ok", "ok", "poor", "poor", "diverged"],
            "val_mse": [0.01, 0.012, 0.011, 0.05, 0.06, float("nan")],
        }
    )
    table = seeds.status_counts(frame, "lr", "opt")
    assert table.loc[0.1, "adam"] == "ok 3" and table.loc[1.0, "adam"] == "poor 2, diverged 1"
    assert seeds.status_counts(frame, "lr").loc[1.0, "status"] == "poor 2, diverged 1"
    assert seeds.mean_span(frame, "lr") == pytest.approx(0.055 - 0.011)
