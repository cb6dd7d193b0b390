"""One search from the command line: in this process, as a distributed chief or worker, or both here.

    # a chief and two workers on this machine; logs in the search folder; ends when the search does
    python -m lab.search --kind bayesian --trials 12 --workers 2

    # the same by hand, one command per terminal (or per machine: --ip is the chief's address)
    python -m lab.search --kind bayesian --trials 12 --role chief  --ip 10.0.0.5 --port 8470
    python -m lab.search --kind bayesian --trials 12 --role worker --ip 10.0.0.5 --port 8470 --tuner-id tuner0
    python -m lab.search --kind bayesian --trials 12 --role worker --ip 10.0.0.5 --port 8470 --tuner-id tuner1

    # the trials table of a search, once it is over (or while it runs, from the files)
    python -m lab.search --kind bayesian --trials 12 --table

Every process of one search takes the same search arguments (kind, model, preset, trials,
epochs, seed, directory, project name) and the same search folder: on several machines the
folder must be shared (NFS, say). One worker per GPU: `--gpus 0,1` with `--workers 2` gives
each worker its own (CUDA_VISIBLE_DEVICES); by hand, set CUDA_VISIBLE_DEVICES per worker.
The chief's port has no authentication: keep it on loopback or a private network.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from lab import cluster, config

MODELS = ("dense", "vae", "timed")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m lab.search",
        description=__doc__.split("\n", 1)[0],
        epilog="Examples and the traps this command avoids: notebooks/11_distributed_search.ipynb.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    what = p.add_argument_group("the search (the same in every process of one search)")
    what.add_argument(
        "--engine",
        default="keras-tuner",
        choices=("keras-tuner", "optuna"),
        help="optuna: TPE with pruning, processes sharing one study in a database (no chief)",
    )
    what.add_argument(
        "--kind", choices=("random", "bayesian", "hyperband", "grid"), help="KerasTuner's (default random)"
    )
    what.add_argument("--model", default="dense", choices=MODELS, help="timed: trials of a known cost")
    what.add_argument("--preset", default="workshop", choices=config.PRESETS)
    what.add_argument("--dataset", choices=config.DATASETS, help="default: the preset's")
    what.add_argument("--seed", default=0, type=int)
    what.add_argument("--trials", type=int, help="most trials (default: the preset's search_trials)")
    what.add_argument("--epochs", type=int, help="epochs per trial (default: the preset's search_epochs)")
    what.add_argument("--trial-seconds", default=2.0, type=float, help="--model timed: each trial's cost")
    what.add_argument("--directory", default=str(config.RUNS_DIR / "distributed"))
    what.add_argument("--project-name", help="default: <kind>_<model>")
    what.add_argument("--overwrite", action="store_true", help="start afresh (never in a worker)")
    what.add_argument(
        "--storage",
        help="--engine optuna: the study's SQLite file (default <directory>/<project-name>/study.db) or a "
        "database URL such as postgresql://user@host/db for several machines",
    )
    who = p.add_argument_group("processes")
    who.add_argument("--workers", type=int, help="start a chief and this many workers on this machine")
    who.add_argument("--role", choices=("chief", "worker"), help="run one process of a distributed search")
    who.add_argument(
        "--ip", default="127.0.0.1", help="the chief's address (default 127.0.0.1: this machine)"
    )
    who.add_argument("--port", default=8470, type=int)
    who.add_argument(
        "--tuner-id", default="tuner0", help="a worker's id: tuner0, tuner1, ... (one per worker)"
    )
    who.add_argument("--gpus", help="with --workers: GPUs to share out, one per worker, such as 0,1")
    who.add_argument("--restarts", default=2, type=int, help="with --workers: restarts per failed worker")
    who.add_argument(
        "--worker-timeout",
        type=float,
        default=cluster.WORKER_TIMEOUT,
        help="seconds without a worker's heartbeat before the chief hands its trial to another",
    )
    who.add_argument(
        "--chief-timeout",
        type=float,
        default=cluster.CHIEF_TIMEOUT,
        help="seconds a worker waits for an unreachable chief before it exits",
    )
    p.add_argument("--table", action="store_true", help="print the trials table of the search and stop")
    return p


def arguments(**settings: object) -> list[str]:
    """This command's arguments from keywords: `arguments(model="timed", trials=8)` gives
    `["--model", "timed", "--trials", "8"]`; True gives a bare flag, None and False nothing."""
    names = {action.dest: action.option_strings[0] for action in parser()._actions if action.option_strings}
    out: list[str] = []
    for key, value in settings.items():
        if key not in names:
            raise ValueError(
                f"python -m lab.search has no option for {key!r}; it has {', '.join(sorted(names))}."
            )
        if value is None or value is False:
            continue
        out += [names[key]] if value is True else [names[key], str(value)]
    return out


def project_name(args: argparse.Namespace) -> str:
    kind = "tpe" if args.engine == "optuna" else args.kind
    return args.project_name or f"{kind}_{args.model}"


def check(args: argparse.Namespace) -> None:
    """Refuse a bad combination in words, before TensorFlow is imported."""
    from lab import checks

    if args.engine == "optuna":
        if args.role is not None:
            raise SystemExit(
                "An Optuna study has no chief: every process is a peer of the same storage. Drop --role; "
                "give each process started by hand its own --tuner-id (tuner0, tuner1, ...)."
            )
        if args.kind is not None:
            raise SystemExit("--kind is KerasTuner's: an Optuna study here samples with TPE.")
    elif args.storage is not None:
        raise SystemExit(
            "--storage is for --engine optuna; a KerasTuner search keeps its state in its folder."
        )
    if args.workers is not None and args.role is not None:
        raise SystemExit("Give --workers N (a chief and N workers here) or --role, not both.")
    if args.workers is not None:
        args.workers = checks.integer(args.workers, "--workers", minimum=1, maximum=64)
    if args.overwrite and args.role == "worker":
        raise SystemExit(
            "A worker must not --overwrite: it would delete the trials the other workers finished. "
            "Start afresh from the chief (or with --workers N --overwrite)."
        )
    if args.table and (args.role or args.workers or args.overwrite):
        raise SystemExit("--table reads a search's folder: give it without --role, --workers or --overwrite.")
    if args.role == "worker" and "chief" in args.tuner_id:
        raise SystemExit(
            f"--tuner-id {args.tuner_id!r} names a chief (KerasTuner's rule): use tuner0, tuner1, ..."
        )
    checks.integer(args.port, "--port", minimum=1, maximum=65535)
    checks.number(args.worker_timeout, "--worker-timeout", minimum=0.5)
    checks.number(args.chief_timeout, "--chief-timeout", minimum=0.5)
    checks.integer(args.trials, "--trials", minimum=1, optional=True)
    checks.integer(args.epochs, "--epochs", minimum=1, optional=True)
    checks.integer(args.seed, "--seed", minimum=0)
    checks.number(args.trial_seconds, "--trial-seconds", above=0, maximum=3600)
    checks.integer(args.restarts, "--restarts", minimum=0, maximum=100)
    if args.gpus is not None:
        if args.workers is None:
            raise SystemExit(
                "--gpus shares GPUs out among the workers that --workers N starts. By hand, set "
                "CUDA_VISIBLE_DEVICES for each worker instead."
            )
        gpus = [g.strip() for g in args.gpus.split(",")]
        if not all(g.isdigit() for g in gpus):
            raise SystemExit(f"--gpus takes GPU numbers separated by commas, such as 0,1; got {args.gpus!r}.")
    checks.folder(args.directory, "--directory")
    if args.storage is not None:
        _check_storage(args.storage)
    if args.ip in ("0.0.0.0", "::"):
        print(
            "Warning: the chief listens on every network of this machine, and its port has no "
            "authentication. Keep it behind a firewall or on a private network.",
            file=sys.stderr,
        )


def _check_storage(storage: str) -> None:
    """A database URL (scheme://...) or the path of an SQLite file that is one, or will be."""
    import re

    if "://" in storage:
        return
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]+:", storage):
        raise SystemExit(
            f"--storage {storage!r} looks like a database URL without its '://': write it as "
            "postgresql://user@host/db, or give the path of an SQLite file such as runs/study.db."
        )
    path = Path(storage)
    if path.is_dir():
        raise SystemExit(
            f"--storage {storage!r} is a folder: give an SQLite file in it, such as {path / 'study.db'}."
        )
    if path.exists() and not cluster.is_sqlite(path):
        raise SystemExit(
            f"--storage {storage!r} is a file that is not an SQLite database: it is left as it is. "
            "Give the path of a study's file, or of one still to be made."
        )


