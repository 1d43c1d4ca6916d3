"""The machinery behind every exercise checker: run the student's function and the package's
reference on the same inputs, and say clearly which case differed and how.

Taught in notebooks/00_how_to_use.py (section "Your first exercise").
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

__all__ = ["compare_function", "CheckResult"]


class CheckResult:
    """Truthy when the check passed; prints as the message."""

    def __init__(self, name: str, passed: bool, message: str):
        self.name, self.passed, self.message = name, passed, message

    def __bool__(self) -> bool:
        return self.passed

    def __repr__(self) -> str:
        return self.message

    def _ipython_display_(self) -> None:
        """The checker already printed its verdict; show nothing more in a notebook."""


def compare_function(
    name: str,
    student_fn: Callable[..., Any],
    reference_fn: Callable[..., Any],
    cases: Sequence[tuple[tuple, dict]],
    *,
    atol: float = 1e-6,
    rtol: float = 1e-5,
) -> CheckResult:
    """Compare ``student_fn`` with ``reference_fn`` on each ``(args, kwargs)`` case.

    Tensors/arrays are compared with ``allclose`` (shape first), tuples element by element.
    Prints ``PASS`` or ``FAIL`` with the first differing case and returns a :class:`CheckResult`.
    """
    for index, (args, kwargs) in enumerate(cases):
        expected = reference_fn(*_clone(args), **_clone(kwargs))
        try:
            got = student_fn(*_clone(args), **_clone(kwargs))
        except NotImplementedError:
            return _report(name, False, "not implemented yet (the function raised NotImplementedError)")
        except Exception as error:  # the student's code crashed: say where
            return _report(name, False, f"case {index + 1} raised {type(error).__name__}: {error}\n  inputs: {_describe(args, kwargs)}")
        problem = _difference(got, expected, atol, rtol)
        if problem:
            return _report(name, False, f"case {index + 1} differs: {problem}\n  inputs: {_describe(args, kwargs)}")
    return _report(name, True, f"all {len(cases)} cases match the reference")


def _report(name: str, passed: bool, detail: str) -> CheckResult:
    message = f"{'PASS' if passed else 'FAIL'} {name}: {detail}"
    print(("✅ " if passed else "❌ ") + message)
    return CheckResult(name, passed, message)


def _difference(got: Any, expected: Any, atol: float, rtol: float, where: str = "output") -> str | None:
    if isinstance(expected, (tuple, list)):
        if not isinstance(got, (tuple, list)) or len(got) != len(expected):
            return f"{where} should be a sequence of {len(expected)} items, got {type(got).__name__}"
        for i, (g, e) in enumerate(zip(got, expected)):
            problem = _difference(g, e, atol, rtol, f"{where}[{i}]")
            if problem:
                return problem
        return None
    if isinstance(expected, (torch.Tensor, np.ndarray, float, int, np.floating)):
        e = torch.as_tensor(np.asarray(expected.detach() if isinstance(expected, torch.Tensor) else expected), dtype=torch.float64)
        try:
            g = torch.as_tensor(np.asarray(got.detach() if isinstance(got, torch.Tensor) else got), dtype=torch.float64)
        except (TypeError, ValueError, RuntimeError):
            return f"{where} should be numeric like the reference, got {type(got).__name__}"
        if g.shape != e.shape:
            return f"{where} has shape {tuple(g.shape)}, expected {tuple(e.shape)}"
        if not torch.allclose(g, e, atol=atol, rtol=rtol, equal_nan=True):
            worst = (g - e).abs().flatten().argmax().item()
            return (f"{where} value differs: got {g.flatten()[worst].item():.6g}, expected {e.flatten()[worst].item():.6g} "
                    f"at flat index {worst} (max abs error {(g - e).abs().max().item():.3g})")
        return None
    return None if got == expected else f"{where} is {got!r}, expected {expected!r}"


def _clone(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.clone()
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, tuple):
        return tuple(_clone(v) for v in value)
    if isinstance(value, list):
        return [_clone(v) for v in value]
    if isinstance(value, dict):
        return {k: _clone(v) for k, v in value.items()}
    return value


def _describe(args: tuple, kwargs: dict) -> str:
    def one(v: Any) -> str:
        if isinstance(v, (torch.Tensor, np.ndarray)):
            return f"array{tuple(v.shape)}"
        return repr(v)

    parts = [one(a) for a in args] + [f"{k}={one(v)}" for k, v in kwargs.items()]
    return "(" + ", ".join(parts) + ")"
