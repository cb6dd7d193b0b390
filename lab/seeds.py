"""Comparisons over seeds: the spread of each setting, and verdicts that respect it.

One training run is one draw: a different seed gives different initial weights and
batch order, and a different result. A difference between two settings means
something only when it is larger than that spread. The rule used throughout the
book is deliberately simple and strict:

    a setting *wins* when every one of its seeds beats every seed of each other
    setting, that is, when the ranges (min to max over seeds) do not overlap;
    otherwise the settings are *within noise* of each other.

With three seeds, two settings that differ only by chance have non-overlapping
ranges one time in ten, so a named winner is rarely an accident of the draw, and
"within noise" never claims that the settings are equal, only that these seeds
cannot tell them apart.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from lab import vocabulary
from lab.config import RunConfig

FINISHED = vocabulary.FINISHED  # runs that finished ("ok", "poor") and completed trials


def seeds_for(cfg: RunConfig, n: int | None = None) -> tuple[int, ...]:
    """The seeds of a comparison: `cfg.seed` and the next `n - 1` (`cfg.n_seeds` by default)."""
    n = cfg.n_seeds if n is None else n
    if n < 1:
        raise ValueError(f"a comparison needs at least one seed, got n={n}")
    return tuple(cfg.seed + i for i in range(n))


def _key(frame: pd.DataFrame, by: Sequence[str]) -> pd.Series:
    return frame[list(by)].astype(str).agg(", ".join, axis=1) if len(by) > 1 else frame[by[0]]


def spread(frame: pd.DataFrame, by: str | Sequence[str], metric: str = "val_mse") -> pd.DataFrame:
    """One row per setting: the mean, standard deviation, min and max of `metric` over seeds.

    Only finished runs, whose `status` is "ok" or "poor" (or every run, when there
    is no `status` column), enter the statistics; `n_ok` of `n` says how many did,
    and `failed` lists the statuses other than "ok" with their counts, such as
    "diverged 1" (see `lab.vocabulary.RUN_STATUSES`).

    Args:
        frame: one row per run, with a `seed` column and the columns in `by`.
        by: the setting column(s) that define a group.
        metric: the column to summarize.

    Returns:
        A DataFrame indexed like `frame.groupby(by)`, in order of first appearance.
    """
    by = [by] if isinstance(by, str) else list(by)
    missing = [c for c in [*by, metric] if c not in frame.columns]
    if missing:
        raise KeyError(f"no column(s) {', '.join(missing)} in the table; it has {', '.join(frame.columns)}")
    rows = []
    for key, group in frame.groupby(by, sort=False, dropna=False):
        ok = group[group["status"].isin(FINISHED)] if "status" in group else group
        values = ok[metric].to_numpy(dtype=float)
        values = values[np.isfinite(values)]
        bad = group["status"][group["status"] != "ok"].value_counts() if "status" in group else pd.Series()
        rows.append(
            dict(
                zip(by, key if isinstance(key, tuple) else (key,), strict=True),
                mean=values.mean() if values.size else math.nan,
                std=values.std(ddof=1) if values.size > 1 else math.nan,
                min=values.min() if values.size else math.nan,
                max=values.max() if values.size else math.nan,
                n_ok=int(values.size),
                n=len(group),
                failed=", ".join(f"{s} {c}" for s, c in bad.items()),
            )
        )
    return pd.DataFrame(rows).set_index(by)


def _fmt(value: float) -> str:
    return f"{value:.4g}" if abs(value) < 1e4 else f"{value:.3g}"


def verdict(
    frame: pd.DataFrame,
    by: str | Sequence[str],
    metric: str = "val_mse",
    *,
    lower_is_better: bool = True,
) -> str:
    """One sentence on a comparison over seeds: a winner only when the seeds say so.

    Settings that failed on some seed (stalled, diverged) are named and left out
    of the ranking; "poor" runs (far behind the best) are named and ranked. Among
    the rest, the best mean wins outright when its range over seeds does not
    overlap any other setting's range; otherwise the sentence names the settings
    within noise of it.

    Args:
        frame: one row per run, with `seed`, `status` and the columns in `by`.
        by: the setting column(s).
        metric: the column compared.
        lower_is_better: False for accuracies and other scores to maximize.
    """
    by = [by] if isinstance(by, str) else list(by)
    table = spread(frame, by, metric)
    name = ", ".join(by)
    label = {
        k: (f"{name}={k}" if len(by) == 1 else f"({name})=({', '.join(map(str, k))})") for k in table.index
    }
    seeds = frame["seed"].nunique() if "seed" in frame else 1
    clean = table[(table["n_ok"] == table["n"]) & table["mean"].notna()]
    parts = []
    if clean.empty:
        parts.append(f"no setting of {name} finished on every seed")
    else:
        order = clean.sort_values("mean", ascending=lower_is_better)
        best_key, best = order.index[0], order.iloc[0]
        word = "lowest" if lower_is_better else "highest"
        head = f"{word} mean {metric} with {label[best_key]} ({_fmt(best['mean'])}"
        if seeds < 2:
            parts.append(head + "; one seed, so the spread is unknown and this is no verdict)")
        else:
            head += f", range {_fmt(best['min'])} to {_fmt(best['max'])} over {seeds} seeds)"
            rest = order.iloc[1:]
            if lower_is_better:
                overlap = rest[rest["min"] <= best["max"]]
            else:
                overlap = rest[rest["max"] >= best["min"]]
            if rest.empty:
                parts.append(head)
            elif overlap.empty:
                others = "the other setting" if len(rest) == 1 else "every other setting"
                parts.append(head + f": better than {others} on every seed")
            else:
                names = ", ".join(label[k] for k in overlap.index)
                parts.append(head + f"; within noise of it: {names}")
    for key, row in table.iterrows():
        if row["failed"]:
            parts.append(f"{label[key]}: {row['failed']} of {row['n']} seeds")
    return "; ".join(parts) + "."


def status_counts(frame: pd.DataFrame, index: str, columns: str | None = None) -> pd.DataFrame:
    """How the runs of each setting ended, counted over seeds: cells such as "ok 3" or
    "poor 2, diverged 1" (see `lab.vocabulary.RUN_STATUSES`), one row per value of `index`
    and, with `columns`, one column per value of `columns`."""

    def count(statuses: pd.Series) -> str:
        return ", ".join(f"{k} {v}" for k, v in statuses.value_counts().items())

    if columns is None:
        return frame.groupby(index, sort=False)["status"].agg(count).to_frame("status")
    return frame.pivot_table(index=index, columns=columns, values="status", aggfunc=count)


def mean_span(frame: pd.DataFrame, by: str, metric: str = "val_mse") -> float:
    """Largest minus smallest mean of `metric` across the settings in `by` (means over seeds):
    how far a hyperparameter moves the result over the values tried."""
    means = frame.groupby(by)[metric].mean()
    return float(means.max() - means.min())
