"""Checkers for lesson 09 ("HIRO and FeUdal Networks")."""
from __future__ import annotations

import torch

from peach_lite.checks._core import CheckResult, compare_function
from peach_lite.fun import intrinsic_reward
from peach_lite.hiro import candidate_log_likelihood

__all__ = ["check_candidate_log_likelihood", "check_intrinsic_reward"]


def check_candidate_log_likelihood(student_fn) -> CheckResult:
    """Check ``student_fn(low_obs, low_actions, low_mask, candidates, policy) -> (B, K)``: for every candidate goal,
    -1/2 sum_i mask_i ‖a_i - policy(s_i, g_i)‖^2 with g_0 the candidate and g_{i+1} = s_i + g_i - s_{i+1} on the goal
    dims; against :func:`peach_lite.hiro.candidate_log_likelihood`.

    Taught in notebooks/09_hiro_fun.py (section "The relabel explorer").
    """
    g = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    actor = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2), torch.nn.Tanh())
    policies = [lambda obs, goal: actor(torch.cat([obs, goal], -1)),  # noqa: E731
                lambda obs, goal: (goal / 0.2).clamp(-1, 1)]  # noqa: E731  (a P-controller on the goal)
    cases = []
    for batch, horizon, num in [(3, 10, 10), (5, 4, 2), (2, 1, 6), (4, 7, 100)]:
        low_obs = torch.randn(batch, horizon, 4, generator=g)
        low_actions = torch.rand(batch, horizon, 2, generator=g) * 2 - 1
        mask = torch.ones(batch, horizon)
        mask[0, horizon // 2 + 1:] = 0
        candidates = torch.rand(batch, 2, num, generator=g) * 4 - 2
        for policy in policies:
            cases.append(((low_obs, low_actions, mask, candidates, policy), {}))
    return compare_function("candidate_log_likelihood", student_fn, candidate_log_likelihood, cases, atol=1e-4)


def check_intrinsic_reward(student_fn) -> CheckResult:
    """Check ``student_fn(positions, goals, horizon) -> (n, T)``: FuN's r^I for the action at t,
    (1/c) sum_{i=1..c, t+1-i >= 0} d_cos(s_{t+1} - s_{t+1-i}, g_{t+1-i}); against :func:`peach_lite.fun.intrinsic_reward`.

    Taught in notebooks/09_hiro_fun.py (section "FeUdal Networks").
    """
    g = torch.Generator().manual_seed(1)
    cases = []
    for n, steps, c in [(2, 20, 10), (3, 7, 3), (1, 5, 10), (4, 12, 1)]:
        positions = torch.randn(n, steps + 1, 2, generator=g).cumsum(1)
        goals = torch.randn(n, steps, 2, generator=g)
        cases.append(((positions, goals, c), {}))
    return compare_function("intrinsic_reward", student_fn, intrinsic_reward, cases, atol=1e-5)
