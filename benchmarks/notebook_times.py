"""Wall time of each notebook under a preset (kernel start and imports included).

Figures go to a temporary folder unless --figures-dir is given, so timing never
rewrites the committed figures.
Run: .venv/bin/python benchmarks/notebook_times.py [--preset workshop] [--only 00 01]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from lab import book, config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="workshop", choices=config.PRESETS)
    parser.add_argument("--only", nargs="*", default=None)
    parser.add_argument("--figures-dir", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        figures = args.figures_dir or Path(tmp) / "figures"
        total = 0.0
        for path in book.notebooks():
            if args.only and path.name[:2] not in args.only:
                continue
            # A fresh runs folder: searches are timed from scratch, never reloaded.
            seconds = book.run_notebook(
                path,
                preset=args.preset,
                output_dir=Path(tmp),
                figures_dir=figures,
                runs_dir=Path(tmp) / "runs",
            )
            total += seconds
            print(f"{path.name:40s} {seconds:7.1f} s  ({seconds / 60:.2f} min)", flush=True)
        print(f"{'total':40s} {total:7.1f} s  (preset {args.preset})")


if __name__ == "__main__":
    main()
