"""Everything that reaches into KerasTuner's internals, in one module.

The book's tuners change how a trial is built, trained and saved (`_LabTrials`), add a
grid that resumes (`GridOracle`) and a faster acquisition for the Bayesian search
(`BatchAcquisitionOracle`), read the Bayesian oracle's Gaussian process
(`surrogate_slice`) and Hyperband's planned brackets (`hyperband_plan`), and make
KerasTuner's state files atomic while a search runs (`search_context`). Each of these
uses names KerasTuner does not promise to keep, so an upgrade of KerasTuner is checked
here, and only here (tests/test_tuning.py and tests/test_search_state.py exercise every one).
"""

from __future__ import annotations

import contextlib
import itertools
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import keras_tuner as kt
import numpy as np
import pandas as pd
from keras_tuner.src import config as kt_config
from keras_tuner.src import utils as kt_utils
from keras_tuner.src.engine import tuner_utils
from sklearn.exceptions import ConvergenceWarning

from lab._backend import keras
from lab.tuning.state import FIT_RECORD, SearchStateError, _damaged, _save_json, check_search_folder


class _LabTrials:
    """Train each trial with the HyperModel's own fit; save its best weights and history once."""

    def reload(self):
        """Reload a search; a trial that had finished when the process died is not run again.

        KerasTuner writes a finished trial's `trial.json` before it removes the trial from
        the running ones in `oracle.json`; a kill between the two writes would otherwise
        make the reloaded search train that finished trial a second time.
        """
        check_search_folder(Path(self.project_dir))
        try:
            super().reload()
        except Exception as exc:  # noqa: BLE001 - any failure here means a state KerasTuner cannot read
            raise SearchStateError(
                _damaged(Path(self.project_dir), f"KerasTuner could not reload it ({exc})")
            ) from exc
        oracle = self.oracle
        finished = (kt.engine.trial.TrialStatus.COMPLETED, kt.engine.trial.TrialStatus.FAILED)
        # The oracle's reload queues every trial that was running for a retry.
        for trial_id in list(oracle._retry_queue):
            trial = oracle.trials.get(trial_id)
            if trial is not None and trial.status in finished:
                oracle._retry_queue.remove(trial_id)
                if trial_id not in oracle.end_order:
                    oracle.end_order.append(trial_id)

    # Set to True to restore KerasTuner's full garbage collection before every build.
    collect_between_trials = False

    def _try_build(self, hp):
        """Clear Keras's session and build the trial's model.

        KerasTuner also runs a full garbage collection here, and its `clear_session()`
        runs another: about 0.5 s a trial on 2 cores, a fifth of a short search's time
        (`benchmarks/tuning_overhead.py`). Python's own collector frees the old models
        as the search goes on, and the explicit collections free no more: the benchmark
        prints the peak memory either way (811 against 805 MiB on digits).
        """
        if self.collect_between_trials:
            return super()._try_build(hp)
        keras.backend.clear_session(free_memory=False)
        model = self._build_hypermodel(hp)
        if not isinstance(model, keras.Model):
            raise kt.errors.FatalTypeError(
                f"HyperModel.build() must return a Keras Model; it returned {type(model).__name__}."
            )
        return model

    def _build_and_fit_model(self, trial, *args, **kwargs):
        hp = trial.hyperparameters
        model = self._try_build(hp)
        # The tuner's per-epoch checkpoint callback is replaced by one save at the end
        # (the fit restores the best epoch's weights); the user's callbacks are kept.
        skip = (tuner_utils.SaveBestEpoch, tuner_utils.TunerCallback)
        kwargs["callbacks"] = [c for c in kwargs.get("callbacks", []) if not isinstance(c, skip)]
        started = time.perf_counter()
        self.hypermodel.last_fit = None
        try:
            results = self.hypermodel.fit(hp, model, *args, **kwargs)
        finally:
            self._record(trial, kwargs, time.perf_counter() - started)
        model.save_weights(self._get_checkpoint_fname(trial.trial_id))
        _save_json(self._get_build_config_fname(trial.trial_id), model.get_build_config())
        # Given several objectives, KerasTuner 1.4.8 adds them up but looks for the sum under the
        # key "multi_objective" in a returned dict, which no fit returns: the sum is added here.
        objective = self.oracle.objective
        if hasattr(objective, "objectives") and isinstance(results, dict) and objective.has_value(results):
            results = {**results, objective.name: objective.get_value(results)}
        # KerasTuner's own check that the fit returned a value for the objective.
        tuner_utils.validate_trial_results(results, objective, "HyperModel.fit()")
        return results

    def _record(self, trial, kwargs: dict, seconds: float) -> None:
        fit = self.hypermodel.last_fit
        if fit is None:
            return
        initial = int(kwargs.get("initial_epoch", 0))
        record = {
            "history": fit.history,
            "initial_epoch": initial,
            "budget": kwargs.get("epochs"),
            "epochs_trained": fit.epochs_trained,
            "best_epoch": fit.best_epoch,
            "stopped_early": fit.stopped_early,
            "diverged": fit.diverged,
            "seconds": seconds,
        }
        _save_json(Path(self.get_trial_dir(trial.trial_id)) / FIT_RECORD, record)


