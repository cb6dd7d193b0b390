"""The attendees' setup check: it passes here, and every failure says what to do."""

from lab import setup_check


def test_every_check_passes_on_this_machine_and_the_report_names_each():
    checks = setup_check.run()
    assert [c.name for c in checks] == ["python", "packages", "kernel", "training", "folders", "searches"]
    assert all(c.ok for c in checks), setup_check.report(checks)
    report = setup_check.report(checks)
    assert report.endswith("Ready for the workshop.")
    assert "trained 30 epochs in" in report


def test_a_missing_package_says_to_run_make_setup(tmp_path):
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("numpy>=1\nno-such-package-for-the-book>=1\n")
    check = setup_check.packages(requirements)
    assert not check.ok and "no-such-package-for-the-book is not installed" in check.says
    assert "make setup" in check.says


def test_a_missing_kernel_says_how_to_install_it():
    check = setup_check.kernel("no-such-kernel")
    assert not check.ok and "ipykernel install" in check.says


def test_an_unwritable_folder_is_named_with_what_to_do(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    check = setup_check.writable((tmp_path / "ok", blocker / "figures"))
    assert not check.ok and str(blocker / "figures") in check.says and "folder you own" in check.says
    assert (tmp_path / "ok").is_dir()


def test_a_slow_laptop_is_warned_then_failed(monkeypatch):
    monkeypatch.setattr(setup_check, "SLOW", 0.0)
    check = setup_check.training(epochs=2)
    assert check.ok and check.warning and "longer than the schedule" in check.says
    monkeypatch.setattr(setup_check, "TOO_SLOW", 0.0)
    check = setup_check.training(epochs=2)
    assert not check.ok and "Close other programs" in check.says


def test_unwarmed_searches_are_a_warning_that_names_make_warm(tmp_path):
    check = setup_check.warmed(tmp_path)
    assert check.ok and check.warning and "make warm" in check.says and "06" in check.says


def test_a_check_that_breaks_becomes_a_failed_line_and_the_exit_code_is_1(monkeypatch, capsys):
    def kernel():
        raise OSError("no space left on device")

    monkeypatch.setattr(setup_check, "CHECKS", (setup_check.python_version, kernel))
    monkeypatch.setattr(setup_check.run, "__defaults__", (setup_check.CHECKS,))
    assert setup_check.main([]) == 1
    out = capsys.readouterr().out
    assert "FAIL  kernel" in out and "no space left on device" in out and "1 check(s) failed" in out
