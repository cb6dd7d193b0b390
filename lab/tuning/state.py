"""A search's folder on disk: what it was started with, whether it can be resumed, atomic writes.

A search writes `lab_search.json` (SIGNATURE) before its first trial: the kind, objective,
space, fixed values, seed and budgets (`search`), and the data it trains on (`data`). A
search started again in the same folder with other settings is refused rather than mixed
with the old trials; a folder KerasTuner could not resume is reported before it is touched.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lab import vocabulary

FIT_RECORD = "lab_fit.json"


class SearchStateError(RuntimeError):
    """A search folder that cannot be resumed as it is; the message names it and the ways out."""


WAYS_OUT = (
    "Two ways out: delete the folder (or move it away to keep it), or start this search afresh "
    "with OVERWRITE = True (overwrite=True), which deletes it."
)


SIGNATURE = "lab_search.json"  # what a search was started with, beside KerasTuner's own state


def _damaged(folder: Path, problem: str) -> str:
    return (
        f"The search folder {folder} is damaged: {problem}. Its trials cannot be resumed safely. {WAYS_OUT}"
    )


def _read_state(path: Path, keys: Sequence[str]) -> dict[str, Any]:
    try:
        state = json.loads(path.read_text())
    except FileNotFoundError:
        raise SearchStateError(_damaged(path.parent, f"{path.name} is missing")) from None
    except (OSError, ValueError) as exc:
        raise SearchStateError(_damaged(path.parent, f"{path} cannot be read as JSON ({exc})")) from None
    if not isinstance(state, dict):
        raise SearchStateError(_damaged(path.parent, f"{path} holds a {type(state).__name__}, not an object"))
    missing = [k for k in keys if k not in state]
    if missing:
        raise SearchStateError(_damaged(path.parent, f"{path} lacks {', '.join(missing)}"))
    return state


def check_search_folder(folder: Path | str) -> None:
    """Raise `SearchStateError` if a search folder on disk cannot be resumed as it is.

    Checks that KerasTuner's `oracle.json` and every trial's `trial.json` can be read,
    that every trial the oracle lists still has its folder, and that a folder holding
    trials also holds the tuner's own state (without it KerasTuner would start afresh
    and write new trials over the old ones). Changes nothing on disk.
    """
    folder = Path(folder)
    if not folder.exists():
        return
    if not folder.is_dir():
        raise SearchStateError(
            f"{folder} is a file, not a search folder. Choose another project_name or directory."
        )
    trial_dirs = sorted(p for p in folder.glob("trial_*") if p.is_dir())
    tuner_file = folder / f"{os.environ.get('KERASTUNER_TUNER_ID', 'tuner0')}.json"
    saved = [tuner_file] if tuner_file.exists() else tuner_files(folder)
    if not saved:
        if trial_dirs or (folder / "oracle.json").exists():
            raise SearchStateError(
                _damaged(folder, f"it holds trials but no {tuner_file.name}, the tuner's state")
            )
        return
    for path in saved:
        _read_state(path, ())
    oracle = _read_state(
        folder / "oracle.json", ("start_order", "end_order", "ongoing_trials", "hyperparameters")
    )
    kinds = {"start_order": list, "end_order": list, "ongoing_trials": dict, "hyperparameters": dict}
    wrong = [key for key, kind in kinds.items() if not isinstance(oracle[key], kind)]
    if wrong:
        raise SearchStateError(
            _damaged(folder, f"oracle.json holds unexpected values for {', '.join(wrong)}")
        )
    on_disk = set()
    for trial_dir in trial_dirs:
        trial = _read_state(trial_dir / "trial.json", ("trial_id", "status", "hyperparameters"))
        if trial["status"] not in vocabulary.KERAS_TUNER_STATUSES:
            raise SearchStateError(
                _damaged(
                    folder,
                    f"{trial_dir.name}/trial.json gives the status {trial['status']!r}, which is none of "
                    f"KerasTuner's ({', '.join(vocabulary.KERAS_TUNER_STATUSES)})",
                )
            )
        on_disk.add(str(trial["trial_id"]))
        if (trial_dir / FIT_RECORD).exists():
            _read_state(trial_dir / FIT_RECORD, ())
    if (folder / SIGNATURE).exists():
        signature = _read_state(folder / SIGNATURE, ())
        if not all(isinstance(v, dict) for v in signature.values()):
            raise SearchStateError(_damaged(folder, f"{SIGNATURE} holds unexpected values"))
        finished = [d for d in trial_dirs if (d / "trial.json").exists()]
        lacking = [part for part in ("search", "data") if part not in signature]
        if finished and lacking:
            raise SearchStateError(
                _damaged(
                    folder,
                    f"it holds trials, but its {SIGNATURE} lacks the record of their {' and '.join(lacking)}",
                )
            )
    elif trial_dirs:
        # Every search writes its signature before its first trial; without one, nothing
        # says which settings, budget or data these trials were made with.
        raise SearchStateError(
            f"The search folder {folder} holds trials but no {SIGNATURE}, the record of the settings "
            "they were made with (it comes from an older version of the book, or from KerasTuner "
            f"alone), so resuming it could mix two searches. {WAYS_OUT}"
        )
    listed = {
        str(t) for t in [*oracle["start_order"], *oracle["end_order"], *oracle["ongoing_trials"].values()]
    }
    lost = sorted(listed - on_disk, key=lambda t: (len(t), t))
    if lost:
        raise SearchStateError(
            _damaged(
                folder, f"oracle.json lists trial(s) {', '.join(lost)} whose folder or trial.json is gone"
            )
        )


def tuner_files(folder: Path) -> list[Path]:
    """The tuners' own state files in a search folder: `tuner0.json` in one process; `chief.json` and
    each worker's (`tuner1.json`, ...) in a distributed search."""
    return sorted(p for p in Path(folder).glob("*.json") if p.stem == "chief" or p.stem.startswith("tuner"))


