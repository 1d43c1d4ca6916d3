"""Checkers for lesson 08 ("Meta-Q-Learning")."""
from __future__ import annotations

import torch

from peach_lite.checks._core import CheckResult, compare_function
from peach_lite.propensity import effective_sample_size, propensity_weights

__all__ = ["check_propensity_weights", "check_effective_sample_size"]


def check_propensity_weights(student_fn) -> CheckResult:
    """Check ``student_fn(logit, beta_clip, beta_min)``: beta = exp(-max(f, -beta_clip)), zero below beta_min,
    against :func:`peach_lite.mql.propensity_weights`.

    Taught in notebooks/08_mql.py (section "Propensity scores").
    """
    g = torch.Generator().manual_seed(0)
    cases = [((torch.randn(20, generator=g) * 3, clip, low), {}) for clip, low in [(1.0, 0.1), (0.5, 0.0), (3.0, 0.2)]]
    cases.append(((torch.tensor([-10.0, 0.0, 2.3, 10.0]), 1.0, 0.1), {}))
    return compare_function("propensity_weights", student_fn, propensity_weights, cases, atol=1e-6)


def check_effective_sample_size(student_fn) -> CheckResult:
    """Check ``student_fn(beta) -> float``, the normalised ESS (sum beta)^2 / (n sum beta^2), against
    :func:`peach_lite.mql.effective_sample_size`.

    Taught in notebooks/08_mql.py (section "Propensity scores").
    """
    g = torch.Generator().manual_seed(1)
    one_hot = torch.zeros(10)
    one_hot[4] = 3.0
    cases = [((torch.rand(30, generator=g),), {}), ((torch.full((7,), 0.3),), {}), ((one_hot,), {}),
             ((torch.rand(50, generator=g) ** 4,), {})]
    return compare_function("effective_sample_size", student_fn, effective_sample_size, cases, atol=1e-6)
