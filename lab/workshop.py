"""The workshop kit: a schedule from measured times, the generated parts of the notes, warm searches.

`workshop/plan.toml` says what each block of a half-day and a full-day workshop
teaches and how many minutes of teaching and exercises it gets. The minutes of
running each notebook are never typed: they come from the per-cell times that
`benchmarks/notebook_times.py --warm --write` keeps under `results/`. From those
two, `python -m lab.workshop` writes `workshop/schedule.md`, and fills the blocks
of the instructor notes (`workshop/notes/NN_topic.md`) that sit between
`<!-- begin generated: NAME -->` and `<!-- end generated: NAME -->`: the expected
results (from the claims table) and the slow cells. `--check` fails when a
generated file is out of date; `tests/test_workshop.py` runs it.

`python -m lab.workshop warm` (`make warm`) runs every notebook that searches with
the workshop preset into `runs/`, so that on the day each search cell reloads its
finished trials instead of training them.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import tomllib
from pathlib import Path
from typing import Any

import pandas as pd

from lab import config

WORKSHOP_DIR = config.ROOT / "workshop"
PLAN = WORKSHOP_DIR / "plan.toml"
SCHEDULE = WORKSHOP_DIR / "schedule.md"
NOTES_DIR = WORKSHOP_DIR / "notes"
RESULTS_DIR = config.ROOT / "results"
CLAIMS = RESULTS_DIR / "claims_workshop_digits.csv"
# A cell slower than this (seconds, workshop preset) is listed in the notes.
SLOW_SECONDS = 10.0
_SEARCH_CALLS = ("tuning.search(",)
_BLOCK = "<!-- begin generated: {name} -->\n{body}<!-- end generated: {name} -->"


def times_path(preset: str = "workshop", dataset: str = "digits") -> Path:
    """Where `benchmarks/notebook_times.py --write` keeps the per-cell times."""
    return RESULTS_DIR / f"notebook_times_{preset}_{dataset}.csv"


def _code_sources(path: Path) -> list[str]:
    cells = json.loads(Path(path).read_text())["cells"]
    return ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]


def searches(path: Path) -> bool:
    """True when a notebook runs searches that resume (a cell calls `tuning.search`, and its parameters
    offer `OVERWRITE`), so `make warm` shortens it. Notebook 11's searches start afresh on every run,
    because it measures their time: there is nothing to warm."""
    sources = _code_sources(path)
    calls = any(call in source for source in sources for call in _SEARCH_CALLS)
    return calls and any("OVERWRITE =" in source for source in sources)


def cell_times(executed: Path) -> pd.DataFrame:
    """Each code cell of a notebook executed by papermill: its section, first line and seconds.

    Returns:
        One row per code cell: `notebook` ("01"), `cell` (index), `section` (the last `##`
        heading above it), `source` (its first line), `seconds`, `search` (it runs a
        search), and `notebook_seconds` (the whole run, kernel start included).
    """
    nb = json.loads(Path(executed).read_text())
    total = nb["metadata"].get("papermill", {}).get("duration")
    rows, section = [], "(start)"
    for i, cell in enumerate(nb["cells"]):
        source = "".join(cell["source"])
        if cell["cell_type"] == "markdown":
            heading = re.findall(r"^## (.+)$", source, re.M)
            section = heading[-1].strip() if heading else section
            continue
        if "injected-parameters" in cell["metadata"].get("tags", []):
            continue
        first = next((line for line in source.splitlines() if line.strip() and not line.startswith("#")), "")
        rows.append(
            dict(
                notebook=Path(executed).name[:2],
                cell=i,
                section=section,
                source=first[:70],
                seconds=cell["metadata"].get("papermill", {}).get("duration") or 0.0,
                search=any(call in source for call in _SEARCH_CALLS),
                notebook_seconds=total,
            )
        )
    return pd.DataFrame(rows)


def load_times(path: Path | None = None) -> pd.DataFrame:
    """The committed per-cell times; says how to make them when they are missing."""
    path = Path(path or times_path())
    if not path.exists():
        raise FileNotFoundError(
            f"{path} is missing: run `python benchmarks/notebook_times.py --warm --write` "
            "(about 25 minutes on 2 cores) and commit it."
        )
    return pd.read_csv(path, dtype={"notebook": str})


def run_minutes(times: pd.DataFrame, *, warm: bool = True) -> dict[str, int]:
    """Minutes of running each notebook from top to bottom, rounded up.

    With `warm`, a notebook that searches counts its warm run (after `make warm`).
    """
    out = {}
    for notebook, rows in times.groupby("notebook"):
        run = "warm" if warm and (rows["run"] == "warm").any() else "cold"
        seconds = rows.loc[rows["run"] == run, "notebook_seconds"].iloc[0]
        out[notebook] = math.ceil(seconds / 60)
    return out


def load_plan(path: Path = PLAN) -> dict[str, Any]:
    """The plan of each workshop format, checked: blocks name notebooks that exist."""
    from lab import book

    plan = tomllib.loads(Path(path).read_text())
    known = {p.name[:2]: p for p in book.notebooks()}
    for key, day in plan.items():
        for block in day["block"]:
            kinds = {"notebook", "break", "item"} & set(block)
            if len(kinds) != 1:
                raise ValueError(f"{path.name}, {key}: each block is a notebook, a break or an item: {block}")
            if "notebook" in block and block["notebook"] not in known:
                raise ValueError(f"{path.name}, {key}: no notebook numbered {block['notebook']!r}")
    return plan


def _clock(start: str, minutes: int) -> str:
    hours, mins = map(int, start.split(":"))
    total = hours * 60 + mins + minutes
    return f"{total // 60:02d}:{total % 60:02d}"


def schedule_rows(day: dict[str, Any], times: pd.DataFrame) -> pd.DataFrame:
    """One row per block: start, end, what, and minutes of teaching, exercises and running."""
    from lab import book

    titles = book.notebook_map()["title"]
    runs = run_minutes(times)
    rows, elapsed = [], 0
    for block in day["block"]:
        if "notebook" in block:
            n = block["notebook"]
            if n not in runs:
                raise ValueError(
                    f"notebook {n} has no measured times: run `python benchmarks/notebook_times.py "
                    f"--warm --write --only {n}`"
                )
            teach, exercises, run = block["teach"], block["exercises"], runs[n]
            what = f"{titles[n]}: {block['sections']}"
        else:
            teach, exercises, run = block.get("minutes", 0), 0, 0
            what = block.get("item") or "Break"
            if "break" in block:
                teach, what = block["break"], block.get("what", "Break")
        length = teach + exercises + run
        rows.append(
            dict(
                start=_clock(day["start"], elapsed),
                end=_clock(day["start"], elapsed + length),
                block=what,
                teach=teach,
                exercises=exercises,
                run=run,
                minutes=length,
                exercise_list=block.get("exercise_list", ""),
            )
        )
        elapsed += length
    return pd.DataFrame(rows)


def _markdown_table(frame: pd.DataFrame) -> str:
    head = "| " + " | ".join(frame.columns) + " |\n"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|\n"
    body = "".join("| " + " | ".join(str(v) for v in row) + " |\n" for row in frame.itertuples(index=False))
    return head + rule + body


def render_schedule(plan: dict[str, Any], times: pd.DataFrame) -> str:
    """The schedule page: one table per workshop format, with its total minutes."""
    parts = [
        "# Workshop schedules\n\n",
        "Generated by `python -m lab.workshop` from `workshop/plan.toml` (teaching and exercise "
        "minutes) and the measured notebook times in `results/notebook_times_workshop_digits.csv` "
        "(the *run* column: a notebook run from top to bottom with the `workshop` preset on a "
        "2-core laptop, after `make warm` for the notebooks that search). Do not edit by hand.\n\n",
    ]
    for day in plan.values():
        rows = schedule_rows(day, times)
        total = int(rows["minutes"].sum())
        teach, exercises, run = (int(rows[c].sum()) for c in ("teach", "exercises", "run"))
        shown = rows.rename(columns={"exercise_list": "exercises in the room"})
        shown = shown[["start", "end", "block", "teach", "exercises", "run", "exercises in the room"]]
        parts.append(f"## {day['title']}\n\n{day.get('intro', '')}\n\n")
        parts.append(_markdown_table(shown))
        parts.append(
            f"\nIn all {total} minutes ({total / 60:.1f} h) of the {day['length']} planned: "
            f"{teach} teaching (breaks included), {exercises} exercises, {run} running notebooks.\n\n"
        )
    return "".join(parts)


def expected_results(notebook: str, table: pd.DataFrame) -> str:
    """The claims table's rows of one notebook as Markdown: numbers with their spread, claims held."""
    mine = table[table["notebook"].astype(str).str.zfill(2) == notebook]
    if mine.empty:
        return "No headline numbers are recorded for this notebook.\n"
    seeds = mine["n"].max()
    numbers = mine[mine["kind"] == "number"]
    out = [f"From `results/claims_workshop_digits.csv` ({seeds} seeds, `workshop` preset):\n\n"]
    if not numbers.empty:
        shown = pd.DataFrame(
            {
                "number": numbers["name"],
                "mean": numbers["mean"].map(lambda v: f"{v:.4g}"),
                "sd": numbers["std"].map(lambda v: f"{v:.2g}"),
                "range over seeds": [
                    f"{a:.4g} to {b:.4g}" for a, b in zip(numbers["min"], numbers["max"], strict=True)
                ],
            }
        )
        out.append(_markdown_table(shown) + "\n")
    claims = mine[mine["kind"] == "claim"]
    if not claims.empty:
        shown = pd.DataFrame(
            {
                "claim in the prose": claims["text"],
                "held on": [
                    f"{int(h)} of {int(n)} seeds" for h, n in zip(claims["held"], claims["n"], strict=True)
                ],
            }
        )
        out.append(_markdown_table(shown))
    return "".join(out)


