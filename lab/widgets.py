"""The retraining panel: sliders for hyperparameters, a Train button, live curves and results.

Every run is seeded and cached by its settings, so moving a slider back to a
setting already trained shows its result at once, from renders kept with it. Bad
settings and failed runs are answered in the panel in plain words; earlier
results stay.

Runs asked for from the panel (Train, or a control with auto-retrain on) train in a
background thread, so the panel keeps listening: a newer request stops the run in
progress at its next epoch, and of several quick moves only the last one trains.
`train()`, called from code, trains at once in the caller's thread, so a notebook
run without a front end (papermill, CI) gets the same result synchronously.
"""

from __future__ import annotations

import html
import numbers
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import ipywidgets as w
import numpy as np
import pandas as pd
import traitlets
from IPython.display import display

from lab import checks, evaluate, panel_views, sweeps
from lab.config import RunConfig
from lab.data import Dataset
from lab.models.dense import ACTIVATIONS

# Penalties are chosen from a list: a log slider cannot reach zero.
_PENALTIES = (0.0, 1e-5, 1e-4, 1e-3, 1e-2)
# Controls and their readouts keep this width whatever the messages beside them say.
_CONTROL_WIDTH = "430px"
_SIDE_WIDTH = "360px"
_IMAGES_SHOWN = 10


class _WholeNumber(traitlets.CInt):
    """An integer slider's value that refuses fractions and booleans instead of truncating them."""

    def validate(self, obj, value):
        if isinstance(value, bool) or not (
            isinstance(value, numbers.Integral) or (isinstance(value, float) and value.is_integer())
        ):
            raise traitlets.TraitError(
                f"{obj.description} takes whole numbers; got {value!r}, so it was left at {obj.value}."
            )
        return int(value)


class _IntSlider(w.IntSlider):
    """ipywidgets' IntSlider, drawn the same, whose value is never truncated (3.7 is not 3)."""

    value = _WholeNumber(0, help="Int value").tag(sync=True)


