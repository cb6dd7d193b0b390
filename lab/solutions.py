"""Worked solutions: one solutions notebook per notebook, kept in step with its exercises.

The learner's notebook `notebooks/NN_topic.ipynb` ends with `## Exercises` and
`## Check your understanding`, each a numbered list. Its solutions notebook
`solutions/NN_topic.ipynb` repeats every item in a markdown cell tagged `exercise`
or `question` ("### Exercise 3" and the text), followed by the solution. Nobody
edits the repeated text by hand: `python -m lab.solutions --sync` copies it from
the learner's notebook, and `tests/test_solutions.py` fails when the two drift apart.

A solution states its outcome by printing it. `Answers.note` records each number a
solution computes in `NN_answers.json` in the run's figures folder, and prints it
beside the value the `workshop` preset gave with seed 0, read from the committed
reference in `solutions/reference/` (refreshed by `make solutions-reference`).
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from pathlib import Path
from typing import Any

from lab import config
from lab.config import RunConfig

SOLUTIONS_DIR = config.ROOT / "solutions"
REFERENCE_DIR = SOLUTIONS_DIR / "reference"
NOTEBOOKS_DIR = config.ROOT / "notebooks"
SECTIONS = {"exercise": "Exercises", "question": "Check your understanding"}
REFERENCE = dict(preset="workshop", dataset="digits", seed=0)
_ITEM = re.compile(r"^(\d+)\. (.*)$")
_STATEMENT = re.compile(r"^### (Exercise|Question) (\d+)\n\n(.*)$", re.S)


def _markdown(path: Path) -> list[tuple[int, dict[str, Any]]]:
    cells = json.loads(Path(path).read_text())["cells"]
    return [(i, c) for i, c in enumerate(cells) if c["cell_type"] == "markdown"]


def items(path: Path, heading: str) -> list[str]:
    """The numbered list under `## heading` in a notebook's markdown, one string per item.

    An item runs on over unnumbered lines until the next item, a heading or the end
    of the cell. Items must be numbered 1, 2, ...

    Raises:
        ValueError: when the numbering skips or repeats (say which item to renumber).
    """
    found: list[str] = []
    for _, cell in _markdown(path):
        text = "".join(cell["source"])
        marker = f"## {heading}\n"
        if marker not in text:
            continue
        body = text.split(marker, 1)[1]
        for line in body.splitlines():
            if line.startswith("#"):
                break
            match = _ITEM.match(line)
            if match:
                if int(match.group(1)) != len(found) + 1:
                    raise ValueError(
                        f"{Path(path).name}: item {match.group(1)} of '{heading}' follows item "
                        f"{len(found)}: number the list 1, 2, 3, ..."
                    )
                found.append(match.group(2).strip())
            elif line.strip() and found:
                found[-1] += " " + line.strip()
    return found


def learner_items(path: Path) -> dict[str, list[str]]:
    """A learner notebook's exercises and questions: {"exercise": [...], "question": [...]}."""
    return {kind: items(path, heading) for kind, heading in SECTIONS.items()}


def solution_path(notebook: Path, folder: Path = SOLUTIONS_DIR) -> Path:
    """The solutions notebook of a learner notebook: the same name, in `folder`."""
    return Path(folder) / Path(notebook).name


def statement(kind: str, number: int, text: str) -> str:
    """The markdown of one repeated exercise or question in a solutions notebook."""
    return f"### {kind.capitalize()} {number}\n\n{text}"


def solution_items(path: Path) -> dict[str, list[str]]:
    """The exercises and questions a solutions notebook repeats, in its order."""
    out: dict[str, list[str]] = {kind: [] for kind in SECTIONS}
    for _, cell in _markdown(path):
        tags = cell.get("metadata", {}).get("tags", [])
        kind = next((k for k in SECTIONS if k in tags), None)
        if kind is None:
            continue
        match = _STATEMENT.match("".join(cell["source"]))
        # A malformed cell counts as a statement that differs: `--sync` rewrites it.
        ok = match is not None and match.group(1).lower() == kind
        out[kind].append(match.group(3).strip() if ok else "")
    return out


def drift(notebook: Path, folder: Path = SOLUTIONS_DIR) -> list[str]:
    """Every way a solutions notebook (in `folder`) disagrees with its learner notebook, in words."""
    notebook = Path(notebook)
    target = solution_path(notebook, folder)
    if not target.exists():
        return [f"{notebook.name} has no solutions notebook: write solutions/{notebook.name}"]
    wanted, have = learner_items(notebook), solution_items(target)
    problems = []
    if not wanted["exercise"]:
        problems.append(f"{notebook.name} has no '## Exercises' list")
    for kind in SECTIONS:
        if len(wanted[kind]) != len(have[kind]):
            problems.append(
                f"{notebook.name} has {len(wanted[kind])} {kind}s, its solutions notebook "
                f"{len(have[kind])}: write a solution for each, in order"
            )
        for number, (a, b) in enumerate(zip(wanted[kind], have[kind], strict=False), start=1):
            if a != b:
                problems.append(
                    f"{kind} {number} of {notebook.name} differs in its solutions notebook: "
                    "run `python -m lab.solutions --sync`"
                )
    return problems


