"""The book's claims: each notebook's headline numbers, and the sentences of its prose they back.

A notebook's prose may state an outcome of its runs ("the autoencoder beats PCA at every
size up to 16") only if the sentence holds whatever the seed. So each notebook ends with
`record(...)`: the numbers a reader should remember, and each qualitative claim of its
prose as a sentence with the boolean the run just computed. `record` writes
`NN_headlines.json` beside the notebook's figures and returns a table the reader sees.

`benchmarks/claims.py` runs the book over several seeds and writes
`results/claims_<preset>_<dataset>.csv`: the mean and spread of every number and on how
many seeds every claim held (the workshop's instructor notes quote it). `tests/test_claims.py`
runs the fastest notebooks in CI and checks their claims and numbers against that table;
the other notebooks' claims are checked by the benchmark, and the table says which is which.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lab.config import RunConfig

_ID = re.compile(r"^[a-z][a-z0-9_]*$")
# A run's number passes when it lies within the seeds' range widened by this many
# standard deviations, or by this share of the mean, whichever is wider.
TOLERANCE_STDS = 3.0
TOLERANCE_SHARE = 0.05
# Notebooks fast enough (under a minute with `workshop`) to be checked in CI, whose 20
# minutes also run every notebook and every solutions notebook with `quick`.
CI_NOTEBOOKS = ("02",)


def headlines_path(notebook: str, folder: Path | str) -> Path:
    """Where a notebook's headlines are written: `NN_headlines.json` in its figures folder."""
    return Path(folder) / f"{notebook}_headlines.json"


def _check_id(key: str, what: str) -> None:
    if not isinstance(key, str) or not _ID.match(key):
        raise ValueError(
            f"{what} id {key!r} must be a short snake_case name (letters, digits, underscores), "
            "such as 'ae_beats_pca': the claims table is keyed by it."
        )


def record(
    notebook: str,
    cfg: RunConfig,
    numbers: Mapping[str, float],
    claims: Mapping[str, tuple[str, bool]],
) -> pd.DataFrame:
    """Write a notebook's headline numbers and claims, and return them as a table.

    Args:
        notebook: the notebook's number, such as "01".
        cfg: the run's settings (preset, dataset, seed and the figures folder are kept).
        numbers: name -> value, the outcomes a reader should remember (no wall times:
            they measure the machine, not the method).
        claims: name -> (the sentence as the prose states it, whether it held in this run).

    Returns:
        One row per claim and per number: what it says, and its value in this run.

    Raises:
        ValueError: for a badly formed name, a number that is not a real number, or a
            claim that is not a (sentence, bool) pair.
    """
    if not re.fullmatch(r"\d\d", str(notebook)):
        raise ValueError(f"notebook must be a two-digit number such as '01', not {notebook!r}")
    clean_numbers: dict[str, float | None] = {}
    for key, value in numbers.items():
        _check_id(key, "number")
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"headline number {key!r} must be a real number, not {value!r}") from None
        clean_numbers[key] = value if math.isfinite(value) else None
    clean_claims: dict[str, dict[str, Any]] = {}
    for key, pair in claims.items():
        _check_id(key, "claim")
        if not (isinstance(pair, tuple) and len(pair) == 2 and isinstance(pair[0], str)):
            raise ValueError(f"claim {key!r} must be a pair (sentence, held), not {pair!r}")
        text, held = pair
        if not isinstance(held, (bool, np.bool_)):
            raise ValueError(f"claim {key!r}: 'held' must be True or False, not {held!r}")
        clean_claims[key] = dict(text=text, held=bool(held))
    payload = dict(
        notebook=notebook,
        preset=cfg.preset,
        dataset=cfg.dataset,
        seed=cfg.seed,
        numbers=clean_numbers,
        claims=clean_claims,
    )
    path = headlines_path(notebook, cfg.figures_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=1) + "\n")
    return as_table(payload)


def as_table(payload: Mapping[str, Any]) -> pd.DataFrame:
    """A headlines record as the reader sees it: claims first (held or not), then numbers."""
    rows = [
        dict(kind="claim", name=key, says=c["text"], value="holds" if c["held"] else "DOES NOT HOLD")
        for key, c in payload["claims"].items()
    ]
    rows += [
        dict(kind="number", name=key, says="", value="n/a" if v is None else f"{v:.4g}")
        for key, v in payload["numbers"].items()
    ]
    return pd.DataFrame(rows).set_index(["kind", "name"])


