"""Seconds from a slider move to new numbers and figures in the retraining panel, in a real browser.

Measured where the learner sits: JupyterLab in the system Chromium, driven through
Playwright, runs notebook 01's panel cell (with the notebook's own imports,
parameters and data cells) on the `workshop` preset. Then, timing each action from
the key press or click until the panel shows the new run's numbers and both of its
figures (the loss curve and the reconstructions) have loaded:

- 8 distinct latent sizes, each chosen with the keyboard, then Train pressed;
- auto-retrain ticked, 8 distinct learning rates, each one key press;
- moving back to a trained setting (the cache), 8 times;
- a 100-epoch run, with the live curve's updates counted;
- a burst of quick slider moves with auto-retrain on: how many runs it started.

After each timed run, the kernel trains the same settings again with no panel and no
drawing (`sweeps.train_dense`, the panel's own trainer): the "training alone" each
latency is compared with, measured in the same state of the machine. The panel's own
record of each run's stages (wall-clock times, on the same clock as the page's) splits
the latency into reaching the kernel, training, evaluating, drawing and showing.
Run: .venv/bin/python benchmarks/panel_browser.py [--moves 8] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from lab import book
from lab.browser import (
    check_playwright,
    find_chromium,
    jupyterlab_server,
    kernel_execute,
    open_notebook,
    run_all_cells,
)

PANEL = ".lab-retrain-panel"
NOTEBOOK = book.NOTEBOOKS_DIR / "01_dense_autoencoder.ipynb"

# Records, in the page, when the panel's numbers and figures change and when images load.
_WATCH = """() => {
    const panel = document.querySelector('.lab-retrain-panel');
    window.__lab = {events: []};
    const partOf = (node) => {
        const el = node.nodeType === 1 ? node : node.parentElement;
        for (const part of ['numbers', 'curve', 'images']) {
            if (el && el.closest('.lab-' + part)) return part;
        }
        return null;
    };
    new MutationObserver((mutations) => {
        const t = performance.now();
        for (const m of mutations) {
            const part = partOf(m.target);
            if (part) window.__lab.events.push({part, t});
        }
    }).observe(panel, {subtree: true, childList: true, attributes: true, characterData: true});
    panel.addEventListener('load', (e) => {
        const part = partOf(e.target);
        if (part) window.__lab.events.push({part, t: performance.now(), load: true});
    }, true);
}"""

# Records when the panel first appears and when it first shows a result, from Run All.
_APPEARING = """() => {
    const t0 = performance.now();
    window.__appeared = {};
    new MutationObserver(() => {
        const seen = window.__appeared;
        const panel = document.querySelector('.lab-retrain-panel');
        if (panel && seen.panel === undefined) seen.panel = performance.now() - t0;
        const numbers = panel && panel.querySelector('.lab-numbers');
        if (numbers && numbers.innerText.includes('validation MSE') && seen.result === undefined) {
            seen.result = performance.now() - t0;
        }
    }).observe(document.body, {subtree: true, childList: true, characterData: true});
}"""

# In the kernel: train the panel's latest run again with no panel and no drawing, right after
# it, so that the comparison sees the same machine state (nothing else runs meanwhile).
_ALONE = """
import time as _time
from lab import sweeps as _sweeps
_alone = {}
def _train_alone():
    settings = {**getattr(panel, "fixed", {}), **panel.runs[-1].settings}
    fit = {k: settings.pop(k) for k in ("batch_size", "epochs") if k in settings}
    start = _time.perf_counter()
    _sweeps.train_dense(ds, cfg, patience=panel.patience, **fit, **settings)
    _alone[len(panel.runs)] = _time.perf_counter() - start
"""

_START = "() => { window.__lab.events = []; return performance.now(); }"

# True once the numbers show a finished run other than `before`, and every image has loaded.
_SHOWN = """(before) => {
    const text = document.querySelector('.lab-retrain-panel .lab-numbers').innerText;
    const images = [...document.querySelectorAll('.lab-retrain-panel img')];
    return text.includes('validation MSE') && text !== before && !/training/i.test(text)
        && images.every((img) => img.complete);
}"""


def _notebook(folder: Path) -> Path:
    """Notebook 01's imports, parameters, data and panel cells, in that order."""
    source = nbformat.read(NOTEBOOK, as_version=4)
    code = [c for c in source.cells if c.cell_type == "code"]
    params = next(i for i, c in enumerate(code) if "parameters" in c.metadata.get("tags", []))
    panel = next(c for c in code if "RetrainPanel(" in c.source)
    cells = [code[0], code[params], code[params + 1], panel]
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c.source) for c in cells]
    nb.cells[1].source = nb.cells[1].source.replace("../figures", str(folder / "figures"))
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = folder / "panel_benchmark.ipynb"
    nbformat.write(nb, path)
    return path


