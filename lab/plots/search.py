"""Searches: best-so-far curves, parallel coordinates, objective against hyperparameters,
the surrogate slice and the Hyperband schedule.

Each figure is two functions, as in Optuna's visualization module: one computes what
is drawn as plain tables (`parallel_coordinates_data`, `objective_vs_params_data`,
`surrogate_data`, `hyperband_schedule_data`; the best-so-far curves come from
`lab.tuning.best_so_far`), and the `plot_*` function only draws it, so a test can check
the numbers without looking at a figure.

A search with nothing to rank yet (no trial at all, or none that completed) is drawn,
not refused: the figure's title says so and what to do, and the trials that failed are
still shown where the figure has a place for them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from lab import vocabulary
from lab.plots._base import _integer_ticks, _log_y_if_wide
from lab.plots.images import plot_images

# The columns KerasTuner's Hyperband adds to each trial's hyperparameters.
HYPERBAND_COLUMNS = ("tuner/bracket", "tuner/round", "tuner/epochs", "tuner/initial_epoch")
NO_TRIAL_YET = "no trial yet: run (or resume) the search first"


def _check_trials(frame: object, helper: str) -> None:
    """A trials table (from `search` or `trials_frame`), or a TypeError/KeyError that says what to pass."""
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(
            f"{helper} takes the trials table that search(...) or trials_frame(tuner) returns, "
            f"got {type(frame).__name__}."
        )
    if "status" not in frame.columns and not frame.empty:
        raise KeyError(
            f"{helper} needs the trials table's status column; pass the whole table from "
            "search(...) or trials_frame(tuner), not a selection of its columns."
        )


def _has_value(frame: pd.DataFrame) -> pd.Series:
    """True for each trial whose score stands (`vocabulary.has_value`)."""
    if frame.empty:
        return pd.Series(False, index=frame.index, dtype=bool)
    return frame["status"].map(vocabulary.has_value).astype(bool)


def _scored(frame: pd.DataFrame, objective: str) -> pd.DataFrame:
    """The completed trials with a finite value of `objective` (none for a table without one)."""
    vocabulary.direction(objective)  # an unknown objective is refused, naming the known ones
    done = frame[_has_value(frame)]
    if objective not in frame.columns:
        if len(done):
            reported = [name for name in vocabulary.OBJECTIVES if name in frame.columns]
            raise KeyError(
                f"The trials do not report {objective!r}; objectives they report: "
                f"{', '.join(reported) or 'none'}."
            )
        return done.assign(**{objective: pd.Series(dtype=float)})
    return done[np.isfinite(done[objective].astype(float))]


def _nothing_to_rank(frame: pd.DataFrame, objective: str | None = None) -> str:
    """Why a search figure has no value to draw, and what to do about it."""
    if frame.empty:
        return NO_TRIAL_YET
    if _has_value(frame).any():
        return f"no completed trial reports {objective or 'a value'} yet"
    counts = frame["status"].value_counts()
    if vocabulary.FAILED in counts.index and counts.sum() == counts[vocabulary.FAILED]:
        return (
            f"no completed trial yet: all {counts.sum()} failed (the trials table's message column says why)"
        )
    listed = ", ".join(f"{n} {str(status).lower()}" for status, n in counts.items())
    return f"no completed trial yet ({listed}): run (or resume) the search first"


def _message_figure(message: str) -> Figure:
    """One empty axes whose title says why there is nothing to draw."""
    fig = Figure(figsize=(6.4, 3.0), layout="constrained")
    ax = fig.subplots()
    ax.set_title(message, fontsize=9, wrap=True)
    ax.set_xticks([])
    ax.set_yticks([])
    return fig


def plot_best_so_far(
    curves: Mapping[str, pd.DataFrame], objective: str, *, budget: float | None = None
) -> Figure:
    """Best objective so far against epochs consumed, one step line per search.

    A search with no completed trial yet is named in the legend; with none in any
    search the figure says so.

    Args:
        curves: search name -> `lab.tuning.best_so_far(frame, objective)`.
        objective: the objective's name, for the axis label.
        budget: draw a vertical line at this many epochs (the equal budget).
    """
    bests = {name: curve["best"].to_numpy(float) for name, curve in curves.items()}
    if not any(np.isfinite(best).any() for best in bests.values()):
        return _message_figure(
            f"no completed trial yet, so no best {objective}: run (or resume) the search first"
        )
    fig = Figure(figsize=(6.4, 3.8), layout="constrained")
    ax = fig.subplots()
    styles = ["-", "--", "-.", ":"]  # so that curves which coincide stay visible
    for i, (name, curve) in enumerate(curves.items()):
        ax.step(
            curve["epochs_consumed"],
            bests[name],
            where="post",
            color=f"C{i}",
            linestyle=styles[i % len(styles)],
            linewidth=2.0 - 0.3 * (i % len(styles)),
            label=name if np.isfinite(bests[name]).any() else f"{name} (no completed trial yet)",
        )
        ax.plot(curve["epochs_consumed"], bests[name], ".", color=f"C{i}", markersize=4)
    if budget is not None:
        ax.axvline(budget, color="0.4", linestyle=":", label=f"budget ({budget:g} epochs)")
    _log_y_if_wide(ax, np.concatenate(list(bests.values())))
    ax.set_xlabel("epochs consumed (all trials so far)")
    ax.set_ylabel(f"best {objective} so far" + (" (log scale)" if ax.get_yscale() == "log" else ""))
    ax.legend(fontsize=8)
    return fig


class _Axis(NamedTuple):
    scaled: np.ndarray  # the values on [0, 1]
    labels: list[str] | None  # the categories, in order, for a categorical axis
    low: float  # the smallest and largest value of a numeric axis (NaN for a categorical one)
    high: float
    log: bool


def _as_axis(values: pd.Series) -> _Axis:
    """Values on [0, 1] for a parallel axis, with category labels or the numeric range."""
    if pd.api.types.is_numeric_dtype(values) and values.nunique() > 1:
        v = values.astype(float)
        log = vocabulary.log_scaled(v)
        w = np.log10(v) if log else v
        lo, hi = np.nanmin(w), np.nanmax(w)
        scaled = (w - lo) / (hi - lo) if hi > lo else w * 0 + 0.5
        return _Axis(scaled.to_numpy(), None, float(values.min()), float(values.max()), log)
    categories = sorted(values.dropna().unique(), key=str)
    index = {c: i for i, c in enumerate(categories)}
    spread = max(len(categories) - 1, 1)
    scaled = np.array([index[v] / spread if v in index else np.nan for v in values], dtype=float)
    return _Axis(scaled, [str(c) for c in categories], np.nan, np.nan, False)


class ParallelCoordinates(NamedTuple):
    """What `plot_parallel_coordinates` draws."""

    values: pd.DataFrame  # one row per completed trial (index: trial id), one column per axis, on [0, 1]
    scores: pd.Series  # each completed trial's objective (index: trial id), which colours its line
    axes: pd.DataFrame  # one row per axis (index: its name): log, labels (categories) or low and high
    best: int | None  # the best trial's row in `values`; None when no trial has completed


def parallel_coordinates_data(
    frame: pd.DataFrame, params: Sequence[str], objective: str
) -> ParallelCoordinates:
    """Each completed trial's place on one axis per hyperparameter and one for the objective.

    Numeric axes run from their smallest value (0) to their largest (1), on a log scale
    when they span decades (`vocabulary.log_scaled`); categorical ones space their
    values evenly, in sorted order. Hyperparameters the table lacks are left out.

    Args:
        frame: the trials table (`lab.tuning.trials_frame`).
        params: the hyperparameters to draw, in order.
        objective: the last axis, the lines' colour, and what "best" means.

    Returns:
        A `ParallelCoordinates` of `values`, `scores`, `axes` and `best` (empty tables
        and `best=None` when no trial has completed).
    """
    _check_trials(frame, "parallel_coordinates_data")
    done = _scored(frame, objective)
    names = [p for p in params if p in frame.columns and p != objective] + [objective]
    trials = pd.Index(done["trial"] if "trial" in done else done.index, name="trial")
    columns = {name: _as_axis(done[name]) for name in names}
    values = pd.DataFrame({name: axis.scaled for name, axis in columns.items()}, index=trials, columns=names)
    axes = pd.DataFrame(
        {
            "log": [axis.log for axis in columns.values()],
            "labels": [axis.labels for axis in columns.values()],
            "low": [axis.low for axis in columns.values()],
            "high": [axis.high for axis in columns.values()],
        },
        index=pd.Index(names, name="axis"),
    )
    scores = pd.Series(done[objective].to_numpy(float), index=trials, name=objective)
    best = int(np.argmin(vocabulary.sign(objective) * scores.to_numpy())) if len(scores) else None
    return ParallelCoordinates(values, scores, axes, best)


def plot_parallel_coordinates(frame: pd.DataFrame, params: Sequence[str], objective: str) -> Figure:
    """One line per completed trial across the hyperparameters' axes, coloured by the objective.

    The best trial is drawn thick and black. Categorical axes list their values;
    numeric ones (log-scaled when they span decades) show their range. The data drawn
    is `parallel_coordinates_data(frame, params, objective)`.
    """
    data = parallel_coordinates_data(frame, params, objective)
    if data.best is None:
        return _message_figure(_nothing_to_rank(frame, objective))
    names = list(data.axes.index)
    fig = Figure(figsize=(1.5 * len(names) + 1.5, 4.0), layout="constrained")
    ax = fig.subplots()
    ys = data.values.to_numpy(float)
    score = data.scores.to_numpy(float)
    cmap = mpl.colormaps["viridis_r"]
    norm = mpl.colors.Normalize(score.min(), score.max())
    for i in range(len(ys)):
        if i != data.best:
            ax.plot(range(len(names)), ys[i], color=cmap(norm(score[i])), alpha=0.8, lw=1.2)
    ax.plot(
        range(len(names)),
        ys[data.best],
        color="black",
        lw=2.6,
        label=f"best trial ({data.values.index[data.best]})",
    )
    # Above the axes: inside, it would cover the range labels of the last axis.
    ax.legend(fontsize=8, loc="lower right", bbox_to_anchor=(1.0, 1.0), frameon=False, borderaxespad=0.2)
    for x, axis in enumerate(data.axes.itertuples()):
        ax.axvline(x, color="0.7", lw=0.8)
        if axis.labels is not None:
            spread = max(len(axis.labels) - 1, 1)
            for j, label in enumerate(axis.labels):
                ax.text(x + 0.03, j / spread, label, fontsize=7, va="center")
        else:
            ax.text(x + 0.03, 0, f"{axis.low:.3g}", fontsize=7, va="bottom")
            ax.text(x + 0.03, 1, f"{axis.high:.3g}", fontsize=7, va="top")
    ax.set_xticks(range(len(names)), names, rotation=20)
    ax.set_yticks([])
    ax.grid(False)
    ax.set_xlim(-0.2, len(names) - 0.6)
    fig.colorbar(mpl.cm.ScalarMappable(norm=norm, cmap=cmap), ax=ax, label=objective)
    return fig


class ObjectiveVsParams(NamedTuple):
    """What `plot_objective_vs_params` draws."""

    points: pd.DataFrame  # one row per hyperparameter and trial: param, trial, x, value, completed, group
    axes: pd.DataFrame  # one row per hyperparameter (index): numeric, log, labels, integer_values


def objective_vs_params_data(
    frame: pd.DataFrame, params: Sequence[str], objective: str, *, hue: str | None = None
) -> ObjectiveVsParams:
    """Each trial's place in the panel of each hyperparameter.

    `x` is the hyperparameter's value (for a categorical one, its category's place on
    [0, 1], as in `parallel_coordinates_data`); `value` is the objective, NaN for a trial
    without one; a trial that did not complete (`completed` False) is drawn as a cross
    above the panel. Hyperparameters the table lacks are left out.

    Args:
        frame: the trials table (`lab.tuning.trials_frame`).
        params: the hyperparameters, one panel each.
        objective: the objective on the y axes.
        hue: a column whose values become `group` (a colour each in the figure).

    Returns:
        An `ObjectiveVsParams` of `points` and `axes`: a hyperparameter's axis is `log`
        when its values span decades, and `integer_values` lists the values of one whose
        values are all whole numbers (None otherwise).
    """
    _check_trials(frame, "objective_vs_params_data")
    vocabulary.direction(objective)  # an unknown objective is refused, naming the known ones
    if hue is not None and hue not in frame.columns and not frame.empty:
        raise KeyError(f"hue={hue!r} is not a column of the trials table.")
    _scored(frame, objective)  # a table whose completed trials lack the objective is refused
    completed = _has_value(frame).to_numpy()
    value = frame[objective].astype(float).to_numpy() if objective in frame else np.full(len(frame), np.nan)
    trials = frame["trial"].to_numpy() if "trial" in frame else frame.index.to_numpy()
    group = frame[hue].to_numpy() if hue in frame else np.full(len(frame), None)
    if not frame.empty and not any(p in frame.columns for p in params):
        raise KeyError(f"None of {list(params)} is a column of the trials table; its columns: {list(frame)}.")
    params = [p for p in params if p in frame.columns]
    points, axes = [], []
    for param in params:
        axis = _as_axis(frame[param])
        numeric = axis.labels is None
        x = frame[param].astype(float).to_numpy() if numeric else axis.scaled
        known = frame[param].dropna()
        whole = numeric and bool((known % 1 == 0).all())
        axes.append(
            {
                "numeric": numeric,
                "log": numeric and vocabulary.log_scaled(known),
                "labels": axis.labels,
                "integer_values": np.sort(known.unique().astype(float)) if whole else None,
            }
        )
        points.append(
            pd.DataFrame(
                {
                    "param": param,
                    "trial": trials,
                    "x": x,
                    "value": value,
                    "completed": completed,
                    "group": group,
                },
                index=frame.index,
            )
        )
    columns = ["param", "trial", "x", "value", "completed", "group"]
    points = pd.concat(points) if points else pd.DataFrame(columns=columns)
    axes = pd.DataFrame(
        axes, index=pd.Index(params, name="param"), columns=["numeric", "log", "labels", "integer_values"]
    )
    return ObjectiveVsParams(points, axes)


def plot_objective_vs_params(
    frame: pd.DataFrame, params: Sequence[str], objective: str, *, hue: str | None = None
) -> Figure:
    """The objective against each hyperparameter, one panel each; failed trials marked at the top.

    The data drawn is `objective_vs_params_data(frame, params, objective, hue=hue)`.

    Args:
        hue: a column whose values get their own colour (such as which search ran the trial).
    """
    data = objective_vs_params_data(frame, params, objective, hue=hue)
    if data.axes.empty or frame.empty:
        return _message_figure(_nothing_to_rank(frame, objective))
    cols = min(len(data.axes), 3)
    rows = int(np.ceil(len(data.axes) / cols))
    fig = Figure(figsize=(3.6 * cols, 2.9 * rows), layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).ravel()
    for ax, (param, axis) in zip(axes, data.axes.iterrows(), strict=False):
        points = data.points[data.points["param"] == param]
        done, failed = points[points["completed"]], points[~points["completed"]]
        groups = done.groupby("group", sort=False) if hue else [(None, done)]
        for i, (name, rows_) in enumerate(groups):
            ax.scatter(rows_["x"], rows_["value"], s=22, color=f"C{i}", alpha=0.8, label=name)
        if hue:
            ax.legend(fontsize=7, title=hue, title_fontsize=7)
        if len(failed):
            # Above the plotting area, in axes coordinates: a failed trial has no value to plot.
            ax.plot(
                failed["x"],
                np.full(len(failed), 1.03),
                "x",
                color="#b00",
                mew=2,
                label="failed (no value)",
                transform=ax.get_xaxis_transform(),
                clip_on=False,
            )
            ax.legend(fontsize=7, title=hue, title_fontsize=7)
        if axis["log"]:
            ax.set_xscale("log")
            ax.xaxis.set_minor_formatter(mpl.ticker.NullFormatter())
        if not axis["numeric"]:
            spread = max(len(axis["labels"]) - 1, 1)
            ax.set_xticks([j / spread for j in range(len(axis["labels"]))], axis["labels"], rotation=20)
        elif axis["integer_values"] is not None:
            _integer_ticks(ax, axis["integer_values"])
        _log_y_if_wide(ax, done["value"])
        ax.set_xlabel(param)
        ax.set_ylabel(objective + (" (log scale)" if ax.get_yscale() == "log" else ""))
    for ax in axes[len(data.axes) :]:
        ax.set_visible(False)
    if not data.points["completed"].any():
        fig.suptitle(_nothing_to_rank(frame, objective), fontsize=9, wrap=True)
    return fig


def plot_top_reconstructions(
    originals: np.ndarray,
    reconstructions: Mapping[str, np.ndarray],
    image_shape: tuple[int, int],
    *,
    n: int = 10,
) -> Figure:
    """Validation images in the top row, then one row per top trial's reconstructions."""
    return plot_images({"original": originals, **reconstructions}, image_shape, n=n)


