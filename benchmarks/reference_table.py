"""The reference table: dense autoencoder and PCA at latent sizes 2 to 32, over 5 seeds.

Each seed draws its own stratified split and trains the book's reference autoencoder
(the `workshop` budget: early stopping on the validation split) at each latent size;
both methods are then scored once on that seed's test split: reconstruction MSE, and
the accuracy of a logistic-regression probe trained on the training codes. Raw
pixels' probe accuracy is the ceiling. The table is written to results/ (resumable:
an interrupted run picks up where it stopped) and printed as mean ± standard deviation.

Run: .venv/bin/python benchmarks/reference_table.py [--preset workshop] [--seeds 5] [--print-only]
"""

from __future__ import annotations

import argparse

import pandas as pd

from lab import config, results, studies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="workshop", choices=config.PRESETS)
    parser.add_argument("--seeds", type=int, default=None, help="seeds (default: the study's 5)")
    parser.add_argument("--print-only", action="store_true", help="print the committed table, train nothing")
    parser.add_argument(
        "--markdown", action="store_true", help="print the table as Markdown (for the README)"
    )
    args = parser.parse_args()
    cfg = config.preset(args.preset)
    if args.print_only:
        table = results.load("reference_table", cfg)
    else:
        table = results.compute("reference_table", cfg, n_seeds=args.seeds)
    record = results.check("reference_table", cfg) if not args.print_only else None
    summary = studies.reference_summary(table)
    if args.markdown:
        print("| latent size | " + " | ".join(summary.columns) + " |")
        print("|---" * (len(summary.columns) + 1) + "|")
        for size, row in summary.iterrows():
            print(f"| {size} | " + " | ".join(row) + " |")
    else:
        with pd.option_context("display.width", 200, "display.max_columns", 20):
            print(summary.to_string())
    if record:
        print(f"\n{len(record['seeds'])} seeds, {record['seconds'] / 60:.1f} min on {record['machine']}")


if __name__ == "__main__":
    main()
