"""One search across several processes or machines: KerasTuner's chief and workers, with the faults handled.

KerasTuner's distributed mode runs one *chief*, which holds the oracle (the trials, and the
algorithm that proposes the next one) and trains nothing, and any number of *workers*, which
each ask the chief for a trial, train it, report its score and ask again. They talk over gRPC;
three environment variables say who is who:

    KERASTUNER_TUNER_ID     "chief", or a worker's id ("tuner0", "tuner1", ...)
    KERASTUNER_ORACLE_IP    the chief's address (the chief listens on it, the workers connect to it)
    KERASTUNER_ORACLE_PORT  the chief's port

Every process makes the same tuner (`make_tuner`, same arguments) on one shared search folder
and calls `search`. `python -m lab.search` does all of this from the command line, and starts a
chief and N workers on this machine with `--workers N`.

What this module adds to KerasTuner's own mode (each answer to a trap found by running it):

- the chief refuses a port in use (KerasTuner's binds with SO_REUSEPORT, so two chiefs could
  share one port and each take the other's workers), and records its address in the folder
  (`lab_distributed/chief.json`), so a worker pointed at another address is refused;
- each worker writes a heartbeat into the folder every second; when a worker's heartbeat stops
  for `LAB_WORKER_TIMEOUT` seconds (default 60) the chief hands its trial to the next worker
  that asks (KerasTuner would keep it RUNNING, and wait for ever, until a worker of the same id
  came back);
- a chief restarted on a killed one's folder gives each running trial back to its worker (a
  worker still training it finishes it; KerasTuner would queue it to be trained a second
  time), and a trial that had finished is never trained again;
- a worker whose chief is unreachable for `LAB_CHIEF_TIMEOUT` seconds (default 120) exits with
  a message instead of waiting for an hour; a chief restarted within that time is reconnected;
- a worker refuses `overwrite=True` (it would delete the trials the others finished);
- a worker's `search` returns None and says where the table is (a worker holds no trials), and
  the chief ends within half a second of the last worker (KerasTuner's checks every 20 s).

The chief's port has no authentication: anyone who reaches it can read the search and send it
results. Keep it on loopback (one machine) or on a private network.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any

from lab.cluster import (
    BEAT,
    CHIEF_LOST,
    CHIEF_TIMEOUT,
    TIMELINE,
    WORKER_TIMEOUT,
    DistributedSearchError,
    Role,
    check_port_free,
    chief_record,
    reachable,
    role,
    say,
    state_dir,
    timeout,
)
from lab.tuning.state import _save_json

__all__ = ["role", "run_chief", "run_worker", "wait_for_chief", "DistributedSearchError"]

# -- the chief ------------------------------------------------------------------------------------


class _WorkerWatch:
    """The chief's check, every half second, that each worker with a trial is still beating."""

    def __init__(self, oracle, folder: Path, limit: float):
        self.oracle, self.beats, self.limit = oracle, state_dir(folder) / "workers", limit
        self.seen: dict[str, tuple[Any, float]] = {}

    def tick(self) -> None:
        from lab.tuning._keras_tuner import hand_back, running

        now = time.monotonic()
        for tuner_id in running(self.oracle):
            try:
                beat = json.loads((self.beats / f"{tuner_id}.json").read_text()).get("beat")
            except FileNotFoundError:
                continue  # not one of this book's workers: KerasTuner's own rules apply
            except (OSError, ValueError):
                beat = None  # being written
            last = self.seen.get(tuner_id)
            if last is None or (beat is not None and beat != last[0]):
                self.seen[tuner_id] = (beat, now)  # the chief's own clock: no skew between machines
            elif now - last[1] > self.limit:
                handed = hand_back(self.oracle, tuner_id)
                self.seen.pop(tuner_id, None)
                if handed is not None:
                    say(
                        f"{tuner_id} sent no heartbeat for {self.limit:g} s: trial {handed} is handed to "
                        "the next worker that asks"
                    )


