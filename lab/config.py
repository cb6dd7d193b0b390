"""Run settings: one frozen dataclass and the three presets.

Every budget the book uses (subset sizes, epochs, patience, sweep sizes) lives
here, so a notebook never carries a `x if QUICK else y` of its own.
"""

from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass
from pathlib import Path

from lab import checks

ROOT = Path(__file__).resolve().parents[1]
FIGURES_DIR = ROOT / "figures"
RUNS_DIR = ROOT / "runs"

PRESETS = ("quick", "workshop", "full")
DATASETS = ("digits", "mnist", "fashion_mnist")  # what lab.data can load


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
    written_out_epochs: int = 10  # the adversarial step written out on the page (notebook 05)
    # Notebooks 06 to 08, the searches: trials for grid, random and Bayesian searches,
    # each trial's epoch budget and early stopping patience, Hyperband's reduction factor.
    search_trials: int = 10
    search_epochs: int = 40
    halving_settings: int = 9  # settings in notebook 06's successive halving by hand
    search_patience: int = 6
    hyperband_factor: int = 4
    # Notebook 08, the three searches side by side: each trial's epoch budget (Hyperband's
    # largest), shorter than the other searches' so that three searches fit in one notebook.
    race_epochs: int = 24
    # Notebook 07: trials of the one-hyperparameter (learning-rate) slice, and of the VAE's search.
    slice_trials: int = 6
    vae_search_trials: int = 6
    # Notebook 09: seeds of the four searches' comparison (`python -m lab.shootout`).
    shootout_seeds: int = 10
    # Notebook 10, the multi-objective searches (`python -m lab.pareto`): trials per search of
    # the dense autoencoder and of the VAE, seeds, and the share of labels of the few-label probe.
    pareto_trials: int = 40
    pareto_vae_trials: int = 24
    pareto_seeds: int = 5
    few_label_fraction: float = 0.05
    # Notebook 11, a search spread over processes: trials per search, the cost of one trial
    # of known cost (`TimedHyperModel`, which waits instead of training), and the seconds without
    # a heartbeat before the chief hands a killed worker's trial back (the command's default is 60:
    # shorter here, so the demonstration does not wait a minute).
    distributed_trials: int = 8
    timed_trial_seconds: float = 2.0
    handback_seconds: float = 10.0
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
        written_out_epochs=2,
        halving_settings=3,
        search_trials=2,
        slice_trials=3,
        vae_search_trials=2,
        shootout_seeds=2,
        pareto_trials=4,
        pareto_vae_trials=3,
        pareto_seeds=2,
        distributed_trials=4,
        timed_trial_seconds=0.5,
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
        pareto_trials=100,
        pareto_vae_trials=60,
        distributed_trials=16,
        search_epochs=60,
        race_epochs=60,
        search_patience=8,
        hyperband_factor=3,
    ),
}


def preset(name: str = "workshop", **overrides: object) -> RunConfig:
    """Return the settings of a named preset, with optional overrides, each one checked.

    Args:
        name: one of "quick", "workshop" (the default) and "full".
        **overrides: fields of `RunConfig` to change, such as `dataset="mnist"`,
            `seed=1` or `figures_dir="../figures"`. A value of None is ignored,
            so a notebook may pass its parameters through unchanged. A string that
            holds an unambiguous value, as papermill's `-r SEED 1` passes it, is
            converted ("1" to 1, "2, 4" to (2, 4)).

    Returns:
        A frozen `RunConfig`.

    Raises:
        ValueError (a `lab.checks.SettingError`): for an unknown preset or setting, or a
            value of the wrong type or out of range; the message names the setting,
            what it got and what it takes.
    """
    name = checks.choice(name, "preset", PRESETS, also="PRESET in a notebook's parameters")
    if "preset" in overrides:
        raise checks.SettingError("The preset is the first argument, not a setting: config.preset('full').")
    fields = {f.name for f in dataclasses.fields(RunConfig)}
    unknown = sorted(set(overrides) - fields)
    if unknown:
        near = {u: difflib.get_close_matches(u, sorted(fields), n=1) for u in unknown}
        hints = "".join(f" Did you mean {near[u][0]!r} for {u!r}?" for u in unknown if near[u])
        raise checks.SettingError(
            f"Unknown setting(s) {', '.join(unknown)}.{hints} "
            f"Settings that can be changed: {', '.join(sorted(fields - {'preset'}))}."
        )
    settings = {**_PRESETS[name], **{k: v for k, v in overrides.items() if v is not None}}
    return RunConfig(preset=name, **validate({**_defaults(), **settings}))


def _defaults() -> dict[str, object]:
    return {f.name: f.default for f in dataclasses.fields(RunConfig) if f.name != "preset"}


def _param(name: str) -> str:
    return f"{name.upper()} in a notebook's parameters" if name in _NOTEBOOK_PARAMETERS else ""


_NOTEBOOK_PARAMETERS = ("dataset", "seed", "figures_dir", "runs_dir")
N_CLASSES = 10  # every dataset of the book has ten classes


