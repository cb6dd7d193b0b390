"""The claims table: the book run over several seeds, each headline's value and spread.

Each notebook that records headlines (lab.claims) is executed with the preset on every
seed; its `NN_headlines.json` is kept under runs/claims/<preset>_<dataset>/seed_<s>/, so an
interrupted run resumes where it stopped (delete that folder to start afresh). The table
goes to results/claims_<preset>_<dataset>.csv with a JSON record (seeds, machine, time per
notebook); it lists every number with its mean, standard deviation and range, and every
claim of the prose with the seeds it held on. tests/test_claims.py checks the fastest
notebooks against it in CI; the rest are checked here, and the table says which.

Run: .venv/bin/python benchmarks/claims.py [--seeds 0 1 2] [--only 01 02] [--print-only]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import sys
import time
from pathlib import Path

import pandas as pd

from lab import book, claims, config

WORK_DIR = config.RUNS_DIR / "claims"


def table_paths(preset: str, dataset: str, folder: Path = config.ROOT / "results") -> tuple[Path, Path]:
    stem = f"claims_{preset}_{dataset}"
    return folder / f"{stem}.csv", folder / f"{stem}.json"


def recording_notebooks() -> list[Path]:
    """The notebooks whose last cells call `claims.record`."""
    return [p for p in book.notebooks() if "claims.record(" in p.read_text()]


def run_seed(path: Path, preset: str, seed: int, work: Path) -> tuple[Path, float | None]:
    """Execute one notebook on one seed unless its headlines are already there."""
    folder = work / f"seed_{seed}"
    target = claims.headlines_path(path.name[:2], folder / "figures")
    if target.exists():
        return target, None
    runs = folder / "runs"
    shutil.rmtree(runs / path.stem, ignore_errors=True)  # an interrupted search starts afresh
    seconds = book.run_notebook(
        path,
        preset=preset,
        output_dir=folder / "executed",
        figures_dir=folder / "figures",
        runs_dir=runs,
        parameters={"SEED": seed},
    )
    return target, seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="workshop", choices=config.PRESETS)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--only", nargs="*", default=None, help="notebook numbers, e.g. 01 02")
    parser.add_argument("--print-only", action="store_true", help="print the committed table")
    parser.add_argument("--markdown", action="store_true", help="with --print-only: the claims as Markdown")
    args = parser.parse_args(argv)
    cfg = config.preset(args.preset)
    csv_path, json_path = table_paths(cfg.preset, cfg.dataset)
    if args.print_only:
        table = pd.read_csv(csv_path, dtype={"notebook": str})
        if args.markdown:
            print("| notebook | claim | held on | checked in |\n|---|---|---|---|")
            for _, row in table[table["kind"] == "claim"].iterrows():
                print(
                    f"| {row['notebook']} | {row['text']} | {int(row['held'])} of {int(row['n'])} seeds "
                    f"| {row['checked_in']} |"
                )
        else:
            print(table.to_string())
        return 0

    work = WORK_DIR / f"{cfg.preset}_{cfg.dataset}"
    selected = [p for p in recording_notebooks() if args.only is None or p.name[:2] in args.only]
    if not selected:
        print(f"no recording notebook matched {args.only}")
        return 2
    records, seconds = [], {}
    for path in selected:
        for seed in args.seeds:
            print(f"{path.name} seed {seed} ...", end=" ", flush=True)
            target, took = run_seed(path, cfg.preset, seed, work)
            print("kept from an earlier run" if took is None else f"{took:.0f} s", flush=True)
            if took is not None:
                seconds.setdefault(path.name[:2], {})[str(seed)] = round(took, 1)
            records.append(claims.read(target))

    new = claims.summarize(records, ci_notebooks=claims.CI_NOTEBOOKS)
    if args.only is not None and csv_path.exists():  # refresh some notebooks, keep the others
        old = pd.read_csv(csv_path, dtype={"notebook": str})
        new = (
            pd.concat([old[~old["notebook"].isin(new["notebook"])], new])
            .sort_values(["notebook", "kind", "name"])
            .reset_index(drop=True)
        )
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    new.to_csv(csv_path, index=False, float_format="%.6g")
    previous = json.loads(json_path.read_text()) if json_path.exists() else {}
    notebook_seconds = previous.get("notebook_seconds", {})
    for number, by_seed in seconds.items():  # seeds kept from an earlier run keep their times
        notebook_seconds[number] = {**notebook_seconds.get(number, {}), **by_seed}
    json_path.write_text(
        json.dumps(
            dict(
                preset=cfg.preset,
                dataset=cfg.dataset,
                seeds=args.seeds,
                ci_notebooks=list(claims.CI_NOTEBOOKS),
                tolerance=dict(stds=claims.TOLERANCE_STDS, share_of_mean=claims.TOLERANCE_SHARE),
                # The notebook each record was run from: a notebook whose seeds were all
                # kept from an earlier run keeps the hash recorded then.
                notebooks={
                    p.name[:2]: (
                        hashlib.sha256(p.read_bytes()).hexdigest()[:12]
                        if p.name[:2] in seconds or p.name[:2] not in previous.get("notebooks", {})
                        else previous["notebooks"][p.name[:2]]
                    )
                    for p in recording_notebooks()
                },
                notebook_seconds=notebook_seconds,
                command="python benchmarks/claims.py " + " ".join(sys.argv[1:] if argv is None else argv),
                machine=f"{platform.machine()}, {os.cpu_count()} cores, {platform.system()}",
                finished=time.strftime("%Y-%m-%d %H:%M"),
            ),
            indent=1,
        )
        + "\n"
    )

    claims_rows = new[new["kind"] == "claim"]
    shaky = claims_rows[claims_rows["held"] < claims_rows["n"]]
    print(f"\n{len(claims_rows)} claims, {len(new) - len(claims_rows)} numbers -> {csv_path}")
    for _, row in claims_rows.iterrows():
        print(
            f"  {row['notebook']} {row['name']}: held on {int(row['held'])} of {int(row['n'])} seeds "
            f"({row['checked_in']})"
        )
    for _, row in new[new["kind"] == "number"].iterrows():
        print(
            f"  {row['notebook']} {row['name']}: {row['mean']:.4g} ± {row['std']:.2g} "
            f"[{row['min']:.4g}, {row['max']:.4g}]"
        )
    if len(shaky):
        print(f"\n{len(shaky)} claim(s) did not hold on every seed; the prose must not state them:")
        for _, row in shaky.iterrows():
            print(f"  {row['notebook']} {row['name']}: {row['text']}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
