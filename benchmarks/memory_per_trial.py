"""Memory against trials: a search's resident memory as its trials finish, for the book's tuner
and plain KerasTuner, each search in a fresh process.

- `book`: `tuning.make_tuner("random", ...)` with the book's dense HyperModel and its loop;
- `keras_tuner`: `keras_tuner.RandomSearch` over a build function of the same space, trained
  with `model.fit` and KerasTuner's own callbacks, as KerasTuner's guide does it;
- `book+recycle`: the book's search with `trials_per_process=10` (`lab.tuning.recycled`): the
  trials run in worker processes, each replaced after 10 trials.

Variants that change one thing, to find where the memory goes: `+gc` (a full garbage
collection after each trial), `+trim` (glibc's `malloc_trim(0)` after each trial, which gives
freed heap pages back to the system), `+release` (the functions the trial traced are removed
from TensorFlow's eager context, where the `tf.while_loop` bodies of every traced training loop
stay registered after their model is gone, and the context's kernel cache is cleared).

This process samples the search's memory (the resident set of its process and of every process
it started) four times a second, and counts the finished trials in the search folder. Printed
per variant: the memory after the warm-up trials and at the end, the growth between them, and
the slope of a line fitted to the peak memory of each trial after warm-up (MiB per trial). The
curves are drawn to build/benchmarks/memory_per_trial.png and kept as CSV beside it.

Run: python benchmarks/memory_per_trial.py [--trials 100] [--epochs 4] [--variants book keras_tuner]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "build" / "benchmarks"
VARIANTS = (
    "book",
    "book+gc",
    "book+trim",
    "book+release",
    "book+recycle",
    "keras_tuner",
    "keras_tuner+trim",
)
WARM_UP = 10
RECYCLE_EVERY = 10


def _rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


def tree_rss_mib(root: int) -> float:
    """Resident memory of a process and all its descendants, from /proc (Linux)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        total += _rss_kib(pid)
        stack.extend(children.get(pid, []))
    return total / 1024


def finished_trials(folder: Path) -> int:
    done = 0
    for path in folder.glob("*/trial_*/trial.json"):
        try:
            done += json.loads(path.read_text()).get("status") == "COMPLETED"
        except (json.JSONDecodeError, OSError):
            pass  # being written
    return done


def _search(variant: str, trials: int, epochs: int, folder: str) -> None:
    """In the measured process: run one search to the end."""
    import ctypes
    import gc

    from lab import config, data, tuning
    from lab.hypermodels import DenseAutoencoderHyperModel

    cfg = config.preset("workshop")
    ds = data.load_for(cfg)
    base, _, change = variant.partition("+")
    if base == "book":
        hm = DenseAutoencoderHyperModel(ds.n_features, patience=None, seed=0)
        tuner = tuning.make_tuner("random", hm, max_trials=trials, directory=folder, project_name="m")
    else:
        tuner = _plain_keras_tuner(ds.n_features, trials, folder)
    libc = ctypes.CDLL("libc.so.6") if change == "trim" else None
    from tensorflow.python.eager import context

    eager = context.context()
    known = set(eager.list_function_names())
    end_trial = tuner.on_trial_end

    def on_trial_end(trial):
        nonlocal known
        end_trial(trial)
        if change == "gc":
            gc.collect()
        if libc is not None:
            libc.malloc_trim(0)
        if change == "release":
            for name in set(eager.list_function_names()) - known:
                if not name.startswith("__wrapped__"):  # eager ops' own wrappers, shared
                    eager.remove_function(name)
            eager.clear_kernel_cache()
            known = set(eager.list_function_names())

    tuner.on_trial_end = on_trial_end
    if base == "book":
        every = RECYCLE_EVERY if change == "recycle" else None
        tuning.search(tuner, ds, epochs=epochs, labels=False, trials_per_process=every)
    else:
        tuner.search(ds.x_train, ds.x_train, validation_data=(ds.x_val, ds.x_val), epochs=epochs, verbose=0)


