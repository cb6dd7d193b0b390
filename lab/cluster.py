"""The processes of a distributed search, without TensorFlow: roles, ports, the chief's record, a launcher.

`lab.tuning.distributed` runs a chief or a worker inside a process; this module is what the
processes around it need (`python -m lab.search`), and it imports neither TensorFlow nor
KerasTuner, so a port in use or a wrong address is answered in a moment.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lab import checks

if TYPE_CHECKING:
    import pandas as pd

STATE = "lab_distributed"  # in the search folder: the chief's record, the workers' heartbeats, logs
WORKER_TIMEOUT = 60.0  # seconds without a heartbeat before a worker's trial is handed back
CHIEF_TIMEOUT = 120.0  # seconds a worker waits for an unreachable chief before it exits
BEAT = 1.0  # seconds between a worker's heartbeats
CHIEF_LOST = 3  # a worker's exit code when its chief stayed unreachable


class DistributedSearchError(RuntimeError):
    """A distributed search that cannot start as asked; the message says what to do."""


@dataclass(frozen=True)
class Role:
    """Who this process is in a distributed search, read from KerasTuner's environment variables."""

    tuner_id: str
    ip: str
    port: int

    @property
    def is_chief(self) -> bool:
        return "chief" in self.tuner_id  # KerasTuner's own rule


def role() -> Role | None:
    """This process's role, or None when the search is not distributed."""
    if "KERASTUNER_ORACLE_IP" not in os.environ:
        return None
    missing = [v for v in ("KERASTUNER_ORACLE_PORT", "KERASTUNER_TUNER_ID") if not os.environ.get(v)]
    if missing:
        raise DistributedSearchError(
            f"KERASTUNER_ORACLE_IP is set but {' and '.join(missing)} not: set all three, or none for a "
            "search in this process alone (python -m lab.search --help shows the commands)."
        )
    port = checks.integer(
        os.environ["KERASTUNER_ORACLE_PORT"], "KERASTUNER_ORACLE_PORT", minimum=1, maximum=65535
    )
    return Role(os.environ["KERASTUNER_TUNER_ID"], os.environ["KERASTUNER_ORACLE_IP"], port)


def timeout(name: str, default: float) -> float:
    """A timeout in seconds from the environment (LAB_WORKER_TIMEOUT, LAB_CHIEF_TIMEOUT), checked."""
    value = os.environ.get(name)
    if value is None:
        return default
    return checks.number(value, name, minimum=0.5, maximum=7 * 24 * 3600)


def state_dir(folder: Path | str) -> Path:
    return Path(folder) / STATE


def check_port_free(ip: str, port: int) -> None:
    """Refuse, in words, a port another process listens on (a chief of another search, say)."""
    probe = socket.socket(socket.AF_INET6 if ":" in ip else socket.AF_INET, socket.SOCK_STREAM)
    # SO_REUSEADDR: a chief restarted on its port while the old connections wait out their TIME_WAIT
    # may bind; a socket still listening there (another chief) is refused all the same.
    probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        probe.bind((ip, port))
    except OSError as exc:
        if exc.errno == 98:  # EADDRINUSE
            raise DistributedSearchError(
                f"Port {port} on {ip} is in use, perhaps by the chief of another search: a second chief "
                "there would share its workers. Choose another port (--port), or end the other search."
            ) from None
        raise DistributedSearchError(
            f"The chief cannot listen on {ip}:{port} ({exc.strerror}): give this machine's own address "
            "(127.0.0.1 for a search on this machine, its private-network address for several machines)."
        ) from None
    finally:
        probe.close()


def reachable(ip: str, port: int, wait: float = 1.0) -> bool:
    """Whether something accepts connections at ip:port."""
    try:
        with socket.create_connection((ip, port), timeout=wait):
            return True
    except OSError:
        return False


def free_port(ip: str = "127.0.0.1") -> int:
    """A port nothing listens on now (the system's choice)."""
    with socket.socket() as probe:
        probe.bind((ip, 0))
        return probe.getsockname()[1]