def sync(notebook: Path, folder: Path = SOLUTIONS_DIR) -> bool:
    """Copy the exercises' and questions' text into the solutions notebook; True if it changed.

    Only the text of existing statement cells is rewritten; a missing or extra solution
    is left for a person to write (`drift` names it).
    """
    target = solution_path(notebook, folder)
    nb = json.loads(target.read_text())
    wanted = learner_items(notebook)
    seen = {kind: 0 for kind in SECTIONS}
    changed = False
    for cell in nb["cells"]:
        tags = cell.get("metadata", {}).get("tags", [])
        kind = next((k for k in SECTIONS if k in tags), None) if cell["cell_type"] == "markdown" else None
        if kind is None:
            continue
        seen[kind] += 1
        if seen[kind] > len(wanted[kind]):
            continue
        text = statement(kind, seen[kind], wanted[kind][seen[kind] - 1])
        if "".join(cell["source"]) != text:
            lines = text.split("\n")
            cell["source"] = [line + "\n" for line in lines[:-1]] + [lines[-1]]
            changed = True
    if changed:
        target.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
    return changed


def answers_path(notebook: str, folder: Path | str) -> Path:
    """Where a solutions run writes its numbers: `NN_answers.json` in its figures folder."""
    return Path(folder) / f"{notebook}_answers.json"


def _clean(key: str, value: object) -> float | int | bool | str | None:
    if isinstance(value, (bool, str)):
        return value
    try:
        number = float(value)  # numpy scalars included
    except (TypeError, ValueError):
        raise ValueError(f"answer {key!r} must be a number, a bool or a short text, not {value!r}") from None
    if not math.isfinite(number):
        return None
    return int(number) if float(number).is_integer() and not isinstance(value, float) else number


def _show(value: object) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


class Answers:
    """The numbers a solutions notebook computes, each printed beside the `workshop` reference.

    Args:
        notebook: the notebook's number, such as "01".
        cfg: the run's settings; the answers go to `cfg.figures_dir`.
        reference_dir: where the committed reference answers live.
    """

    def __init__(self, notebook: str, cfg: RunConfig, reference_dir: Path | str = REFERENCE_DIR):
        if not re.fullmatch(r"\d\d", str(notebook)):
            raise ValueError(f"notebook must be a two-digit number such as '01', not {notebook!r}")
        self.notebook = notebook
        self.cfg = cfg
        self.path = answers_path(notebook, cfg.figures_dir)
        reference = answers_path(notebook, reference_dir)
        self.reference = json.loads(reference.read_text())["answers"] if reference.exists() else {}
        self.values: dict[str, Any] = {}
        self._write()

    @property
    def is_reference_run(self) -> bool:
        """True when this run is the one the reference records (workshop, digits, seed 0)."""
        return (self.cfg.preset, self.cfg.dataset, self.cfg.seed) == tuple(REFERENCE.values())

    def _write(self) -> None:
        payload = dict(
            notebook=self.notebook,
            preset=self.cfg.preset,
            dataset=self.cfg.dataset,
            seed=self.cfg.seed,
            answers=self.values,
        )
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps(payload, indent=1) + "\n")

    def note(self, key: str, value: object, what: str) -> object:
        """Record one answer and print it with the reference value; returns the value.

        Args:
            key: a snake_case name, unique in the notebook, such as "ex1_tanh_over_relu".
            value: a number, a bool or a short text (a setting's name, "yes").
            what: what the value is, in words, for the printed line.
        """
        if not isinstance(key, str) or not re.fullmatch(r"[a-z][a-z0-9_]*", key):
            raise ValueError(f"answer name {key!r} must be snake_case, such as 'ex1_gap'")
        if key in self.values:
            raise ValueError(f"answer {key!r} was already noted in this run: give each answer its own name")
        clean = _clean(key, value)
        self.values[key] = clean
        self._write()
        run = f"{self.cfg.preset}, {self.cfg.dataset}, seed {self.cfg.seed}"
        if self.is_reference_run:
            print(f"{what}: {_show(clean)} ({run}: this is the reference run)")
        elif key in self.reference:
            print(
                f"{what}: {_show(clean)} here ({run}); the workshop preset gave {_show(self.reference[key])}"
            )
        else:
            print(f"{what}: {_show(clean)} here ({run}); no workshop reference recorded yet")
        return value


def check_all(folder: Path = NOTEBOOKS_DIR) -> list[str]:
    """Drift problems of every learner notebook, in reading order."""
    from lab import book

    return [problem for path in book.notebooks(folder) for problem in drift(path)]


def main(argv: list[str] | None = None) -> int:
    """Check that every solutions notebook repeats its notebook's exercises, or bring them in step."""
    from lab import book

    parser = argparse.ArgumentParser(prog="python -m lab.solutions", description=main.__doc__)
    parser.add_argument("--sync", action="store_true", help="copy the exercises' text into solutions/")
    parser.add_argument("--only", nargs="*", default=None, help="notebook numbers to sync, e.g. 01 02")
    args = parser.parse_args(argv)
    if args.sync:
        for path in book.notebooks():
            if args.only is not None and path.name[:2] not in [n.zfill(2) for n in args.only]:
                continue
            if solution_path(path).exists() and sync(path):
                print(f"updated {solution_path(path).relative_to(config.ROOT)}")
    problems = check_all()
    for problem in problems:
        print(problem, file=sys.stderr)
    if not problems:
        print("every solutions notebook repeats its notebook's exercises and questions")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