def _controls(n_features: int) -> dict[str, w.ValueWidget]:
    """Every control the panel knows, by hyperparameter name."""
    style = dict(style={"description_width": "110px"}, layout=w.Layout(width=_CONTROL_WIDTH))
    slider = dict(continuous_update=False, **style)
    return {
        # Up to twice the input size, so the panel can explain why that is refused.
        "latent_dim": _IntSlider(8, min=1, max=2 * n_features, description="latent_dim", **slider),
        "num_layers": _IntSlider(2, min=0, max=4, description="num_layers", **slider),
        "units": w.SelectionSlider(
            options=[16, 32, 64, 128, 256, 512], value=256, description="units", **slider
        ),
        "activation": w.Dropdown(options=ACTIVATIONS, value="relu", description="activation", **style),
        "learning_rate": w.FloatLogSlider(
            2e-3,
            base=10,
            min=-5,
            max=1,
            step=0.25,
            description="learning_rate",
            readout_format=".1e",
            **slider,
        ),
        "batch_size": w.SelectionSlider(
            options=[8, 16, 32, 64, 128, 256], value=64, description="batch_size", **slider
        ),
        "epochs": _IntSlider(30, min=1, max=200, description="epochs", **slider),
        "dropout": w.FloatSlider(0.0, min=0.0, max=0.8, step=0.05, description="dropout", **slider),
        "l1": w.SelectionSlider(options=_PENALTIES, value=0.0, description="l1", **slider),
        "l2": w.SelectionSlider(options=_PENALTIES, value=0.0, description="l2", **slider),
        "noise_std": w.FloatSlider(0.0, min=0.0, max=0.8, step=0.05, description="noise_std", **slider),
        "beta": w.FloatLogSlider(1.0, base=10, min=-2, max=1, step=0.1, description="beta", **slider),
        "warmup_epochs": _IntSlider(0, min=0, max=50, description="warmup_epochs", **slider),
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
# Every control each kind of model can use: its defaults, and the regularizers it also has.
USABLE = {"dense": DENSE_CONTROLS, "vae": VAE_CONTROLS + ("dropout", "l2")}
_FIT = ("batch_size", "epochs")


_STATUS_MESSAGES = {
    "diverged": "<b style='color:#b00'>The loss became NaN (diverged)</b>: the learning rate is too large "
    "for these settings. Lower it and train again. ",
    "stalled": "<b style='color:#b00'>Stalled</b>: the model is no better than drawing the average image. "
    "The learning rate is probably too large (or too small for this many epochs): "
    "change it and train again. ",
}

_STYLE = """<style>
.lab-retrain-panel .lab-numbers, .lab-retrain-panel .lab-message {
    white-space: normal; overflow-wrap: anywhere; line-height: 1.4; }
.lab-retrain-panel .lab-stale { opacity: 0.35; }
.lab-retrain-panel table.lab-runs { border-collapse: collapse; font-size: 12px; }
.lab-retrain-panel table.lab-runs caption { text-align: left; font-style: italic; }
.lab-retrain-panel table.lab-runs th, .lab-retrain-panel table.lab-runs td {
    padding: 1px 8px; text-align: right; border-bottom: 1px solid #eee; }
.lab-retrain-panel table.lab-runs tr.lab-shown { font-weight: bold; background: #e8f0fe; }
</style>"""


@dataclass
class PanelResult:
    """One finished run of the panel, with the renders that show it.

    `seconds` is the training alone (building the model and tracing included, drawing
    excluded); `draw_seconds` is the drawing of its live and final figures.
    """

    run: int
    settings: dict[str, Any]
    history: dict[str, list[float]]
    val_mse: float
    reconstructions: Any
    seconds: float
    status: str
    draw_seconds: float = 0.0
    curve_png: bytes = b""
    images_png: bytes = b""
    # Wall-clock times (time.time()) of each stage, for benchmarks/panel_browser.py.
    timeline: dict[str, float] = field(default_factory=dict)


class _Superseded(Exception):
    """A newer setting was asked for while this run trained."""


class RetrainPanel:
    """Sliders and dropdowns for the hyperparameters a notebook teaches, and the run they give.

    Args:
        dataset: the splits; training uses `train`, every number shown uses `val`.
        cfg: the seed and the batch size default.
        kind: "dense" (the dense autoencoder) or "vae".
        controls: which hyperparameters get a control (defaults per kind).
        patience: early stopping patience of each run (None trains every epoch).
        live_interval: seconds between redraws of the live loss curve while a run trains.
    """

    def __init__(
        self,
        dataset: Dataset,
        cfg: RunConfig,
        *,
        kind: str = "dense",
        controls: tuple[str, ...] | None = None,
        patience: int | None = None,
        live_interval: float = 1.0,
    ):
        if not isinstance(dataset, Dataset):
            raise TypeError(f"dataset must be a Dataset (data.load_for(cfg)), got {type(dataset).__name__}")
        if not isinstance(cfg, RunConfig):
            raise TypeError(f"cfg must be a RunConfig (config.preset(...)), got {type(cfg).__name__}")
        kind = checks.choice(kind, "kind", tuple(USABLE))
        patience = checks.integer(
            patience, "patience", minimum=1, optional=True, hint="None trains every epoch."
        )
        live_interval = checks.number(live_interval, "live_interval", minimum=0)
        self.dataset, self.cfg, self.kind, self.patience = dataset, cfg, kind, patience
        self.live_interval = live_interval
        every = _controls(dataset.n_features)
        if controls is None:
            names = DENSE_CONTROLS if kind == "dense" else VAE_CONTROLS
        else:
            names = (controls,) if isinstance(controls, str) else tuple(dict.fromkeys(controls))
            if not names:
                raise ValueError("controls is empty: name at least one, or pass None for the defaults.")
        unknown = sorted(set(names) - set(every))
        if unknown:
            raise ValueError(f"Unknown control(s) {unknown}; available: {sorted(every)}")
        unusable = [name for name in names if name not in USABLE[kind]]
        if unusable:
            raise ValueError(
                f"A {kind} panel cannot use {', '.join(unusable)}: the model has no such setting. "
                f"Controls a {kind} panel can use: {', '.join(USABLE[kind])}."
            )
        self.controls = {name: every[name] for name in names}
        for name, control in self.controls.items():
            _refuse_outside_range(self, name, control)
        # Training settings without a control keep the control's default (batch size 64:
        # a quarter of the workshop's steps, so a run answers in about a second).
        self.fixed = {name: every[name].value for name in _FIT if name not in self.controls}
        if kind == "vae" and "latent_dim" in self.controls:
            self.controls["latent_dim"].value = cfg.generative_latent_dim
        self.baseline = evaluate.mean_image_error(dataset.x_train, dataset.x_val)
        self.cache: dict[tuple, PanelResult] = {}
        self.runs: list[PanelResult] = []
        self.last: PanelResult | None = None
        self._training_header = ""
        self._renderer = panel_views.CurveRenderer()
        self._build_widgets()
        # One run at a time; requests from the panel go to a worker thread (see the module notes).
        self._busy = threading.Lock()
        self._requests = threading.Condition()
        self._pending: dict[str, Any] | None = None
        self._requested_at = 0.0
        self._training: tuple | None = None
        self._worker: threading.Thread | None = None
        self._stop = threading.Event()

    def _build_widgets(self) -> None:
        full = w.Layout(width="100%")
        self.message = w.HTML(layout=full)
        self.numbers = w.HTML("<i>not trained yet</i>", layout=full)
        self.curve = w.Image(format="png", layout=w.Layout(width=f"{self._renderer.width}px"))
        self.images = w.Image(format="png")
        self.images_caption = w.HTML()
        self.table = w.HTML()
        self.button = w.Button(description="Train", button_style="primary", icon="play")
        self.auto = w.Checkbox(
            False, description="retrain when a control changes", indent=False, layout=w.Layout(width="auto")
        )
        self.button.on_click(lambda _: self.request())
        for control in self.controls.values():
            control.observe(self._changed, names="value")
        no_shrink = dict(flex="0 0 auto")
        held = [f"{name} {value}" for name, value in self.fixed.items()]
        held.append(
            "every epoch trained" if self.patience is None else f"early stopping after {self.patience}"
        )
        self.fixed_note = w.HTML(f"<small>held fixed: {', '.join(held)}; seed {self.cfg.seed}</small>")
        self.widget = w.VBox(
            [
                w.HTML(_STYLE),
                w.HBox(
                    [
                        w.VBox(
                            [*self.controls.values(), self.fixed_note],
                            layout=w.Layout(width="440px", **no_shrink),
                        ),
                        w.VBox(
                            [self.button, self.auto, self.numbers, self.message],
                            layout=w.Layout(width=_SIDE_WIDTH, **no_shrink),
                        ),
                    ]
                ),
                w.HBox([self.curve, w.VBox([self.images_caption, self.images])]),
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
            self.request()

    def train(self) -> PanelResult | None:
        """Train with the current settings now (or show the cached run) and update every output.

        Returns:
            The result, or None when the settings were refused; the reason is
            shown in the panel.
        """
        return self._run(self.settings(), interruptible=False)

    def request(self) -> None:
        """Train the current settings in the background, as Train does.

        A run in progress is stopped at its next epoch; of several requests made
        while one trains, only the last is trained.
        """
        settings = self.settings()
        with self._requests:
            if self._training == self._key(settings) and self._pending is None:
                return  # this very setting is training already
            self._pending, self._requested_at = settings, time.time()
            if self._training is not None:
                self._stop.set()
            if self._worker is None:
                self._worker = threading.Thread(target=self._work, name="retrain-panel", daemon=True)
                self._worker.start()

    def wait(self, timeout: float | None = None) -> None:
        """Block until the runs asked for from the panel are done (for tests and scripts)."""
        with self._requests:
            worker = self._worker
        if worker is not None:
            worker.join(timeout)

    def _work(self) -> None:
        while True:
            with self._requests:
                settings, self._pending, requested = self._pending, None, self._requested_at
                if settings is None:
                    self._worker = None
                    return
                self._stop.clear()
                self._training = self._key(settings)
            try:
                self._run(settings, interruptible=True, requested=requested)
            except Exception as exc:  # a background thread has nowhere else to report
                self._refused(
                    f"<b style='color:#b00'>Failed</b> ({type(exc).__name__}): {html.escape(str(exc))}. "
                    "Earlier results are kept; change a setting and train again."
                )
            finally:
                with self._requests:
                    self._training = None

    def _run(
        self, settings: dict[str, Any], *, interruptible: bool, requested: float | None = None
    ) -> PanelResult | None:
        with self._busy:
            key = self._key(settings)
            if key in self.cache:
                self._show(self.cache[key], note="(from the cache: this setting was trained before)")
                return self.cache[key]
            try:
                return self._fit(settings, key, interruptible, requested or time.time())
            except KeyboardInterrupt:
                self._refused("<i>Interrupted: the run was stopped (Kernel &gt; Interrupt). Train again.</i>")
                raise
            except Exception as exc:
                # Whatever went wrong, the panel says so and leaves "training" behind.
                self._refused(
                    f"<b style='color:#b00'>Failed</b> ({type(exc).__name__}): {html.escape(str(exc))}. "
                    "Earlier results are kept; change a setting and train again."
                )
                if not interruptible:
                    raise  # code that called train() learns of it too
                return None

    def _fit(
        self, settings: dict[str, Any], key: tuple, interruptible: bool, requested: float
    ) -> PanelResult | None:
        timeline = {"requested": requested, "started": time.time()}
        number = len(self.runs) + 1
        self._announce(number, settings)
        live = _LiveCurve(self, number, {**self.fixed, **settings}["epochs"], interruptible)
        fit = {**self.fixed, **{k: settings[k] for k in _FIT if k in settings}}
        build = {k: v for k, v in settings.items() if k not in _FIT}
        trainer = sweeps.train_dense if self.kind == "dense" else sweeps.train_vae
        try:
            trained = trainer(
                self.dataset, self.cfg, patience=self.patience, **fit, **build, on_epoch_end=live.update
            )
        except _Superseded:
            return self._refused(f"<i>Run {number} stopped: a newer setting was asked for.</i>")
        except ValueError as exc:
            return self._refused(f"<b style='color:#b00'>Not trained:</b> {html.escape(str(exc))}")
        except (MemoryError, _resource_exhausted()) as exc:
            return self._refused(
                f"<b style='color:#b00'>Out of memory</b> ({type(exc).__name__}): "
                "try fewer units, fewer layers or a smaller batch size."
            )
        timeline["trained"] = time.time()
        with np.errstate(all="ignore"):  # a diverged model predicts NaN
            predicted = evaluate.predict(trained.model, self.dataset.x_val)
            val_mse = float(np.mean((predicted - self.dataset.x_val) ** 2))
        status = sweeps.run_status(val_mse, self.baseline, trained.result.diverged)
        reconstructions = None if status == "diverged" else predicted[:_IMAGES_SHOWN]
        result = PanelResult(
            run=number,
            settings=settings,
            history=trained.result.history,
            val_mse=val_mse,
            reconstructions=reconstructions,
            seconds=timeline["trained"] - timeline["started"] - live.seconds,
            status=status,
        )
        timeline["evaluated"] = start = time.time()
        result.curve_png = self._renderer.render(self._curve_data(result), title=self._curve_title(result))
        result.images_png = self._strip(reconstructions)
        timeline["drawn"] = time.time()
        result.draw_seconds = live.seconds + timeline["drawn"] - start
        result.timeline = timeline
        self.cache[key] = result
        self.runs.append(result)
        self._show(result)
        timeline["shown"] = time.time()
        return result

    def _curve_data(self, result: PanelResult) -> panel_views.CurveData:
        return panel_views.curve_data(result.history, epochs={**self.fixed, **result.settings}["epochs"])

    @staticmethod
    def _curve_title(result: PanelResult) -> str:
        return f"run {result.run}: training and validation loss"

    def _strip(self, reconstructions) -> bytes:
        originals = self.dataset.x_val[:_IMAGES_SHOWN]
        rows = [originals] if reconstructions is None else [originals, reconstructions]
        return panel_views.image_strip(rows, self.dataset.image_shape)

    def _announce(self, number: int, settings: dict[str, Any]) -> None:
        """Say which setting trains now, and mark what is still on screen as the previous run's."""
        changed = ""
        if self.last is not None:
            diffs = [
                f"{name} {_fmt(self.last.settings.get(name))} &rarr; {_fmt(value)}"
                for name, value in settings.items()
                if self.last.settings.get(name) != value
            ]
            changed = "<br>" + ", ".join(diffs)
        self.numbers.value = self._training_header = f"<b>training run {number}</b>{changed}"
        self.message.value = ""
        if self.last is not None:
            self.images_caption.value = (
                f"<i>still run {self.last.run}'s reconstructions: run {number} is training</i>"
            )
            self.images.add_class("lab-stale")
            self.curve.add_class("lab-stale")

    def _refused(self, message: str) -> None:
        self.message.value = message
        self._show_numbers(self.last)
        self.images.remove_class("lab-stale")
        self.curve.remove_class("lab-stale")
        if self.last is not None:
            self.curve.value = self.last.curve_png
            self.images_caption.value = self._caption(self.last)
        return None

    def _show(self, result: PanelResult, note: str = "") -> None:
        self.last = result
        self.curve.value = result.curve_png
        self.images.value = result.images_png
        self.images_caption.value = self._caption(result)
        self.curve.remove_class("lab-stale")
        self.images.remove_class("lab-stale")
        self.table.value = panel_views.runs_table(self._table_rows(), shown=result.run)
        self.message.value = _STATUS_MESSAGES.get(result.status, "") + note
        self._show_numbers(result)

    def _show_numbers(self, result: PanelResult | None) -> None:
        if result is None:
            self.numbers.value = "<i>not trained yet</i>"
            return
        epochs = len(result.history.get("loss", []))
        self.numbers.value = (
            f"<b>run {result.run}</b>: validation MSE <b>{result.val_mse:.4f}</b><br>"
            f"{epochs} epochs in {result.seconds:.2f} s"
        )

    @staticmethod
    def _caption(result: PanelResult) -> str:
        if result.reconstructions is None:
            return f"validation images; run {result.run} diverged, so it has no reconstructions"
        return f"validation images (top) and run {result.run}'s reconstructions (bottom)"

    def _table_rows(self) -> list[dict[str, Any]]:
        rows = []
        for r in self.runs:
            trained = len(r.history.get("loss", []))
            planned = {**self.fixed, **r.settings}["epochs"]
            status = r.status if trained == planned else f"{r.status}, {trained} epochs"
            rows.append(
                {
                    "run": r.run,
                    **r.settings,
                    "val_mse": r.val_mse,
                    "seconds": f"{r.seconds:.2f}",
                    "status": status,
                }
            )
        return rows

    def figures(self) -> dict[str, Any]:
        """The last run's figures, drawn statically: what the panel shows, for runs with no front end."""
        from lab import plots

        if self.last is None:
            raise ValueError("Nothing trained yet: call train() or press Train first.")
        figures = {
            "curves": panel_views.curve_figure(
                self._curve_data(self.last), title=self._curve_title(self.last)
            )
        }
        if self.last.reconstructions is not None:
            figures["reconstructions"] = plots.plot_reconstructions(
                self.dataset.x_val, self.last.reconstructions, self.dataset.image_shape, n=_IMAGES_SHOWN
            )
        return figures

    def history_frame(self) -> pd.DataFrame:
        """Every run trained so far: its settings, validation MSE, epochs, seconds and status.

        `seconds` is the training alone; `draw_seconds` the drawing of its figures.
        """
        return pd.DataFrame(
            [
                {
                    "run": r.run,
                    **r.settings,
                    "val_mse": r.val_mse,
                    "epochs_trained": len(r.history.get("loss", [])),
                    "seconds": r.seconds,
                    "draw_seconds": r.draw_seconds,
                    "status": r.status,
                }
                for r in self.runs
            ]
        )

    def _ipython_display_(self) -> None:
        display(self.widget)


class _LiveCurve:
    """Record each epoch and redraw the loss curve at a bounded rate while a run trains."""

    def __init__(self, panel: RetrainPanel, number: int, epochs: int, interruptible: bool):
        self.panel, self.number, self.epochs, self.interruptible = panel, number, epochs, interruptible
        self.history: dict[str, list[float]] = {}
        self.drawn = time.perf_counter()
        self.seconds = 0.0  # spent here rather than training

    def update(self, epoch: int, logs: dict[str, float]) -> None:
        start = time.perf_counter()
        if self.interruptible and self.panel._stop.is_set():
            raise _Superseded
        for key, value in logs.items():
            self.history.setdefault(key, []).append(value)
        if start - self.drawn >= self.panel.live_interval:
            data = panel_views.curve_data(self.history, epochs=self.epochs)
            self.panel.curve.value = self.panel._renderer.render(
                data, title=f"run {self.number}: training and validation loss"
            )
            self.panel.curve.remove_class("lab-stale")
            self.panel.numbers.value = f"{self.panel._training_header}<br>epoch {epoch} of {self.epochs}"
            self.drawn = time.perf_counter()
        self.seconds += time.perf_counter() - start


def _refuse_outside_range(panel: RetrainPanel, name: str, control: w.ValueWidget) -> None:
    """Replace the control's silent clamping with a refusal in words, for values set in code.

    ipywidgets moves a slider value set outside its range to the nearest end without a
    word, so `controls["latent_dim"].value = 500` would train a different model than
    the one asked for. A value outside the range (or not among a list's options) is
    refused with a TraitError that says what the control takes, and the panel says so too.
    """
    from traitlets import TraitError

    def validate(_widget, proposal):
        value = proposal["value"]
        options = getattr(control, "options", None)
        if options is not None:
            values = [option[1] if isinstance(option, tuple) else option for option in options]
            for option in values:
                if (
                    type(option) is type(value)
                    and option == value
                    or (_is_number(value) and _is_number(option) and option == value)
                ):
                    return option
            allowed = f"one of {', '.join(_fmt(v) for v in values)}"
        else:
            low, high = control.min, control.max
            if isinstance(control, w.FloatLogSlider):
                low, high = control.base**low, control.base**high
            if _is_number(value) and low <= value <= high:
                return value
            allowed = f"values from {_fmt(low)} to {_fmt(high)}"
        message = (
            f"{name} takes {allowed} on this panel; got {value!r}, so it was left at {_fmt(control.value)}."
        )
        panel.message.value = f"<b style='color:#b00'>Not set:</b> {html.escape(message)}"
        raise TraitError(message)

    control._register_validator(validate, ["value"])
    if getattr(control, "options", None) is None:
        for bound in ("min", "max"):
            control._register_validator(_bound_validator(panel, name, control, bound), [bound])
    else:
        _keep_value_across_options(panel, name, control)

    def refuse_none(change):
        # A list control allows None (no selection), which skips every validator; put the value back.
        if change["new"] is None and change["old"] is not None:
            control.value = change["old"]
            message = (
                f"{name} takes one of its options on this panel; got None, so it was left at {change['old']}."
            )
            panel.message.value = f"<b style='color:#b00'>Not set:</b> {html.escape(message)}"
            raise TraitError(message)

    control.observe(refuse_none, names="value")


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def _keep_value_across_options(panel: RetrainPanel, name: str, control: w.ValueWidget) -> None:
    """New options for a list control keep its value, or are refused if they do not hold it.

    ipywidgets selects the first option whenever the options change, which would train
    another setting than the one shown a moment before, without a word.
    """
    from traitlets import TraitError

    def validate(_widget, proposal):
        before = control._options_full
        new = type(control)._validate_options(control, proposal)
        values = [value for _, value in control._options_full]
        if not any(value == control.value for value in values):
            control._options_full = before
            shown = ", ".join(_fmt(v) for v in values)
            message = (
                f"the new options ({shown}) for {name} do not hold its value {_fmt(control.value)}; "
                f"set {name} to one of them first, then change its options."
            )
            panel.message.value = f"<b style='color:#b00'>Not set:</b> {html.escape(message)}"
            raise TraitError(message)
        control._lab_kept_value = control.value  # ipywidgets is about to select the first option
        return new

    def restore(change):
        kept = control.__dict__.pop("_lab_kept_value", None)
        if kept is not None and control.value != kept:
            control.value = kept

    control._register_validator(validate, ["options"])
    control.observe(restore, names="options")


def _bound_validator(panel: RetrainPanel, name: str, control: w.ValueWidget, bound: str):
    """Refuse a new min or max that would move the control's value, instead of moving it in silence."""
    from traitlets import TraitError

    def validate(_widget, proposal):
        new = proposal["value"]
        low, high = (new, control.max) if bound == "min" else (control.min, new)
        if low > high:
            raise TraitError(f"setting {name}'s {bound} to {new} would put min above max")
        value, shown = control.value, (low, high)
        if isinstance(control, w.FloatLogSlider):
            shown = (control.base**low, control.base**high)
        if not shown[0] <= value <= shown[1]:
            message = (
                f"a {bound} of {_fmt(new)} would move {name} from {_fmt(value)} to the range's end; "
                f"set {name}'s value inside {_fmt(shown[0])} to {_fmt(shown[1])} first, "
                f"then change its {bound}."
            )
            panel.message.value = f"<b style='color:#b00'>Not set:</b> {html.escape(message)}"
            raise TraitError(message)
        return new

    return validate


def _fmt(value: Any) -> str:
    return f"{value:.1e}" if isinstance(value, float) and 0 < abs(value) < 1e-2 else str(value)


def _resource_exhausted():
    from lab._backend import tf

    return tf.errors.ResourceExhaustedError
