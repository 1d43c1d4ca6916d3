"""Checkers for lesson 04 ("Off-policy actor-critic: SAC")."""
from __future__ import annotations

import torch

from peach_lite.checks._core import CheckResult, compare_function
from peach_lite.nets import tanh_gaussian_log_prob
from peach_lite.sac import soft_q_target

__all__ = ["check_soft_q_target", "check_tanh_log_prob"]


def check_soft_q_target(student_fn) -> CheckResult:
    """Check ``student_fn(reward, done, next_q, next_log_prob, alpha, gamma)`` against
    :func:`peach_lite.sac.soft_q_target` (``next_q`` has shape (num_critics, *batch)).

    Taught in notebooks/04_sac.py (section "The SAC objective").
    """
    g = torch.Generator().manual_seed(0)
    cases = []
    for num_critics, batch, alpha, gamma in [(2, (5,), 0.2, 0.99), (2, (4,), 0.0, 0.9), (3, (6,), 1.0, 0.5),
                                             (2, (3, 4), 0.1, 0.99), (2, (5,), 0.5, 0.0)]:
        reward = torch.randn(*batch, generator=g)
        done = (torch.rand(*batch, generator=g) < 0.4).float()
        next_q = torch.randn(num_critics, *batch, generator=g) * 3
        next_log_prob = torch.randn(*batch, generator=g)
        cases.append(((reward, done, next_q, next_log_prob, alpha, gamma), {}))
    return compare_function("soft_q_target", student_fn, soft_q_target, cases, atol=1e-5)


def check_tanh_log_prob(student_fn) -> CheckResult:
    """Check ``student_fn(u, mean, log_std)``, the log-density of a = tanh(u) with u ~ N(mean, exp(log_std)^2)
    summed over the last dimension, against :func:`peach_lite.nets.tanh_gaussian_log_prob`.

    Taught in notebooks/04_sac.py (section "The tanh-Gaussian policy").
    """
    g = torch.Generator().manual_seed(1)
    cases = []
    for shape in [(1,), (4, 1), (8, 2), (3, 5, 6)]:
        mean = torch.randn(*shape, generator=g)
        log_std = torch.rand(*shape, generator=g) * 2 - 1.5
        u = mean + log_std.exp() * torch.randn(*shape, generator=g)
        cases.append(((u, mean, log_std), {}))
    cases.append(((torch.tensor([[4.0, -3.0]]), torch.zeros(1, 2), torch.zeros(1, 2)), {}))  # far in the tails
    return compare_function("tanh_gaussian_log_prob", student_fn, tanh_gaussian_log_prob, cases, atol=1e-4)