def _runs_here(record: dict[str, Any]) -> bool:
    """Whether the process that wrote `record` (a chief's or a worker's) runs on this machine and
    is alive, and is not this one."""
    pid = record.get("pid")
    if record.get("host") != socket.gethostname() or not isinstance(pid, int) or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _beat_lately(path: Path) -> bool:
    """Whether a heartbeat file from another machine was written in the last five beats."""
    try:
        return time.time() - path.stat().st_mtime < 5 * BEAT
    except OSError:
        return False


def run_chief(tuner, where: Role, fit: dict[str, Any]) -> None:
    """Serve the search to its workers until it is over (called by `tuning.search` in the chief)."""
    from lab.tuning._keras_tuner import restore_running, serve

    folder = Path(tuner.project_dir)
    check_port_free(where.ip, where.port)
    before = chief_record(folder)
    if (
        before
        and not before.get("finished")
        # on this machine its process must still run; on another, only its port can tell
        and (before.get("host") != socket.gethostname() or _runs_here(before))
        and reachable(str(before.get("ip")), int(before.get("port") or 0))
    ):
        raise DistributedSearchError(
            f"A chief (process {before.get('pid')} on {before.get('host')}) already serves the search in "
            f"{folder} at {before.get('ip')}:{before.get('port')}: two chiefs would hand out the same "
            "trials. Start workers against that one, or stop it first."
        )
    # The oracle file still says which worker ran which trial when the last chief stopped.
    try:
        ongoing = json.loads((folder / "oracle.json").read_text()).get("ongoing_trials", {})
    except (OSError, ValueError):
        ongoing = {}
    restored = restore_running(tuner.oracle, ongoing)
    if restored:
        say(f"trials {', '.join(restored)} were running when the last chief stopped: kept for their workers")
    record = dict(ip=where.ip, port=where.port, pid=os.getpid(), host=socket.gethostname(), finished=False)
    _save_json(state_dir(folder) / "chief.json", record)
    tuner.oracle.verbose = 0
    tuner.save()
    say(f"chief serving the search in {folder} on {where.ip}:{where.port}")
    watch = _WorkerWatch(tuner.oracle, folder, timeout("LAB_WORKER_TIMEOUT", WORKER_TIMEOUT))
    serve(tuner.oracle, where.ip, where.port, tick=watch.tick, say=say)
    tuner.save()
    _save_json(state_dir(folder) / "chief.json", {**record, "finished": True})
    say("the search is over: every worker has been told to stop")


# -- a worker -------------------------------------------------------------------------------------


class _Heartbeat(threading.Thread):
    """Writes `lab_distributed/workers/<id>.json` every second: a counter, and the trial in hand."""

    def __init__(self, folder: Path, tuner_id: str):
        super().__init__(daemon=True, name=f"heartbeat-{tuner_id}")
        self.path = state_dir(folder) / "workers" / f"{tuner_id}.json"
        self.trial: str | None = None
        self.done = threading.Event()
        self.beat = 0

    def write(self, **extra) -> None:
        self.beat += 1
        record = dict(beat=self.beat, pid=os.getpid(), host=socket.gethostname(), trial=self.trial, **extra)
        with contextlib.suppress(OSError):
            _save_json(self.path, record)

    def run(self) -> None:
        while not self.done.wait(BEAT):
            self.write()


class _ChiefWatch(threading.Thread):
    """Ends the worker with a message when its chief stays unreachable (gRPC would wait an hour)."""

    def __init__(self, where: Role, folder: Path, limit: float):
        super().__init__(daemon=True, name="chief-watch")
        self.where, self.folder, self.limit = where, folder, limit
        self.done = threading.Event()

    def run(self) -> None:
        last = time.monotonic()
        while not self.done.wait(1.0):
            if reachable(self.where.ip, self.where.port):
                last = time.monotonic()
            elif time.monotonic() - last > self.limit:
                finished = (chief_record(self.folder) or {}).get("finished")
                say(
                    f"{self.where.tuner_id}: the chief at {self.where.ip}:{self.where.port} has been "
                    f"unreachable for {self.limit:g} s; stopping. "
                    + (
                        "The search is over."
                        if finished
                        else "Restart the chief with the same command: it resumes the search, and workers "
                        "started again carry on; the trial this worker was training is run again."
                    )
                )
                sys.stdout.flush()
                os._exit(CHIEF_LOST)