def _numbers(page) -> str:
    return page.locator(f"{PANEL} .lab-numbers").inner_text()


def _timed(page, action, *, quiet_s: float = 0.4, timeout_s: float = 300) -> dict:
    """Seconds from `action()` until the new numbers and figures are shown, and what changed."""
    before = _numbers(page)
    t0 = page.evaluate(_START)
    action()
    page.wait_for_function(_SHOWN, arg=before, timeout=timeout_s * 1000, polling="raf")
    # The figures may follow the numbers: wait until nothing has changed for a moment.
    while True:
        events = page.evaluate("() => window.__lab.events")
        now = page.evaluate("() => performance.now()")
        if events and now - events[-1]["t"] >= quiet_s * 1000:
            break
        time.sleep(0.05)
    last = {
        part: max((e["t"] for e in events if e["part"] == part), default=t0)
        for part in ("numbers", "curve", "images")
    }
    curve_loads = [e["t"] for e in events if e["part"] == "curve" and e.get("load")]
    origin = page.evaluate("() => performance.timeOrigin")
    return {
        "seconds": (max(last.values()) - t0) / 1000,
        "start": (origin + t0) / 1000,
        "end": (origin + max(last.values())) / 1000,
        "changed": [part for part in last if last[part] > t0],
        "curve_updates": len(curve_loads),
        "largest_curve_gap": max(
            (b - a for a, b in zip([t0, *curve_loads], curve_loads, strict=False)), default=0.0
        )
        / 1000,
    }


# Stages of a move, between the page's clock at the action and at the last change shown,
# and the kernel's wall-clock record of the run (the same machine, so the same clock).
_STAGES = (
    ("page -> kernel: the move reaches the panel", ("start", "requested")),
    ("waiting for the worker", ("requested", "started")),
    ("training (model, tracing, epochs, live curve)", ("started", "trained")),
    ("evaluating on the validation split", ("trained", "evaluated")),
    ("drawing the final curve and reconstructions", ("evaluated", "drawn")),
    ("updating the widgets", ("drawn", "shown")),
    ("kernel -> page: sending, rendering, images loaded", ("shown", "end")),
)


def _stage(move: dict, run: dict, parts: tuple[str, str]) -> float:
    times = {**run["timeline"], "start": move["start"], "end": move["end"]}
    return times[parts[1]] - times[parts[0]]


def _key(page, control: str, key: str) -> None:
    handle = page.locator(f"{PANEL} .lab-control-{control} .noUi-handle")
    handle.focus()
    page.keyboard.press(key)


