"""Input checks that turn bad values into clear ``ValueError`` messages.

Every config ``__post_init__`` and public function in ``peach_lite`` validates its inputs here, so a
wrong value fails where it was given, naming the field and what is allowed. This is the only module
that defines such helpers; algorithms import them.

Taught in notebooks/00_how_to_use.py (section "Bad input fails loudly").
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

__all__ = ["check_range", "check_int", "check_choice", "check_shape", "check_int_sequence", "as_obs_tensor"]


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


def check_int(field: str, value: Any, low: int | None = None, high: int | None = None) -> None:
    """Raise ``ValueError`` unless ``value`` is an integer (not a bool) with ``low <= value <= high``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        lo = "-inf" if low is None else low
        hi = "inf" if high is None else high
        raise ValueError(f"{field} must be an integer in [{lo}, {hi}], got {value!r}")
    check_range(field, value, low, high)


def check_int_sequence(field: str, value: Any, low: int = 1, min_length: int = 1) -> tuple[int, ...]:
    """Return ``value`` as a tuple of ints >= ``low``; a bare int or a bad entry is a ``ValueError``.

    Used for layer sizes: ``hidden=256`` is a mistake for ``hidden=(256, 256)`` and says so.
    """
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise ValueError(f"{field} must be a sequence of integers >= {low} (e.g. (256, 256)), got {value!r}")
    if len(value) < min_length:
        raise ValueError(f"{field} must have at least {min_length} entries, got {value!r}")
    for i, item in enumerate(value):
        check_int(f"{field}[{i}]", item, low)
    return tuple(int(v) for v in value)


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


def as_obs_tensor(field: str, value: Any, last_dim: int, device: Any = None) -> "torch.Tensor":
    """An observation (numpy array, list or tensor of any float dtype) as a float32 tensor on ``device``.

    Shape ``(..., last_dim)``; anything else is a ``ValueError`` naming ``field`` and the expected size,
    so ``agent.act(np.zeros(2))`` or a float64 tensor either works or says what is wrong.
    """
    import torch

    if not isinstance(value, torch.Tensor):
        try:
            value = torch.as_tensor(np.asarray(value, dtype=np.float32))
        except (TypeError, ValueError) as error:
            raise ValueError(f"{field} must be an array of numbers with last dimension {last_dim}, got {type(value).__name__}: {error}") from None
    if value.ndim == 0 or value.shape[-1] != last_dim:
        raise ValueError(f"{field} must have shape (..., {last_dim}), got {tuple(value.shape)}")
    if not torch.is_floating_point(value):
        value = value.float()
    return value.to(device=device, dtype=torch.float32)