def slow_cells(notebook: str, times: pd.DataFrame, threshold: float = SLOW_SECONDS) -> str:
    """The cells of one notebook slower than `threshold` seconds, cold and (for searches) warm."""
    mine = times[times["notebook"] == notebook]
    if mine.empty:
        return "No times are measured for this notebook.\n"
    cold = mine[mine["run"] == "cold"].set_index("cell")
    warm = mine[mine["run"] == "warm"].set_index("cell")
    slow = cold[(cold["seconds"] >= threshold) | (cold["search"])]
    total = cold["notebook_seconds"].iloc[0]
    lines = [f"The whole notebook took {total:.0f} s with the `workshop` preset"]
    if not warm.empty:
        lines.append(f" ({warm['notebook_seconds'].iloc[0]:.0f} s after `make warm`)")
    lines.append(f"; cells of {threshold:.0f} s or more, and every search cell:\n\n")
    if slow.empty:
        return "".join(lines[:1]) + f"; no cell took {threshold:.0f} s or more.\n"
    frame = pd.DataFrame(
        {
            "cell": slow.index,
            "section": slow["section"],
            "starts with": ["`" + s.replace("|", "\\|") + "`" for s in slow["source"]],
            "seconds": slow["seconds"].map(lambda v: f"{v:.0f}"),
        }
    )
    if not warm.empty:
        frame["after make warm"] = [
            f"{warm.loc[c, 'seconds']:.0f}" if c in warm.index else "" for c in slow.index
        ]
    return "".join(lines) + _markdown_table(frame)