class GridOracle(kt.Oracle):
    """Every combination of the (discrete) search space, in order, each tried once.

    Unlike KerasTuner 1.4.8's GridSearchOracle, whose order is kept only in memory
    (it raises a KeyError when a search is reloaded), this one works out what is left
    from the trials on disk, so an interrupted grid resumes like the other searches.
    """

    def populate_space(self, trial_id):
        tried = {_key(trial.hyperparameters) for trial in self.trials.values() if trial.trial_id != trial_id}
        for values in grid_points(self.get_space()):
            hp = self.get_space()
            hp.values = dict(values)
            if _key(hp) not in tried:
                return {"status": kt.engine.trial.TrialStatus.RUNNING, "values": values}
        if self.ongoing_trials:
            return {"status": kt.engine.trial.TrialStatus.IDLE, "values": None}
        return {"status": kt.engine.trial.TrialStatus.STOPPED, "values": None}


def grid_points(space: kt.HyperParameters) -> list[dict[str, Any]]:
    """Every distinct combination of active values, in the order a grid visits them."""
    items = list(space.space)
    points, seen = [], set()
    for combination in itertools.product(*(list(item.values) for item in items)):
        hp = space.copy()
        hp.values = {item.name: value for item, value in zip(items, combination, strict=True)}
        active = {item.name: hp.values[item.name] for item in items if hp.is_active(item)}
        key = tuple(active.items())
        if key not in seen:
            seen.add(key)
            points.append(active)
    return points


def _key(hp: kt.HyperParameters) -> tuple:
    return tuple((item.name, hp.values.get(item.name)) for item in hp.space if hp.is_active(item))


class GridSearch(_LabTrials, kt.Tuner):
    def __init__(
        self, hypermodel, objective, max_trials, seed=None, max_consecutive_failed_trials=5, **kwargs
    ):
        oracle = GridOracle(
            objective=objective,
            max_trials=max_trials,
            seed=seed,
            max_consecutive_failed_trials=max_consecutive_failed_trials,
        )
        super().__init__(oracle=oracle, hypermodel=hypermodel, **kwargs)


class RandomSearch(_LabTrials, kt.RandomSearch):
    pass


class BatchAcquisitionOracle(kt.oracles.BayesianOptimizationOracle):
    """KerasTuner's Bayesian oracle, with the acquisition minimized from a scored batch.

    The surrogate (a Gaussian process) and the acquisition (the lower confidence bound
    `mean - beta * std` of the objective to minimize) are KerasTuner's own. KerasTuner
    minimizes that bound with L-BFGS-B from 50 random starting points and numerical
    gradients: about 4,000 one-point predictions of the process, 2 to 4 s a trial on 2
    cores, longer than training a trial of the book's searches. This oracle scores
    `candidates` random points in one prediction and refines the best `restarts` of
    them with L-BFGS-B, keeping the lowest bound found (`benchmarks/acquisition.py`
    compares the two on the same fitted processes: time and bound reached).

    Points closer than `min_distance` (in the unit cube where KerasTuner encodes the
    space) to a trial already run are left out: the bound can dip sharply right beside
    the best trial, and a search that follows the dip repeats that trial with a learning
    rate a few percent away, learns nothing new and degrades its own process (two nearly
    equal inputs with different scores). 0.01 is a factor of about 1.07 on a learning
    rate searched over three decades.
    """

    candidates = 2000
    restarts = 3
    min_distance = 0.01

    def populate_space(self, trial_id):
        completed = [t for t in self.trials.values() if t.status == "COMPLETED"]
        initial = self.num_initial_points or max(3 * len(self.hyperparameters.space), 3)
        if len(completed) < initial:
            return self._random_populate_space()
        x, y = self._vectorize_trials()
        x = np.nan_to_num(x, posinf=0, neginf=0)
        y = np.nan_to_num(y, posinf=0, neginf=0)
        self.gpr.fit(x, y)
        best_x = minimize_bound(
            self.gpr,
            self._get_hp_bounds(),
            self.beta,
            self._random_state,
            candidates=self.candidates,
            restarts=self.restarts,
            avoid=x,
            min_distance=self.min_distance,
        )
        return {"status": kt.engine.trial.TrialStatus.RUNNING, "values": self._vector_to_values(best_x)}