def _plain_keras_tuner(n_features: int, trials: int, folder: str):
    """KerasTuner as its guide uses it: a build function, `model.fit`, its own callbacks."""
    import keras_tuner as kt

    from lab._backend import keras

    def build(hp):
        inputs = keras.Input((n_features,))
        x = inputs
        layers = hp.Int("num_layers", 1, 3)
        widths = [hp.Choice(f"units_{i + 1}", [32, 64, 128, 256, 512]) for i in range(layers)]
        activation = hp.Choice("activation", ["relu", "elu", "selu", "tanh"])
        for width in widths:
            x = keras.layers.Dense(width, activation=activation)(x)
        x = keras.layers.Dense(8)(x)
        for width in reversed(widths):
            x = keras.layers.Dense(width, activation=activation)(x)
        outputs = keras.layers.Dense(n_features, activation="sigmoid")(x)
        model = keras.Model(inputs, outputs)
        rate = hp.Float("learning_rate", 1e-4, 3e-2, sampling="log")
        model.compile(optimizer=keras.optimizers.Adam(rate), loss="mse")
        return model

    return kt.RandomSearch(
        build, objective="val_loss", max_trials=trials, directory=folder, project_name="m", seed=1
    )


def measure(variant: str, trials: int, epochs: int) -> pd.DataFrame:
    """One variant's search in a fresh process: its peak memory while each trial ran."""
    with tempfile.TemporaryDirectory() as folder:
        command = [sys.executable, __file__, "--search", variant, "--trials", str(trials)]
        command += ["--epochs", str(epochs), "--folder", folder]
        process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        started, peaks = time.perf_counter(), {}
        while process.poll() is None:
            done = finished_trials(Path(folder))
            peaks[done] = max(peaks.get(done, 0.0), tree_rss_mib(process.pid))
            time.sleep(0.25)
        seconds = time.perf_counter() - started
        if process.returncode != 0:
            raise RuntimeError(f"{variant} failed:\n{process.stderr.read().decode()[-3000:]}")
    # peaks[n]: the most memory while trial n + 1 ran (n trials finished)
    rows = [dict(trial=n + 1, rss_mib=mib) for n, mib in sorted(peaks.items()) if n < trials]
    return pd.DataFrame(rows).assign(variant=variant, seconds=seconds)


def summary(frame: pd.DataFrame) -> pd.DataFrame:
    """Per variant: memory after warm-up and at the end, the growth, and the slope after warm-up."""
    rows = {}
    for variant, runs in frame.groupby("variant", sort=False):
        after = runs[runs["trial"] > WARM_UP]
        slope = np.polyfit(after["trial"], after["rss_mib"], 1)[0] if len(after) > 1 else np.nan
        rows[variant] = {
            f"MiB at trial {WARM_UP + 1}": after["rss_mib"].iloc[0],
            "MiB, last trial": runs["rss_mib"].iloc[-1],
            "most MiB after warm-up": after["rss_mib"].max(),
            "growth after warm-up": after["rss_mib"].max() - after["rss_mib"].iloc[0],
            "MiB per trial": slope,
            "seconds": runs["seconds"].iloc[0],
        }
    return pd.DataFrame.from_dict(rows, orient="index").round(2)


def plot(frame: pd.DataFrame, path: Path) -> None:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 4), dpi=120)
    ax = fig.add_subplot()
    for variant, runs in frame.groupby("variant", sort=False):
        ax.plot(runs["trial"], runs["rss_mib"], label=variant)
    ax.set(xlabel="trial", ylabel="peak resident memory while it ran (MiB)", title="memory against trials")
    ax.legend(fontsize=8)
    fig.savefig(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument(
        "--variants", nargs="+", default=["book", "book+recycle", "keras_tuner"], choices=VARIANTS
    )
    parser.add_argument("--search", choices=VARIANTS, help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.search:
        _search(args.search, args.trials, args.epochs, args.folder)
        return
    frame = pd.concat([measure(v, args.trials, args.epochs) for v in args.variants], ignore_index=True)
    OUT.mkdir(parents=True, exist_ok=True)
    frame.to_csv(OUT / "memory_per_trial.csv", index=False)
    plot(frame, OUT / "memory_per_trial.png")
    print(f"{args.trials} trials of {args.epochs} epochs on digits, one fresh process per variant:")
    print(summary(frame).to_string())
    print(f"curves: {OUT / 'memory_per_trial.png'}")


if __name__ == "__main__":
    main()
