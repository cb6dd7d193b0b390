"""The retraining panel in a real browser: JupyterLab on a loopback port, driven by Chromium.

The test writes a small notebook with the panel (the same calls notebook 01 makes), starts
JupyterLab on it, runs every cell, moves the latent-size slider with the keyboard, presses
Train and waits for the panel's numbers, its runs table and both of its figures (the loss curve
and the reconstructions, compared as screenshots) to change to the new setting's; then it turns
on auto-retrain, moves the slider back, and expects the first run again, figures included, from
the cache.

It needs the PyPI `playwright` package and a system Chromium (`make test` installs both on
Debian). Where either is missing the test is skipped with the reason; under CI (`CI=true`) that
is a failure instead, so a CI machine never passes without running it.
"""

from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path

import nbformat
import pytest

from lab import browser as lab_browser

pytestmark = pytest.mark.browser

PANEL = ".lab-retrain-panel"
NUMBERS = f"{PANEL} .lab-numbers"


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true and the browser test cannot run: {reason}")
    pytest.skip(reason)


def _write_notebook(folder: Path) -> Path:
    cells = [
        "import lab\n"
        "from lab import config, data\n"
        "from lab.widgets import RetrainPanel\n"
        "cfg = config.preset('quick', figures_dir='figures')\n"
        "lab.setup(cfg)\n"
        "ds = data.load_for(cfg)",
        "panel = RetrainPanel(ds, cfg, controls=('latent_dim', 'units', 'epochs'))\n"
        "panel.controls['epochs'].value = 10\n"
        "display(panel)\n"
        "panel.train();",
    ]
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = folder / "panel.ipynb"
    nbformat.write(nb, path)
    return path


@pytest.fixture
def jupyterlab(tmp_path):
    """A JupyterLab server on a free loopback port, serving tmp_path; yields its URL."""
    try:
        with lab_browser.jupyterlab_server(tmp_path) as url:
            yield url
    except RuntimeError as exc:
        pytest.fail(str(exc))


def _numbers(page) -> str:
    return page.locator(NUMBERS).inner_text()


@pytest.fixture
def chromium() -> str:
    """The system Chromium's path, once Playwright is known to be importable."""
    try:
        lab_browser.check_playwright()
        return lab_browser.find_chromium()
    except lab_browser.BrowserUnavailable as exc:
        _unavailable(str(exc))


def _pixels(page, part: str) -> bytes:
    """A screenshot of one of the panel's figures, to tell whether it changed."""
    return page.locator(f"{PANEL} .lab-{part}").screenshot()


def test_moving_a_slider_in_jupyterlab_retrains_the_model(chromium, jupyterlab, tmp_path):
    from playwright.sync_api import expect

    notebook = _write_notebook(tmp_path)

    with _page(chromium, tmp_path) as page:
        lab_browser.open_notebook(page, jupyterlab, notebook.name)
        lab_browser.run_all_cells(page)

        numbers = page.locator(NUMBERS)
        expect(numbers).to_contain_text("validation MSE", timeout=180_000)
        first = _numbers(page)
        curve, images = _pixels(page, "curve"), _pixels(page, "images")

        handle = page.locator(f"{PANEL} .lab-control-latent_dim .noUi-handle")
        before = round(float(handle.get_attribute("aria-valuenow")))
        handle.focus()
        page.keyboard.press("ArrowRight")
        expect(handle).to_have_attribute("aria-valuenow", _number(before + 1))

        page.locator(f"{PANEL} button.lab-train").click()
        # A new run: numbers, table and both figures are the new run's.
        expect(numbers).to_contain_text(re.compile(r"run 2: validation MSE"))
        rows = page.locator(f"{PANEL} .lab-table tbody tr")
        expect(rows).to_have_count(2)
        expect(rows.nth(1).locator("td").nth(1)).to_have_text(str(before + 1))  # latent_dim
        expect(rows.nth(1)).to_have_class(re.compile("lab-shown"))
        assert _mse(_numbers(page)) != _mse(first)
        assert _pixels(page, "curve") != curve, "the loss curve did not change"
        assert _pixels(page, "images") != images, "the reconstructions did not change"

        # Auto-retrain on, slider back: the first run comes back from the cache, figures too.
        page.locator(f"{PANEL} .lab-auto input[type=checkbox]").check()
        handle.focus()
        page.keyboard.press("ArrowLeft")
        expect(handle).to_have_attribute("aria-valuenow", _number(before))
        expect(page.locator(f"{PANEL} .lab-message")).to_contain_text("cache", timeout=60_000)
        assert _mse(_numbers(page)) == _mse(first) and "run 1" in _numbers(page)
        expect(rows.nth(0)).to_have_class(re.compile("lab-shown"))
        assert _pixels(page, "curve") == curve and _pixels(page, "images") == images


@contextlib.contextmanager
def _page(chromium: str, tmp_path):
    """A Chromium page; on failure, its screenshot and HTML are kept in `tmp_path`."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(int(os.environ.get("LAB_BROWSER_TIMEOUT_MS", 120_000)))
            yield page
        except Exception:
            page.screenshot(path=str(tmp_path / "failure.png"))
            (tmp_path / "failure.html").write_text(page.content())
            raise
        finally:
            browser.close()


def _mse(numbers_text: str) -> str:
    found = re.search(r"validation MSE\s*([0-9.]+)", numbers_text)
    assert found, f"no validation MSE in the panel's numbers: {numbers_text!r}"
    return found.group(1)


def _number(value: int) -> re.Pattern:
    """`aria-valuenow` of an integer slider: "9" or "9.0", depending on the front end."""
    return re.compile(rf"^{value}(\.0+)?$")


def test_an_executed_notebook_opens_with_its_panel_drawn(chromium, jupyterlab, tmp_path):
    """`make book` signs what it executed, so JupyterLab draws the saved panel with no kernel run."""
    from playwright.sync_api import expect

    from lab import book

    (tmp_path / "source").mkdir()
    source = _write_notebook(tmp_path / "source")
    book.run_notebook(source, preset="quick", output_dir=tmp_path / "build", figures_dir=tmp_path / "figures")
    with _page(chromium, tmp_path) as page:
        lab_browser.open_notebook(page, jupyterlab, f"build/{source.name}")
        expect(page.locator(NUMBERS)).to_contain_text("validation MSE")
        expect(page.locator(f"{PANEL} .lab-curve")).to_have_js_property("complete", True)
        assert page.locator(f"{PANEL} .lab-curve").evaluate("img => img.naturalWidth") > 100