def surrogate_data(grid: np.ndarray, mean: np.ndarray, std: np.ndarray, *, beta: float) -> pd.DataFrame:
    """The surrogate along one hyperparameter and the bound a Bayesian search minimizes.

    Args:
        grid: the hyperparameter's values (`lab.tuning.surrogate_slice(...)["values"]`).
        mean: the surrogate's prediction of the objective at each value.
        std: its uncertainty there.
        beta: how much the bound trusts the uncertainty.

    Returns:
        One row per grid point: `value`, `mean`, `std`, `bound` (`mean - beta * std`,
        the lower confidence bound) and `next` (True at the point where the bound is
        lowest, the next trial; all False when there is no finite bound).
    """
    grid, mean, std = (np.asarray(a, dtype=float).ravel() for a in (grid, mean, std))
    if not len(grid) == len(mean) == len(std):
        raise ValueError(
            f"grid, mean and std must be as long as each other, got {len(grid)}, {len(mean)} and {len(std)}."
        )
    bound = mean - beta * std
    finite = np.isfinite(bound)
    pick = int(np.argmin(np.where(finite, bound, np.inf))) if finite.any() else -1
    return pd.DataFrame(
        {"value": grid, "mean": mean, "std": std, "bound": bound, "next": np.arange(len(grid)) == pick}
    )


