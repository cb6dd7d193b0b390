"""Tuning overhead: a search's wall time against training the same trials without a tuner.

A random search over the book's dense-autoencoder space runs N trials on digits. Then each
trial's configuration is trained again for the epochs that trial consumed, twice: with plain
`model.fit` and Keras's defaults, and with the book's own loop (the HyperModel's `fit`)
outside any tuner. Printed: the three wall times and the two ratios,

    search / model.fit   the figure the budget is set on (under 1.2);
    search / own loop    what the tuner itself adds (building, bookkeeping, saving).

and the process's peak memory after the search. `--collect` restores KerasTuner's full
garbage collection before every trial, which the book's tuners skip, to compare both.

Then the same configurations run as an Optuna study (enqueued, so Optuna trains exactly the
trials KerasTuner drew) with notebook 09's objective: the same HyperModel `fit`, a report
to the trial after every epoch (the pruner's input; no pruning here), and a journal file as
storage. Printed: Optuna's wall time, and each library's overhead per trial over the book's
loop, `(search - own loop) / trials`.

Run: python benchmarks/tuning_overhead.py [--trials 8] [--epochs 40] [--collect]
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

from lab import config, data, tuning
from lab._backend import keras
from lab.hypermodels import DenseAutoencoderHyperModel
from lab.tuning import with_optuna


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--preset", default="workshop")
    parser.add_argument("--collect", action="store_true", help="collect garbage before every trial")
    args = parser.parse_args()
    tuning._keras_tuner._LabTrials.collect_between_trials = args.collect

    cfg = config.preset(args.preset)
    ds = data.load_for(cfg)
    hm = DenseAutoencoderHyperModel(
        ds.n_features, fixed={"latent_dim": cfg.latent_dim}, patience=None, seed=0
    )
    with tempfile.TemporaryDirectory() as folder:
        tuner = tuning.make_tuner(
            "random", hm, max_trials=args.trials, directory=folder, project_name="overhead"
        )
        start = time.perf_counter()
        frame = tuning.search(tuner, ds, epochs=args.epochs, labels=False)
        search_s = time.perf_counter() - start
        peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB

        optuna_s = _optuna_search(hm, ds, frame, args.epochs, folder)

        fit_s = own_s = 0.0
        for _, row in frame.iterrows():
            hp = tuner.oracle.get_trial(row["trial"]).hyperparameters
            epochs = int(row["epochs"])
            keras.backend.clear_session()
            model = hm.build(hp)
            start = time.perf_counter()
            model.fit(
                ds.x_train,
                ds.x_train,
                validation_data=(ds.x_val, ds.x_val),
                epochs=epochs,
                batch_size=hm.batch_size(hp),
                verbose=0,
            )
            fit_s += time.perf_counter() - start
            keras.backend.clear_session()
            model = hm.build(hp)
            start = time.perf_counter()
            hm.fit(hp, model, ds.x_train, validation_data=ds.x_val, epochs=epochs)
            own_s += time.perf_counter() - start

    epochs_total = int(frame["epochs"].sum())
    print(f"{len(frame)} trials, {epochs_total} epochs in all, {ds.name} ({len(ds.x_train)} training images)")
    collecting = "on" if args.collect else "off"
    print(f"search (random, with the tuner)       {search_s:7.2f} s   (collecting garbage: {collecting})")
    print(f"peak memory after the search          {peak_mib:7.0f} MiB")
    print(f"the same trials with model.fit        {fit_s:7.2f} s")
    print(f"the same trials with the book's loop  {own_s:7.2f} s")
    print(f"ratio search / model.fit              {search_s / fit_s:7.2f}   (budget: under 1.2)")
    print(f"ratio search / book's loop            {search_s / own_s:7.2f}   (what the tuner adds)")
    print(f"the same trials as an Optuna study    {optuna_s:7.2f} s")
    per_trial = {"KerasTuner": (search_s - own_s) / len(frame), "Optuna": (optuna_s - own_s) / len(frame)}
    for name, seconds in per_trial.items():
        print(f"overhead per trial, {name:10s}        {seconds:7.2f} s   (search minus the book's loop)")


def _optuna_search(hm, ds, frame, epochs: int, folder: str) -> float:
    """The search's trials again, enqueued in an Optuna study with notebook 09's objective."""
    import optuna

    from lab import shootout

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        direction="minimize",
        sampler=optuna.samplers.RandomSampler(seed=0),
        storage=with_optuna.journal(Path(folder) / "overhead.journal"),
    )
    for _, row in frame.iterrows():
        study.enqueue_trial(tuning.hyperparameter_values(row, hm))

    def objective(trial):
        return shootout.fit_trial(trial, hm, ds, epochs)["val_mse"]

    start = time.perf_counter()
    study.optimize(objective, n_trials=len(frame))
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