def search_summary(times: pd.DataFrame) -> str:
    """Per searching notebook: its search cells' seconds cold and warm, and the whole notebook's."""
    rows = []
    for notebook, mine in times.groupby("notebook"):
        if not (mine["run"] == "warm").any():
            continue
        cold, warm = (mine[(mine["run"] == run) & mine["search"]] for run in ("cold", "warm"))
        whole = {run: mine.loc[mine["run"] == run, "notebook_seconds"].iloc[0] for run in ("cold", "warm")}
        rows.append(
            {
                "notebook": notebook,
                "search cells": len(cold),
                "search cells, cold (s)": f"{cold['seconds'].sum():.0f}",
                "search cells, warm (s)": f"{warm['seconds'].sum():.1f}",
                "whole notebook, cold (s)": f"{whole['cold']:.0f}",
                "whole notebook, warm (s)": f"{whole['warm']:.0f}",
            }
        )
    if not rows:
        return "No warm runs are measured: run `python benchmarks/notebook_times.py --warm --write`.\n"
    return _markdown_table(pd.DataFrame(rows))


def fill(text: str, name: str, body: str) -> str:
    """Replace what sits between a generated block's two markers."""
    pattern = re.compile(
        rf"<!-- begin generated: {re.escape(name)} -->\n.*?<!-- end generated: {re.escape(name)} -->", re.S
    )
    if not pattern.search(text):
        raise ValueError(
            f"no '<!-- begin generated: {name} -->' ... '<!-- end generated: {name} -->' markers"
        )
    block = _BLOCK.format(name=name, body=body if body.endswith("\n") else body + "\n")
    return pattern.sub(lambda _: block, text)


