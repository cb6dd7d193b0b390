"""A search across processes (python -m lab.search): real chief and worker processes on loopback, real kills.

Trials are `TimedHyperModel`'s (each waits a known time), so the tests time the machinery, not
training. Every process imports TensorFlow (several seconds on 2 cores), so each test starts as
few as it can.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pandas as pd
import pytest

from lab import cluster, search

SEARCH = ["--model", "timed", "--preset", "quick", "--kind", "random"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def command(folder: Path, port: int, *extra: str, trials: int = 6, seconds: float = 1.0) -> list[str]:
    return [
        *SEARCH,
        "--trials",
        str(trials),
        "--trial-seconds",
        str(seconds),
        "--directory",
        str(folder.parent),
        "--project-name",
        folder.name,
        "--port",
        str(port),
        *extra,
    ]


def start(args: list[str], log: Path) -> subprocess.Popen:
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "lab.search", *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )


def wait_for(condition, limit: float, what: str):
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"not within {limit} s: {what}")


def timeline(folder: Path) -> list[dict]:
    path = folder / cluster.STATE / "trials.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def heartbeat(folder: Path, tuner_id: str) -> dict:
    try:
        return json.loads((folder / cluster.STATE / "workers" / f"{tuner_id}.json").read_text())
    except (OSError, ValueError):
        return {}


def finished_trials(folder: Path) -> pd.DataFrame:
    rows = [json.loads(p.read_text()) for p in sorted(folder.glob("trial_*/trial.json"))]
    return pd.DataFrame(
        [{"trial": r["trial_id"], "status": r["status"], **r["hyperparameters"]["values"]} for r in rows]
    )


def run_times(folder: Path) -> dict:
    return json.loads((folder / "oracle.json").read_text())["run_times"]


def end_all(*processes):
    for p in processes:
        if p.poll() is None:
            p.kill()
            p.wait()


# -- refused in words, before TensorFlow is imported --------------------------------------------


def test_a_port_in_use_is_refused_by_the_chief_and_the_launcher(tmp_path):
    """gRPC binds with SO_REUSEPORT: a second chief would share the port without an error."""
    from concurrent import futures

    import grpc

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=1))  # as KerasTuner's chief binds
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        for extra in (["--role", "chief"], ["--workers", "2"]):
            done = subprocess.run(
                [sys.executable, "-m", "lab.search", *command(tmp_path / "s", port, *extra)],
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert done.returncode == 2, done
            assert f"Port {port} on 127.0.0.1 is in use" in done.stdout + done.stderr
            assert "tensorflow" not in (done.stdout + done.stderr).lower()
    finally:
        server.stop(0)
    assert not (tmp_path / "s" / "oracle.json").exists()


def refusal(argv: list[str], capsys) -> str:
    """The words a refused command answers with: exit code 2, one message on stderr."""
    if "optuna" in argv and "--kind" not in argv[argv.index("--directory") :]:
        at = argv.index("--kind")  # SEARCH's KerasTuner kind: an Optuna study takes none
        argv = argv[:at] + argv[at + 2 :]
    code = search.main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith("python -m lab.search: "), err
    return err


@pytest.mark.parametrize(
    "extra, words",
    [
        (["--role", "worker", "--overwrite"], "A worker must not --overwrite"),
        (["--workers", "2", "--role", "chief"], "not both"),
        (["--role", "worker", "--tuner-id", "chief2"], "names a chief"),
        (["--table", "--overwrite"], "--table reads a search's folder"),
        (["--workers", "0"], "--workers"),
        (["--workers", "100000"], "--workers"),
        (["--port", "70000", "--role", "chief"], "--port"),
        (["--port", "0"], "--port"),
        (["--trials", "0"], "--trials"),
        (["--epochs", "0"], "--epochs"),
        (["--seed", "-1"], "--seed"),
        (["--trial-seconds", "-3"], "--trial-seconds"),
        (["--trial-seconds", "nan"], "--trial-seconds"),
        (["--worker-timeout", "inf"], "--worker-timeout"),
        (["--chief-timeout", "nan"], "--chief-timeout"),
        (["--workers", "1", "--restarts", "-1"], "--restarts"),
        (["--workers", "1", "--gpus", "abc"], "GPU numbers"),
        (["--workers", "1", "--gpus", "0,,1"], "GPU numbers"),
        (["--gpus", "0"], "--gpus shares GPUs out among the workers"),
        (["--engine", "optuna", "--role", "chief"], "no chief"),
        (["--engine", "optuna", "--kind", "bayesian"], "TPE"),
        (["--storage", "s.db"], "--storage is for --engine optuna"),
        (["--engine", "optuna", "--storage", "postgres:/bad"], "without its '://'"),
        (["--engine", "optuna", "--storage", "sqlite:relative.db"], "without its '://'"),
    ],
)
def test_bad_process_arguments_are_refused_in_words(tmp_path, capsys, extra, words):
    assert words in refusal(command(tmp_path / "s", 1234, *extra), capsys)
    assert not (tmp_path / "s").exists()


def test_a_directory_that_is_a_file_and_a_storage_that_is_no_database_are_refused(tmp_path, capsys):
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes")
    words = refusal(command(notes / "s", 1234), capsys)
    assert "--directory" in words and "which is a file" in words
    for extra in (["--storage", str(notes), "--overwrite"], ["--storage", str(tmp_path)]):
        words = refusal(command(tmp_path / "s", 1234, "--engine", "optuna", *extra), capsys)
        assert "not an SQLite database" in words or "is a folder" in words
    assert notes.read_text() == "my notes"  # --overwrite never deletes a file that holds no study


@pytest.mark.parametrize("engine", [[], ["--engine", "optuna"]])
def test_the_table_of_a_folder_without_a_search_is_refused_and_nothing_is_written(tmp_path, capsys, engine):
    folder = tmp_path / "empty"
    folder.mkdir()
    words = refusal(command(folder / "s", 1234, "--table", *engine), capsys)
    assert "no search in" in words and "run the search first" in words
    assert list(folder.iterdir()) == []


def test_a_worker_never_overwrites_the_search(tmp_path, monkeypatch):
    from lab import hypermodels, tuning

    monkeypatch.setenv("KERASTUNER_TUNER_ID", "tuner1")
    monkeypatch.setenv("KERASTUNER_ORACLE_IP", "127.0.0.1")
    monkeypatch.setenv("KERASTUNER_ORACLE_PORT", "1234")
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "keep.txt").write_text("finished work")
    with pytest.raises(ValueError, match="must not overwrite"):
        tuning.make_tuner(
            "random",
            hypermodels.TimedHyperModel(4, 0.0),
            directory=tmp_path,
            project_name="s",
            overwrite=True,
        )
    assert (tmp_path / "s" / "keep.txt").exists()


def test_a_log_is_read_without_tensorflow_s_start_up_notices(tmp_path):
    log = tmp_path / "chief.log"
    log.write_text(
        "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
        "I0000 00:00:1796691166.282705   30924 port.cc:153] oneDNN custom operations are on.\n"
        "[00:52:48] chief serving the search in runs/x on 127.0.0.1:8470\n"
        "W0000 00:00:1796691167.9   30924 cpu_feature_guard.cc:227] This TensorFlow binary is optimized\n"
        "To enable the following instructions: AVX2, in other operations, rebuild TensorFlow.\n"
        "[00:52:52] tuner1 runs trial 0\n"
    )
    assert cluster.read_log(log).splitlines() == [
        "[00:52:48] chief serving the search in runs/x on 127.0.0.1:8470",
        "[00:52:52] tuner1 runs trial 0",
    ]
    assert cluster.read_log(tmp_path / "missing.log") == ""


def test_half_set_environment_is_answered_in_words(monkeypatch):
    monkeypatch.setenv("KERASTUNER_ORACLE_IP", "127.0.0.1")
    monkeypatch.delenv("KERASTUNER_ORACLE_PORT", raising=False)
    with pytest.raises(cluster.DistributedSearchError, match="KERASTUNER_ORACLE_PORT"):
        cluster.role()


# -- real processes --------------------------------------------------------------------------------


def test_a_chief_and_two_workers_run_the_same_trials_as_one_process(tmp_path, capfd):
    from lab import config, data, hypermodels, tuning

    folder, port = tmp_path / "two", free_port()
    code = search.main(command(folder, port, "--workers", "2", trials=6, seconds=0.5))
    out = capfd.readouterr().out
    assert code == 0, out
    table = pd.read_csv(folder / cluster.STATE / "trials.csv")
    assert len(table) == 6 and (table["status"] == "COMPLETED").all()
    assert "trials.csv" in out and "tuner0 runs trial" in out and "tuner1 runs trial" in out
    ran = timeline(folder)
    assert sorted(r["trial"] for r in ran) == sorted(f"{i}" for i in range(6))
    assert {r["tuner"] for r in ran} == {"tuner0", "tuner1"}  # both trained
    for tuner_id in ("tuner0", "tuner1"):
        assert (
            "the chief says the search is over"
            in (folder / cluster.STATE / "logs" / f"{tuner_id}.log").read_text()
        )
    # The same seeded trials as the search in one process.
    ds = data.load_for(config.preset("quick"))
    alone = tuning.make_tuner(
        "random",
        hypermodels.TimedHyperModel(ds.n_features, 0.0),
        max_trials=6,
        directory=tmp_path,
        project_name="alone",
    )
    frame = tuning.search(alone, ds, epochs=config.preset("quick").search_epochs, labels=False)
    key = ["learning_rate", "units"]
    spread = table.sort_values(key)[key].reset_index(drop=True)
    pd.testing.assert_frame_equal(
        spread, frame.sort_values(key)[key].reset_index(drop=True), check_exact=False
    )
    # Read afterwards in one process, as the table command does.
    assert search.main(command(folder, port, "--table", trials=6, seconds=0.5)) == 0
    assert "COMPLETED" in capfd.readouterr().out


def processes_naming(text: str) -> list[int]:
    """The processes of this machine whose command line holds `text` (Linux's /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and text in (entry / "cmdline").read_bytes().decode(errors="replace"):
                found.append(int(entry.name))
        except OSError:  # ended meanwhile
            continue
    return found


@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="reads the processes from /proc")
def test_a_second_chief_or_worker_id_is_refused_and_a_terminated_launcher_ends_them_all(tmp_path):
    """While it runs, a second chief of its folder and a second worker with a running worker's id are
    refused. Then a `kill`, a closed terminal or a scheduler's stop (TERM, HUP) ends them all, as
    Ctrl-C does."""
    folder, port = tmp_path / "term", free_port()
    args = command(folder, port, "--workers", "1", trials=4, seconds=10.0)
    launcher = start(args, tmp_path / "launcher.log")
    try:
        _refuse_a_second_chief_and_worker_then_terminate(folder, port, launcher, tmp_path)
    finally:
        for pid in processes_naming(str(tmp_path)):  # only when the test failed: none is left otherwise
            os.kill(pid, signal.SIGKILL)