def worker_number(tuner_id: str) -> int:
    digits = tuner_id.removeprefix("tuner")
    if not digits.isdigit():
        raise SystemExit(f"--tuner-id must be tuner0, tuner1, ..., got {tuner_id!r}.")
    return int(digits)


def _model(args: argparse.Namespace, cfg, dataset):
    from lab import hypermodels

    if args.model == "timed":
        model = hypermodels.TimedHyperModel(dataset.n_features, args.trial_seconds)
        objective = "val_mse"
    elif args.model == "vae":
        model = hypermodels.VAEHyperModel(dataset.n_features, patience=cfg.search_patience, seed=cfg.seed)
        objective = "val_neg_elbo"
    else:
        model = hypermodels.DenseAutoencoderHyperModel(
            dataset.n_features,
            fixed={"latent_dim": cfg.latent_dim},
            patience=cfg.search_patience,
            seed=cfg.seed,
        )
        objective = "val_mse"
    return model, objective


def run(args: argparse.Namespace):
    """Make the tuner and run (or resume) its search in this process; the table, or None in a worker."""
    from lab import data, tuning

    cfg = config.preset(args.preset, dataset=args.dataset, seed=args.seed)
    dataset = data.load_for(cfg)
    model, objective = _model(args, cfg, dataset)
    trials = cfg.search_trials if args.trials is None else args.trials
    epochs = cfg.search_epochs if args.epochs is None else args.epochs
    tuner = tuning.make_tuner(
        args.kind,
        model,
        objective=objective,
        max_trials=trials,
        max_epochs=epochs,
        factor=cfg.hyperband_factor,
        directory=args.directory,
        project_name=project_name(args),
        overwrite=args.overwrite,
        seed=cfg.seed,
    )
    if args.table:
        return tuning.trials_frame(tuner)
    return tuning.search(tuner, dataset, epochs=epochs, labels=args.model != "timed")


