"""Multi-seed studies too long for a notebook: one command computes them, `results/` keeps them.

A study is a plan (a list of experiments, each a dict of settings) and a way to run
one entry of the plan on one seed. `python -m lab.results NAME` runs every entry on
every seed and writes two small files under `results/`: the table (one row per run)
and a JSON record of how it was made (preset, seeds, budgets, the plan, versions,
machine, time). A notebook calls `load(NAME, cfg)`: it reads the committed table in
a second, or, when no table matches its preset and dataset (or it asks with
`recompute=True`), runs the study itself and keeps the table under `runs/results/`.

The command resumes: each finished run is appended to a partial file at once, and a
restarted command skips the runs it finds there.

    python -m lab.results --list
    python -m lab.results 02_sweeps                 # workshop preset, cfg.n_seeds seeds
    python -m lab.results reference_table --seeds 5
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd

from lab import checks
from lab import seeds as seeds_mod
from lab.config import ROOT, RunConfig, flag, preset

RESULTS_DIR = ROOT / "results"
# Measures that stay floats even when every value happens to be whole.
MEASURES_KEPT_FLOAT = ("val_mse", "train_mse", "test_mse", "seconds", "wall_seconds", "learning_rate")

Entry = tuple[str, dict[str, Any]]


@dataclass(frozen=True)
class Study:
    """A multi-seed study: what it runs, and how to run one entry on one seed.

    Attributes:
        name: the file stem under `results/`.
        title: one line on what it measures.
        plan: `plan(cfg)` lists (experiment, settings) entries.
        run: `run(dataset, cfg, experiment, settings)` returns one row (a dict), or a list
            of rows (such as every trial of a search), kept or redone together.
        budgets: the `RunConfig` fields the rows depend on; a committed table whose
            budgets differ from the preset's is stale, and `load` says so.
        splits_follow_seed: True when each seed also draws its own data split;
            False keeps the split of `cfg.seed` and varies the training seed only.
        seeds: how many seeds to run: a number, the name of a `RunConfig` field that
            holds it (so each preset has its own), or None for `cfg.n_seeds`.
        per_split: True when the table belongs to the split of `cfg.seed` (a notebook
            compares it with runs on that split): each split seed has its own file,
            `<name>_<preset>_<dataset>_seed<N>`, and a table of another split is never read.
        finish: `finish(table)` returns the table with columns that need every run
            (such as the "poor" status, relative to the best run); applied after
            computing and again after loading, so it never goes stale.
    """

    name: str
    title: str
    plan: Callable[[RunConfig], list[Entry]]
    run: Callable[..., dict[str, Any]]
    budgets: tuple[str, ...]
    splits_follow_seed: bool = False
    seeds: int | str | None = None
    finish: Callable[[pd.DataFrame], pd.DataFrame] | None = None
    per_split: bool = False


STUDIES: dict[str, Study] = {}


def register(study: Study) -> Study:
    """Add a study to `STUDIES` (the registry the command and `load` use)."""
    STUDIES[study.name] = study
    return study


def get(name: str) -> Study:
    """The study called `name`, with a message that lists the others when there is none."""
    _register_builtin()
    if name not in STUDIES:
        raise KeyError(f"No study named {name!r}. Studies: {', '.join(sorted(STUDIES))}.")
    return STUDIES[name]


def _stem(study: Study, cfg: RunConfig) -> str:
    stem = f"{study.name}_{cfg.preset}_{cfg.dataset}"
    return f"{stem}_seed{cfg.seed}" if study.per_split else stem


def _canonical(settings: dict[str, Any]) -> str:
    return json.dumps(settings, sort_keys=True, default=str)


def _record(study: Study, cfg: RunConfig, seed_list: Sequence[int]) -> dict[str, Any]:
    return dict(
        study=study.name,
        title=study.title,
        preset=cfg.preset,
        dataset=cfg.dataset,
        seeds=list(seed_list),
        split_seed=None if study.splits_follow_seed else cfg.seed,
        budgets={k: _jsonable(getattr(cfg, k)) for k in study.budgets},
        plan=[[experiment, settings] for experiment, settings in study.plan(cfg)],
        command=f"python -m lab.results {study.name} --preset {cfg.preset} --dataset {cfg.dataset} "
        f"--seed {cfg.seed} --seeds {len(seed_list)}",
    )


def _jsonable(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def compute(
    study: Study | str,
    cfg: RunConfig,
    *,
    n_seeds: int | None = None,
    out_dir: Path | str = RESULTS_DIR,
    log: Callable[[str], None] | None = print,
) -> pd.DataFrame:
    """Run every entry of a study's plan on every seed and write the table and its record.

    Args:
        study: a `Study` or its name.
        cfg: the preset and budgets; the seeds are `cfg.seed`, `cfg.seed + 1`, ...
        n_seeds: how many seeds; defaults to the study's own, then `cfg.n_seeds`.
        out_dir: where `<name>_<preset>_<dataset>.csv` and `.json` are written.
        log: called with one line per finished run (None for silence).

    Returns:
        The table: one row per (experiment, settings, seed), with `experiment`,
        `setting` (the settings as JSON), `seed`, each setting as a column, and
        the measures that the study's `run` returns.
    """
    from lab import data

    study = get(study) if isinstance(study, str) else study
    seed_list = seeds_mod.seeds_for(cfg, n_seeds or _default_seeds(study, cfg))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = _stem(study, cfg)
    # One JSON object per line: experiments have different setting columns.
    partial = out_dir / f"{stem}.partial.jsonl"
    # What the runs in the partial file were made with: a resume with other settings would mix them.
    made_with = out_dir / f"{stem}.partial.json"
    fingerprint = _fingerprint(study, cfg)
    done: set[tuple[str, str, int]] = set()
    if partial.exists():
        stored = _read_json(made_with, study, cfg) if made_with.exists() else None
        if stored is not None and stored["fingerprint"] != fingerprint:
            changed = [k for k in fingerprint if stored["fingerprint"].get(k) != fingerprint[k]]
            raise ValueError(
                f"{partial} holds runs of an interrupted {study.name} made with other settings "
                f"({', '.join(changed)} differ). Finish that one with: {stored['command']}; or delete "
                f"{partial.name} (and {made_with.name}) to start this one afresh."
            )
        previous = _partial_rows(partial, log)
        done = {(r["experiment"], r["setting"], r["seed"]) for r in previous}
        if log and done:
            log(f"resuming: {len(done)} runs already in {partial}")
    made_with.write_text(
        json.dumps({"fingerprint": fingerprint, "command": _record(study, cfg, seed_list)["command"]})
    )
    plan = study.plan(cfg)
    start = time.perf_counter()
    datasets: dict[int, Any] = {}
    for seed in seed_list:
        split_seed = seed if study.splits_follow_seed else cfg.seed
        for experiment, settings in plan:
            key = (experiment, _canonical(settings), seed)
            if key in done:
                continue
            if split_seed not in datasets:
                datasets[split_seed] = data.load_for(replace(cfg, seed=split_seed))
            run_cfg = replace(cfg, seed=seed)
            began = time.perf_counter()
            found = study.run(datasets[split_seed], run_cfg, experiment, dict(settings))
            wall = round(time.perf_counter() - began, 2)
            # A list of rows (every trial of a search) is one line, so a kill never keeps half of it.
            rows_found = [
                dict(experiment=experiment, setting=key[1], seed=seed, **settings, **one, wall_seconds=wall)
                for one in (found if isinstance(found, list) else [found])
            ]
            with partial.open("a") as handle:
                line = rows_found if isinstance(found, list) else rows_found[0]
                handle.write(json.dumps(line, default=_plain) + "\n")
            if log:
                shown = (
                    _brief(rows_found[0]) if len(rows_found) == 1 else f"{len(rows_found)} rows, {wall:.0f} s"
                )
                log(f"seed {seed} {experiment} {key[1]}: {shown}")
    rows = _partial_rows(partial, None)
    table = _order(pd.DataFrame(rows), plan, seed_list)
    if study.finish:
        table = study.finish(table)
    record = _record(study, cfg, seed_list)
    record.update(
        # Every run's wall time, so a resumed study still reports its whole cost (once per run
        # that gave several rows).
        seconds=round(
            float(table.groupby(["experiment", "setting", "seed"])["wall_seconds"].first().sum())
            if "wall_seconds" in table
            else time.perf_counter() - start,
            1,
        ),
        written=time.strftime("%Y-%m-%d"),
        machine=f"{platform.machine()}, {os.cpu_count()} cores, {platform.system()}",
        versions=_versions(),
    )
    table.to_csv(out_dir / f"{stem}.csv", index=False)
    table = pd.read_csv(out_dir / f"{stem}.csv")  # the same types as `load` gives
    (out_dir / f"{stem}.json").write_text(json.dumps(record, indent=1) + "\n")
    partial.unlink()
    made_with.unlink(missing_ok=True)
    return table


def _default_seeds(study: Study, cfg: RunConfig) -> int:
    if isinstance(study.seeds, str):
        return int(getattr(cfg, study.seeds))
    return study.seeds or cfg.n_seeds


def _fingerprint(study: Study, cfg: RunConfig) -> dict[str, Any]:
    """What each run of a study depends on besides its own seed and settings."""
    record = _record(study, cfg, [])
    return json.loads(
        json.dumps(
            {
                "preset": cfg.preset,
                "dataset": cfg.dataset,
                "split_seed": record["split_seed"],
                "max_train": cfg.max_train,
                "max_eval": cfg.max_eval,
                "budgets": record["budgets"],
            },
            default=str,
        )
    )


def _partial_rows(partial: Path, log: Callable[[str], None] | None) -> list[dict[str, Any]]:
    """The finished runs in a partial file; a last line cut off by a kill is dropped (its run is redone)."""
    lines = [line for line in partial.read_text().splitlines() if line.strip()]
    rows = []
    for number, line in enumerate(lines, 1):
        try:
            found = json.loads(line)
            group = found if isinstance(found, list) else [found]
            if not group or not all(
                isinstance(row, dict) and {"experiment", "setting", "seed"} <= set(row) for row in group
            ):
                raise ValueError("a run without experiment, setting and seed")
        except ValueError as exc:
            if number == len(lines):
                if log:
                    log(f"the last line of {partial} was cut off; that run is done again")
                partial.write_text("".join(f"{kept}\n" for kept in lines[:-1]))
                break
            raise ValueError(
                f"Line {number} of {partial} is damaged ({exc}). Delete that line to keep the other "
                "runs, or delete the file to start the study afresh."
            ) from None
        rows.extend(group)
    return rows


def _read_json(path: Path, study: Study, cfg: RunConfig) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text())
        if not isinstance(value, dict):
            raise ValueError(f"it holds a {type(value).__name__}, not an object")
        return value
    except ValueError as exc:
        command = _record(study, cfg, seeds_mod.seeds_for(cfg))["command"]
        raise ValueError(
            f"{path} is damaged ({exc}). Regenerate it with: {command} (or, for a committed table, "
            "restore it with git checkout -- results/)."
        ) from None


def _plain(value: Any) -> Any:
    """numpy scalars as Python numbers, for JSON."""
    return value.item() if hasattr(value, "item") else str(value)


def _brief(row: dict[str, Any]) -> str:
    shown = [f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()]
    return ", ".join(shown[3:])[:160]


def _order(table: pd.DataFrame, plan: list[Entry], seed_list: Sequence[int]) -> pd.DataFrame:
    position = {(e, _canonical(s)): i for i, (e, s) in enumerate(plan)}
    keys = [
        position.get((e, s), len(position))
        for e, s in zip(table["experiment"], table["setting"], strict=True)
    ]
    table = table.assign(_order=keys)
    table = table[table["seed"].isin(seed_list)]
    return table.sort_values(["_order", "seed"], kind="stable").drop(columns="_order").reset_index(drop=True)


def _versions() -> dict[str, str]:
    import tensorflow as tf

    from lab._backend import keras

    return {"python": platform.python_version(), "tensorflow": tf.__version__, "keras": keras.__version__}


def check(study: Study | str, cfg: RunConfig, folder: Path | str = RESULTS_DIR) -> dict[str, Any]:
    """The record of a stored table, after checking that it matches the study and preset now.

    Raises:
        FileNotFoundError: when there is no table for this preset and dataset.
        ValueError: when the stored budgets or plan differ from what the command
            would run now; the message gives the command that regenerates it.
    """
    study = get(study) if isinstance(study, str) else study
    stem = _stem(study, cfg)
    path = Path(folder) / f"{stem}.json"
    if not path.exists() or not (Path(folder) / f"{stem}.csv").exists():
        raise FileNotFoundError(f"no table {stem}.csv in {folder}")
    record = _read_json(path, study, cfg)
    missing = [k for k in ("seeds", "budgets", "plan", "command", "written", "machine") if k not in record]
    if missing:
        raise ValueError(f"{path} lacks {', '.join(missing)}: regenerate it with the command that made it.")
    expected = _record(study, cfg, record["seeds"])
    if study.per_split and record.get("split_seed") != cfg.seed:
        raise ValueError(
            f"{path.name} holds runs on the split of seed {record.get('split_seed')}, "
            f"not of seed {cfg.seed}. "
            f"Regenerate it with: {expected['command']}"
        )
    stale = [k for k in ("budgets", "plan") if json.loads(json.dumps(expected[k])) != record[k]]
    if stale:
        raise ValueError(
            f"{path.name} was computed with other {' and '.join(stale)} than {study.name} now uses "
            f"(for example after a change to lab/config.py). Regenerate it with: {record['command']}"
        )
    return record


def load(
    name: str,
    cfg: RunConfig,
    *,
    recompute: bool = False,
    folder: Path | str = RESULTS_DIR,
    log: Callable[[str], None] | None = print,
) -> pd.DataFrame:
    """A study's table: the committed one when it matches `cfg`, otherwise computed now.

    Args:
        name: the study (see `python -m lab.results --list`).
        cfg: the notebook's settings; its preset and dataset pick the table.
        recompute: True runs the study now, on seeds from `cfg.seed` on, and keeps
            the result under `cfg.runs_dir / "results"` (the committed table is
            never overwritten from a notebook).
        folder: where committed tables live.
        log: called with a line saying where the table came from.
    """
    recompute = flag(recompute, "recompute")
    study = get(name)
    local = Path(cfg.runs_dir) / "results"
    if not recompute:
        for place in (Path(folder), local):
            try:
                record = check(study, cfg, place)
            except FileNotFoundError:
                continue
            csv = place / f"{_stem(study, cfg)}.csv"
            try:
                table = pd.read_csv(csv)
            except (pd.errors.EmptyDataError, pd.errors.ParserError) as exc:
                raise ValueError(
                    f"{csv} is damaged ({exc}). Regenerate it with: {record['command']}"
                ) from None
            if table.empty:
                raise ValueError(f"{csv} holds no runs. Regenerate it with: {record['command']}")
            if study.finish:
                table = study.finish(table)
            if log:
                log(
                    f"{study.name}: {len(table)} runs over seeds {record['seeds']}, read from "
                    f"{_shown(place)}/{_stem(study, cfg)}.csv (computed {record['written']} on "
                    f"{record['machine']}{_cost(table)}); recompute=True reruns it"
                )
            return table
    if log:
        log(
            f"{study.name}: computing now ({'asked' if recompute else 'no stored table for this preset'}); "
            f"it is kept in {_shown(local)}"
        )
    return compute(study, cfg, out_dir=local, log=None)


def split_seed(
    name: str, cfg: RunConfig, *, recompute: bool = False, folder: Path | str = RESULTS_DIR
) -> int | None:
    """The seed whose data split the table `load` returns (with the same arguments) was computed
    on, or None when each seed of the study drew its own split. A notebook that tests a table's
    picks must load that split, or its test images may be ones the searches validated on."""
    if not isinstance(cfg, RunConfig):
        raise TypeError(f"cfg must be the run's settings, config.preset(...), got {cfg!r}.")
    recompute = flag(recompute, "recompute")
    study = get(name)
    if study.splits_follow_seed:
        return None
    if not recompute:
        for place in (Path(folder), Path(cfg.runs_dir) / "results"):
            try:
                record = check(study, cfg, place)
            except FileNotFoundError:
                continue
            return int(record.get("split_seed", cfg.seed))
    return cfg.seed  # a table computed now is computed on the split of cfg.seed


def study_dataset(name: str, cfg: RunConfig, *, recompute: bool = False):
    """The dataset on the split a study's searches ran on (`split_seed`; the seed's own split when
    each seed drew one), with `cfg`'s dataset and caps: what a notebook that retrains and tests
    the table's picks must use, so that their test images are ones no search saw."""
    from lab import data

    seed = split_seed(name, cfg, recompute=recompute)
    return data.load_for(cfg if seed is None else replace(cfg, seed=seed))