def minimize_bound(
    gpr,
    bounds: np.ndarray,
    beta: float,
    rng: np.random.RandomState,
    *,
    candidates: int = 2000,
    restarts: int = 3,
    avoid: np.ndarray | None = None,
    min_distance: float = 0.0,
) -> np.ndarray:
    """The point within `bounds` where `mean - beta * std` of the fitted `gpr` is lowest.

    `candidates` random points are scored in one prediction; the best `restarts` of them
    are refined with L-BFGS-B. Points closer than `min_distance` to a row of `avoid` (the
    trials already run) are not returned (see `BatchAcquisitionOracle`).
    """
    import scipy.optimize

    def bound(points):
        mean, std = gpr.predict(np.atleast_2d(points), return_std=True)
        return mean - beta * std

    def far(points):
        if avoid is None or not len(avoid) or min_distance <= 0:
            return np.ones(len(points), dtype=bool)
        gaps = np.linalg.norm(points[:, None, :] - np.asarray(avoid)[None, :, :], axis=-1)
        return gaps.min(axis=1) >= min_distance

    pool = rng.uniform(bounds[:, 0], bounds[:, 1], size=(candidates, bounds.shape[0]))
    allowed = far(pool)
    if not allowed.any():  # the space is covered by trials already: take the least covered point
        gaps = np.linalg.norm(pool[:, None, :] - np.asarray(avoid)[None, :, :], axis=-1).min(axis=1)
        return pool[np.argmax(gaps)]
    scores = np.where(allowed, bound(pool), np.inf)
    best, best_value = pool[np.argmin(scores)], float(scores.min())
    for k in np.argsort(scores)[:restarts]:
        if not allowed[k]:
            continue
        result = scipy.optimize.minimize(
            lambda v: float(bound(v)[0]), x0=pool[k], bounds=bounds, method="L-BFGS-B"
        )
        value = float(np.ravel(result.fun)[0])
        if value < best_value and far(result.x[None, :])[0]:
            best, best_value = result.x, value
    return best


class BayesianOptimization(_LabTrials, kt.BayesianOptimization):
    """KerasTuner's Bayesian search with the lab's faster acquisition (`BatchAcquisitionOracle`)."""

    def __init__(
        self,
        hypermodel=None,
        objective=None,
        max_trials=10,
        num_initial_points=None,
        alpha=1e-4,
        beta=2.6,
        seed=None,
        max_consecutive_failed_trials=3,
        **kwargs,
    ):
        oracle = BatchAcquisitionOracle(
            objective=objective,
            max_trials=max_trials,
            num_initial_points=num_initial_points,
            alpha=alpha,
            beta=beta,
            seed=seed,
            max_consecutive_failed_trials=max_consecutive_failed_trials,
        )
        kt.Tuner.__init__(self, oracle=oracle, hypermodel=hypermodel, **kwargs)


class Hyperband(_LabTrials, kt.Hyperband):
    pass


_CLASSES = {
    "grid": GridSearch,
    "random": RandomSearch,
    "bayesian": BayesianOptimization,
    "hyperband": Hyperband,
}


@contextlib.contextmanager
def search_context() -> Iterator[None]:
    """Atomic state files; no stack trace per failed trial (the table has its message), no retracing notices
    (every trial is a new model, so a new compiled function), and no notice that a
    Hyperband continuation starts its optimizer afresh (as KerasTuner intends)."""
    from lab._backend import tf

    debug, level, save_json = kt_config.DEBUG, tf.get_logger().level, kt_utils.save_json
    kt_config.DEBUG = False
    tf.get_logger().setLevel("ERROR")
    # KerasTuner writes its state files in place; a kill during a write would leave an
    # empty oracle.json that cannot be resumed. Write them whole or not at all.
    kt_utils.save_json = _save_json
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
            # The Bayesian oracle's GP hitting a length-scale bound on few trials is expected.
            warnings.filterwarnings("ignore", category=ConvergenceWarning)
            yield
    finally:
        kt_config.DEBUG = debug
        tf.get_logger().setLevel(level)
        kt_utils.save_json = save_json