def _check_is_a_search(folder: Path) -> None:
    """Refuse to let overwrite=True delete a folder that holds files but no search."""
    if not folder.is_dir() or not any(folder.iterdir()):
        return
    marks = [folder / "oracle.json", *tuner_files(folder), folder / SIGNATURE]
    if any(p.exists() for p in marks) or any(folder.glob("trial_*")):
        return
    raise SearchStateError(
        f"{folder} holds files but no search (no oracle.json, tuner0.json, {SIGNATURE} or trial folders), "
        "so overwrite=True will not delete it. Give this search another project_name or directory, "
        "or move those files away."
    )


def _plain_json(value: Any) -> Any:
    """`value` as JSON would give it back; NumPy numbers as Python numbers, anything else as text."""
    return json.loads(json.dumps(value, default=lambda v: v.item() if isinstance(v, np.generic) else str(v)))


def _search_signature(hypermodel, kind: str, objective: str, extra: dict[str, Any]) -> dict[str, Any]:
    """What makes trials of one search comparable: kind, objective, space, fixed values, seed, budgets."""
    signature: dict[str, Any] = {
        "kind": kind,
        "objective": objective,
        "hypermodel": type(hypermodel).__name__,
    }
    if hasattr(hypermodel, "declare"):
        space = hypermodel.declare().get_config()["space"]
        signature["space"] = {item["config"]["name"]: item for item in space}
        signature["fixed"] = hypermodel.fixed
        signature["patience"] = hypermodel.patience
        signature["seed"] = hypermodel.seed
    signature.update(extra)
    return _plain_json(signature)


def _differences(stored: dict[str, Any], new: dict[str, Any]) -> list[str]:
    lines = []
    for key in sorted(set(stored) | set(new)):
        old_value, new_value = stored.get(key, "(not recorded)"), new.get(key, "(not recorded)")
        if old_value == new_value:
            continue
        if isinstance(old_value, dict) and isinstance(new_value, dict):
            names = sorted(set(old_value) | set(new_value))
            changed = [n for n in names if old_value.get(n) != new_value.get(n)]
            if key == "space":  # whole hyperparameter declarations: name them only
                lines.append(f"space differs for {', '.join(changed)}")
                continue
            for n in changed:
                was, now = old_value.get(n, "(not set)"), new_value.get(n, "(not set)")
                lines.append(f"{key} {n} was {_short(was)}, now {_short(now)}")
        else:
            lines.append(f"{key} was {_short(old_value)}, now {_short(new_value)}")
    return lines


def _short(value: Any, limit: int = 80) -> str:
    text = json.dumps(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _agree(folder: Path, part: str, new: dict[str, Any], *, record: bool = True) -> None:
    """Record `new` under `part` of the folder's signature (when `record`), or refuse if another is there."""
    path = folder / SIGNATURE
    stored = _read_state(path, ()) if path.exists() else {}
    if part in stored and stored[part] != new:
        changes = "; ".join(_differences(stored[part], new))
        if part == "data":
            changes += "; another dataset, seed or subset size gives other splits"
        raise SearchStateError(
            f"The search in {folder} was started with other settings than this one ({changes}). "
            "Resuming would mix trials of two searches in one table. Give this search another "
            "project_name, or start afresh with OVERWRITE = True (overwrite=True), which deletes the old one."
        )
    if record and stored.get(part) != new:
        _save_json(path, {**stored, part: new})


def _checksum(dataset) -> str:
    """A short fingerprint of the training and validation splits a search trains on."""
    import zlib

    value = 0
    for array in (dataset.x_train, dataset.y_train, dataset.x_val, dataset.y_val):
        value = zlib.crc32(np.ascontiguousarray(array).tobytes(), value)
    return f"{value:08x}"


def _save_json(path, obj) -> str:
    """Write JSON to a temporary file and move it into place (atomic on one file system)."""
    text = json.dumps(obj, allow_nan=True)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text)
    os.replace(partial, path)
    return text


def _last_line(message: str) -> str:
    lines = [line for line in message.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""