def run_optuna(args: argparse.Namespace, folder: Path):
    """This process's share of a shared Optuna study; the study's table so far."""
    from lab import data
    from lab.tuning import shared_study

    cfg = config.preset(args.preset, dataset=args.dataset, seed=args.seed)
    dataset = data.load_for(cfg)
    model, objective = _model(args, cfg, dataset)
    if objective != "val_mse":
        raise SystemExit(
            "--engine optuna searches the dense autoencoder or timed trials (val_mse): use --model dense."
        )
    epochs = cfg.search_epochs if args.epochs is None else args.epochs
    where = args.storage or folder / "study.db"
    if args.overwrite:
        cluster.remove_study_file(where)
    worker = worker_number(args.tuner_id)
    study = shared_study.open_study(
        where, project_name(args), model, epochs=epochs, seed=cfg.seed, worker=worker
    )
    if args.table:
        return shared_study.table(study)
    trials = cfg.search_trials if args.trials is None else args.trials
    cluster.say(f"{args.tuner_id} joins the study {project_name(args)!r} in {where}")
    ran = shared_study.work(study, model, dataset, trials=trials, epochs=epochs, worker=worker)
    cluster.say(f"{args.tuner_id}: the study holds {trials} finished trials; this process ran {ran}")
    return shared_study.table(study)


