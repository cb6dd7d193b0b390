"""The workshop kit: the schedule and the notes' generated blocks are current and come from measured times."""

import json

import pytest

from lab import book, workshop

NOTEBOOKS = book.notebooks()


def test_the_schedule_and_the_notes_are_generated_from_the_committed_tables():
    stale = workshop.stale()
    assert not stale, f"run `python -m lab.workshop`: {[str(p) for p in stale]}"


def test_each_workshop_fits_its_day_and_every_notebook_in_it_was_timed():
    plan, times = workshop.load_plan(), workshop.load_times()
    for day in plan.values():
        rows = workshop.schedule_rows(day, times)
        assert rows["minutes"].sum() <= day["length"], day["title"]
        assert (rows.loc[rows["block"].str.contains("·"), "run"] >= 1).all()
    assert set(times["notebook"]) == {p.name[:2] for p in NOTEBOOKS}
    searching = {p.name[:2] for p in NOTEBOOKS if workshop.searches(p)}
    assert set(times.loc[times["run"] == "warm", "notebook"]) == searching


def test_the_run_minutes_follow_the_measured_times():
    times = workshop.load_times()
    day = next(iter(workshop.load_plan().values()))
    before = workshop.schedule_rows(day, times)
    slower = times.assign(notebook_seconds=times["notebook_seconds"] * 3)
    after = workshop.schedule_rows(day, slower)
    assert after["run"].sum() > before["run"].sum()
    assert (after["teach"] == before["teach"]).all()


def test_only_the_search_notebooks_search():
    searching = [p.name[:2] for p in NOTEBOOKS if workshop.searches(p)]
    assert searching == ["06", "07", "08"]


def test_every_notebook_has_instructor_notes_with_each_section():
    for path in NOTEBOOKS:
        notes = workshop.NOTES_DIR / f"{path.stem}.md"
        assert notes.exists(), f"write {notes}"
        text = notes.read_text()
        for heading in (
            "## Learning objectives",
            "## Expected results",
            "## Slow cells",
            "## Where learners get stuck",
        ):
            assert heading in text, f"{notes.name} lacks {heading}"


def test_fill_replaces_only_between_its_markers():
    text = "a\n<!-- begin generated: x -->\nold\n<!-- end generated: x -->\nb\n"
    assert (
        workshop.fill(text, "x", "new")
        == "a\n<!-- begin generated: x -->\nnew\n<!-- end generated: x -->\nb\n"
    )
    with pytest.raises(ValueError, match="begin generated: y"):
        workshop.fill(text, "y", "new")


def test_cell_times_reads_papermills_durations_and_sections(tmp_path):
    def code(text, seconds):
        return dict(cell_type="code", source=text, metadata={"papermill": {"duration": seconds}}, outputs=[])

    nb = dict(
        metadata={"papermill": {"duration": 30.0}},
        cells=[
            dict(cell_type="markdown", source="# Title\n## Setup", metadata={}),
            code("import lab", 2.0),
            dict(cell_type="markdown", source="## A search", metadata={}),
            code("# comment\nframe = tuning.search(tuner, ds)", 20.0),
        ],
    )
    path = tmp_path / "06_x.ipynb"
    path.write_text(json.dumps(nb))
    times = workshop.cell_times(path)
    assert list(times["section"]) == ["Setup", "A search"]
    assert list(times["search"]) == [False, True]
    assert times["source"].iloc[1] == "frame = tuning.search(tuner, ds)"
    frame = times.assign(run="cold")
    text = workshop.slow_cells("06", frame, threshold=10)
    assert "| 3 | A search |" in text and "took 30 s" in text


def test_a_plan_naming_a_missing_notebook_is_refused(tmp_path):
    plan = tmp_path / "plan.toml"
    plan.write_text('[day]\ntitle = "t"\nlength = 60\nstart = "09:00"\n[[day.block]]\nnotebook = "42"\n')
    with pytest.raises(ValueError, match="no notebook numbered '42'"):
        workshop.load_plan(plan)
    with pytest.raises(FileNotFoundError, match="notebook_times.py --warm --write"):
        workshop.load_times(tmp_path / "missing.csv")