def _refuse_a_second_chief_and_worker_then_terminate(folder, port, launcher, tmp_path):
    wait_for(lambda: heartbeat(folder, "tuner0").get("trial") is not None, 240, "the worker holds a trial")
    assert len(processes_naming(str(tmp_path))) >= 3  # the launcher, the chief and the worker
    logs = {"chief": tmp_path / "late_chief.log", "worker": tmp_path / "late_worker.log"}
    late = {
        "chief": start(
            command(folder, free_port(), "--role", "chief", trials=4, seconds=10.0), logs["chief"]
        ),
        "worker": start(
            command(folder, port, "--role", "worker", "--tuner-id", "tuner0", trials=4, seconds=10.0),
            logs["worker"],
        ),
    }
    for name, process in late.items():
        assert process.wait(timeout=120) == 2, logs[name].read_text()
    assert "already serves the search" in logs["chief"].read_text()
    assert "tuner0 already runs in this search" in logs["worker"].read_text()
    assert launcher.poll() is None  # the first search goes on
    launcher.send_signal(signal.SIGTERM)
    assert launcher.wait(timeout=60) == 130
    wait_for(lambda: not processes_naming(str(tmp_path)), 30, "no process of the search is left")
    assert "interrupted: ending the chief and the workers" in (tmp_path / "launcher.log").read_text()