def heartbeat(folder: Path | str, tuner_id: str) -> dict[str, Any]:
    """A worker's last heartbeat (`beat`, `pid`, `trial` in hand), or {} before its first."""
    try:
        return json.loads((state_dir(folder) / "workers" / f"{tuner_id}.json").read_text())
    except (OSError, ValueError):
        return {}


def wait_until(condition, limit: float, what: str, *, process=None, log: Path | None = None):
    """Wait (bounded) for `condition()` to be true; fail in words if `process` ends first."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        if process is not None and process.poll() is not None:
            raise RuntimeError(
                f"the process ended (exit code {process.returncode}) before {what}{_tail(log)}"
            )
        time.sleep(0.2)
    raise TimeoutError(f"not within {limit:g} s: {what}{_tail(log)}")


def _tail(log: Path | None, lines: int = 15) -> str:
    return f"; the end of {log}:\n" + "\n".join(read_log(log).splitlines()[-lines:]) if log else ""


_NOTICE = re.compile(
    # TensorFlow's C++ notices (absl's format: I0000 00:00:1796691166.28 30924 port.cc:153] ...),
    # which TF_CPP_MIN_LOG_LEVEL no longer silences, and the two lines that go with them.
    r"^([IWEF]\d{4} \d\d:\d\d:[\d.]+ +\d+ \S+:\d+\]"
    r"|WARNING: All log messages before absl|To enable the following)"
)


def read_log(path: Path | str) -> str:
    """A process's log, without TensorFlow's start-up notices."""
    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(line for line in text.splitlines() if not _NOTICE.match(line))


def chief_record(folder: Path | str) -> dict[str, Any] | None:
    path = state_dir(folder) / "chief.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _now() -> str:
    return time.strftime("%H:%M:%S")


def say(text: str) -> None:
    print(f"[{_now()}] {text}", flush=True)


# -- a chief and N workers on this machine (python -m lab.search --workers N) ---------------------

_OWN = ("--workers", "--gpus", "--restarts", "--overwrite")  # the launcher's own arguments


def _child_argv(argv: list[str]) -> list[str]:
    """The search's arguments without the launcher's own."""
    out, skip = [], False
    for item in argv:
        if skip:
            skip = False
            continue
        name = item.split("=", 1)[0]
        if name in _OWN:
            skip = "=" not in item and name != "--overwrite"
            continue
        out.append(item)
    return out


class _Tail:
    """New lines of a log file, as they are written."""

    def __init__(self, path: Path):
        self.path, self.offset = path, 0

    def lines(self) -> list[str]:
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                chunk = f.read()
        except OSError:
            return []
        end = chunk.rfind(b"\n") + 1
        self.offset += end
        return chunk[:end].decode(errors="replace").splitlines()


def start(role: str | None, argv: list[str], log: Path, *, tuner_id: str = "tuner0", env: dict | None = None):
    """Start one process of a search (`python -m lab.search ... --role ROLE`), its output into `log`.

    `role` None starts a peer of a shared Optuna study (`--tuner-id` only).
    """
    import subprocess
    import sys

    command = [sys.executable, "-m", "lab.search", *argv]
    if role is not None:
        command += ["--role", role]
    if role != "chief":
        command += ["--tuner-id", tuner_id]
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        return subprocess.Popen(
            command,
            stdout=out,
            stderr=subprocess.STDOUT,
            # TensorFlow's C++ notices (CPU features, no CUDA) would fill every log.
            env={"TF_CPP_MIN_LOG_LEVEL": "2", **os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
            start_new_session=True,  # a Ctrl-C in the terminal reaches the launcher, which ends them
        )


def _end(processes) -> None:
    for process in processes:
        if process.poll() is None:
            process.terminate()
    deadline = time.monotonic() + 10
    for process in processes:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except Exception:  # noqa: BLE001 - still running: kill it
            process.kill()
            process.wait()


def remove_search(folder: Path) -> None:
    """--overwrite: delete the old search before any process starts (never a folder that holds no search)."""
    import shutil

    from lab.tuning.state import _check_is_a_search

    if folder.exists():
        _check_is_a_search(folder)
        shutil.rmtree(folder)


@contextlib.contextmanager
def ended_by_signals():
    """A launcher's TERM or HUP (a `kill`, a closed terminal, a job scheduler's stop) ends its
    processes as Ctrl-C does: their own sessions keep them from the terminal's signals, so without
    this they would go on training, orphaned. Only in the main thread (where signals are handled)."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    wanted = [signal.SIGTERM] + ([signal.SIGHUP] if hasattr(signal, "SIGHUP") else [])
    previous = {number: signal.signal(number, interrupt) for number in wanted}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


