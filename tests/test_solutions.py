"""The solutions notebooks: in step with the learner's exercises, and each runs with the quick preset."""

import json
import shutil

import pytest

from lab import book, config, solutions

NOTEBOOKS = book.notebooks()


def test_every_notebook_has_a_solutions_notebook_in_step_with_its_exercises():
    problems = solutions.check_all()
    assert not problems, "\n".join(problems)
    for path in NOTEBOOKS:
        found = solutions.learner_items(path)
        assert found["exercise"], f"{path.name} has no exercises"
        assert found["question"], f"{path.name} has no 'Check your understanding' questions"


def _copies(tmp_path):
    notebooks, answers = tmp_path / "notebooks", tmp_path / "solutions"
    notebooks.mkdir()
    answers.mkdir()
    path = notebooks / NOTEBOOKS[0].name
    shutil.copy(NOTEBOOKS[0], path)
    shutil.copy(solutions.solution_path(NOTEBOOKS[0]), answers / path.name)
    return path, answers


def _edit_first_exercise(path, new):
    nb = json.loads(path.read_text())
    for cell in nb["cells"]:
        text = "".join(cell["source"])
        if "## Exercises\n" in text:
            head, tail = text.split("## Exercises\n", 1)
            lines = tail.split("\n")
            first = next(i for i, line in enumerate(lines) if line.startswith("1. "))
            lines[first] = "1. " + new
            cell["source"] = [head + "## Exercises\n" + "\n".join(lines)]
    path.write_text(json.dumps(nb))


def test_an_edited_exercise_is_caught_and_sync_brings_the_solutions_in_step(tmp_path):
    path, folder = _copies(tmp_path)
    _edit_first_exercise(path, "Run the notebook twice. What changes?")
    problems = solutions.drift(path, folder)
    assert any("exercise 1" in p and "--sync" in p for p in problems), problems
    assert solutions.sync(path, folder)
    assert solutions.drift(path, folder) == []
    assert (
        solutions.solution_items(folder / path.name)["exercise"][0] == "Run the notebook twice. What changes?"
    )
    assert not solutions.sync(path, folder)  # nothing left to change


def test_an_exercise_without_a_solution_is_named(tmp_path):
    path, folder = _copies(tmp_path)
    nb = json.loads(path.read_text())
    for cell in nb["cells"]:
        text = "".join(cell["source"])
        if "## Check your understanding\n" in text:
            cell["source"] = [
                text.replace(
                    "## Check your understanding\n", "5. One more exercise.\n\n## Check your understanding\n"
                )
            ]
    path.write_text(json.dumps(nb))
    problems = solutions.drift(path, folder)
    assert any("write a solution for each" in p for p in problems), problems
    (folder / path.name).unlink()
    assert "has no solutions notebook" in solutions.drift(path, folder)[0]


def test_a_list_numbered_out_of_order_is_refused(tmp_path):
    path, _ = _copies(tmp_path)
    _edit_first_exercise(path, "fine")
    text = path.read_text().replace("\\n2. ", "\\n3. ", 1)
    path.write_text(text)
    with pytest.raises(ValueError, match="number the list 1, 2, 3"):
        solutions.items(path, "Exercises")


def test_answers_are_written_and_printed_beside_the_reference(tmp_path, capsys):
    reference = tmp_path / "reference"
    reference.mkdir()
    (reference / "01_answers.json").write_text(json.dumps({"answers": {"ex1_gap": 0.25}}))
    cfg = config.preset("quick", figures_dir=tmp_path / "figures")
    answers = solutions.Answers("01", cfg, reference_dir=reference)
    assert answers.note("ex1_gap", 0.5, "the gap") == 0.5
    answers.note("ex2_winner", "relu", "the winner")
    out = capsys.readouterr().out
    assert "the gap: 0.5 here (quick, digits, seed 0); the workshop preset gave 0.25" in out
    assert "the winner: relu here" in out and "no workshop reference" in out
    written = json.loads(solutions.answers_path("01", cfg.figures_dir).read_text())
    assert written["preset"] == "quick" and written["answers"] == {"ex1_gap": 0.5, "ex2_winner": "relu"}


@pytest.mark.parametrize(
    "key, value, words",
    [
        ("Ex1", 1.0, "snake_case"),
        ("ex1 gap", 1.0, "snake_case"),
        ("ex1_gap", [1, 2], "must be a number, a bool or a short text"),
        ("ex1_gap", None, "must be a number, a bool or a short text"),
    ],
)
def test_a_bad_answer_is_refused_in_words(tmp_path, key, value, words):
    answers = solutions.Answers("01", config.preset("quick", figures_dir=tmp_path))
    with pytest.raises(ValueError, match=words):
        answers.note(key, value, "x")


def test_an_answer_noted_twice_is_refused(tmp_path):
    answers = solutions.Answers("01", config.preset("quick", figures_dir=tmp_path))
    answers.note("ex1_gap", 1.0, "x")
    with pytest.raises(ValueError, match="already noted"):
        answers.note("ex1_gap", 2.0, "x")


def test_the_committed_reference_answers_are_the_workshop_run_on_seed_0():
    for path in NOTEBOOKS:
        reference = solutions.answers_path(path.name[:2], solutions.REFERENCE_DIR)
        assert reference.exists(), f"{reference} is missing: run `make solutions-reference`"
        payload = json.loads(reference.read_text())
        assert {k: payload[k] for k in solutions.REFERENCE} == solutions.REFERENCE, reference
        assert payload["answers"], reference


SOLUTIONS = [solutions.solution_path(p) for p in NOTEBOOKS]


@pytest.mark.notebook
@pytest.mark.parametrize("path", SOLUTIONS, ids=[p.name for p in SOLUTIONS])
def test_solutions_notebook_runs_with_the_quick_preset_and_notes_every_reference_answer(path, tmp_path):
    figures = tmp_path / "figures"
    book.run_notebook(
        path, preset="quick", output_dir=tmp_path, figures_dir=figures, runs_dir=tmp_path / "runs"
    )
    executed = json.loads((tmp_path / path.name).read_text())
    errors = [
        o
        for c in executed["cells"]
        if c["cell_type"] == "code"
        for o in c["outputs"]
        if o["output_type"] == "error"
    ]
    assert not errors
    noted = json.loads(solutions.answers_path(path.name[:2], figures).read_text())["answers"]
    reference = json.loads(solutions.answers_path(path.name[:2], solutions.REFERENCE_DIR).read_text())[
        "answers"
    ]
    # The same answers as the reference: a solution changed since is rerun with `make solutions-reference`.
    assert sorted(noted) == sorted(reference), (
        "run `make solutions-reference` and commit solutions/reference/"
    )
    assert not list(figures.glob("*.png")), "a solution saved a figure: solutions display, never save"
