"""Input checks that turn bad values into clear ``ValueError`` messages.

Every config ``__post_init__`` and public function in ``peach_lite`` validates its inputs here, so a
wrong value fails where it was given, naming the field and what is allowed.

Taught in notebooks/00_how_to_use.py (section "Bad input fails loudly").
"""
from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

__all__ = ["check_range", "check_choice", "check_shape"]


def check_range(field: str, value: Any, low: float | None = None, high: float | None = None) -> None:
    """Raise ``ValueError`` unless ``low <= value <= high`` (either bound may be ``None``).

    Args:
        field: name of the config field or argument, used in the message.
        value: the number to check; NaN is always rejected.
    """
    lo = "-inf" if low is None else low
    hi = "inf" if high is None else high
    allowed = f"{field} must be in [{lo}, {hi}]"
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{allowed}, got {value!r} (not a number)") from None
    if math.isnan(number) or (low is not None and number < low) or (high is not None and number > high):
        raise ValueError(f"{allowed}, got {value!r}")


def check_choice(field: str, value: Any, choices: Iterable[Any]) -> None:
    """Raise ``ValueError`` unless ``value`` is one of ``choices``."""
    options = list(choices)
    if value not in options:
        raise ValueError(f"{field} must be one of {options}, got {value!r}")


def check_shape(field: str, shape: tuple[int, ...], expected: tuple[int | None, ...]) -> None:
    """Raise ``ValueError`` unless ``shape`` matches ``expected`` (``None`` matches any size)."""
    ok = len(shape) == len(expected) and all(e is None or s == e for s, e in zip(shape, expected))
    if not ok:
        want = "(" + ", ".join("*" if e is None else str(e) for e in expected) + ")"
        raise ValueError(f"{field} must have shape {want}, got {tuple(shape)}")