def surrogate_slice(tuner: kt.Tuner, name: str, *, trials: int | None = None, points: int = 200) -> dict:
    """The Bayesian search's Gaussian process, refitted on a one-hyperparameter search, across its range.

    The same regressor the oracle uses (`oracle._make_gpr()`: Matern 5/2 kernel,
    normalized targets), fitted on the same encoding of the trials (each value mapped
    to [0, 1] by the hyperparameter's own sampling, log for a log-scaled one).

    Args:
        tuner: a Bayesian tuner whose search varies `name` only.
        name: the hyperparameter.
        trials: fit on the first this many completed trials only (to show the
            surrogate as it stood before a later trial was chosen).

    Returns:
        `values` (the hyperparameter along its range), `mean` and `std` (the surrogate's
        prediction of the objective), `observed_x` and `observed_y` (the trials), `beta`,
        and `next`: where the lower confidence bound is lowest on the grid, leaving out
        points beside a trial already run, as the book's Bayesian tuner does.
    """
    oracle = tuner.oracle
    if not isinstance(oracle, kt.oracles.BayesianOptimizationOracle):
        raise ValueError(f"surrogate_slice needs a Bayesian search; this one is {type(tuner).__name__}.")
    searched = [hp.name for hp in oracle._nonfixed_space()]
    if searched != [name]:
        raise ValueError(f"surrogate_slice needs a search over {name!r} alone; this one searches {searched}.")
    hp = next(h for h in oracle.hyperparameters.space if h.name == name)
    done = [
        t for _, t in sorted(oracle.trials.items(), key=lambda item: int(item[0])) if t.status == "COMPLETED"
    ]
    done = done[:trials] if trials is not None else done
    if len(done) < 2:
        raise ValueError("The surrogate needs at least two completed trials.")
    sign = -1.0 if oracle.objective.direction == "max" else 1.0
    x = np.array([[hp.value_to_prob(t.hyperparameters.values[name])] for t in done])
    y = np.array([sign * t.score for t in done])
    gpr = surrogate_process(oracle)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=ConvergenceWarning)
        gpr.fit(x, y)
    probs = np.linspace(0.0005, 0.9995, points)
    mean, std = gpr.predict(probs[:, None], return_std=True)
    values = np.array([hp.prob_to_value(p) for p in probs])
    far = np.abs(probs[:, None] - x[None, :, 0]).min(axis=1) >= BatchAcquisitionOracle.min_distance
    return dict(
        next=values[np.argmin(np.where(far, mean - oracle.beta * std, np.inf))],
        values=values,
        mean=sign * mean,
        std=std,
        observed_x=np.array([t.hyperparameters.values[name] for t in done]),
        observed_y=sign * y,
        beta=oracle.beta,
    )


def surrogate_process(oracle: kt.oracles.BayesianOptimizationOracle):
    """A new Gaussian-process regressor made as the Bayesian oracle makes its own (Matern 5/2
    kernel, normalized targets), unfitted."""
    return oracle._make_gpr()


def checkpoint_path(tuner: kt.Tuner, trial_id: str) -> Path:
    """Where a trial's best weights are saved."""
    return Path(tuner._get_checkpoint_fname(trial_id))


def hyperband_plan(max_epochs: int, factor: int, hyperband_iterations: int = 1) -> pd.DataFrame:
    """Hyperband's planned brackets and rounds, read from KerasTuner's own oracle (nothing is trained).

    One row per round of every bracket, most exploratory bracket first: `bracket`, `round`,
    `trials` (how many run in that round), `continued_from` (the epoch they resume at),
    `trained_to` (the round's budget) and `planned_epochs` (trials x new epochs, before any
    early stopping). With several iterations the whole plan repeats.
    """
    oracle = kt.oracles.HyperbandOracle(
        objective=kt.Objective("val_loss", "min"), max_epochs=max_epochs, factor=factor
    )
    rows = []
    for bracket in reversed(range(oracle._get_num_brackets())):
        previous = 0
        for round_ in range(oracle._get_num_rounds(bracket)):
            trials, epochs = oracle._get_size(bracket, round_), oracle._get_epochs(bracket, round_)
            rows.append(
                dict(
                    bracket=bracket,
                    round=round_,
                    trials=trials,
                    continued_from=previous,
                    trained_to=epochs,
                    planned_epochs=trials * (epochs - previous),
                )
            )
            previous = epochs
    plan = pd.DataFrame(rows)
    if hyperband_iterations > 1:
        plan = pd.concat([plan.assign(iteration=i) for i in range(hyperband_iterations)], ignore_index=True)
    return plan


