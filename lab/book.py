"""Running the book: finding its notebooks, checking the environment, executing with papermill.

`make book` runs `python -m lab.book`; the notebook tests and the timing benchmark
call `run_notebook`, so every notebook is executed the same way everywhere.
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

import pandas as pd

from lab import checks, config

NOTEBOOKS_DIR = config.ROOT / "notebooks"
SOLUTIONS_DIR = config.ROOT / "solutions"
BUILD_DIR = config.ROOT / "build"
_NAME = re.compile(r"^\d\d_[a-z0-9_]+\.ipynb$")


def notebooks(folder: Path = NOTEBOOKS_DIR) -> list[Path]:
    """The book's notebooks (`NN_topic.ipynb`), in reading order."""
    return sorted(p for p in Path(folder).glob("*.ipynb") if _NAME.match(p.name))


def notebook_map(folder: Path = NOTEBOOKS_DIR) -> pd.DataFrame:
    """Number, title and one-line summary of each notebook, read from its title cell."""
    rows = []
    for path in notebooks(folder):
        cells = json.loads(path.read_text())["cells"]
        lines = "".join(cells[0]["source"]).strip().splitlines()
        title = lines[0].lstrip("# ").strip()
        summary = next((line.strip() for line in lines[1:] if line.strip()), "")
        rows.append(dict(number=path.name[:2], notebook=path.name, title=title, summary=summary))
    return pd.DataFrame(rows).set_index("number")


def _requirements(path: Path) -> list[str]:
    lines = []
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            lines.append(line)
    return lines


def check_environment(requirements: Path = config.ROOT / "requirements.txt") -> pd.DataFrame:
    """Each required package with the version asked for, the version installed, and a verdict.

    Returns:
        One row per requirement with `required`, `installed` and `ok`; a missing
        package shows `installed` as "missing".
    """
    from packaging.requirements import Requirement

    rows = [
        dict(
            package="python",
            required=">=3.11",
            installed=platform.python_version(),
            ok=sys.version_info >= (3, 11),
        )
    ]
    for line in _requirements(requirements):
        req = Requirement(line)
        try:
            version = metadata.version(req.name)
        except metadata.PackageNotFoundError:
            version = None
        ok = version is not None and req.specifier.contains(version, prereleases=True)
        rows.append(
            dict(package=req.name, required=str(req.specifier), installed=version or "missing", ok=ok)
        )
    return pd.DataFrame(rows).set_index("package")


def environment_problems(table: pd.DataFrame) -> list[str]:
    """Plain-language lines for each failed row of `check_environment`, with the fix."""
    problems = []
    for name, row in table[~table["ok"]].iterrows():
        if row["installed"] == "missing":
            problems.append(
                f"{name} is not installed: run `make setup` (or pip install -r requirements.txt)."
            )
        else:
            problems.append(
                f"{name} {row['installed']} is installed but the book is tested with "
                f"{name}{row['required']}: run `make setup` in a fresh environment."
            )
    return problems


def _kernel_config(socket_dir: Path):
    """The kernel talks to papermill over local sockets (IPC), not TCP on the loopback.

    ipykernel warns on every notebook that a TCP kernel runs "without encryption"; a
    kernel that only this process reaches needs no port at all, and IPC sockets (files
    removed at shutdown) do not raise the warning. The sockets live in a folder of their
    own: by default jupyter_client names them `kernel-ipc-1`, `-2`, ... in the working
    folder, so two notebooks executed at once from one folder (the test suite runs
    several) would pick the same files and read each other's messages ("Invalid
    Signature"). Windows has no IPC transport, so it keeps TCP there.
    """
    from traitlets.config import Config

    if sys.platform == "win32":
        return Config()
    return Config({"KernelManager": {"transport": "ipc", "ip": str(socket_dir / "kernel")}})


def run_notebook(
    path: Path,
    *,
    preset: str = "workshop",
    output_dir: Path = BUILD_DIR,
    figures_dir: Path = config.FIGURES_DIR,
    runs_dir: Path = config.RUNS_DIR,
    parameters: dict[str, object] | None = None,
    cell_timeout: int | None = 600,
) -> float:
    """Execute one notebook with papermill and return the wall time in seconds.

    Args:
        path: the notebook.
        preset: injected as `PRESET`.
        output_dir: where the executed copy is written; it is signed as trusted, so
            JupyterLab shows its widgets in their last state.
        figures_dir: injected as `FIGURES_DIR` (absolute, so the working folder does not matter).
        runs_dir: injected as `RUNS_DIR` where the notebook declares it (06 to 08), where
            the searches keep their state.
        parameters: further values for the notebook's parameters cell.
        cell_timeout: seconds any one cell may run.
    """
    import papermill

    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    params = {
        "PRESET": preset,
        "FIGURES_DIR": str(Path(figures_dir).resolve()),
        "RUNS_DIR": str(Path(runs_dir).resolve()),
        **(parameters or {}),
    }
    if "RUNS_DIR" not in papermill.inspect_notebook(str(path)) and "RUNS_DIR" not in (parameters or {}):
        del params["RUNS_DIR"]  # only the notebooks that search declare it
    start = time.perf_counter()
    executed = output_dir / Path(path).name
    # A short path: a Unix socket's name may hold about 100 characters.
    with tempfile.TemporaryDirectory(prefix="lab-kernel-") as sockets:
        papermill.execute_notebook(
            str(path),
            str(executed),
            parameters=params,
            kernel_name="python3",
            cwd=str(Path(path).parent),
            progress_bar=False,
            execution_timeout=cell_timeout,
            config=_kernel_config(Path(sockets)),
        )
    seconds = time.perf_counter() - start
    sign_notebook(executed)
    return seconds