SQLITE_HEADER = b"SQLite format 3\x00"


def is_sqlite(path: Path) -> bool:
    """Whether the file starts as every SQLite database does."""
    with open(path, "rb") as handle:
        return handle.read(len(SQLITE_HEADER)) == SQLITE_HEADER


def remove_study_file(where: str | Path) -> None:
    """--overwrite of an Optuna search: delete its SQLite file, never a file that is not a database."""
    if "://" in str(where):
        raise DistributedSearchError(
            f"--overwrite cannot start afresh a study in a database server ({where}): delete the study "
            "there (optuna delete-study), or give another --project-name."
        )
    path = Path(where)
    if path.exists():
        if not is_sqlite(path):
            raise DistributedSearchError(f"{path} is not an SQLite database: --overwrite leaves it as it is.")
        path.unlink()


def launch(argv: list[str], *, folder: Path, args: Any, start_limit: float = 600.0) -> int:
    """Start a chief and `args.workers` workers on this machine; follow them until the search ends.

    The chief starts first (its port checked, then free), the workers once it listens. The
    chief's log is echoed here; every log stays in `<folder>/lab_distributed/logs/`. A worker
    that fails is restarted with its id (KerasTuner hands it back its trial) up to
    `args.restarts` times; if the chief fails, the workers are ended. Returns an exit code.
    """
    try:
        check_port_free(args.ip, args.port)
    except DistributedSearchError as exc:
        print(exc)
        return 2
    if args.overwrite:
        remove_search(folder)
    logs = state_dir(folder) / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    for old in logs.glob("*.log"):
        old.unlink()
    child = _child_argv(argv)
    gpus = [g.strip() for g in args.gpus.split(",") if g.strip()] if args.gpus else []
    say(f"starting a chief on {args.ip}:{args.port} and {args.workers} worker(s); logs in {logs}")
    chief = start("chief", child, logs / "chief.log")
    tail = _Tail(logs / "chief.log")
    processes = [chief]
    workers: dict[str, Any] = {}
    restarts: dict[str, int] = {}
    given_up: set[str] = set()

    def echo() -> None:
        for line in tail.lines():
            print(line, flush=True)

    def begin(tuner_id: str, index: int):
        env = {"CUDA_VISIBLE_DEVICES": gpus[index % len(gpus)]} if gpus else {}
        process = start("worker", child, logs / f"{tuner_id}.log", tuner_id=tuner_id, env=env)
        processes.append(process)
        return process

    try:
        deadline = time.monotonic() + start_limit
        while not reachable(args.ip, args.port, 0.5):
            echo()
            if chief.poll() is not None or time.monotonic() > deadline:
                echo()
                say(f"the chief did not start (see {logs / 'chief.log'}): nothing was trained")
                _end(processes)
                return 1
            time.sleep(0.3)
        for index in range(args.workers):
            tuner_id = f"tuner{index}"
            workers[tuner_id] = begin(tuner_id, index)
            restarts[tuner_id] = 0
        idle: float | None = None
        while True:
            echo()
            code = chief.poll()
            if code is not None:
                echo()
                if code != 0:
                    say(
                        f"the chief stopped (exit code {code}; see {logs / 'chief.log'}): ending the "
                        "workers. Run the same command again to resume the search."
                    )
                    _end(processes)
                    return 1
                _end_workers(workers, logs)
                return 0
            _restart_failed(workers, restarts, given_up, args.restarts, begin, logs)
            if any(p.poll() is None for p in workers.values()):
                idle = None
            else:
                idle = idle or time.monotonic()
                if time.monotonic() - idle > 30:  # the chief waits for a trial no worker is left to run
                    say(
                        "no worker is left and the chief has not ended: ending it. Run the same command "
                        "again to resume the search."
                    )
                    _end(processes)
                    return 1
            time.sleep(0.3)
    except KeyboardInterrupt:
        say("interrupted: ending the chief and the workers. Run the same command again to resume the search.")
        _end(processes)
        return 130


