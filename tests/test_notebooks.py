"""Every notebook in notebooks/ executed with the quick preset, on digits and on MNIST-shaped images.

MNIST cannot be downloaded here, so the 28x28 run reads a small `mnist.npz` written into a
temporary Keras home: scikit-learn's digits, each 8x8 image enlarged to 24x24 and framed to
28x28, in MNIST's uint8 format. Every 28x28 code path of the notebooks runs; nothing is learned
that MNIST would teach.
"""

import json

import nbformat
import numpy as np
import pytest
from nbformat.sign import NotebookNotary

from lab import book

NOTEBOOKS = book.notebooks()
# Every notebook runs on digits and on the MNIST-shaped images. No 28x28 table is committed, so
# the notebooks that load one on digits compute their multi-seed studies there, a path the digits
# run never takes.
RUNS = [(p, "digits") for p in NOTEBOOKS] + [(p, "mnist") for p in NOTEBOOKS]


@pytest.fixture(scope="session")
def mnist_home(tmp_path_factory):
    """A Keras home holding an MNIST-shaped `datasets/mnist.npz` (1,500 training and 297 test images)."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    big = np.kron(digits.images, np.ones((3, 3)))  # 8x8 -> 24x24
    images = np.pad(big, ((0, 0), (2, 2), (2, 2)))  # -> 28x28, as MNIST frames its digits
    images = np.round(images / 16 * 255).astype(np.uint8)
    labels = digits.target.astype(np.uint8)
    home = tmp_path_factory.mktemp("keras_home")
    (home / "datasets").mkdir()
    np.savez(
        home / "datasets" / "mnist.npz",
        x_train=images[:1500],
        y_train=labels[:1500],
        x_test=images[1500:],
        y_test=labels[1500:],
    )
    return home


def test_the_book_has_notebooks_numbered_without_gaps():
    numbers = [int(p.name[:2]) for p in NOTEBOOKS]
    assert numbers == list(range(len(numbers))) and numbers, numbers


@pytest.mark.notebook
@pytest.mark.parametrize(
    "path, dataset", RUNS, ids=[f"{p.name}-{'mnist-shaped' if d == 'mnist' else d}" for p, d in RUNS]
)
def test_notebook_runs_with_the_quick_preset(path, dataset, tmp_path, capfd, request, monkeypatch):
    figures = tmp_path / "figures"
    parameters = {"SEED": "0"}  # a string, as papermill's `-r SEED 0` passes it: converted by the preset
    if dataset == "mnist":
        monkeypatch.setenv("KERAS_HOME", str(request.getfixturevalue("mnist_home")))  # the kernel inherits it
        parameters["DATASET"] = "mnist"
    book.run_notebook(
        path,
        preset="quick",
        output_dir=tmp_path,
        figures_dir=figures,
        runs_dir=tmp_path / "runs",
        parameters=parameters,
    )
    # The kernel talks over local sockets: no "running over TCP without encryption" warning.
    assert "without encryption" not in capfd.readouterr().err
    executed = json.loads((tmp_path / path.name).read_text())
    outputs = [o for c in executed["cells"] if c["cell_type"] == "code" for o in c["outputs"]]
    assert not [o for o in outputs if o["output_type"] == "error"]
    if dataset == "mnist":  # the run really read 28x28 images
        text = "".join(
            "".join(o.get("text", "")) + "".join(o.get("data", {}).get("text/plain", "")) for o in outputs
        )
        assert "mnist" in text, "the notebook never named the dataset it loaded"
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