def read(path: Path | str) -> dict[str, Any]:
    """One notebook's headlines, as `record` wrote them."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(
            f"{path} does not exist: run the notebook first (make book, or lab.book.run_notebook)."
        )
    return json.loads(path.read_text())


def summarize(records: Iterable[Mapping[str, Any]], ci_notebooks: Iterable[str] = ()) -> pd.DataFrame:
    """The claims table: each number's spread and each claim's count over the records' seeds.

    Args:
        records: headlines of one or more notebooks, each run on one or more seeds.
        ci_notebooks: notebooks whose claims `tests/test_claims.py` also checks in CI.

    Returns:
        One row per (notebook, kind, name) with the claim's sentence, the mean, standard
        deviation, minimum and maximum over seeds (for a claim: of 1 held / 0 not), the
        number of seeds `n`, `held` (seeds on which a claim held), the seeds, and
        `checked_in` ("CI" or "benchmark").
    """
    ci = set(ci_notebooks)
    rows: list[dict[str, Any]] = []
    for rec in records:
        for key, value in rec["numbers"].items():
            rows.append(
                dict(
                    notebook=rec["notebook"], kind="number", name=key, text="", seed=rec["seed"], value=value
                )
            )
        for key, c in rec["claims"].items():
            rows.append(
                dict(
                    notebook=rec["notebook"],
                    kind="claim",
                    name=key,
                    text=c["text"],
                    seed=rec["seed"],
                    value=float(c["held"]),
                )
            )
    if not rows:
        raise ValueError("no headlines to summarize: run the notebooks first")
    frame = pd.DataFrame(rows)
    out = []
    for (notebook, kind, name), group in frame.groupby(["notebook", "kind", "name"], sort=False):
        values = group["value"].astype(float)
        out.append(
            dict(
                notebook=notebook,
                kind=kind,
                name=name,
                text=group["text"].iloc[-1],
                mean=values.mean(),
                std=values.std(ddof=1) if values.notna().sum() > 1 else 0.0,
                min=values.min(),
                max=values.max(),
                n=int(values.notna().sum()),
                held=int(values.sum()) if kind == "claim" else None,
                seeds=" ".join(str(s) for s in sorted(group["seed"])),
                checked_in="CI" if notebook in ci else "benchmark",
            )
        )
    table = pd.DataFrame(out)
    table["held"] = table["held"].astype("Int64")
    return table.sort_values(["notebook", "kind", "name"], ascending=[True, True, True]).reset_index(
        drop=True
    )


def allowed_range(row: Mapping[str, Any]) -> tuple[float, float]:
    """The interval a new run's number must fall in: the seeds' range, widened by the spread."""
    widen = max(TOLERANCE_STDS * float(row["std"] or 0.0), TOLERANCE_SHARE * abs(float(row["mean"])))
    return float(row["min"]) - widen, float(row["max"]) + widen


def check(headlines: Mapping[str, Any], table: pd.DataFrame) -> list[str]:
    """Every way one run of a notebook disagrees with the claims table, in words.

    A claim that did not hold in this run, a claim the table records as failing on some
    seed (the prose should not make it), a number outside `allowed_range`, and claims or
    numbers present on one side only (the table is stale: rerun `benchmarks/claims.py`).

    Returns:
        Problems, one sentence each; an empty list when the run agrees.
    """
    notebook = headlines["notebook"]
    mine = table[table["notebook"].astype(str).str.zfill(2) == notebook]
    if mine.empty:
        return [
            f"the claims table has no rows for notebook {notebook}: run "
            "`python benchmarks/claims.py` and commit its table"
        ]
    problems = []
    rerun = "the claims table is stale: run `python benchmarks/claims.py` and commit the table"
    for kind, found in (("claim", headlines["claims"]), ("number", headlines["numbers"])):
        expected = set(mine.loc[mine["kind"] == kind, "name"])
        for name in sorted(set(found) - expected):
            problems.append(f"{notebook}: {kind} {name!r} is not in the claims table ({rerun})")
        for name in sorted(expected - set(found)):
            problems.append(
                f"{notebook}: {kind} {name!r} is in the claims table but the notebook "
                f"no longer records it ({rerun})"
            )
    for _, row in mine.iterrows():
        name = row["name"]
        if row["kind"] == "claim":
            if int(row["held"]) < int(row["n"]):
                problems.append(
                    f"{notebook}: claim {name!r} held on only {row['held']} of {row['n']} "
                    f"seeds in the table, so the prose must not state it: {row['text']}"
                )
            if name in headlines["claims"] and not headlines["claims"][name]["held"]:
                problems.append(
                    f"{notebook}: claim {name!r} did not hold on seed {headlines['seed']}: {row['text']}"
                )
        elif name in headlines["numbers"]:
            value = headlines["numbers"][name]
            if value is None or pd.isna(row["mean"]):
                if (value is None) != pd.isna(row["mean"]):
                    problems.append(
                        f"{notebook}: number {name!r} is {value} here and {row['mean']} in the table"
                    )
                continue
            low, high = allowed_range(row)
            if not low <= value <= high:
                problems.append(
                    f"{notebook}: number {name!r} = {value:.4g} lies outside [{low:.4g}, {high:.4g}] "
                    f"(seeds {row['seeds']}: mean {row['mean']:.4g}, sd {row['std']:.2g})"
                )
    return problems