def plot_surrogate(
    grid: np.ndarray,
    mean: np.ndarray,
    std: np.ndarray,
    observed_x: np.ndarray,
    observed_y: np.ndarray,
    *,
    beta: float,
    xlabel: str,
    ylabel: str,
    log_x: bool = True,
) -> Figure:
    """A Gaussian-process surrogate on one hyperparameter: its mean, its uncertainty, the
    trials it was fitted to, and the lower confidence bound a Bayesian search minimizes
    (`surrogate_data(grid, mean, std, beta=beta)`)."""
    data = surrogate_data(grid, mean, std, beta=beta)
    if not data["next"].any():
        return _message_figure(
            "no surrogate yet: it needs at least two completed trials; run (or resume) the search first"
        )
    fig = Figure(figsize=(6.6, 3.8), layout="constrained")
    ax = fig.subplots()
    x, mean, std = data["value"], data["mean"], data["std"]
    ax.plot(x, mean, color="C0", label="surrogate mean")
    ax.fill_between(x, mean - std, mean + std, color="C0", alpha=0.2, label="mean ± 1 std")
    ax.plot(x, data["bound"], color="C1", linestyle="--", label=f"mean - {beta:g} std (acquisition)")
    pick = data[data["next"]].iloc[0]
    ax.axvline(pick["value"], color="C1", lw=0.8)
    ax.plot(observed_x, observed_y, "ko", label="trials run")
    ax.annotate(
        "next trial", (pick["value"], pick["bound"]), xytext=(8, -4), textcoords="offset points", fontsize=8
    )
    if log_x:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=8)
    return fig


