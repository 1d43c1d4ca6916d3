"""Checkers for lesson 00 ("How to use this course")."""
from __future__ import annotations

import torch

from peach_lite.checks._core import CheckResult, compare_function
from peach_lite.returns import discounted_return

__all__ = ["check_discounted_return"]


def check_discounted_return(student_fn) -> CheckResult:
    """Check ``student_fn(rewards, gamma)`` against :func:`peach_lite.returns.discounted_return`.

    Taught in notebooks/00_how_to_use.py (section "Your first exercise").
    """
    generator = torch.Generator().manual_seed(0)
    cases = [
        ((torch.ones(5), 1.0), {}),
        ((torch.ones(5), 0.0), {}),
        ((torch.tensor([0.0, 0.0, 1.0]), 0.9), {}),
        ((torch.randn(4, 20, generator=generator), 0.99), {}),
        ((torch.randn(2, 3, 7, generator=generator), 0.5), {}),
    ]
    return compare_function("discounted_return", student_fn, discounted_return, cases)
