"""Checkers for the exercises of lessons 06 (HER) and 07 (HAC).

Taught in notebooks/06_her.py (section "Exercise") and notebooks/07_hac.py (section "Exercises").
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from peach_lite.checks._core import CheckResult, compare_function

__all__ = ["check_her_relabel", "check_subgoal_test_transition", "check_hindsight_action_transition"]


def check_her_relabel(student_fn: Callable[..., Any]) -> CheckResult:
    """Compare ``student_fn(obs, action, next_obs, next_achieved, goal_indices, threshold)`` with
    ``peach_lite.her.relabel_with_goals`` (Euclidean goal test: reward 0 iff ||ag - g|| <= threshold).

    It must return the 6-tuple (obs, action, reward, next_obs, goal, done) with m * n rows, copy j
    relabelled with goal ``next_achieved[goal_indices[j]]``.

    Taught in notebooks/06_her.py (section "Exercise").
    """
    from peach_lite.her import relabel_with_goals

    def reference(obs, action, next_obs, next_achieved, goal_indices, threshold):
        return tuple(relabel_with_goals(obs, action, next_obs, next_achieved, goal_indices, threshold, norm="l2"))

    rng = np.random.default_rng(606)
    cases = []
    for n, indices, threshold in [(4, [0, 2, 3], 0.3), (1, [0], 0.2), (6, [5, 5, 5], 0.5), (10, [1, 7, 9], 0.4), (3, [2], 1e-3)]:
        obs = rng.normal(size=(n, 4)).astype(np.float32)
        cases.append(((obs, rng.uniform(-1, 1, size=(n, 2)).astype(np.float32), rng.normal(size=(n, 4)).astype(np.float32),
                       np.cumsum(rng.normal(scale=0.3, size=(n, 2)), axis=0).astype(np.float32), np.array(indices), threshold), {}))
    return compare_function("her_relabel", student_fn, reference, cases)


def check_subgoal_test_transition(student_fn: Callable[..., Any]) -> CheckResult:
    """Compare ``student_fn(obs, proposed, next_obs, goal, *, tested, lower_missed, subgoal_horizon)`` with
    ``peach_lite.goal_levels.subgoal_test_transition``: the 6-tuple (obs, proposed, -H, next_obs, goal, 1.0)
    exactly when the subgoal was tested and missed, else None.

    Taught in notebooks/07_hac.py (section "Exercises").
    """
    from peach_lite.goal_levels import subgoal_test_transition

    def reference(*args, **kwargs):
        out = subgoal_test_transition(*args, **kwargs)
        return None if out is None else tuple(out)

    rng = np.random.default_rng(707)
    cases = []
    for tested, missed, horizon in [(True, True, 10), (True, False, 10), (False, True, 15), (False, False, 6), (True, True, 6)]:
        s, s2 = rng.normal(size=4).astype(np.float32), rng.normal(size=4).astype(np.float32)
        cases.append(((s, rng.uniform(-4, 4, size=2).astype(np.float32), s2, rng.uniform(-4, 4, size=2).astype(np.float32)),
                      {"tested": tested, "lower_missed": missed, "subgoal_horizon": horizon}))
    return compare_function("subgoal_test_transition", student_fn, reference, cases)


def check_hindsight_action_transition(student_fn: Callable[..., Any]) -> CheckResult:
    """Compare ``student_fn(obs, proposed, next_obs, next_achieved, goal, *, lower_reached, threshold)`` with
    ``peach_lite.goal_levels.hindsight_action_transition`` (Euclidean goal test, the maze's): the 6-tuple
    (obs, hindsight action, reward, next_obs, goal, done).

    Taught in notebooks/07_hac.py (section "Exercises").
    """
    from peach_lite.goal_levels import hindsight_action_transition

    def reference(*args, **kwargs):
        return tuple(hindsight_action_transition(*args, **kwargs, norm="l2"))

    rng = np.random.default_rng(708)
    cases = []
    for reached, near in [(True, True), (False, True), (True, False), (False, False), (False, True)]:
        s, s2 = rng.normal(size=4).astype(np.float32), rng.normal(size=4).astype(np.float32)
        achieved = rng.uniform(-3, 3, size=2).astype(np.float32)
        goal = achieved + (rng.uniform(-0.2, 0.2, size=2) if near else rng.uniform(1, 2, size=2)).astype(np.float32)
        proposed = achieved + (rng.uniform(-0.2, 0.2, size=2) if reached else rng.uniform(1, 2, size=2)).astype(np.float32)
        cases.append(((s, proposed, s2, achieved, goal), {"lower_reached": reached, "threshold": 0.4}))
    return compare_function("hindsight_action_transition", student_fn, reference, cases)
