"""Every notebook in notebooks/ executed with the quick preset; new notebooks are picked up."""

import json

import nbformat
import pytest
from nbformat.sign import NotebookNotary

from lab import book

NOTEBOOKS = book.notebooks()


def test_the_book_has_notebooks_numbered_without_gaps():
    numbers = [int(p.name[:2]) for p in NOTEBOOKS]
    assert numbers == list(range(len(numbers))) and numbers, numbers


@pytest.mark.notebook
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs_with_the_quick_preset(path, tmp_path, capfd):
    figures = tmp_path / "figures"
    book.run_notebook(
        path,
        preset="quick",
        output_dir=tmp_path,
        figures_dir=figures,
        runs_dir=tmp_path / "runs",
        parameters={"SEED": "0"},  # a string, as papermill's `-r SEED 0` passes it: converted by the preset
    )
    # The kernel talks over local sockets: no "running over TCP without encryption" warning.
    assert "without encryption" not in capfd.readouterr().err
    executed = json.loads((tmp_path / path.name).read_text())
    outputs = [o for c in executed["cells"] if c["cell_type"] == "code" for o in c["outputs"]]
    assert not [o for o in outputs if o["output_type"] == "error"]
    # Each notebook saves its figures into the folder it was given, never the repo's.
    saved = sorted(p.name for p in figures.glob("*.png"))
    assert saved and all(name.startswith(path.name[:2] + "_") for name in saved), saved
    assert any("image/png" in o.get("data", {}) for o in outputs), "no figure was displayed"
    # Signed as trusted, so JupyterLab draws saved widgets (the panel) when it is opened.
    notebook = nbformat.read(tmp_path / path.name, as_version=nbformat.NO_CONVERT)
    assert NotebookNotary().check_signature(notebook)
    if "RetrainPanel(" in path.read_text():
        state = executed["metadata"]["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
        images = [m for m in state.values() if m["model_name"] == "ImageModel"]
        assert images and all(m.get("buffers") for m in images), "the panel's figures were not saved"


@pytest.mark.notebook
@pytest.mark.parametrize(
    "number, parameters, words",
    [
        ("00", {"SEED": "zero"}, "seed (SEED in a notebook's parameters) must be a whole number"),
        ("06", {"OVERWRITE": "false"}, "-p OVERWRITE False"),
    ],
)
def test_a_bad_parameter_stops_the_notebook_in_its_settings_cell(tmp_path, number, parameters, words):
    """Refused in words in the cell that makes the settings, before any search folder is touched."""
    import papermill

    path = next(p for p in NOTEBOOKS if p.name.startswith(number))
    runs = tmp_path / "runs"
    with pytest.raises(papermill.PapermillExecutionError) as info:
        book.run_notebook(
            path,
            preset="quick",
            output_dir=tmp_path,
            figures_dir=tmp_path / "f",
            runs_dir=runs,
            parameters=parameters,
        )
    assert words in info.value.evalue
    assert "config.preset(" in info.value.source or "config.flag(" in info.value.source
    assert not runs.exists()
