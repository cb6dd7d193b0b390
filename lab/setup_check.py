"""The attendees' setup check, run before a workshop day: `make check` (`python -m lab.setup_check`).

Each check says in one line what it found and, when it fails, what to do. It tests
the Python version, the packages, the Jupyter kernel the notebooks run in, that a
small autoencoder trains (and how fast), that the folders the book writes to are
writable, and whether the searches were warmed (`make warm`).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from lab import config

# Seconds for the small training run: above SLOW the notebooks run longer than the
# schedule says; above TOO_SLOW the day cannot keep to it.
SLOW = 15.0
TOO_SLOW = 60.0


@dataclass(frozen=True)
class Check:
    """One line of the report: what was checked, whether it passed, what was found or what to do."""

    name: str
    ok: bool
    says: str
    warning: bool = False


def python_version() -> Check:
    version = ".".join(map(str, sys.version_info[:3]))
    if sys.version_info >= (3, 11):  # noqa: UP036  (the check runs before anything else is known)
        return Check("python", True, f"Python {version} ({sys.executable})")
    return Check(
        "python",
        False,
        f"Python {version} is too old: install Python 3.11 and run `make PYTHON=/path/to/python3.11 setup`.",
    )


def packages(requirements: Path = config.ROOT / "requirements.txt") -> Check:
    from lab import book

    table = book.check_environment(requirements)
    problems = book.environment_problems(table)
    if problems:
        return Check("packages", False, " ".join(problems))
    return Check("packages", True, f"{len(table) - 1} required packages installed at tested versions")


def kernel(name: str = "python3", timeout: float = 120.0) -> Check:
    """The kernel papermill and JupyterLab start runs this Python and can import `lab`."""
    from jupyter_client.kernelspec import NoSuchKernel
    from jupyter_client.manager import KernelManager

    # Local sockets, as papermill's kernels use (lab.book): no "without encryption" warning.
    manager = KernelManager(kernel_name=name, transport="ipc" if sys.platform != "win32" else "tcp")
    try:
        manager.start_kernel()
        client = manager.client()
        client.start_channels()
        client.wait_for_ready(timeout=timeout)
    except NoSuchKernel:
        return Check(
            "kernel",
            False,
            f"no Jupyter kernel named {name!r}: run `make setup` (it installs ipykernel in .venv), "
            "then `.venv/bin/python -m ipykernel install --user --name python3`.",
        )
    except RuntimeError as exc:
        return Check(
            "kernel", False, f"the {name!r} kernel did not start ({exc}): restart the laptop and retry."
        )
    lines: list[str] = []

    def keep(message):
        if message["msg_type"] == "stream":
            lines.append(message["content"]["text"])
        elif message["msg_type"] == "error":
            lines.append(f"ERROR {message['content']['ename']}: {message['content']['evalue']}")

    try:
        client.execute_interactive("import sys, lab; print(sys.prefix)", output_hook=keep, timeout=timeout)
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
    text = "".join(lines).strip()
    if text.startswith("ERROR"):
        return Check(
            "kernel",
            False,
            f"the {name!r} kernel cannot import lab ({text[6:]}): it runs another Python. Run "
            "`.venv/bin/python -m ipykernel install --user --name python3` and start JupyterLab "
            "with `make lab`.",
        )
    if Path(text).resolve() != Path(sys.prefix).resolve():
        return Check(
            "kernel",
            True,
            f"the {name!r} kernel runs the Python in {text}, not this one ({sys.prefix}); it imports lab, "
            "but its packages may differ: prefer `make lab`.",
            warning=True,
        )
    return Check("kernel", True, f"the {name!r} kernel starts and imports lab")


def training(epochs: int = 30) -> Check:
    """A small dense autoencoder on 500 digits: the loss must fall, and the seconds are reported."""
    from lab import data
    from lab.models import build_dense_autoencoder
    from lab.training import fit_autoencoder

    start = time.perf_counter()
    ds = data.load_dataset("digits", seed=0, max_train=500, max_eval=200)
    model = build_dense_autoencoder(ds.n_features, latent_dim=8, units=64, num_layers=2)
    result = fit_autoencoder(
        model, ds.x_train, ds.x_val, epochs=epochs, patience=epochs, batch_size=32, seed=0
    )
    seconds = time.perf_counter() - start
    losses = result.history["val_loss"]
    if not losses[-1] < losses[0]:
        return Check(
            "training",
            False,
            f"a small autoencoder did not learn (validation loss {losses[0]:.4f} -> {losses[-1]:.4f}): "
            "reinstall with `make clean setup` and report the output of `make test` to the instructor.",
        )
    found = (
        f"a small autoencoder trained {epochs} epochs in {seconds:.1f} s "
        f"(validation loss {losses[0]:.3f} -> {losses[-1]:.3f})"
    )
    if seconds > TOO_SLOW:
        return Check(
            "training",
            False,
            f"{found}: far too slow for the workshop's schedule. Close other programs, plug the laptop in, "
            "and check that no other Python is using the processor.",
        )
    if seconds > SLOW:
        return Check(
            "training",
            True,
            f"{found}: slower than expected, the notebooks will take longer than the schedule's times; "
            "close other programs and plug the laptop in.",
            warning=True,
        )
    return Check("training", True, found)


def writable(
    folders: tuple[Path, ...] = (config.FIGURES_DIR, config.RUNS_DIR, config.ROOT / "build"),
) -> Check:
    """The folders the book writes into exist (or can be made) and take a file."""
    bad = []
    for folder in folders:
        try:
            Path(folder).mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=folder):
                pass
        except OSError as exc:
            bad.append(f"{folder} ({exc.strerror or exc})")
    if bad:
        return Check(
            "folders",
            False,
            "cannot write into " + "; ".join(bad) + ": clone the repository into a folder you own "
            "(e.g. your home folder) and run the check there.",
        )
    return Check("folders", True, "figures/, runs/ and build/ are writable")


def warmed(runs_dir: Path = config.RUNS_DIR) -> Check:
    """Whether `make warm` has run: each searching notebook has a folder of searches."""
    from lab import book, workshop

    missing = [p.stem for p in book.notebooks() if workshop.searches(p) and not (runs_dir / p.stem).exists()]
    if missing:
        return Check(
            "searches",
            True,
            f"not warmed ({', '.join(n[:2] for n in missing)} would search from scratch): run `make warm` "
            "before the day if the schedule includes them.",
            warning=True,
        )
    return Check("searches", True, "every search notebook has its searches under runs/ (warmed)")


CHECKS = (python_version, packages, kernel, training, writable, warmed)


def run(checks=CHECKS) -> list[Check]:
    """Run each check; an unexpected exception becomes a failed check naming it."""
    out = []
    for check in checks:
        name = check.__name__
        print(f"checking {name} ...", flush=True)
        try:
            out.append(check())
        except Exception as exc:  # noqa: BLE001  (the report must go on and say what broke)
            out.append(
                Check(
                    name,
                    False,
                    f"{type(exc).__name__}: {exc}. Run `make setup` again; if it persists, "
                    "show this line to the instructor.",
                )
            )
    return out


def report(checks: list[Check]) -> str:
    """The checks as lines: OK, WARN or FAIL, what was checked, and what was found or what to do."""
    lines = []
    for c in checks:
        mark = "FAIL" if not c.ok else ("WARN" if c.warning else "OK  ")
        lines.append(f"{mark}  {c.name:9s} {c.says}")
    failed = sum(not c.ok for c in checks)
    lines.append(
        "Ready for the workshop." if not failed else f"{failed} check(s) failed: fix them as each line says."
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Check that this laptop is ready for the workshop, and say what to fix."""
    parser = argparse.ArgumentParser(prog="python -m lab.setup_check", description=main.__doc__)
    parser.parse_args(argv)
    checks = run()
    print(report(checks))
    return 0 if all(c.ok for c in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