def wait_for_chief(where: Role, folder: Path | str, limit: float | None = None) -> None:
    """Wait (bounded) until the chief accepts connections; refuse a chief of another folder."""
    limit = timeout("LAB_CHIEF_TIMEOUT", CHIEF_TIMEOUT) if limit is None else limit
    deadline = time.monotonic() + limit
    while not reachable(where.ip, where.port):
        record = chief_record(folder)
        if record and record.get("finished"):
            raise DistributedSearchError(
                f"The search in {folder} is over (its chief has finished): there is nothing left for "
                f"{where.tuner_id} to train. Its table: python -m lab.search ... --table."
            )
        if time.monotonic() > deadline:
            elsewhere = (
                f" This folder's last chief was at {record.get('ip')}:{record.get('port')}."
                if record and (record.get("ip"), record.get("port")) != (where.ip, where.port)
                else ""
            )
            raise DistributedSearchError(
                f"No chief answered at {where.ip}:{where.port} within {limit:g} s.{elsewhere} Start the "
                "chief first (python -m lab.search ... --role chief), and give the workers its address and "
                "port."
            )
        time.sleep(0.5)
    record = chief_record(folder)
    if (
        record
        and not record.get("finished")
        and (record.get("ip"), record.get("port")) != (where.ip, where.port)
    ):
        raise DistributedSearchError(
            f"The search in {folder} is served by a chief at {record.get('ip')}:{record.get('port')}, but "
            f"{where.tuner_id} was given {where.ip}:{where.port}, which may be another search's chief. "
            "Give every worker the chief's address and port, and the same --directory and --project-name."
        )


def run_worker(tuner, where: Role, fit: dict[str, Any]) -> list[str]:
    """Train trials the chief hands out until it says the search is over; returns the trials run."""
    from lab.tuning._keras_tuner import patient_worker, search_context

    folder = Path(tuner.project_dir)
    patient_worker(tuner)
    heart = _Heartbeat(folder, where.tuner_id)
    try:
        other = json.loads(heart.path.read_text())
    except (OSError, ValueError):
        other = {}
    here = other.get("host") == socket.gethostname()
    if other and (_runs_here(other) if here else _beat_lately(heart.path)):
        raise DistributedSearchError(
            f"{where.tuner_id} already runs in this search (process {other.get('pid')} on "
            f"{other.get('host')}): two workers with one id would train the same trials. Give this "
            "worker another --tuner-id (tuner1, tuner2, ...)."
        )
    heart.write()
    heart.start()
    watch = _ChiefWatch(where, folder, timeout("LAB_CHIEF_TIMEOUT", CHIEF_TIMEOUT))
    watch.start()
    ran: list[str] = []
    begin, end = tuner.on_trial_begin, tuner.on_trial_end

    began = {}

    def on_trial_begin(trial):
        began[trial.trial_id] = time.time()
        heart.trial = trial.trial_id
        heart.write()
        say(f"{where.tuner_id} trains trial {trial.trial_id}")
        begin(trial)

    def on_trial_end(trial):
        end(trial)
        ran.append(trial.trial_id)
        # One line per trial run, for a timeline of who trained what when (notebook 11).
        line = dict(
            tuner=where.tuner_id, trial=trial.trial_id, begin=began.get(trial.trial_id), end=time.time()
        )
        with contextlib.suppress(OSError), open(state_dir(folder) / TIMELINE, "a") as log:
            log.write(json.dumps(line) + "\n")
        heart.trial = None
        heart.write()

    tuner.on_trial_begin, tuner.on_trial_end = on_trial_begin, on_trial_end
    try:
        with search_context():
            tuner.search(**fit)
    finally:
        watch.done.set()
        heart.done.set()
        tuner.on_trial_begin, tuner.on_trial_end = begin, end
    heart.write(finished=True)
    say(
        f"{where.tuner_id}: the chief says the search is over; this worker trained "
        f"{len(ran)} trial(s){': ' + ', '.join(ran) if ran else ''}. The table is the chief's to print "
        f"(its log), and anyone's afterwards: python -m lab.search ... --table, or trials_frame of the same "
        f"make_tuner(...) on {folder.parent}."
    )
    return ran