def show(frame, folder: Path, saved: Path) -> None:
    """Print the table's main columns, and where it is kept."""
    import pandas as pd

    columns = [c for c in frame.columns if c not in ("history", "message", "initial_epoch", "budget")]
    with pd.option_context("display.width", 160, "display.max_columns", 30):
        print(frame[columns].to_string(index=False))
    print(f"\nThe trials are in {folder}; this table is saved as {saved}.")


def main(argv: Sequence[str] | None = None) -> int:
    """The command; returns its exit code (2: refused in words, nothing started or lost)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser().parse_args(argv)
    try:
        check(args)
        return _main(argv, args)
    except SystemExit as exc:  # this command's own refusals (argparse's exit earlier, with its code)
        if not isinstance(exc.code, str):
            raise
        message = exc.code
    except Exception as exc:  # the book's own refusals, in words; anything else is a bug: raised
        message = _refusal(exc)
        if message is None:
            raise
    print(f"python -m lab.search: {message}", file=sys.stderr)
    return 2


def _refusal(exc: Exception) -> str | None:
    """The message of a refusal by this book (a bad setting, a search folder that does not fit, no
    data, a chief that is missing), with the flag that answers it; None for any other error."""
    from lab import checks

    name = type(exc).__name__
    if isinstance(exc, (checks.SettingError, cluster.DistributedSearchError)):
        return str(exc)
    if name == "SearchStateError":
        return (
            f"{exc}\nHere: start afresh with --overwrite (from the chief, or with --workers N), or keep "
            "this search and give the new one another --project-name or --directory."
        )
    if name == "DatasetUnavailableError":
        return f"{exc}\nHere: --dataset digits needs no download."
    return None


def _has_search(args: argparse.Namespace, folder: Path) -> bool:
    if args.engine == "optuna":
        where = args.storage or folder / "study.db"
        return "://" in str(where) or Path(where).is_file()
    return (folder / "oracle.json").is_file()


def _main(argv: list[str], args: argparse.Namespace) -> int:
    args.kind = args.kind or "random"
    folder = Path(args.directory) / project_name(args)
    if args.table and not _has_search(args, folder):
        raise cluster.DistributedSearchError(
            f"no search in {folder} to read: run the search first, or give the --engine, --kind, --model, "
            "--directory and --project-name (and --storage) it was run with."
        )
    if args.engine == "optuna":
        if args.workers is not None:
            with cluster.ended_by_signals():
                return cluster.launch_peers(argv, folder=folder, args=args)
        frame = run_optuna(args, folder)
        folder.mkdir(parents=True, exist_ok=True)
        frame.to_csv(folder / "trials.csv", index=False)
        show(frame, folder, folder / "trials.csv")
        return 0
    if args.workers is not None:
        with cluster.ended_by_signals():
            return cluster.launch(argv, folder=folder, args=args)
    if args.role is not None:
        if args.role == "chief":
            cluster.check_port_free(args.ip, args.port)  # in a moment, before TensorFlow is imported
        os.environ.update(
            KERASTUNER_TUNER_ID="chief" if args.role == "chief" else args.tuner_id,
            KERASTUNER_ORACLE_IP=args.ip,
            KERASTUNER_ORACLE_PORT=str(args.port),
            LAB_WORKER_TIMEOUT=str(args.worker_timeout),
            LAB_CHIEF_TIMEOUT=str(args.chief_timeout),
        )
    elif args.table:  # reading a search's folder never joins a distributed search, whatever the shell says
        for name in ("KERASTUNER_TUNER_ID", "KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT"):
            os.environ.pop(name, None)
    frame = run(args)
    if frame is not None:
        (folder / cluster.STATE).mkdir(parents=True, exist_ok=True)
        frame.to_csv(folder / cluster.STATE / "trials.csv", index=False)
        show(frame, folder, folder / cluster.STATE / "trials.csv")
    return 0


if __name__ == "__main__":
    sys.exit(main())