def test_a_killed_worker_s_trial_is_handed_to_another_worker(tmp_path):
    folder, port = tmp_path / "kill", free_port()
    args = command(folder, port, "--worker-timeout", "2", trials=6, seconds=2.0)
    logs = tmp_path / "logs"
    chief = start([*args, "--role", "chief"], logs / "chief.log")
    try:
        wait_for(
            lambda: cluster.reachable("127.0.0.1", port, 0.2) or chief.poll() is not None, 120, "chief up"
        )
        workers = {
            t: start([*args, "--role", "worker", "--tuner-id", t], logs / f"{t}.log")
            for t in ("tuner0", "tuner1")
        }
        lost = wait_for(lambda: heartbeat(folder, "tuner1").get("trial"), 120, "tuner1 in a trial")
        workers["tuner1"].send_signal(signal.SIGKILL)
        workers["tuner1"].wait()
        killed_at = time.monotonic()
        assert chief.wait(timeout=90) == 0, (logs / "chief.log").read_text()
        waited = time.monotonic() - killed_at
        assert workers["tuner0"].wait(timeout=30) == 0
    finally:
        end_all(chief, *locals().get("workers", {}).values())
    log = (logs / "chief.log").read_text()
    assert f"tuner1 sent no heartbeat for 2 s: trial {lost} is handed to the next worker" in log
    trials = finished_trials(folder)
    assert len(trials) == 6 and (trials["status"] == "COMPLETED").all(), trials
    assert any(r["trial"] == lost and r["tuner"] == "tuner0" for r in timeline(folder))
    assert waited < 60, waited  # bounded: not "until a worker called tuner1 comes back"


