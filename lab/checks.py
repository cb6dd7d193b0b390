"""Checks of a setting's value that say, in words, which setting is wrong and what it takes.

A notebook's parameters can arrive from papermill's command line as strings
(`-r SEED 1` passes "1"), from a typo in a cell, or from a config file. Each helper
here returns the value in its proper type when that is unambiguous (the string "1"
for an integer, "0.002" for a number) and otherwise raises a `SettingError` naming
the setting, the value it got and what is allowed. Booleans are never taken as
numbers, and nothing is clamped in silence.

Each helper takes the setting's `name` as the user would write it; `also` adds where
else it can be set (for example "SEED in a notebook's parameters").
"""

from __future__ import annotations

import math
import numbers
import os
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

# NumPy's legacy seeding (np.random.seed, RandomState) takes 0 to 2**32 - 1.
MAX_SEED = 2**32 - 1
# The training loop indexes batches with 32-bit integers.
MAX_INDEX = 2**31 - 1

_INT = re.compile(r"[+-]?\d[\d_]*")
_NONE = ("none", "null", "")


class SettingError(ValueError):
    """A setting with a value it cannot take; the message says what it accepts."""


def _got(value: Any) -> str:
    return f"got {value!r} ({type(value).__name__})"


def _where(name: str, also: str) -> str:
    return f"{name} ({also})" if also else name


def _bounds(minimum: float | None, maximum: float | None) -> str:
    if minimum is not None and minimum == maximum:
        return f"equal to {minimum:,}"
    if minimum is not None and maximum is not None:
        return f"from {minimum:,} to {maximum:,}"
    if minimum is not None:
        return f"of {minimum:,} or more"
    if maximum is not None:
        return f"of {maximum:,} or less"
    return ""


def is_none(value: Any) -> bool:
    """True for None and for the strings a command line uses for it ("None", "null", "")."""
    return value is None or (isinstance(value, str) and value.strip().lower() in _NONE)


def integer(
    value: Any,
    name: str,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
    optional: bool = False,
    also: str = "",
    hint: str = "",
) -> int | None:
    """`value` as an int within [minimum, maximum], or a SettingError.

    Accepts ints (NumPy's too), floats and strings that hold a whole number ("12",
    12.0), and, when `optional`, None or the string "None". Refuses booleans,
    fractions and anything else.
    """
    label = _where(name, also)
    allowed = f"a whole number {_bounds(minimum, maximum)}".rstrip() + (" or None" if optional else "")
    if optional and is_none(value):
        return None
    number = None
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        number = int(value)
    elif isinstance(value, numbers.Real) and not isinstance(value, bool):
        if math.isfinite(value) and float(value).is_integer():
            number = int(value)
    elif isinstance(value, str) and _INT.fullmatch(value.strip()):
        number = int(value.strip())
    elif isinstance(value, str):
        try:
            as_float = float(value)
        except ValueError:
            as_float = math.nan
        if math.isfinite(as_float) and as_float.is_integer():
            number = int(as_float)
    if number is None:
        raise SettingError(f"{label} must be {allowed}, {_got(value)}.{_space(hint)}")
    if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
        raise SettingError(f"{label} must be {allowed}, got {number:,}.{_space(hint)}")
    return number


def number(
    value: Any,
    name: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    above: float | None = None,
    below: float | None = None,
    also: str = "",
    hint: str = "",
) -> float:
    """`value` as a finite float within the bounds, or a SettingError.

    `minimum`/`maximum` are inclusive bounds, `above`/`below` exclusive ones. Accepts
    ints, floats and strings that parse as a finite number; refuses booleans, NaN and
    infinities.
    """
    label = _where(name, also)
    parts = []
    if minimum is not None:
        parts.append(f">= {minimum:g}")
    if above is not None:
        parts.append(f"> {above:g}")
    if maximum is not None:
        parts.append(f"<= {maximum:g}")
    if below is not None:
        parts.append(f"< {below:g}")
    allowed = "a finite number" + (f" {' and '.join(parts)}" if parts else "")
    result = None
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        result = float(value)
    elif isinstance(value, str):
        try:
            result = float(value.strip())
        except ValueError:
            result = None
    if result is None or not math.isfinite(result):
        raise SettingError(f"{label} must be {allowed}, {_got(value)}.{_space(hint)}")
    if (
        (minimum is not None and result < minimum)
        or (maximum is not None and result > maximum)
        or (above is not None and result <= above)
        or (below is not None and result >= below)
    ):
        raise SettingError(f"{label} must be {allowed}, got {result:g}.{_space(hint)}")
    return result


