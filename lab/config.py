"""Run settings: one frozen dataclass and the three presets.

Every budget the book uses (subset sizes, epochs, patience, sweep sizes) lives
here, so a notebook never carries a `x if QUICK else y` of its own.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIGURES_DIR = ROOT / "figures"
RUNS_DIR = ROOT / "runs"

PRESETS = ("quick", "workshop", "full")


@dataclass(frozen=True)
class RunConfig:
    """Everything a notebook needs to know about the size of its run."""

    preset: str
    dataset: str = "digits"
    seed: int = 0
    # Caps on the number of examples (None keeps the whole split).
    max_train: int | None = None
    max_eval: int | None = None
    # One model's training: an upper bound on epochs; early stopping ends it sooner.
    epochs: int = 200
    patience: int = 15
    batch_size: int = 16
    # The book's reference model.
    latent_dim: int = 8
    units: int = 256
    num_layers: int = 2
    learning_rate: float = 2e-3
    # The latent-size sweep of notebook 01.
    latent_sizes: tuple[int, ...] = (2, 4, 8, 16, 32)
    # Each run of a one-at-a-time sweep (notebooks 02 and 03): a shorter budget,
    # the same for every run, so runs compare fairly and a sweep stays quick.
    sweep_epochs: int = 60
    sweep_patience: int = 8
    # Runs per swept setting: None runs every value a notebook lists; the quick
    # preset keeps the first few, so sweeps shrink here and never in a cell.
    max_sweep_values: int | None = None
    # Seeds per compared setting (lab.seeds): a difference smaller than the spread
    # across seeds is reported as within noise, never as a winner.
    n_seeds: int = 3
    # Notebook 03: a training set small enough to overfit, trained without early stopping.
    overfit_train_size: int = 150
    overfit_epochs: int = 150
    # Notebook 03: L1 strengths, noise levels, anomaly classes, label fractions.
    l1_values: tuple[float, ...] = (0.0, 1e-4, 1e-3, 1e-2, 3e-2)
    noise_levels: tuple[float, ...] = (0.0, 0.1, 0.2, 0.3, 0.5)
    anomaly_classes: tuple[int, ...] = (7, 8, 9)
    label_fractions: tuple[float, ...] = (0.01, 0.05, 0.1)
    # Notebooks 04 and 05: 2-D codes to draw, KL warm-up, adversarial training length.
    generative_latent_dim: int = 2
    warmup_epochs: int = 10
    aae_epochs: int = 60
    # Notebooks 06 to 08, the searches: trials for grid, random and Bayesian searches,
    # each trial's epoch budget and early stopping patience, Hyperband's reduction factor.
    search_trials: int = 10
    search_epochs: int = 40
    search_patience: int = 6
    hyperband_factor: int = 4
    # Notebook 08, the three searches side by side: each trial's epoch budget (Hyperband's
    # largest), shorter than the other searches' so that three searches fit in one notebook.
    race_epochs: int = 24
    # Notebook 07: trials of the one-hyperparameter (learning-rate) slice, and of the VAE's search.
    slice_trials: int = 6
    vae_search_trials: int = 6
    # Points shown in scatter plots and UMAP views.
    max_points: int = 2000
    figures_dir: Path = FIGURES_DIR
    runs_dir: Path = RUNS_DIR

    def as_dict(self) -> dict[str, object]:
        """The settings as a plain dictionary, for display."""
        return dataclasses.asdict(self)


_PRESETS: dict[str, dict[str, object]] = {
    # CI's smoke run: proves the code runs, not that it learns.
    "quick": dict(
        max_train=240,
        max_eval=120,
        epochs=2,
        patience=1,
        batch_size=64,
        latent_sizes=(2, 8),
        max_points=240,
        sweep_epochs=2,
        sweep_patience=1,
        max_sweep_values=2,
        n_seeds=2,
        overfit_train_size=60,
        overfit_epochs=3,
        l1_values=(0.0, 1e-3),
        noise_levels=(0.0, 0.3),
        label_fractions=(0.1,),
        warmup_epochs=1,
        aae_epochs=2,
        search_trials=2,
        slice_trials=3,
        vae_search_trials=2,
        search_epochs=3,
        race_epochs=3,
        search_patience=1,
        hyperband_factor=3,
    ),
    # The default: all of digits, sized for a 2-core laptop.
    "workshop": dict(),
    # MNIST and longer runs, for a GPU or a long afternoon.
    "full": dict(
        dataset="mnist",
        epochs=100,
        patience=10,
        batch_size=128,
        units=256,
        latent_sizes=(2, 4, 8, 16, 32, 64),
        max_points=5000,
        sweep_epochs=40,
        sweep_patience=5,
        n_seeds=5,
        overfit_train_size=500,
        overfit_epochs=200,
        aae_epochs=50,
        search_trials=30,
        slice_trials=12,
        vae_search_trials=20,
        search_epochs=60,
        race_epochs=60,
        search_patience=8,
        hyperband_factor=3,
    ),
}


def preset(name: str = "workshop", **overrides: object) -> RunConfig:
    """Return the settings of a named preset, with optional overrides.

    Args:
        name: one of "quick", "workshop" (the default) and "full".
        **overrides: fields of `RunConfig` to change, such as `dataset="mnist"`,
            `seed=1` or `figures_dir="../figures"`. A value of None is ignored,
            so a notebook may pass its parameters through unchanged.

    Returns:
        A frozen `RunConfig`.

    Raises:
        ValueError: for an unknown preset or an unknown field.
    """
    if name not in _PRESETS:
        raise ValueError(f"Unknown preset {name!r}. Choose one of: {', '.join(PRESETS)}.")
    fields = {f.name for f in dataclasses.fields(RunConfig)}
    unknown = sorted(set(overrides) - fields)
    if unknown:
        raise ValueError(
            f"Unknown setting(s) {', '.join(unknown)}. "
            f"Settings that can be changed: {', '.join(sorted(fields - {'preset'}))}."
        )
    settings = {**_PRESETS[name], **{k: v for k, v in overrides.items() if v is not None}}
    for key in ("figures_dir", "runs_dir"):
        if key in settings:
            settings[key] = Path(settings[key])
    return RunConfig(preset=name, **settings)


def flag(value: object, name: str) -> bool:
    """`value` if it is exactly True or False; otherwise a ValueError that says what to pass.

    A flag that deletes or redoes work (`OVERWRITE`, `RECOMPUTE`) must not read a string
    such as "false", which is what `papermill -p OVERWRITE false` passes and which Python
    takes as true, or a 0 or 1 typed by mistake.
    """
    import numpy as np

    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    hint = ""
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        hint = (
            " From papermill's command line, write it with a capital letter:"
            f" -p {name.upper()} {value.strip().capitalize()}."
        )
    raise ValueError(
        f"{name} must be True or False, got {value!r} ({type(value).__name__}); nothing was changed.{hint}"
    )