def readme_minutes(text: str, times: pd.DataFrame) -> str:
    """The README's notebook table with its last column, the minutes of a cold run, from `times`."""
    cold = times[times["run"] == "cold"].groupby("notebook")["notebook_seconds"].first()

    lines = []
    for line in text.split("\n"):
        match = re.match(r"^\| (\d\d) \| \[", line)
        if match and match.group(1) in cold.index:
            head = line.rstrip().removesuffix("|").rstrip().rpartition("|")[0]
            line = f"{head}| {cold[match.group(1)] / 60:.1f} |"
        lines.append(line)
    return "\n".join(lines)


def generated_files(times: pd.DataFrame | None = None) -> dict[Path, str]:
    """Every generated file's path and the text it should hold now."""
    times = load_times() if times is None else times
    claims_table = pd.read_csv(CLAIMS, dtype={"notebook": str})
    out = {SCHEDULE: render_schedule(load_plan(), times)}
    readme = config.ROOT / "README.md"
    out[readme] = readme_minutes(readme.read_text(), times)
    index = WORKSHOP_DIR / "README.md"
    if index.exists():
        out[index] = fill(index.read_text(), "search cells", search_summary(times))
    for path in sorted(NOTES_DIR.glob("[0-9][0-9]_*.md")):
        text = path.read_text()
        notebook = path.name[:2]
        text = fill(text, "expected results", expected_results(notebook, claims_table))
        text = fill(text, "slow cells", slow_cells(notebook, times))
        out[path] = text
    return out


def stale() -> list[Path]:
    """Generated files whose text differs from what the generator writes now."""
    return [p for p, text in generated_files().items() if not p.exists() or p.read_text() != text]


def warm(preset: str = "workshop", seed: int = 0, runs_dir: Path = config.RUNS_DIR) -> dict[str, float]:
    """Run every notebook that searches, so its searches are kept under `runs_dir`.

    The executed copies go to build/warm/ and their figures to build/warm/figures/, so
    the committed figures are never rewritten. Returns the seconds each notebook took.
    """
    from lab import book

    out = config.ROOT / "build" / "warm"
    seconds = {}
    for path in book.notebooks():
        if not searches(path):
            continue
        print(f"warming {path.name} (preset {preset}, seed {seed}) ...", flush=True)
        seconds[path.name] = book.run_notebook(
            path,
            preset=preset,
            output_dir=out,
            figures_dir=out / "figures",
            runs_dir=runs_dir,
            parameters={"SEED": seed},
        )
        print(f"  {seconds[path.name]:.0f} s", flush=True)
    return seconds


def main(argv: list[str] | None = None) -> int:
    """Write the schedule and the notes' generated blocks (or check them), or warm the searches."""
    parser = argparse.ArgumentParser(prog="python -m lab.workshop", description=main.__doc__)
    parser.add_argument("command", nargs="?", choices=("write", "check", "warm"), default="write")
    parser.add_argument("--seed", type=int, default=0, help="warm: the SEED the room will use (default 0)")
    args = parser.parse_args(argv)
    if args.command == "warm":
        from papermill.exceptions import PapermillExecutionError

        try:
            seconds = warm(seed=args.seed)
        except PapermillExecutionError as exc:
            print(
                f"error: warming stopped in cell {exc.exec_count}: {exc.ename}: {exc.evalue}", file=sys.stderr
            )
            return 1
        print(
            f"warmed {len(seconds)} notebooks in {sum(seconds.values()) / 60:.1f} min; their searches are "
            f"kept in {config.RUNS_DIR} and reload in seconds with PRESET='workshop', SEED={args.seed}"
        )
        return 0
    if args.command == "check":
        old = stale()
        for path in old:
            print(
                f"{path.relative_to(config.ROOT)} is out of date: run `python -m lab.workshop`",
                file=sys.stderr,
            )
        return 1 if old else 0
    for path, text in generated_files().items():
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
            print(f"wrote {path.relative_to(config.ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
