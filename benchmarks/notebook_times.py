"""Wall time of each notebook under a preset (kernel start and imports included), and of each cell.

Each notebook runs in a fresh runs folder, so its searches are timed from scratch
("cold"). With --warm, the notebooks that search run a second time on the same
folder ("warm"): every search then reloads its finished trials, as it does in a
workshop after `make warm`. Figures go to a temporary folder unless --figures-dir
is given, so timing never rewrites the committed figures.

With --write, the per-cell times go to results/notebook_times_<preset>_<dataset>.csv,
from which `python -m lab.workshop` builds the workshop's schedule and the slow-cell
tables of the instructor notes.
Run: .venv/bin/python benchmarks/notebook_times.py [--preset workshop] [--only 00 01] [--warm] [--write]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import pandas as pd

from lab import book, config, workshop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="workshop", choices=config.PRESETS)
    parser.add_argument("--only", nargs="*", default=None)
    parser.add_argument("--figures-dir", type=Path, default=None)
    parser.add_argument("--warm", action="store_true", help="run the searching notebooks a second time")
    parser.add_argument("--write", action="store_true", help="keep the per-cell times under results/")
    args = parser.parse_args()
    frames = []
    with tempfile.TemporaryDirectory() as tmp:
        figures = args.figures_dir or Path(tmp) / "figures"
        total = 0.0
        for path in book.notebooks():
            if args.only and path.name[:2] not in args.only:
                continue
            runs = Path(tmp) / "runs" / path.stem
            passes = ("cold", "warm") if args.warm and workshop.searches(path) else ("cold",)
            for run in passes:
                seconds = book.run_notebook(
                    path,
                    preset=args.preset,
                    output_dir=Path(tmp) / run,
                    figures_dir=figures,
                    runs_dir=runs,
                )
                cells = workshop.cell_times(Path(tmp) / run / path.name)
                cells.insert(0, "run", run)
                frames.append(cells)
                if run == "cold":
                    total += seconds
                print(f"{path.name:40s} {run:5s} {seconds:7.1f} s  ({seconds / 60:.2f} min)", flush=True)
                search = cells[cells["search"]]
                for _, row in search.iterrows():
                    print(f"    search cell {row['cell']:3d} {row['seconds']:7.1f} s  {row['source']}")
        print(f"{'total':40s} {total:7.1f} s  (preset {args.preset})")
    if args.write and frames:
        table = pd.concat(frames, ignore_index=True)
        cfg = config.preset(args.preset)
        out = workshop.times_path(cfg.preset, cfg.dataset)
        if args.only and out.exists():  # keep the notebooks not rerun
            kept = pd.read_csv(out, dtype={"notebook": str})
            table = pd.concat([kept[~kept["notebook"].isin(table["notebook"])], table], ignore_index=True)
        table.sort_values(["notebook", "run", "cell"]).to_csv(out, index=False)
        print(f"per-cell times written to {out.relative_to(config.ROOT)}")


if __name__ == "__main__":
    main()
