"""Figures of notebook 11: who trained which trial when, in a search spread over processes."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from matplotlib.figure import Figure


def plot_worker_timeline(
    timelines: Mapping[str, pd.DataFrame], *, marks: Mapping[str, float] | None = None
) -> Figure:
    """One panel per search (`lab.cluster.timeline`), one row per worker, one bar per trial from its
    start to its end, labelled with the trial's number; the darker part is the training itself
    (`fit_seconds`). `marks` draws a dashed line at a moment (seconds) in every panel, such as a kill."""
    if not isinstance(timelines, Mapping) or not timelines:
        raise TypeError("timelines must be a dict of names and lab.cluster.timeline(folder) tables.")
    fig = Figure(
        figsize=(7.2, 0.9 + sum(0.45 * t["worker"].nunique() + 0.5 for t in timelines.values())),
        layout="constrained",
    )
    heights = [t["worker"].nunique() + 0.8 for t in timelines.values()]
    axes = np.atleast_1d(
        fig.subplots(len(timelines), 1, sharex=True, squeeze=False, gridspec_kw={"height_ratios": heights})
    ).ravel()
    for ax, (name, line) in zip(axes, timelines.items(), strict=True):
        workers = sorted(line["worker"].unique())
        for _, row in line.iterrows():
            y = workers.index(row["worker"])
            ax.barh(y, row["seconds"], left=row["begin"], height=0.7, color="#c6dbef", edgecolor="white")
            if pd.notna(row.get("fit_seconds")):
                ax.barh(y, row["fit_seconds"], left=row["begin"], height=0.7, color="C0", edgecolor="white")
            ax.text(
                row["begin"] + row["seconds"] / 2,
                y,
                str(row["trial"]),
                ha="center",
                va="center",
                fontsize=7,
                color="white",
            )
        for label, moment in (marks or {}).items():
            ax.axvline(moment, color="#b00", ls="--", lw=1)
            ax.text(moment, len(workers) - 0.45, f" {label}", color="#b00", fontsize=7, va="bottom")
        ax.set_yticks(range(len(workers)), workers, fontsize=8)
        ax.set_ylim(-0.6, len(workers) - 0.2)
        ax.set_title(name, fontsize=9, loc="left")
        ax.grid(False)
    axes[-1].set_xlabel("seconds from the first trial's start (dark: training; light: the rest of the trial)")
    return fig