def _restart_failed(processes: dict, restarts: dict, given_up: set, limit: int, begin, logs: Path) -> None:
    """Start again, with its id, each process that failed, up to `limit` times; then give it up."""
    for index, (tuner_id, process) in enumerate(list(processes.items())):
        code = process.poll()
        if code in (None, 0) or tuner_id in given_up:
            continue
        if restarts[tuner_id] < limit:
            restarts[tuner_id] += 1
            say(
                f"{tuner_id} stopped (exit code {code}; see {logs / tuner_id}.log): starting it again "
                f"({restarts[tuner_id]} of {limit} restarts)"
            )
            processes[tuner_id] = begin(tuner_id, index)
        else:
            say(f"{tuner_id} stopped (exit code {code}) and is not restarted again")
            given_up.add(tuner_id)


def _end_workers(workers: dict[str, Any], logs: Path, wait: float = 30.0) -> None:
    """After the chief's end, give the workers a moment to exit on their own, then end them."""
    deadline = time.monotonic() + wait
    for tuner_id, process in workers.items():
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except Exception:  # noqa: BLE001
            say(f"{tuner_id} did not exit after the search ended: ending it (see {logs / tuner_id}.log)")
            _end([process])


def launch_peers(argv: list[str], *, folder: Path, args: Any) -> int:
    """Start `args.workers` processes on one shared Optuna study (`--engine optuna --workers N`); wait.

    There is no chief: each process asks the study's storage for trials. A process that fails is
    started again (up to `args.restarts` times); the trial it was running is found stale by the
    first process to start a trial after the grace period, and tried again. Returns an exit code.
    """
    if args.overwrite:
        remove_study_file(args.storage or folder / "study.db")
    logs = folder / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    for old in logs.glob("*.log"):
        old.unlink()
    (folder / "trials.csv").unlink(missing_ok=True)
    child = _child_argv(argv)
    gpus = [g.strip() for g in args.gpus.split(",") if g.strip()] if args.gpus else []
    say(f"starting {args.workers} process(es) on one Optuna study; logs in {logs}")

    def begin(tuner_id: str, index: int):
        env = {"CUDA_VISIBLE_DEVICES": gpus[index % len(gpus)]} if gpus else {}
        return start(None, child, logs / f"{tuner_id}.log", tuner_id=tuner_id, env=env)

    peers = {f"tuner{index}": begin(f"tuner{index}", index) for index in range(args.workers)}
    tails = {tuner_id: _Tail(logs / f"{tuner_id}.log") for tuner_id in peers}
    restarts = dict.fromkeys(peers, 0)
    failed: set[str] = set()
    try:
        while True:
            for tail in tails.values():
                for line in tail.lines():
                    if line.startswith("["):  # the processes' own notices, not their tables
                        print(line, flush=True)
            _restart_failed(peers, restarts, failed, args.restarts, begin, logs)
            if all(p.poll() is not None for p in peers.values()):
                break
            time.sleep(0.3)
    except KeyboardInterrupt:
        say("interrupted: ending the processes. Run the same command again to resume the study.")
        _end(list(peers.values()))
        return 130
    if failed:
        say("the study did not finish: run the same command again to resume it.")
        return 1
    import pandas as pd

    # Read from the study itself: each process saved the table as it saw it when it ended.
    table = study_table(load_study(args.storage or folder / "study.db", args.project_name or folder.name))
    table.to_csv(folder / "trials.csv", index=False)
    with pd.option_context("display.width", 160, "display.max_columns", 30):
        print(table.to_string(index=False))
    print(
        f"\nThe study is in {args.storage or folder / 'study.db'}; this table is saved as "
        f"{folder / 'trials.csv'}."
    )
    return 0