def sign_notebook(path: Path) -> None:
    """Mark a notebook this user executed as trusted (as `jupyter trust` does).

    JupyterLab draws the saved state of widgets (the retraining panel in its last
    state) and other rich outputs only in trusted notebooks; the signature is kept in
    this user's Jupyter data folder and breaks as soon as the file is changed elsewhere.
    """
    import nbformat
    from nbformat.sign import NotebookNotary

    notebook = nbformat.read(path, as_version=nbformat.NO_CONVERT)
    NotebookNotary().sign(notebook)


def main(argv: list[str] | None = None) -> int:
    """Command line: execute the book (or some of it) and print the time each notebook took."""
    parser = argparse.ArgumentParser(prog="python -m lab.book", description=main.__doc__)
    parser.add_argument("--preset", default="workshop", choices=config.PRESETS)
    parser.add_argument("--seed", type=int, default=0, help="the notebooks' SEED (default 0)")
    parser.add_argument(
        "--only", nargs="*", default=None, help="notebook numbers to run, e.g. 00 01 (or 0 1)"
    )
    parser.add_argument(
        "--solutions",
        action="store_true",
        help="run the solutions notebooks (solutions/) instead; their answers go to --figures-dir",
    )
    parser.add_argument("--output-dir", type=Path, default=None, help="default build/ (build/solutions/)")
    parser.add_argument("--figures-dir", type=Path, default=None, help="default figures/ (build/solutions/)")
    args = parser.parse_args(argv)
    default_output = BUILD_DIR / "solutions" if args.solutions else BUILD_DIR
    args.output_dir = args.output_dir or default_output
    args.figures_dir = args.figures_dir or (default_output if args.solutions else config.FIGURES_DIR)
    from papermill.exceptions import PapermillExecutionError

    # The settings every notebook will make, checked once here rather than in each kernel.
    try:
        # The checked paths, with a leading ~ expanded (a shell leaves `--opt=~/x` as it is).
        args.figures_dir = config.preset(
            args.preset, seed=args.seed, figures_dir=args.figures_dir
        ).figures_dir
        args.output_dir = checks.folder(args.output_dir, "--output-dir")
        output = args.output_dir.resolve()
        if output == NOTEBOOKS_DIR.resolve():
            raise ValueError(
                f"--output-dir is {args.output_dir}, the folder of the notebooks themselves: the executed "
                "copies would replace them. Choose another folder, such as build/."
            )
    except ValueError as exc:
        message = str(exc)
        for setting, option in (("seed", "--seed"), ("figures_dir", "--figures-dir")):
            message = message.replace(f"{setting} ({setting.upper()} in a notebook's parameters)", option)
        print(f"error: {message}", file=sys.stderr)
        return 2
    available = {p.name[:2]: p for p in notebooks(SOLUTIONS_DIR if args.solutions else NOTEBOOKS_DIR)}
    wanted = None if args.only is None else [n.zfill(2) if n.isdigit() else n for n in args.only]
    unknown = [n for n in wanted or [] if n not in available]
    if unknown or wanted == []:
        print(
            f"error: no notebook numbered {', '.join(unknown) or '(none given)'}; "
            f"available: {', '.join(available)}.",
            file=sys.stderr,
        )
        return 2
    selected = [p for n, p in available.items() if wanted is None or n in wanted]
    for path in selected:
        print(f"running {path.name} (preset {args.preset}, seed {args.seed}) ...", flush=True)
        try:
            seconds = run_notebook(
                path,
                preset=args.preset,
                output_dir=args.output_dir,
                figures_dir=args.figures_dir,
                parameters={"SEED": args.seed},
            )
        except PapermillExecutionError as exc:
            print(
                f"error: {path.name} stopped in cell {exc.exec_count}: {exc.ename}: {exc.evalue}\n"
                f"The executed copy, with the full traceback, is {args.output_dir / path.name}.",
                file=sys.stderr,
            )
            return 1
        print(f"  {path.name}: {seconds:.1f} s -> {args.output_dir / path.name}", flush=True)
    print(f"{'answers (NN_answers.json)' if args.solutions else 'figures'} in {args.figures_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