def validate(settings: dict[str, object]) -> dict[str, object]:
    """Every field of `settings` checked and converted to its type; a SettingError names the first bad one."""
    c = checks

    def count(lo: int, hi: int = checks.MAX_INDEX, optional: bool = False, hint: str = ""):
        def rule(v, n):
            return c.integer(v, n, minimum=lo, maximum=hi, optional=optional, also=_param(n), hint=hint)

        return rule

    subset = f"a stratified subset needs one example of each of the {N_CLASSES} classes."
    rules = {
        "dataset": lambda v, n: c.choice(v, n, DATASETS, also=_param(n)),
        "seed": count(0, checks.MAX_SEED),
        "max_train": count(N_CLASSES, optional=True, hint=f"None keeps the whole split; {subset}"),
        "max_eval": count(N_CLASSES, optional=True, hint=f"None keeps the whole split; {subset}"),
        "epochs": count(1),
        "patience": count(1),
        "batch_size": count(1),
        "latent_dim": count(1),
        "units": count(1),
        "num_layers": count(1),
        "learning_rate": lambda v, n: c.number(v, n, above=0, maximum=10),
        "latent_sizes": lambda v, n: c.sequence(v, n, count(1), distinct=True),
        "sweep_epochs": count(1),
        "sweep_patience": count(1),
        "max_sweep_values": count(1, optional=True, hint="None runs every value a notebook lists."),
        "n_seeds": count(1, 1000),
        "overfit_train_size": count(N_CLASSES, hint=subset),
        "overfit_epochs": count(1),
        "l1_values": lambda v, n: c.sequence(v, n, lambda x, m: c.number(x, m, minimum=0), distinct=True),
        "noise_levels": lambda v, n: c.sequence(
            v, n, lambda x, m: c.number(x, m, minimum=0, maximum=1), distinct=True
        ),
        "anomaly_classes": lambda v, n: c.sequence(
            v, n, lambda x, m: c.integer(x, m, minimum=0, maximum=N_CLASSES - 1), distinct=True
        ),
        "label_fractions": lambda v, n: c.sequence(
            v, n, lambda x, m: c.number(x, m, above=0, maximum=1), distinct=True
        ),
        "generative_latent_dim": count(
            2, 2, hint="Notebooks 04 and 05 draw the codes in the plane and decode a grid over it."
        ),
        "warmup_epochs": count(0),
        "aae_epochs": count(1),
        "written_out_epochs": count(1),
        "halving_settings": count(2, hint="Successive halving keeps a third each round, so it needs a race."),
        "search_trials": count(1),
        "search_epochs": count(1),
        "search_patience": count(1),
        "hyperband_factor": count(2, 100),
        "race_epochs": count(1),
        "slice_trials": count(2),
        "vae_search_trials": count(1),
        "shootout_seeds": count(1, 1000),
        "pareto_trials": count(2, hint="A front needs at least two trials to compare."),
        "pareto_vae_trials": count(2, hint="A front needs at least two trials to compare."),
        "pareto_seeds": count(1, 1000),
        "few_label_fraction": lambda v, n: c.number(v, n, above=0, maximum=1),
        "distributed_trials": count(2, 1000),
        "timed_trial_seconds": lambda v, n: c.number(v, n, above=0, maximum=600),
        "handback_seconds": lambda v, n: c.number(v, n, minimum=0.5, maximum=3600),
        "max_points": count(20, hint="UMAP needs more points than its 15 neighbours."),
        "figures_dir": lambda v, n: c.folder(v, n, also=_param(n)),
        "runs_dir": lambda v, n: c.folder(v, n, also=_param(n)),
    }
    missing = set(_defaults()) - set(rules)
    assert not missing, f"no rule for {missing}"  # a new field needs a rule here
    checked = {key: rules[key](value, key) for key, value in settings.items()}
    _check_together(checked)
    return checked


def _check_together(s: dict[str, object]) -> None:
    last_seed = s["seed"] + s["n_seeds"] - 1
    if last_seed > checks.MAX_SEED:
        raise checks.SettingError(
            f"seed ({_param('seed')}) is {s['seed']:,} and n_seeds is {s['n_seeds']}, so comparisons "
            f"would use seeds up to {last_seed:,}, past NumPy's largest, {checks.MAX_SEED:,}. "
            f"Choose a seed of at most {checks.MAX_SEED - s['n_seeds'] + 1:,}."
        )
    if len(s["anomaly_classes"]) >= N_CLASSES - 1:
        raise checks.SettingError(
            f"anomaly_classes lists {len(s['anomaly_classes'])} of the {N_CLASSES} classes; at least two "
            "must stay normal for the autoencoder to learn them. List fewer classes."
        )
    for key in ("race_epochs", "search_epochs"):
        if s[key] < s["hyperband_factor"]:
            raise checks.SettingError(
                f"{key} is {s[key]} but hyperband_factor is {s['hyperband_factor']}: Hyperband needs "
                "at least factor epochs for its largest budget. Raise the epochs or lower the factor."
            )


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
    if isinstance(value, str) and value.strip() in ("True", "False"):
        hint = f" Remove the spaces around it: {value.strip()}."
    elif isinstance(value, str) and value.strip().lower() in ("true", "false"):
        hint = (
            " From papermill's command line, write it with a capital letter:"
            f" -p {name.upper()} {value.strip().capitalize()}."
        )
    raise ValueError(
        f"{name} must be True or False, got {value!r} ({type(value).__name__}); nothing was changed.{hint}"
    )