def study_table(study) -> pd.DataFrame:
    """One row per trial of a shared Optuna study: state, setting, score, process, and what it retried."""
    import pandas as pd

    rows = []
    for trial in study.get_trials(deepcopy=False):
        rows.append(
            dict(
                trial=trial.number,
                state=trial.state.name,
                **trial.params,
                val_mse=trial.value,
                worker=trial.user_attrs.get("worker"),
                seconds=trial.user_attrs.get("seconds"),
                retry_of=trial.system_attrs.get("failed_trial"),
                started=trial.datetime_start,
            )
        )
    return pd.DataFrame(rows)


def load_study(where: str | Path, name: str):
    """A shared study, opened to be read (`--engine optuna`): a SQLite path or a database URL."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    url = str(where) if "://" in str(where) else f"sqlite:///{Path(where).expanduser().resolve()}"
    return optuna.load_study(study_name=name, storage=url)


# -- reading a distributed search's timeline (notebook 11, benchmarks/distributed_search.py) ----------

TIMELINE = "trials.jsonl"  # in lab_distributed/: one line per trial a worker ran to its end


def timeline(folder: Path | str) -> pd.DataFrame:
    """Who trained which trial when: one row per trial a worker finished (`worker`, `trial`, `begin`,
    `end`, in seconds from the first trial's start, `seconds`), and `fit_seconds`, the training
    alone (from the trial's record, when the book's tuner kept one)."""
    import pandas as pd

    folder = Path(folder)
    path = state_dir(folder) / TIMELINE
    if not path.exists():
        raise FileNotFoundError(
            f"{path} does not exist: no worker of a distributed search has finished a trial in {folder}."
        )
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    frame = pd.DataFrame(rows).rename(columns={"tuner": "worker"})
    start = frame["begin"].min()
    frame["begin"], frame["end"] = frame["begin"] - start, frame["end"] - start
    frame["seconds"] = frame["end"] - frame["begin"]
    fits = []
    for trial in frame["trial"]:
        record = folder / f"trial_{trial}" / "lab_fit.json"
        try:
            fits.append(float(json.loads(record.read_text()).get("seconds")))
        except (OSError, ValueError, TypeError):
            fits.append(float("nan"))
    frame["fit_seconds"] = fits
    frame = frame.sort_values("begin").reset_index(drop=True)
    frame.attrs["start"] = start  # the first trial's start, in seconds since the epoch (time.time())
    return frame


def pace(line: pd.DataFrame) -> dict[str, float]:
    """How a distributed search spent its time, from `timeline(folder)`.

    `span`: first trial's start to last trial's end; `training`: the trials' fits added up;
    `gap`: the median time between a worker's trials (asking the chief for the next, which
    builds nothing); `overhead_per_trial`: the workers' time that was not training, per trial
    (`(workers * span - training) / trials`: asking, building, saving, reporting, and waiting
    at the end for the last trial).
    """
    workers, trials = line["worker"].nunique(), len(line)
    span = float(line["end"].max() - line["begin"].min())
    training = float(line["fit_seconds"].sum()) if line["fit_seconds"].notna().all() else float("nan")
    gaps = []
    for _, own in line.sort_values("begin").groupby("worker"):
        gaps += list(own["begin"].to_numpy()[1:] - own["end"].to_numpy()[:-1])
    gap = statistics.median(gaps) if gaps else float("nan")
    return dict(
        workers=workers,
        trials=trials,
        span=span,
        training=training,
        gap=gap,
        overhead_per_trial=(workers * span - training) / trials,
    )
