"""A search spread over processes, timed: what a second (and third) worker buys, and what each trial costs.

Each search runs through `python -m lab.search --workers N` (a chief and N workers on this
machine, as a user runs it), on a fresh folder:

- `timed`: trials of known cost (`TimedHyperModel`, each waits `--seconds`, using no CPU, as a
  trial waits on its GPU), with 1, 2 and 3 workers;
- `dense`: the book's dense autoencoder (`race_epochs` epochs a trial, workshop preset), with
  1 and 2 workers: real training, whose arithmetic TensorFlow already spreads over every core;
- `optuna`: timed trials in an Optuna study shared by 1 and 2 processes (`--engine optuna`).

Printed per search: the span (first trial's start to last trial's end), the start-up before it
(importing TensorFlow and loading the data in every process), the speed-up over one worker, the
overhead per trial (the workers' time not training, per trial: asking the chief, building and
saving the model, reporting, and waiting at the end), and the median gap between a worker's
trials (asking the chief alone). Kept as CSV in build/benchmarks/distributed_search.csv.

Run: python benchmarks/distributed_search.py [--trials 12] [--seconds 2] [--only timed dense optuna]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
OUT = ROOT / "build" / "benchmarks"


def run(kind: str, workers: int, trials: int, seconds: float, folder: Path) -> dict:
    from lab import cluster, config, search

    cfg = config.preset("workshop")
    model = {"timed": "timed", "dense": "dense", "optuna": "timed"}[kind]
    args = search.arguments(
        engine="optuna" if kind == "optuna" else None,
        kind=None if kind == "optuna" else "random",
        model=model,
        trial_seconds=seconds if model == "timed" else None,
        epochs=cfg.race_epochs if model == "dense" else None,
        trials=trials,
        workers=workers,
        preset="workshop",
        directory=folder,
        project_name=f"{kind}_{workers}",
        port=cluster.free_port(),
        overwrite=True,
    )
    started = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        code = search.main(args)
    wall = time.perf_counter() - started
    if code != 0:
        raise RuntimeError(f"{kind} with {workers} workers failed:\n{printed.getvalue()[-3000:]}")
    if kind == "optuna":
        table = pd.read_csv(folder / f"{kind}_{workers}" / "trials.csv")
        table["started"] = pd.to_datetime(table["started"])
        span = (table["started"].max() - table["started"].min()).total_seconds() + table["seconds"].iloc[-1]
        return dict(
            search=kind,
            workers=workers,
            trials=len(table),
            wall=wall,
            span=span,
            training=float(table["seconds"].sum()),
            gap=float("nan"),
        )
    line = cluster.timeline(folder / f"{kind}_{workers}")
    return dict(search=kind, wall=wall, **cluster.pace(line))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--only", nargs="*", default=["timed", "dense", "optuna"])
    args = parser.parse_args(argv)
    plan = {"timed": (1, 2, 3), "dense": (1, 2), "optuna": (1, 2)}
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for kind in args.only:
            for workers in plan[kind]:
                row = run(kind, workers, args.trials, args.seconds, Path(scratch))
                rows.append(row)
                print(
                    f"{kind}, {workers} worker(s): span {row['span']:.1f} s, "
                    f"start-up {row['wall'] - row['span']:.1f} s",
                    flush=True,
                )
    table = pd.DataFrame(rows)
    table["start_up"] = table["wall"] - table["span"]
    alone = table[table["workers"] == 1].set_index("search")["span"]
    table["speed_up"] = table["search"].map(alone) / table["span"]
    if "overhead_per_trial" not in table:
        table["overhead_per_trial"] = float("nan")
    OUT.mkdir(parents=True, exist_ok=True)
    table.to_csv(OUT / "distributed_search.csv", index=False)
    print(
        f"\n{os.cpu_count()} CPU cores; {args.trials} trials per search; timed trials of {args.seconds:g} s\n"
    )
    shown = ["search", "workers", "trials", "span", "start_up", "speed_up", "overhead_per_trial", "gap"]
    print(table[shown].round(3).to_string(index=False))
    print(f"\nkept in {OUT / 'distributed_search.csv'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