def hyperband_schedule_data(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per Hyperband trial, in the order the schedule draws them: most exploratory
    bracket first, then by round and trial.

    Args:
        frame: the trials table of a Hyperband search (with its `tuner/...` columns).

    Returns:
        Columns `trial`, `y` (its row in the figure, from 0), `bracket`, `round`, `start`
        (the epoch it continued from), `trained` (the epochs it trained), `budget` (the
        epoch its round trains to), `status`, `completed`, and `stopped_early` (it ended
        before the round's budget). Empty for a table with no trial.
    """
    _check_trials(frame, "hyperband_schedule_data")
    columns = ["trial", "y", "bracket", "round", "start", "trained", "budget", "status", "completed"]
    if frame.empty:
        return pd.DataFrame(columns=[*columns, "stopped_early"])
    missing = [name for name in HYPERBAND_COLUMNS if name not in frame.columns]
    if missing:
        raise ValueError(
            f"The schedule is drawn from a Hyperband search's trials; this table lacks {', '.join(missing)}: "
            "pass the table of a search made with make_tuner('hyperband', ...)."
        )
    rows = frame.sort_values(["tuner/bracket", "tuner/round", "trial"], ascending=[False, True, True])
    start = rows["tuner/initial_epoch"].astype(float)
    budget = rows["tuner/epochs"].astype(float)
    epochs = rows["epochs"].astype(float) if "epochs" in rows else pd.Series(np.nan, index=rows.index)
    data = pd.DataFrame(
        {
            "trial": rows["trial"],
            "y": np.arange(len(rows)),
            "bracket": rows["tuner/bracket"].astype(int),
            "round": rows["tuner/round"].astype(int),
            "start": start,
            "trained": epochs.fillna(budget - start),  # a trial without a record ran its whole round
            "budget": budget,
            "status": rows["status"],
            "completed": _has_value(rows),
        }
    ).reset_index(drop=True)
    data["stopped_early"] = data["start"] + data["trained"] < data["budget"]
    return data


def plot_hyperband_schedule(frame: pd.DataFrame) -> Figure:
    """Each Hyperband trial as a bar from the epoch it started at to the epoch it stopped at,
    grouped by bracket and round: the successive-halving schedule this run used.

    A faint extension runs on to the round's budget when early stopping ended a trial
    sooner; a failed trial ends in a red cross where it stopped. Rounds are named on
    the y axis, and the x ticks are the rounds' budgets. The data drawn is
    `hyperband_schedule_data(frame)`.
    """
    rows = hyperband_schedule_data(frame)
    if rows.empty:
        return _message_figure(NO_TRIAL_YET)
    fig = Figure(figsize=(6.8, max(2.5, 0.14 * len(rows) + 1)), layout="constrained")
    ax = fig.subplots()
    brackets = sorted(rows["bracket"].unique(), reverse=True)
    for row in rows.itertuples():
        color = f"C{brackets.index(row.bracket)}"
        ax.barh(row.y, row.trained, left=row.start, color=color, alpha=0.45 + 0.15 * row.round)
        if row.stopped_early:
            ax.barh(
                row.y,
                row.budget - row.start - row.trained,
                left=row.start + row.trained,
                color=color,
                alpha=0.12,
            )
        if not row.completed:
            ax.plot(row.start + row.trained, row.y, "x", color="#b00")
    handles = [mpl.patches.Patch(color=f"C{i}", label=f"bracket {b}") for i, b in enumerate(brackets)]
    handles.append(
        mpl.patches.Patch(color="0.5", alpha=0.15, label="round budget left unused (stopped early)")
    )
    ax.legend(handles=handles, fontsize=7, loc="upper right")
    groups = rows.groupby(["bracket", "round"], sort=False)
    ax.set_yticks(
        [g["y"].mean() for _, g in groups],
        [f"bracket {b}, round {r} ({len(g)})" for (b, r), g in groups],
        fontsize=7,
    )
    ax.set_xticks(sorted({0, *rows["budget"].astype(int)}))
    ax.invert_yaxis()
    ax.set_xlabel("epoch (each bar: one trial, from where it started to where it stopped)")
    if not rows["completed"].any():
        ax.set_title(_nothing_to_rank(frame), fontsize=9, wrap=True)
    return fig
