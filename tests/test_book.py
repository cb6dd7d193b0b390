import pytest

from lab import book, config


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
    assert "no notebook numbered 99; available: 00, 01" in capsys.readouterr().err
    assert book.main(["--only", "01", "1a"]) == 2  # one bad number stops the run before anything runs
    assert "no notebook numbered 1a" in capsys.readouterr().err
    assert book.main(["--only"]) == 2
    assert "(none given)" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv, words",
    [
        (["--seed", "-1"], "--seed must be a whole number from 0 to 4,294,967,295, got -1"),
        (["--seed", str(2**32)], "--seed must be a whole number"),
        (
            ["--figures-dir", "README.md"],
            "--figures-dir is 'README.md', which is a file",
        ),
        (["--output-dir", "README.md"], "--output-dir is 'README.md', which is a file"),
        (["--output-dir", "notebooks"], "the folder of the notebooks themselves"),
        (["--output-dir", "./notebooks/"], "the executed copies would replace them"),
    ],
)
def test_main_checks_its_settings_before_running_anything(capsys, tmp_path, argv, words, monkeypatch):
    monkeypatch.chdir(config.ROOT)
    ran = []
    monkeypatch.setattr(book, "run_notebook", lambda *a, **k: ran.append(a) or 0.0)
    assert book.main([*argv, "--only", "00"]) == 2
    assert words in capsys.readouterr().err
    assert ran == []


def test_main_rejects_an_unknown_preset():
    with pytest.raises(SystemExit):
        book.main(["--preset", "huge"])


def test_a_tilde_in_an_option_is_the_home_folder_not_a_folder_named_tilde(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    seen = {}
    monkeypatch.setattr(book, "run_notebook", lambda path, **k: seen.update(k) or 0.0)
    assert book.main(["--preset", "quick", "--only", "00", "--output-dir=~/out", "--figures-dir=~/fig"]) == 0
    assert (
        seen["output_dir"] == tmp_path / "home" / "out" and seen["figures_dir"] == tmp_path / "home" / "fig"
    )
    assert not (tmp_path / "~").exists()
