"""Checkers for lesson 10 ("MLSH")."""
from __future__ import annotations

import torch

from peach_lite.checks._core import CheckResult, compare_function
from peach_lite.mlsh import macro_advantages, macro_rewards

__all__ = ["check_macro_rewards", "check_macro_advantages"]


def _cases(seed: int) -> list[tuple[tuple, dict]]:
    g = torch.Generator().manual_seed(seed)
    cases = []
    for n, horizon, macro in [(3, 50, 10), (4, 23, 5), (2, 7, 7), (5, 12, 1), (3, 9, 20)]:
        rewards = torch.rand(n, horizon, generator=g)
        lengths = torch.randint(1, horizon + 1, (n,), generator=g)
        lengths[0] = horizon
        mask = torch.arange(horizon)[None] < lengths[:, None]
        cases.append(((rewards, mask, macro), {}))
    return cases


def check_macro_rewards(student_fn) -> CheckResult:
    """Check ``student_fn(rewards, mask, macro_duration) -> (macro_reward, macro_mask)``: the sum of the N rewards
    of each macro step (padded steps count 0), ceil(T / N) macro steps, a macro step real when its first step is;
    against :func:`peach_lite.mlsh.macro_rewards`.

    Taught in notebooks/10_mlsh.py (section "Exercise: the master's reward and advantage").
    """
    return compare_function("macro_rewards", student_fn, macro_rewards, _cases(0), atol=1e-5)


def check_macro_advantages(student_fn) -> CheckResult:
    """Check ``student_fn(rewards, mask, macro_values, macro_duration, gamma, gae_lambda) -> (advantages, returns)``:
    GAE over the macro steps, against :func:`peach_lite.mlsh.macro_advantages`.

    Taught in notebooks/10_mlsh.py (section "Exercise: the master's reward and advantage").
    """
    g = torch.Generator().manual_seed(1)
    cases = []
    for (rewards, mask, macro), _ in _cases(2):
        num_macro = -(-rewards.shape[1] // macro)
        values = torch.rand(rewards.shape[0], num_macro, generator=g) * 5
        for gamma, lam in [(0.99, 0.98), (0.9, 1.0), (1.0, 0.0)]:
            cases.append(((rewards, mask, values, macro, gamma, lam), {}))
    return compare_function("macro_advantages", student_fn, macro_advantages, cases, atol=1e-4)