def _summary(name: str, values: list[float]) -> str:
    return (
        f"{name}: median {statistics.median(values):.2f} s over {len(values)} "
        f"(min {min(values):.2f}, max {max(values):.2f})"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moves", type=int, default=8, help="distinct settings per kind of move")
    parser.add_argument("--json", type=Path, help="also write every figure to this file")
    args = parser.parse_args()
    check_playwright()
    chromium = find_chromium()
    from playwright.sync_api import expect, sync_playwright

    with tempfile.TemporaryDirectory() as tmp, jupyterlab_server(Path(tmp)) as url:
        folder = Path(tmp)
        notebook = _notebook(folder)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(300_000)
            open_notebook(page, url, notebook.name)
            page.evaluate(_APPEARING)
            run_all_cells(page)
            expect(page.locator(f"{PANEL} .lab-numbers")).to_contain_text("validation MSE")
            seen = page.evaluate("() => window.__appeared")
            panel_shown, first_run = seen["panel"] / 1000, seen["result"] / 1000
            page.evaluate(_WATCH)

            kernel_execute(page, _ALONE)
            click, auto = [], []
            for _ in range(args.moves):
                _key(page, "latent_dim", "ArrowRight")
                click.append(_timed(page, lambda: page.locator(f"{PANEL} button.lab-train").click()))
                kernel_execute(page, "_train_alone()")

            page.locator(f"{PANEL} .lab-auto input[type=checkbox]").check()
            for _ in range(args.moves):
                auto.append(_timed(page, lambda: _key(page, "learning_rate", "ArrowLeft")))
                kernel_execute(page, "_train_alone()")
            # Back and forth between the last two learning rates, both trained by now.
            cached = [
                _timed(page, lambda k=key: _key(page, "learning_rate", k))
                for key in ["ArrowRight", "ArrowLeft"] * (args.moves // 2)
            ]
            assert "cache" in page.locator(f"{PANEL} .lab-message").inner_text()

            # A burst of quick moves with auto-retrain on: ideally only the last one trains.
            kernel_execute(page, "_runs_before_burst = len(panel.runs)")
            burst = 4
            for _ in range(burst):
                _key(page, "latent_dim", "ArrowRight")
            time.sleep(1.0)  # the moves reach the kernel before the request below
            kernel_execute(
                page,
                "panel.wait() if hasattr(panel, 'wait') else None\n"
                f"open({str(folder / 'burst.txt')!r}, 'w').write(str(len(panel.runs) - _runs_before_burst))",
            )

            page.locator(f"{PANEL} .lab-auto input[type=checkbox]").uncheck()
            kernel_execute(page, "panel.controls['epochs'].value = 100")
            long_run = _timed(page, lambda: page.locator(f"{PANEL} button.lab-train").click())
            kernel_execute(page, "_train_alone()")

            record = folder / "record.json"
            kernel_execute(
                page,
                f"""
_frame = panel.history_frame()
_frame["alone_seconds"] = [_alone.get(i + 1) for i in range(len(_frame))]
_frame["timeline"] = [getattr(r, "timeline", {{}}) for r in panel.runs]
_frame.to_json({str(record)!r}, orient="records")
""",
            )
            browser.close()
        runs = json.loads(record.read_text())
        burst_runs = int((folder / "burst.txt").read_text())

    # The panel's runs, in order: the first, the clicks, the auto moves, the burst, the long run.
    n = args.moves
    first, clicked, automatic, long_record = runs[0], runs[1 : 1 + n], runs[1 + n : 1 + 2 * n], runs[-1]
    latency = [m["seconds"] for m in click + auto]
    alone = [r["alone_seconds"] for r in clicked + automatic]
    ratio = statistics.median(latency) / statistics.median(alone)
    moved, trained = click + auto, clicked + automatic
    machine = platform.processor() or platform.machine()
    print(f"machine: {platform.node()}, {machine}, {os.cpu_count()} cores, python {sys.version.split()[0]}")
    print(
        f"Run All: the panel on screen after {panel_shown:.2f} s, its first run shown after {first_run:.2f} s"
    )
    print(_summary("slider moved, Train pressed -> new numbers and figures", [m["seconds"] for m in click]))
    print(_summary("auto-retrain, slider moved -> new numbers and figures", [m["seconds"] for m in auto]))
    print(_summary("  the same settings trained alone (no panel, no drawing)", alone))
    print(f"  ratio of medians, slider to figures over training alone: {ratio:.2f}")
    if runs[0].get("timeline"):
        print(f"  where the time went (medians over the {len(moved)} moves, seconds):")
        for name, parts in _STAGES:
            values = [_stage(m, r, parts) for m, r in zip(moved, trained, strict=True)]
            print(f"    {name:<58} {statistics.median(values):6.3f}")
        own = [r["seconds"] for r in trained]
        print(_summary("  the panel's own record of training (drawing excluded)", own))
        print(
            _summary(
                "  the panel's own record of drawing (live and final)", [r["draw_seconds"] for r in trained]
            )
        )
    else:
        own = [r["seconds"] for r in trained]
        print(_summary("  the panel's own record of a run (training with live drawing)", own))
    print(_summary("moving back to a trained setting (cache)", [m["seconds"] for m in cached]))
    long_alone = long_record["alone_seconds"]
    print(
        f"100 epochs: {long_run['seconds']:.2f} s to new numbers and figures; "
        f"trained alone {long_alone:.2f} s "
        f"(ratio {long_run['seconds'] / long_alone:.2f}); live curve updated {long_run['curve_updates']} "
        f"times, largest gap {long_run['largest_curve_gap']:.2f} s"
    )
    print(f"burst of {burst} quick moves with auto-retrain on: {burst_runs} run(s) trained")
    print(f"first run after start-up (tracing included): {first['seconds']:.2f} s in the panel's record")
    if args.json:
        args.json.write_text(
            json.dumps(
                dict(
                    click=click,
                    auto=auto,
                    cached=cached,
                    long_run=long_run,
                    runs=runs,
                    burst_runs=burst_runs,
                    panel_shown=panel_shown,
                    first_run=first_run,
                    ratio=ratio,
                ),
                indent=1,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