def test_a_restarted_chief_trains_no_trial_twice_and_a_dead_chief_ends_its_workers(tmp_path):
    folder, port = tmp_path / "chief", free_port()
    args = command(folder, port, "--chief-timeout", "25", "--worker-timeout", "30", trials=8, seconds=1.5)
    logs = tmp_path / "logs"
    up = lambda: cluster.reachable("127.0.0.1", port, 0.2)  # noqa: E731
    chief = start([*args, "--role", "chief"], logs / "chief.log")
    workers = {}
    try:
        wait_for(lambda: up() or chief.poll() is not None, 120, "chief up")
        workers = {
            t: start([*args, "--role", "worker", "--tuner-id", t], logs / f"{t}.log")
            for t in ("tuner0", "tuner1")
        }
        wait_for(lambda: len(timeline(folder)) >= 2, 120, "two trials finished")
        # 1. The chief is killed and restarted at once: the workers carry on with it.
        chief.send_signal(signal.SIGKILL)
        chief.wait()
        chief = start([*args, "--role", "chief"], logs / "chief2.log")
        wait_for(lambda: len(timeline(folder)) >= 5, 120, "trials finished under the second chief")
        assert all(w.poll() is None for w in workers.values())
        # 2. The chief is killed for good: each worker exits with a message, not after an hour.
        chief.send_signal(signal.SIGKILL)
        chief.wait()
        killed_at = time.monotonic()
        codes = [w.wait(timeout=60) for w in workers.values()]
        waited = time.monotonic() - killed_at
    finally:
        end_all(chief, *workers.values())
    assert codes == [cluster.CHIEF_LOST] * 2
    assert waited < 45, waited
    for tuner_id in workers:
        assert "has been unreachable for 25 s; stopping" in (logs / f"{tuner_id}.log").read_text()
    # 3. The same command resumes it (a chief and two workers here) to the end.
    assert search.main(command(folder, port, "--workers", "2", trials=8, seconds=1.5)) == 0
    trials = finished_trials(folder)
    assert len(trials) == 8 and (trials["status"] == "COMPLETED").all(), trials
    runs = pd.Series([r["trial"] for r in timeline(folder)]).value_counts()
    assert (runs == 1).all(), runs  # every trial trained to the end once, none after it had finished
    assert set(run_times(folder).values()) == {1}


# -- Optuna: processes sharing one study in a database (two real processes: notebook 11) ------------


def test_a_dead_process_s_optuna_trial_is_failed_and_tried_again(tmp_path):
    """A trial whose heartbeat stopped is marked FAIL by the next process to start a trial, and retried."""
    import optuna

    from lab import config, data, hypermodels
    from lab.tuning import shared_study

    ds = data.load_for(config.preset("quick"))
    model = hypermodels.TimedHyperModel(ds.n_features, 0.0)
    where = tmp_path / "study.db"
    options = dict(heartbeat=1, grace=2)
    study = shared_study.open_study(where, "s", model, epochs=3, **options)
    warnings.filterwarnings("ignore", "Heartbeat of storage is supposed to be used")  # study.ask() here
    # A process takes a trial, beats once and dies.
    lost = study.ask()
    lost.suggest_float("learning_rate", 1e-4, 1e-1, log=True)
    lost.suggest_categorical("units", [16, 32, 64, 128])
    study._storage.record_heartbeat(lost._trial_id)
    time.sleep(3)  # past the grace period
    again = shared_study.open_study(where, "s", model, epochs=3, worker=1, **options)
    ran = shared_study.work(again, model, ds, trials=3, epochs=3, worker=1)
    table = shared_study.table(again).set_index("trial")
    assert table.loc[lost.number, "state"] == "FAIL"
    retried = table[table["retry_of"] == lost.number]
    assert len(retried) == 1 and retried["state"].iloc[0] == "COMPLETE"
    assert retried["learning_rate"].iloc[0] == pytest.approx(lost.params["learning_rate"])
    assert ran == 3 and (table["state"] == "COMPLETE").sum() == 3
    # The same study with other settings is refused in words.
    with pytest.raises(ValueError, match="made with other settings"):
        shared_study.open_study(where, "s", model, epochs=5)
    assert (
        optuna.load_study(study_name="s", storage=f"sqlite:///{where}").user_attrs["settings"]["epochs"] == 3
    )