# -- KerasTuner's distributed mode (lab.tuning.distributed) ---------------------------------------


def _silence_conditions() -> None:
    """KerasTuner 1.4.8's `conditions.Parent.to_proto` prints its first value on every gRPC call with a
    conditional hyperparameter (a debugging line left in), filling a distributed search's logs.
    The module's own `print` is shadowed; nothing else in that module prints."""
    from keras_tuner.src.engine import conditions

    conditions.print = lambda *args, **kwargs: None


_silence_conditions()


def is_worker(tuner: kt.Tuner) -> bool:
    """Whether the tuner is a distributed worker, whose oracle is the chief's, over gRPC."""
    from keras_tuner.src.distribute import oracle_client

    return isinstance(tuner.oracle, oracle_client.OracleClient)


def running(oracle: kt.Oracle) -> dict[str, str]:
    """Which trial each worker is running, by tuner id (a copy, taken under the oracle's lock)."""
    return _running(oracle)


@kt.synchronized
def _running(oracle):
    return {tuner_id: trial.trial_id for tuner_id, trial in oracle.ongoing_trials.items()}


@kt.synchronized
def hand_back(oracle: kt.Oracle, tuner_id: str) -> str | None:
    """Give the trial a lost worker was running to the next worker that asks, and forget the worker.

    KerasTuner keeps a worker's trial RUNNING until that worker, or one with the same id, comes
    back; the chief also waits for every worker it has seen to be told to stop. Returns the trial
    handed back, or None when the worker had none.
    """
    oracle.tuner_ids.discard(tuner_id)
    trial = oracle.ongoing_trials.pop(tuner_id, None)
    if trial is None:
        return None
    if trial.status == kt.engine.trial.TrialStatus.RUNNING and trial.trial_id not in oracle._retry_queue:
        oracle._retry_queue.append(trial.trial_id)
    oracle.save()
    return trial.trial_id


@kt.synchronized
def restore_running(oracle: kt.Oracle, ongoing: dict[str, str]) -> list[str]:
    """After a chief's reload, give each trial that was running back to its worker.

    KerasTuner's reload queues every running trial for a retry, so a worker still training one
    when the chief was restarted would see a second worker train it too. Here the trial stays
    its worker's; if that worker is gone, the chief's watch hands it back (`hand_back`).
    Returns the trials restored.
    """
    restored = []
    for tuner_id, trial_id in ongoing.items():
        trial = oracle.trials.get(trial_id)
        if trial is None or trial.status != kt.engine.trial.TrialStatus.RUNNING:
            continue
        if trial_id in oracle._retry_queue:
            oracle._retry_queue.remove(trial_id)
        oracle.ongoing_trials[tuner_id] = trial
        oracle.tuner_ids.add(tuner_id)
        restored.append(trial_id)
    if restored:
        oracle.save()
    return restored


@kt.synchronized
def _forget_retry(oracle, trial_id: str) -> None:
    """A trial that ended (a late report from a worker thought lost) needs no retry."""
    trial = oracle.trials.get(trial_id)
    finished = (kt.engine.trial.TrialStatus.COMPLETED, kt.engine.trial.TrialStatus.FAILED)
    if trial is not None and trial.status in finished and trial_id in oracle._retry_queue:
        oracle._retry_queue.remove(trial_id)
        oracle.save()


@kt.synchronized
def _ended_before(oracle, trial_id: str) -> bool:
    trial = oracle.trials.get(trial_id)
    finished = (kt.engine.trial.TrialStatus.COMPLETED, kt.engine.trial.TrialStatus.FAILED)
    running = any(t.trial_id == trial_id for t in oracle.ongoing_trials.values())
    return trial is not None and trial.status in finished and not running


class _PatientStub:
    """A worker's gRPC calls, retried while the chief is away (killed, and perhaps restarted).

    KerasTuner's client waits for a chief that is not there yet, but a call in flight when the
    chief dies fails at once ("connection reset") and the worker crashes with it. Each call is
    retried every second instead; the worker's watch (`lab.tuning.distributed`) ends it with a
    message if the chief stays away too long. A repeated end-of-trial report is ignored by the
    chief (`serve`), so a retry never counts a trial twice.
    """

    def __init__(self, stub):
        self._stub = stub

    def __getattr__(self, name):
        import grpc

        call = getattr(self._stub, name)

        def patient(*args, **kwargs):
            while True:
                try:
                    return call(*args, **kwargs)
                except grpc.RpcError as exc:
                    if exc.code() != grpc.StatusCode.UNAVAILABLE:
                        raise
                    time.sleep(1.0)

        return patient


