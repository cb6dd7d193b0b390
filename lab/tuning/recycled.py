"""A long search whose memory stays flat: trials run in worker processes, each replaced after a
few trials.

TensorFlow keeps part of every traced training loop for as long as its process lives, so a
search grows by several MiB per trial (`benchmarks/memory_per_trial.py`: about 9 MiB per trial
on digits, with KerasTuner's own `model.fit` loop as much), and neither Keras's
`clear_session`, Python's garbage collector nor glibc's `malloc_trim` gives it back. A search
folder resumes where it stopped, so the search can instead run in a worker process that
trains `trials_per_process` trials, saves them and exits; the next worker resumes the folder.
The process that asked for the search trains nothing, and no worker lives long enough to grow
far. Each new worker pays a fresh import of TensorFlow (several seconds on 2 cores), so this is
for long searches, not for a notebook's dozen trials.

    tuner = make_tuner("random", hypermodel, max_trials=100, directory="runs", project_name="long")
    frame = search(tuner, ds, epochs=20, trials_per_process=10)
"""

from __future__ import annotations

import contextlib
import io
import multiprocessing
import traceback
from typing import Any

from lab import checks

DONE, MORE, FAILED = "done", "more", "failed"


class _Recycle(Exception):
    """Raised in a worker after its share of trials, once the last one is saved."""


def run(made: dict[str, Any], dataset, *, epochs: int, labels: bool, trials_per_process: int) -> int:
    """Run the search `made` describes (make_tuner's arguments) in worker processes, each for at
    most `trials_per_process` trials, until the search ends. Returns how many workers ran."""
    trials_per_process = checks.integer(trials_per_process, "trials_per_process", minimum=1)
    context = multiprocessing.get_context("spawn")  # a fork would copy TensorFlow's threads
    workers = 0
    while True:
        queue = context.Queue()
        worker = context.Process(
            target=_work, args=(made, dataset, epochs, labels, trials_per_process, queue), daemon=True
        )
        worker.start()
        try:
            status, detail = _wait(worker, queue)
        except BaseException:
            # An interrupted kernel must not leave a worker training into the folder: the next
            # run of the search would start a second one beside it. Its trial is rerun then.
            worker.terminate()
            worker.join()
            raise
        workers += 1
        if status == DONE:
            return workers
        if status == FAILED:
            raise RuntimeError(
                f"A worker of the search in {made['directory']}/{made['project_name']} stopped: {detail}. "
                "Its finished trials are kept: fix the cause and run the search again to resume it."
            )
        if detail == 0:
            raise RuntimeError("A worker finished no trial and the search did not end: stopping here.")


def _wait(worker, queue) -> tuple[str, Any]:
    """The worker's report, or FAILED with its exit code when it died without one."""
    while True:
        worker.join(timeout=1.0)
        if not queue.empty():
            status, detail = queue.get()
            worker.join()
            return status, detail
        if worker.exitcode is not None:
            if not queue.empty():
                continue
            return FAILED, f"the worker process died (exit code {worker.exitcode}) without a report"


def _work(made: dict[str, Any], dataset, epochs: int, labels: bool, share: int, queue) -> None:
    """In the worker: resume the search, train at most `share` trials, report, exit."""
    try:
        from lab.tuning.tuners import make_tuner, search

        with contextlib.redirect_stdout(io.StringIO()):  # KerasTuner's "Reloading Tuner from ..."
            tuner = make_tuner(**made, overwrite=False)
        finished = 0
        end_trial = tuner.on_trial_end

        def on_trial_end(trial):
            nonlocal finished
            end_trial(trial)  # KerasTuner ends the trial and saves the oracle first
            finished += 1
            if finished >= share:
                raise _Recycle

        tuner.on_trial_end = on_trial_end
        try:
            search(tuner, dataset, epochs=epochs, labels=labels)
        except _Recycle:
            queue.put((MORE, finished))
            return
        queue.put((DONE, finished))
    except BaseException as exc:  # noqa: BLE001  (reported to the parent in words)
        last = traceback.format_exception_only(type(exc), exc)[-1].strip()
        queue.put((FAILED, last))
