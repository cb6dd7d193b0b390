"""The book's claims: recording headlines, the committed claims table, and the CI check.

The slow test runs the fastest notebooks with `workshop` and checks every claim their
prose makes, and every headline number, against results/claims_workshop_digits.csv.
"""

import json

import numpy as np
import pandas as pd
import pytest

import lab
from lab import book, claims, config

TABLE = config.ROOT / "results" / "claims_workshop_digits.csv"


def _table() -> pd.DataFrame:
    return pd.read_csv(TABLE, dtype={"notebook": str})


def _record(tmp_path, seed=0, **numbers):
    cfg = config.preset("workshop", seed=seed, figures_dir=tmp_path)
    claims.record(
        "01",
        cfg,
        numbers={"mse": 0.01, **numbers},
        claims={"ae_beats_pca": ("The autoencoder beats PCA.", np.float64(0.01) < 0.02)},
    )
    return claims.read(claims.headlines_path("01", tmp_path))


def test_record_writes_the_headlines_beside_the_figures(tmp_path):
    cfg = config.preset("workshop", seed=3, figures_dir=tmp_path)
    shown = claims.record(
        "04",
        cfg,
        numbers={"kl": np.float32(2.5), "gone": float("nan")},
        claims={"kl_falls": ("The KL term falls.", False)},
    )
    saved = json.loads((tmp_path / "04_headlines.json").read_text())
    assert saved["seed"] == 3 and saved["numbers"] == {"kl": 2.5, "gone": None}
    assert saved["claims"]["kl_falls"] == {"text": "The KL term falls.", "held": False}
    assert shown.loc[("claim", "kl_falls"), "value"] == "DOES NOT HOLD"


def test_after_setup_a_long_claim_is_shown_whole(tmp_path):
    cfg = config.preset("workshop", figures_dir=tmp_path)
    sentence = "Multi-objective TPE ends with a larger hypervolume than random sampling on every seed."
    lab.setup(cfg)
    shown = claims.record("10", cfg, numbers={}, claims={"tpe_wins": (sentence, True)})
    assert sentence in repr(shown) and sentence in shown._repr_html_()  # what a notebook displays


@pytest.mark.parametrize(
    "numbers, found, match",
    [
        ({"Bad Name": 1.0}, {}, "snake_case"),
        ({"x": "high"}, {}, "real number"),
        ({}, {"c": "The code is sparse."}, "pair"),
        ({}, {"c": ("The code is sparse.", "yes")}, "True or False"),
        ({}, {"c": ("The code is sparse.", 0.5)}, "True or False"),
    ],
)
def test_record_refuses_malformed_headlines(tmp_path, numbers, found, match):
    cfg = config.preset("workshop", figures_dir=tmp_path)
    with pytest.raises(ValueError, match=match):
        claims.record("01", cfg, numbers=numbers, claims=found)
    with pytest.raises(ValueError, match="two-digit"):
        claims.record("1", cfg, numbers={}, claims={})


def test_summarize_counts_seeds_and_check_flags_every_disagreement(tmp_path):
    runs = [_record(tmp_path / str(s), seed=s, mse=0.010 + 0.001 * s) for s in range(3)]
    table = claims.summarize(runs, ci_notebooks=("01",))
    row = table.set_index("name").loc["mse"]
    assert row["n"] == 3 and row["min"] == pytest.approx(0.010) and row["max"] == pytest.approx(0.012)
    assert table.set_index("name").loc["ae_beats_pca", "held"] == 3
    assert set(table["checked_in"]) == {"CI"}

    assert claims.check(_record(tmp_path / "new", mse=0.011), table) == []
    far = claims.check(_record(tmp_path / "far", mse=0.05), table)
    assert len(far) == 1 and "outside" in far[0]
    stale = claims.check(_record(tmp_path / "extra", extra=1.0), table)
    assert any("not in the claims table" in p for p in stale)

    broken = _record(tmp_path / "broken")
    broken["claims"]["ae_beats_pca"]["held"] = False
    assert any("did not hold on seed 0" in p for p in claims.check(broken, table))
    # A claim the table saw fail on one seed must not be in the prose at all.
    shaky = table.copy()
    shaky.loc[shaky["name"] == "ae_beats_pca", "held"] = 2
    assert any("held on only 2 of 3" in p for p in claims.check(_record(tmp_path / "s"), shaky))


def test_the_committed_table_covers_every_recording_notebook_and_every_claim_held():
    table = _table()
    recording = {p.name[:2] for p in book.notebooks() if "claims.record(" in p.read_text()}
    assert recording >= set(claims.CI_NOTEBOOKS), "the CI notebooks must record headlines"
    assert set(table["notebook"]) == recording, "rerun benchmarks/claims.py: notebooks changed"
    found = table[table["kind"] == "claim"]
    assert len(found) >= 2 * len(recording), "each notebook should check the claims of its prose"
    assert (found["n"] >= 3).all(), "every claim is measured on at least 3 seeds"
    failing = found[found["held"] < found["n"]]
    assert failing.empty, failing[["notebook", "name", "held", "n", "text"]].to_string()
    assert set(table.loc[table["notebook"].isin(claims.CI_NOTEBOOKS), "checked_in"]) == {"CI"}


@pytest.mark.notebook
@pytest.mark.parametrize("number", claims.CI_NOTEBOOKS)
def test_the_prose_of_the_fastest_notebooks_holds_with_the_workshop_preset(number, tmp_path):
    (path,) = [p for p in book.notebooks() if p.name.startswith(number + "_")]
    figures = tmp_path / "figures"
    book.run_notebook(
        path,
        preset="workshop",
        output_dir=tmp_path,
        figures_dir=figures,
        runs_dir=tmp_path / "runs",
        parameters={"SEED": 0},
    )
    problems = claims.check(claims.read(claims.headlines_path(number, figures)), _table())
    assert not problems, "\n".join(problems)
