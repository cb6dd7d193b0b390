"""The retraining panel in a real browser: JupyterLab on a loopback port, driven by Chromium.

The test writes a small notebook with the panel (the same calls notebook 01 makes), starts
JupyterLab on it, runs every cell, moves the latent-size slider with the keyboard, presses
Train and waits for the panel's numbers to change to the new setting's result; then it turns on
auto-retrain, moves the slider back, and expects the first result again, from the cache.

It needs the PyPI `playwright` package and a system Chromium (`make test` installs both on
Debian). Where either is missing the test is skipped with the reason; under CI (`CI=true`) that
is a failure instead, so a CI machine never passes without running it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

pytestmark = pytest.mark.browser

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
PANEL = ".lab-retrain-panel"
NUMBERS = f"{PANEL} .lab-numbers"


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true and the browser test cannot run: {reason}")
    pytest.skip(reason)


def _chromium() -> str:
    explicit = os.environ.get("LAB_CHROMIUM")
    if explicit:
        if not os.access(explicit, os.X_OK):
            _unavailable(f"LAB_CHROMIUM={explicit} is not an executable file")
        return explicit
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    _unavailable(
        "no Chromium found (looked for " + ", ".join(CHROMIUM_NAMES) + "); on Debian or Ubuntu run "
        "`sudo apt-get install chromium`, or point LAB_CHROMIUM at a Chromium or Chrome binary"
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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
        "panel.train()\n"
        "panel",
    ]
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = folder / "panel.ipynb"
    nbformat.write(nb, path)
    return path


def _settings(folder: Path) -> Path:
    """JupyterLab settings for the test: render every cell, no news or update checks."""
    settings = folder / "settings"
    files = {
        "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
        "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
            "checkForUpdates": False,
            "fetchNews": "false",
        },
    }
    for name, content in files.items():
        path = settings / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(content))
    return settings


@pytest.fixture
def jupyterlab(tmp_path):
    """A JupyterLab server on a free loopback port, serving tmp_path; yields its URL."""
    port = _free_port()
    env = {
        **os.environ,
        "JUPYTERLAB_SETTINGS_DIR": str(_settings(tmp_path)),
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
        "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        "--IdentityProvider.token=",
        "--ServerApp.password=",
        "--ServerApp.disable_check_xsrf=True",
        "--LabApp.expose_app_in_browser=True",
        f"--ServerApp.root_dir={tmp_path}",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")
    log = open(tmp_path / "jupyterlab.log", "w")
    server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/api/status", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                log.flush()
                pytest.fail("JupyterLab did not start:\n" + (tmp_path / "jupyterlab.log").read_text()[-3000:])
            time.sleep(0.3)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


def _numbers(page) -> str:
    return page.locator(NUMBERS).inner_text()


@pytest.fixture
def chromium() -> str:
    """The system Chromium's path, once Playwright is known to be importable."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _unavailable("the `playwright` package is missing: `pip install -r requirements-dev.txt`")
    return _chromium()


def test_moving_a_slider_in_jupyterlab_retrains_the_model(chromium, jupyterlab, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    notebook = _write_notebook(tmp_path)

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(int(os.environ.get("LAB_BROWSER_TIMEOUT_MS", 120_000)))
            page.goto(f"{jupyterlab}/lab/tree/{notebook.name}")
            page.wait_for_function("window.jupyterapp && window.jupyterapp.shell.currentWidget")
            # Cells sent before the kernel is connected can be lost: wait for it.
            page.wait_for_function(
                """() => {
                    const w = window.jupyterapp.shell.currentWidget;
                    const kernel = w && w.sessionContext && w.sessionContext.session
                        && w.sessionContext.session.kernel;
                    return kernel && kernel.connectionStatus === 'connected' && kernel.status === 'idle';
                }"""
            )
            page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")

            numbers = page.locator(NUMBERS)
            expect(numbers).to_contain_text("validation MSE", timeout=180_000)
            first = _numbers(page)

            handle = page.locator(f"{PANEL} .lab-control-latent_dim .noUi-handle")
            before = round(float(handle.get_attribute("aria-valuenow")))
            handle.focus()
            page.keyboard.press("ArrowRight")
            expect(handle).to_have_attribute("aria-valuenow", _number(before + 1))

            page.locator(f"{PANEL} button.lab-train").click()
            # A new run: the history table under the panel lists both, the numbers are the new ones.
            rows = page.locator(f"{PANEL} .lab-table tbody tr")
            expect(rows).to_have_count(2)
            expect(rows.nth(1).locator("td").first).to_have_text(str(before + 1))  # latent_dim
            assert _mse(_numbers(page)) != _mse(first)

            # Auto-retrain on, slider back: the first setting comes back from the cache.
            page.locator(f"{PANEL} .lab-auto input[type=checkbox]").check()
            handle.focus()
            page.keyboard.press("ArrowLeft")
            expect(handle).to_have_attribute("aria-valuenow", _number(before))
            expect(page.locator(f"{PANEL} .lab-message")).to_contain_text("cache", timeout=60_000)
            assert _mse(_numbers(page)) == _mse(first)
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
