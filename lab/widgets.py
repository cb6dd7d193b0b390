"""The retraining panel: sliders for hyperparameters, a Train button, live curves and results.

Every run is seeded and cached by its settings, so moving a slider back to a
setting already trained shows its result at once. Bad settings and failed runs
are answered in the panel in plain words; earlier results stay.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import ipywidgets as w
import pandas as pd
from IPython.display import display

from lab import evaluate, plots, sweeps
from lab.config import RunConfig
from lab.data import Dataset
from lab.models.dense import ACTIVATIONS

# Penalties are chosen from a list: a log slider cannot reach zero.
_PENALTIES = (0.0, 1e-5, 1e-4, 1e-3, 1e-2)


def _controls(n_features: int) -> dict[str, w.ValueWidget]:
    """Every control the panel knows, by hyperparameter name."""
    label = {"description_width": "110px"}
    style = dict(style=label, continuous_update=False)
    return {
        # Up to twice the input size, so the panel can explain why that is refused.
        "latent_dim": w.IntSlider(8, min=1, max=2 * n_features, description="latent_dim", **style),
        "num_layers": w.IntSlider(2, min=0, max=4, description="num_layers", **style),
        "units": w.SelectionSlider(
            options=[16, 32, 64, 128, 256, 512], value=256, description="units", **style
        ),
        "activation": w.Dropdown(options=ACTIVATIONS, value="relu", description="activation", style=label),
        "learning_rate": w.FloatLogSlider(
            2e-3,
            base=10,
            min=-5,
            max=1,
            step=0.25,
            description="learning_rate",
            readout_format=".1e",
            **style,
        ),
        "batch_size": w.SelectionSlider(
            options=[8, 16, 32, 64, 128, 256], value=64, description="batch_size", **style
        ),
        "epochs": w.IntSlider(30, min=1, max=200, description="epochs", **style),
        "dropout": w.FloatSlider(0.0, min=0.0, max=0.8, step=0.05, description="dropout", **style),
        "l1": w.SelectionSlider(options=_PENALTIES, value=0.0, description="l1", **style),
        "l2": w.SelectionSlider(options=_PENALTIES, value=0.0, description="l2", **style),
        "noise_std": w.FloatSlider(0.0, min=0.0, max=0.8, step=0.05, description="noise_std", **style),
        "beta": w.FloatLogSlider(1.0, base=10, min=-2, max=1, step=0.1, description="beta", **style),
        "warmup_epochs": w.IntSlider(0, min=0, max=50, description="warmup_epochs", **style),
    }


# Controls every model has, then each model's own.
_SHARED_CONTROLS = (
    "latent_dim",
    "num_layers",
    "units",
    "activation",
    "learning_rate",
    "batch_size",
    "epochs",
)
DENSE_CONTROLS = _SHARED_CONTROLS + ("dropout", "l1", "l2", "noise_std")
VAE_CONTROLS = _SHARED_CONTROLS + ("beta", "warmup_epochs")
_FIT = ("batch_size", "epochs")


_STATUS_MESSAGES = {
    "diverged": "<b style='color:#b00'>The loss became NaN (diverged)</b>: the learning rate is too large "
    "for these settings. Lower it and train again. ",
    "stalled": "<b style='color:#b00'>Stalled</b>: the model is no better than drawing the average image. "
    "The learning rate is probably too large (or too small for this many epochs): "
    "change it and train again. ",
}


@dataclass
class PanelResult:
    """One finished run of the panel."""

    settings: dict[str, Any]
    history: dict[str, list[float]]
    val_mse: float
    reconstructions: Any
    seconds: float
    status: str


class RetrainPanel:
    """Sliders and dropdowns for the hyperparameters a notebook teaches, and the run they give.

    Args:
        dataset: the splits; training uses `train`, every number shown uses `val`.
        cfg: the seed and the batch size default.
        kind: "dense" (the dense autoencoder) or "vae".
        controls: which hyperparameters get a control (defaults per kind).
        patience: early stopping patience of each run (None trains every epoch).
    """

    def __init__(
        self,
        dataset: Dataset,
        cfg: RunConfig,
        *,
        kind: str = "dense",
        controls: tuple[str, ...] | None = None,
        patience: int | None = None,
    ):
        if kind not in ("dense", "vae"):
            raise ValueError(f"kind must be 'dense' or 'vae', got {kind!r}")
        self.dataset, self.cfg, self.kind, self.patience = dataset, cfg, kind, patience
        every = _controls(dataset.n_features)
        names = controls or (DENSE_CONTROLS if kind == "dense" else VAE_CONTROLS)
        unknown = sorted(set(names) - set(every))
        if unknown:
            raise ValueError(f"Unknown control(s) {unknown}; available: {sorted(every)}")
        self.controls = {name: every[name] for name in names}
        if kind == "vae":
            self.controls["latent_dim"].value = cfg.generative_latent_dim
        self.baseline = evaluate.mean_image_error(dataset.x_train, dataset.x_val)
        self.cache: dict[tuple, PanelResult] = {}
        self.runs: list[PanelResult] = []
        self.last: PanelResult | None = None
        self.message = w.HTML()
        self.numbers = w.HTML()
        self.curve = w.Output()
        self.images = w.Output()
        self.table = w.Output()
        self.button = w.Button(description="Train", button_style="primary", icon="play")
        self.auto = w.Checkbox(False, description="retrain when a control changes")
        self.button.on_click(lambda _: self.train())
        for control in self.controls.values():
            control.observe(self._changed, names="value")
        self.widget = w.VBox(
            [
                w.HBox(
                    [
                        w.VBox(list(self.controls.values())),
                        w.VBox([self.button, self.auto, self.numbers, self.message]),
                    ]
                ),
                w.HBox([self.curve, self.images]),
                self.table,
            ]
        )
        # Stable selectors for a browser (and for anyone styling the panel).
        self.widget.add_class("lab-retrain-panel")
        for name, control in self.controls.items():
            control.add_class(f"lab-control-{name}")
        parts = {"train": self.button, "auto": self.auto, "numbers": self.numbers, "message": self.message}
        parts |= {"curve": self.curve, "images": self.images, "table": self.table}
        for name, part in parts.items():
            part.add_class(f"lab-{name}")

    def settings(self) -> dict[str, Any]:
        """The current value of every control."""
        return {name: control.value for name, control in self.controls.items()}

    def _key(self, settings: dict[str, Any]) -> tuple:
        return (self.kind, self.cfg.seed, tuple(sorted(settings.items())))

    def _changed(self, _change) -> None:
        if self.auto.value:
            self.train()

    def train(self) -> PanelResult | None:
        """Train with the current settings (or show the cached run) and update every output.

        Returns:
            The result, or None when the settings were refused; the reason is
            shown in the panel.
        """
        settings = self.settings()
        key = self._key(settings)
        if key in self.cache:
            self._show(self.cache[key], note="(from the cache: this setting was trained before)")
            return self.cache[key]
        self.message.value = "<i>training...</i>"
        live = _LiveCurve(self.curve)
        fit = {k: settings[k] for k in _FIT if k in settings}
        build = {k: v for k, v in settings.items() if k not in _FIT}
        trainer = sweeps.train_dense if self.kind == "dense" else sweeps.train_vae
        try:
            trained = trainer(
                self.dataset, self.cfg, patience=self.patience, **fit, **build, on_epoch_end=live.update
            )
        except ValueError as exc:
            self.message.value = f"<b style='color:#b00'>Not trained:</b> {exc}"
            return None
        except (MemoryError, _resource_exhausted()) as exc:
            self.message.value = (
                f"<b style='color:#b00'>Out of memory</b> ({type(exc).__name__}): "
                "try fewer units, fewer layers or a smaller batch size."
            )
            return None
        val_mse = evaluate.reconstruction_error(trained.model, self.dataset.x_val)
        status = sweeps.run_status(val_mse, self.baseline, trained.result.diverged)
        result = PanelResult(
            settings=settings,
            history=trained.result.history,
            val_mse=val_mse,
            reconstructions=evaluate.predict(trained.model, self.dataset.x_val[:10])
            if status != "diverged"
            else None,
            seconds=trained.result.seconds,
            status=status,
        )
        self.cache[key] = result
        self.runs.append(result)
        self._show(result)
        return result

    def _show(self, result: PanelResult, note: str = "") -> None:
        self.last = result
        self.message.value = _STATUS_MESSAGES.get(result.status, "") + note
        self.numbers.value = (
            f"validation MSE <b>{result.val_mse:.4f}</b><br>"
            f"{len(result.history.get('loss', []))} epochs in {result.seconds:.2f} s"
        )
        with self.curve:
            self.curve.clear_output(wait=True)
            display(plots.plot_loss_curves(result.history))
        with self.images:
            self.images.clear_output(wait=True)
            if result.reconstructions is not None:
                display(
                    plots.plot_reconstructions(
                        self.dataset.x_val, result.reconstructions, self.dataset.image_shape, n=10
                    )
                )
        with self.table:
            self.table.clear_output(wait=True)
            display(self.history_frame().tail(8))

    def figures(self) -> dict[str, Any]:
        """The last run's figures, drawn statically: what the panel shows, for runs with no front end."""
        if self.last is None:
            raise ValueError("Nothing trained yet: call train() or press Train first.")
        figures = {"curves": plots.plot_loss_curves(self.last.history)}
        if self.last.reconstructions is not None:
            figures["reconstructions"] = plots.plot_reconstructions(
                self.dataset.x_val, self.last.reconstructions, self.dataset.image_shape, n=10
            )
        return figures

    def history_frame(self) -> pd.DataFrame:
        """Every run trained so far: its settings, validation MSE, epochs, seconds and status."""
        return pd.DataFrame(
            [
                {
                    **r.settings,
                    "val_mse": r.val_mse,
                    "epochs_trained": len(r.history.get("loss", [])),
                    "seconds": r.seconds,
                    "status": r.status,
                }
                for r in self.runs
            ]
        )

    def _ipython_display_(self) -> None:
        display(self.widget)


class _LiveCurve:
    """Redraw the loss curve as epochs finish, at most a few times a second."""

    def __init__(self, output: w.Output, interval: float = 0.3):
        self.output, self.interval = output, interval
        self.history: dict[str, list[float]] = {}
        self.drawn = time.perf_counter()

    def update(self, epoch: int, logs: dict[str, float]) -> None:
        for key, value in logs.items():
            self.history.setdefault(key, []).append(value)
        if time.perf_counter() - self.drawn < self.interval:
            return
        with self.output:
            self.output.clear_output(wait=True)
            display(plots.plot_loss_curves(self.history))
        self.drawn = time.perf_counter()


def _resource_exhausted():
    from lab._backend import tf

    return tf.errors.ResourceExhaustedError
