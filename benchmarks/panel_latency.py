"""Seconds from a slider change to updated figures in the retraining panel, on digits.

The panel's default settings (30 epochs of the workshop model) are trained once
after start-up (reported on its own: it pays for TensorFlow's first tracing), then
the latent-size slider is moved to new values and each retrain is timed, figures
included. For comparison, the same model and epochs through `model.fit` with its
defaults (batch size 32, validation each epoch).
Run: .venv/bin/python benchmarks/panel_latency.py [--moves 8]
"""

from __future__ import annotations

import argparse
import statistics
import time

from lab import config, data
from lab._backend import keras
from lab.models import build_dense_autoencoder
from lab.training import fit_with_keras
from lab.widgets import RetrainPanel


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moves", type=int, default=8)
    args = parser.parse_args()
    cfg = config.preset("workshop")
    ds = data.load_for(cfg)
    panel = RetrainPanel(ds, cfg)

    start = time.perf_counter()
    panel.train()
    first = time.perf_counter() - start

    times = []
    for latent in range(1, args.moves + 1):
        if latent == panel.controls["latent_dim"].value:
            continue
        panel.controls["latent_dim"].value = latent
        start = time.perf_counter()
        panel.train()
        times.append(time.perf_counter() - start)

    panel.controls["latent_dim"].value = 1
    start = time.perf_counter()
    panel.train()
    cached = time.perf_counter() - start

    settings = panel.settings()
    epochs = settings["epochs"]
    keras.utils.set_random_seed(cfg.seed)
    model = build_dense_autoencoder(
        ds.n_features,
        latent_dim=settings["latent_dim"],
        units=settings["units"],
        num_layers=settings["num_layers"],
        learning_rate=settings["learning_rate"],
    )
    plain = fit_with_keras(model, ds.x_train, ds.x_val, epochs=epochs, batch_size=32).seconds

    median = statistics.median(times)
    print(f"panel defaults: {epochs} epochs, batch size {settings['batch_size']}, units {settings['units']}")
    print(f"first run after start-up: {first:.2f} s")
    print(
        f"slider change -> updated figures: median {median:.2f} s over {len(times)} moves "
        f"(min {min(times):.2f}, max {max(times):.2f})"
    )
    print(f"moving back to a trained setting (cache): {cached * 1000:.0f} ms")
    print(
        f"plain model.fit with Keras defaults, same model and epochs: {plain:.2f} s "
        f"(panel median is {plain / median:.1f}x faster)"
    )


if __name__ == "__main__":
    main()
