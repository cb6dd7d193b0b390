"""JupyterLab in a real browser: a server on a loopback port and the system Chromium.

The browser test (`tests/test_browser.py`) and the panel's latency benchmark
(`benchmarks/panel_browser.py`) drive the retraining panel where a learner sees it.
Both need the PyPI `playwright` package and a system Chromium (never
`playwright install`, which downloads a browser of its own).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")


class BrowserUnavailable(RuntimeError):
    """No Chromium or no Playwright: the message says how to get them."""


def find_chromium() -> str:
    """The Chromium to drive: `LAB_CHROMIUM`, or the first of `CHROMIUM_NAMES` on the PATH."""
    explicit = os.environ.get("LAB_CHROMIUM")
    if explicit:
        if not os.access(explicit, os.X_OK):
            raise BrowserUnavailable(f"LAB_CHROMIUM={explicit} is not an executable file")
        return explicit
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    raise BrowserUnavailable(
        "no Chromium found (looked for " + ", ".join(CHROMIUM_NAMES) + "); on Debian or Ubuntu run "
        "`sudo apt-get install chromium`, or point LAB_CHROMIUM at a Chromium or Chrome binary"
    )


def check_playwright() -> None:
    """Raise `BrowserUnavailable` with the fix when the `playwright` package is missing."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as exc:
        raise BrowserUnavailable(
            "the `playwright` package is missing: `pip install -r requirements-dev.txt`"
        ) from exc


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _settings(folder: Path) -> Path:
    """JupyterLab settings: render every cell (not only visible ones), no news or update checks."""
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


@contextlib.contextmanager
def jupyterlab_server(root: Path, *, startup_timeout: float = 60) -> Iterator[str]:
    """Serve `root` with JupyterLab on a free loopback port, with no token; yield its URL.

    The server's log is written to `root / "jupyterlab.log"`.
    """
    root = Path(root)
    port = free_port()
    env = {
        **os.environ,
        "JUPYTERLAB_SETTINGS_DIR": str(_settings(root)),
        "JUPYTER_RUNTIME_DIR": str(root / "runtime"),
        "JUPYTER_CONFIG_DIR": str(root / "config"),
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
        f"--ServerApp.root_dir={root}",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")
    log_path = root / "jupyterlab.log"
    with open(log_path, "w") as log:
        server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=root)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + startup_timeout
            while True:
                try:
                    with urllib.request.urlopen(f"{url}/api/status", timeout=2) as response:
                        if response.status == 200:
                            break
                except OSError:
                    pass
                if server.poll() is not None or time.monotonic() > deadline:
                    log.flush()
                    raise RuntimeError("JupyterLab did not start:\n" + log_path.read_text()[-3000:])
                time.sleep(0.3)
            yield url
        finally:
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()


def open_notebook(page, url: str, name: str) -> None:
    """Open notebook `name` in JupyterLab and wait until its kernel is connected and idle.

    Cells sent before the kernel is connected can be lost, hence the wait.
    """
    page.goto(f"{url}/lab/tree/{name}")
    page.wait_for_function("window.jupyterapp && window.jupyterapp.shell.currentWidget")
    page.wait_for_function(
        """() => {
            const w = window.jupyterapp.shell.currentWidget;
            const kernel = w && w.sessionContext && w.sessionContext.session
                && w.sessionContext.session.kernel;
            return kernel && kernel.connectionStatus === 'connected' && kernel.status === 'idle';
        }"""
    )


def run_all_cells(page) -> None:
    """Run every cell of the open notebook, as Run > Run All Cells does."""
    page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")


def kernel_execute(page, code: str) -> None:
    """Run `code` in the open notebook's kernel (not in a cell) and wait until it is done.

    Raises:
        RuntimeError: with the kernel's traceback, if the code raised.
    """
    error = page.evaluate(
        """async (code) => {
            const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
            const future = kernel.requestExecute({code, store_history: false});
            let error = null;
            future.onIOPub = (msg) => {
                if (msg.header.msg_type === 'error') {
                    error = msg.content.ename + ': ' + msg.content.evalue;
                }
            };
            await future.done;
            return error;
        }""",
        code,
    )
    if error:
        raise RuntimeError(f"the kernel raised {error} running:\n{code}")
