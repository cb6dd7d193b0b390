"""Notebooks and solutions are committed clean: no outputs, no execution counts, one parameters cell."""

import ast
import json

import pytest

from lab import book

NOTEBOOKS = book.notebooks()
EVERY = NOTEBOOKS + book.notebooks(book.SOLUTIONS_DIR)


def _cells(path):
    return json.loads(path.read_text())["cells"]


@pytest.mark.parametrize("path", EVERY, ids=[f"{p.parent.name}/{p.name}" for p in EVERY])
def test_outputs_are_stripped(path):
    code = [c for c in _cells(path) if c["cell_type"] == "code"]
    assert all(not c["outputs"] and c["execution_count"] is None for c in code)


@pytest.mark.parametrize("path", EVERY, ids=[f"{p.parent.name}/{p.name}" for p in EVERY])
def test_exactly_one_parameters_cell_of_literals(path):
    tagged = [c for c in _cells(path) if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1
    tree = ast.parse("".join(tagged[0]["source"]))
    for node in tree.body:
        assert isinstance(node, ast.Assign), "the parameters cell holds assignments only"
        ast.literal_eval(node.value)  # raises if a value is not a literal
        assert node.targets[0].id.isupper(), "parameters are UPPER_CASE"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_structure_title_summary_exercises(path):
    cells = _cells(path)
    assert cells[0]["cell_type"] == "markdown" and "".join(cells[0]["source"]).startswith("# ")
    markdown = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    assert "## Summary" in markdown and "## Exercises" in markdown
    code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    assert "import *" not in code


def test_notebook_map_reads_every_title():
    table = book.notebook_map()
    assert list(table["notebook"]) == [p.name for p in NOTEBOOKS]
    assert table["title"].str.len().min() > 5