def sequence(
    value: Any,
    name: str,
    item: Callable[[Any, str], Any],
    *,
    min_length: int = 1,
    distinct: bool = False,
    also: str = "",
) -> tuple:
    """`value` as a tuple whose items each pass `item(v, label)`, or a SettingError.

    Accepts lists, tuples and ranges, and strings such as "2, 4, 8" or "[2, 4, 8]";
    refuses a single number (write it as a one-item list).
    """
    label = _where(name, also)
    items: Iterable[Any]
    if isinstance(value, str):
        text = value.strip().strip("[]()").strip()
        items = [part.strip() for part in text.split(",") if part.strip()] if text else []
    elif isinstance(value, (list, tuple, range)) or type(value).__name__ == "ndarray":
        items = list(value)
    else:
        raise SettingError(
            f"{label} must be a list of values such as [2, 4, 8], {_got(value)}. "
            "A single value is written as a one-item list: [8]."
        )
    result = tuple(item(v, f"each value of {name}") for v in items)
    if len(result) < min_length:
        raise SettingError(f"{label} needs at least {min_length} value(s), got {value!r}.")
    if distinct and len(set(result)) != len(result):
        raise SettingError(f"{label} lists a value twice: {value!r}. Give each value once.")
    return result


def choice(value: Any, name: str, choices: Iterable[str], *, also: str = "") -> str:
    """`value` if it is one of `choices`; otherwise a SettingError that suggests the nearest."""
    import difflib

    choices = tuple(choices)
    label = _where(name, also)
    if isinstance(value, str) and value in choices:
        return value
    near = []
    if isinstance(value, str):
        lowered = {c.lower(): c for c in choices}
        near = [lowered[value.strip().lower()]] if value.strip().lower() in lowered else []
        near = near or difflib.get_close_matches(value, choices, n=1)
    suggestion = f" Did you mean {near[0]!r}?" if near else ""
    raise SettingError(
        f"{label} must be one of {', '.join(repr(c) for c in choices)}, {_got(value)}.{suggestion}"
    )


def folder(value: Any, name: str, *, also: str = "") -> Path:
    """`value` as a Path to a folder that exists or can be made, and can be written to.

    Refuses an empty name, a path that is a file, a path under a file, and a folder
    (or, for a folder still to be made, its nearest existing parent) that this user
    cannot write to. Makes nothing on disk.
    """
    label = _where(name, also)
    if not isinstance(value, (str, os.PathLike)) or not str(value).strip():
        raise SettingError(f"{label} must be the path of a folder, such as '../figures', {_got(value)}.")
    if "\0" in str(value):
        raise SettingError(f"{label} holds a NUL character, which no path can hold: {value!r}.")
    try:
        path = Path(value).expanduser()
        path.exists()  # a name too long for the file system, or a symlink loop, fails here
    except (OSError, RuntimeError) as exc:
        raise SettingError(f"{label} cannot be used as a folder: {value!r} ({exc}).") from None
    if path.is_symlink() and not path.exists():
        raise SettingError(f"{label} is {str(path)!r}, a link to nothing or a loop. Choose a folder.")
    if path.exists() and not path.is_dir():
        raise SettingError(f"{label} is {str(path)!r}, which is a file, not a folder. Choose a folder.")
    probe = path
    while not probe.exists() and probe != probe.parent:
        if probe.is_symlink():
            raise SettingError(
                f"{label} is {str(path)!r}, under {str(probe)!r}, a link to nothing or a loop. "
                "Choose a folder."
            )
        probe = probe.parent
    if not probe.is_dir():
        raise SettingError(
            f"{label} is {str(path)!r}, but {str(probe)!r} is a file, so no folder can be made there. "
            "Choose another path."
        )
    if not os.access(probe, os.W_OK | os.X_OK):
        where = "it" if probe == path else f"its parent {str(probe)!r}"
        raise SettingError(
            f"{label} is {str(path)!r}, but {where} cannot be written to. "
            "Choose a folder you can write to, or change its permissions."
        )
    return path


def boolean(value: Any, name: str) -> bool:
    """`value` if it is exactly True or False (NumPy's too); otherwise a SettingError.

    A string such as "False" is true to Python, and 0.5 switches a feature on, so
    neither is read as a switch.
    """
    import numpy as np

    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise SettingError(f"{name} must be True or False, {_got(value)}.")


def hypermodel(value: Any, helper: str) -> Any:
    """One of lab's HyperModels (anything with `declare()`), or a TypeError naming what `helper` takes."""
    if not callable(getattr(value, "declare", None)):
        raise TypeError(
            f"{helper} takes one of lab's HyperModels, such as DenseAutoencoderHyperModel(ds.n_features), "
            f"got {type(value).__name__}."
        )
    return value


def _space(hint: str) -> str:
    return f" {hint}" if hint else ""
