"""How fast one autoencoder trains on this machine, by training method and batch size.

Prints wall time and final validation loss for 30 epochs (no early stopping) of the
book's reference model (the workshop settings) on the digits training split:
  - `model.fit` with Keras defaults,
  - `model.fit` with `steps_per_execution` set to one whole epoch,
  - `lab.training.fit_autoencoder` (one compiled function per epoch).
Run: .venv/bin/python benchmarks/training_speed.py [--epochs 30] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

import pandas as pd

from lab import config, data
from lab._backend import keras
from lab.models import build_dense_autoencoder
from lab.training import fit_autoencoder


def build(cfg, steps_per_execution: int = 1):
    keras.utils.set_random_seed(0)
    model = build_dense_autoencoder(
        64,
        latent_dim=cfg.latent_dim,
        units=cfg.units,
        num_layers=cfg.num_layers,
        learning_rate=cfg.learning_rate,
    )
    if steps_per_execution != 1:
        model.compile(
            optimizer=model.optimizer,
            loss=model.loss,
            metrics=["mse"],
            steps_per_execution=steps_per_execution,
        )
    return model


def time_keras(cfg, ds, batch_size, epochs, spe):
    model = build(cfg, spe)
    start = time.perf_counter()
    history = model.fit(
        ds.x_train,
        ds.x_train,
        validation_data=(ds.x_val, ds.x_val),
        epochs=epochs,
        batch_size=batch_size,
        verbose=0,
    )
    return time.perf_counter() - start, history.history["val_loss"][-1]


def time_lab(cfg, ds, batch_size, epochs):
    model = build(cfg)
    result = fit_autoencoder(
        model,
        ds.x_train,
        ds.x_val,
        epochs=epochs,
        batch_size=batch_size,
        patience=None,
        restore_best=False,
    )
    return result.seconds, result.history["val_loss"][-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-sizes", type=int, nargs="*", default=[16, 32, 64, 128])
    args = parser.parse_args()
    cfg = config.preset("workshop")
    ds = data.load_for(cfg)
    time_lab(cfg, ds, 32, 1)  # warm TensorFlow up once, so no row pays for it

    rows = []
    for batch_size in args.batch_sizes:
        steps = -(-len(ds.x_train) // batch_size)
        methods = {
            "model.fit (defaults)": lambda b=batch_size: time_keras(cfg, ds, b, args.epochs, 1),
            f"model.fit (steps_per_execution={steps})": lambda b=batch_size, s=steps: time_keras(
                cfg, ds, b, args.epochs, s
            ),
            "lab fit_autoencoder": lambda b=batch_size: time_lab(cfg, ds, b, args.epochs),
        }
        for name, run in methods.items():
            runs = [run() for _ in range(args.repeats)]
            rows.append(
                dict(
                    method=name.split(" (steps")[0] + (" (spe=epoch)" if "steps" in name else ""),
                    batch_size=batch_size,
                    median_s=statistics.median(r[0] for r in runs),
                    min_s=min(r[0] for r in runs),
                    val_loss=runs[0][1],
                )
            )
    table = pd.DataFrame(rows)
    print(
        f"{args.epochs} epochs on {len(ds.x_train)} digits, median of {args.repeats} runs (tracing included):"
    )
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    ref = table[table.batch_size == cfg.batch_size].set_index("method")["median_s"]
    print(
        f"\nat batch size {cfg.batch_size}: lab loop is "
        f"{ref['model.fit (defaults)'] / ref['lab fit_autoencoder']:.1f}x faster than "
        "model.fit with its defaults"
    )


if __name__ == "__main__":
    main()