def experiment(table: pd.DataFrame, name: str) -> pd.DataFrame:
    """The rows of one experiment, with only the columns it fills (its settings and measures)."""
    if name not in set(table["experiment"]):
        raise KeyError(
            f"no experiment {name!r}; the table has {', '.join(dict.fromkeys(table['experiment']))}"
        )
    rows = table[table["experiment"] == name].dropna(axis=1, how="all").reset_index(drop=True)
    # A CSV column with gaps reads back as float: give whole-number settings their ints back.
    for column in rows.columns:
        values = rows[column]
        if values.dtype.kind == "f" and values.notna().all() and (values == values.round()).all():
            if column not in MEASURES_KEPT_FLOAT:
                rows[column] = values.astype(int)
    return rows.drop(columns=["experiment", "setting"])


def _cost(table: pd.DataFrame) -> str:
    if "seconds" not in table:
        return ""
    return f", {table['seconds'].sum() / 60:.1f} min of training"


def _shown(path: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab.results", description=__doc__.split("\n")[0])
    parser.add_argument("study", nargs="?", help="the study to run (see --list)")
    parser.add_argument("--list", action="store_true", help="list the studies and their stored tables")
    parser.add_argument("--preset", default="workshop")
    parser.add_argument("--dataset", default=None)
    parser.add_argument("--seed", type=int, default=0, help="the first seed (default 0)")
    parser.add_argument(
        "--seeds", type=int, default=None, help="how many seeds (default: the preset's n_seeds)"
    )
    parser.add_argument("--out", default=str(RESULTS_DIR), help="folder for the table (default results/)")
    args = parser.parse_args(argv)
    _register_builtin()
    if args.list and args.study:
        print(
            f"error: --list takes no study, got {args.study!r}; run the study without --list.",
            file=sys.stderr,
        )
        return 2
    if args.list or not args.study:
        for study in STUDIES.values():
            print(f"{study.name}: {study.title}")
        return 0
    try:
        study = get(args.study)
        cfg = preset(args.preset, dataset=args.dataset, seed=args.seed)
        if args.seeds is not None:
            args.seeds = checks.integer(args.seeds, "--seeds", minimum=1, maximum=1000)
            if cfg.seed + args.seeds - 1 > checks.MAX_SEED:
                raise ValueError(
                    f"--seed {cfg.seed} with --seeds {args.seeds} runs past NumPy's largest seed."
                )
        args.out = checks.folder(args.out, "--out")  # with a leading ~ expanded
        from lab import data

        data.load_for(cfg)  # an unavailable dataset is reported here, in one line
    except (KeyError, ValueError, RuntimeError) as error:
        message = str(error.args[0]).replace("seed (SEED in a notebook's parameters)", "--seed")
        print(f"error: {message}", file=sys.stderr)
        return 2
    table = compute(study, cfg, n_seeds=args.seeds, out_dir=args.out)
    print(f"wrote {len(table)} runs to {Path(args.out) / _stem(study, cfg)}.csv")
    return 0


def study_main(
    study: str, argv: Sequence[str] | None, *, prog: str, description: str, seeds_field: str, duration: str
) -> int:
    """The command line of one study's reference run (`python -m lab.shootout`, `python -m lab.pareto`):
    the options of `python -m lab.results`, with the study named and its own seed count as default."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument(
        "--preset", default="workshop", help=f"quick, workshop (the default: {duration}) or full"
    )
    parser.add_argument("--dataset", default=None, help="the preset's own by default")
    parser.add_argument("--seed", default="0", help="the first seed (default 0)")
    parser.add_argument("--seeds", default=None, help=f"how many seeds (default: the preset's {seeds_field})")
    parser.add_argument("--out", default=None, help="folder for the table (default results/)")
    args = parser.parse_args(argv)
    forwarded = [study, "--preset", args.preset, "--seed", args.seed]
    for option in ("dataset", "seeds", "out"):
        if getattr(args, option) is not None:
            forwarded += [f"--{option}", getattr(args, option)]
    return main(forwarded)


def _register_builtin() -> None:
    from lab import pareto, shootout, studies  # noqa: F401  (they register the book's studies)


if __name__ == "__main__":
    # Run the imported module's `main`, so the studies register where `get` looks.
    from lab.results import main as _main

    raise SystemExit(_main())
