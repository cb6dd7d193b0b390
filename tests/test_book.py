import pytest

from lab import book


def test_environment_check_passes_here_and_names_problems(tmp_path):
    table = book.check_environment()
    assert {"python", "tensorflow", "keras-tuner", "papermill"} <= set(table.index)
    assert table["ok"].all(), table[~table["ok"]]
    assert book.environment_problems(table) == []

    fake = tmp_path / "requirements.txt"
    fake.write_text("numpy>=1.0  # fine\nno-such-package-xyz~=1.0\npandas<0.1\n-r other.txt\n")
    table = book.check_environment(fake)
    problems = book.environment_problems(table)
    assert table.loc["no-such-package-xyz", "installed"] == "missing"
    assert any("no-such-package-xyz is not installed: run `make setup`" in p for p in problems)
    assert any(p.startswith("pandas ") and "tested with pandas<0.1" in p for p in problems)


def test_main_rejects_an_unknown_notebook_number(capsys):
    assert book.main(["--only", "99"]) == 2
    assert "available" in capsys.readouterr().out


def test_main_rejects_an_unknown_preset():
    with pytest.raises(SystemExit):
        book.main(["--preset", "huge"])