def patient_worker(tuner: kt.Tuner) -> None:
    """Make a worker's calls to its chief outlast a chief's restart (`_PatientStub`)."""
    if not isinstance(tuner.oracle.stub, _PatientStub):
        tuner.oracle.stub = _PatientStub(tuner.oracle.stub)


@kt.synchronized
def _keep_waiting(oracle, tuner_id: str) -> bool:
    """Whether a worker told to stop should wait instead: other workers' trials still run. It stays
    one of the chief's workers (KerasTuner forgets a worker once it is told to stop)."""
    others = [t for t in oracle.ongoing_trials if t != tuner_id]
    if others:
        oracle.tuner_ids.add(tuner_id)
    return bool(others)


@kt.synchronized
def _search_over(oracle) -> bool:
    return not oracle.ongoing_trials and not oracle.tuner_ids


def serve(oracle: kt.Oracle, ip: str, port: int, *, tick, say, poll: float = 0.5) -> None:
    """Serve the oracle to the workers over gRPC until the search is over; call `tick()` every `poll` s.

    KerasTuner's own server (`oracle_chief.start_server`) binds with SO_REUSEPORT, so a second
    chief on the same port starts without an error and the workers are shared between two
    searches; it also checks for the end every 20 s. This one refuses a port in use, says in
    the log which worker begins and ends which trial (`say`), and ends within `poll` seconds of
    the last worker being told to stop.
    """
    from concurrent import futures

    import grpc
    from keras_tuner.src import protos
    from keras_tuner.src.distribute import oracle_chief

    class Servicer(oracle_chief.OracleServicer):
        def CreateTrial(self, request, context):  # noqa: N802 (gRPC's names)
            reply = super().CreateTrial(request, context)
            tuner_id = request.tuner_id
            trial = oracle.ongoing_trials.get(tuner_id)
            if trial is not None:
                say(f"{tuner_id} runs trial {trial.trial_id}")
                waiting.discard(tuner_id)
                return reply
            status = kt.engine.trial.Trial.from_proto(reply.trial).status
            if status == kt.engine.trial.TrialStatus.STOPPED and _keep_waiting(oracle, tuner_id):
                # No new trial is left, but another worker's trial still runs: should that worker
                # die, its trial is handed back, and someone must be there to take it.
                if tuner_id not in waiting:
                    say(f"{tuner_id} waits: no new trial is left, and others still run")
                    waiting.add(tuner_id)
                status = kt.engine.trial.TrialStatus.IDLE
                reply = protos.get_service().CreateTrialResponse(
                    trial=kt.engine.trial.Trial(oracle.get_space(), status=status).to_proto()
                )
            if status == kt.engine.trial.TrialStatus.IDLE:
                time.sleep(poll)  # a worker asks again at once when told to wait
            elif status == kt.engine.trial.TrialStatus.STOPPED:
                say(f"{tuner_id} is told the search is over")
            return reply

        def EndTrial(self, request, context):  # noqa: N802
            if _ended_before(oracle, request.trial.trial_id):
                # A worker repeating a report whose answer was lost with a killed chief.
                say(f"trial {request.trial.trial_id} had already ended: a repeated report is ignored")
                return protos.get_service().EndTrialResponse()
            reply = super().EndTrial(request, context)
            trial = oracle.trials.get(request.trial.trial_id)
            if trial is not None:
                _forget_retry(oracle, trial.trial_id)
                score = "" if trial.score is None else f", {oracle.objective.name} {trial.score:.5g}"
                say(f"trial {trial.trial_id} ended: {trial.status}{score}")
            return reply

    waiting: set[str] = set()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8), options=[("grpc.so_reuseport", 0)])
    servicer = Servicer(oracle)
    protos.get_service_grpc().add_OracleServicer_to_server(servicer, server)
    try:
        bound = server.add_insecure_port(f"{ip}:{port}")
    except RuntimeError:
        bound = 0
    if not bound:
        raise OSError(
            f"The chief could not listen on {ip}:{port}: the port is in use, or the address is not "
            "this machine's."
        )
    server.start()
    try:
        while True:
            time.sleep(poll)
            tick()
            if servicer.stop_triggered and _search_over(oracle):
                return
    finally:
        server.stop(grace=1).wait()
