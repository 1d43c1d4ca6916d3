"""Checkers for lesson 01 ("A gallery of task distributions")."""
from __future__ import annotations

import numpy as np

from peach_lite.checks._core import CheckResult, compare_function

__all__ = ["check_sparse_reward"]


def check_sparse_reward(student_fn) -> CheckResult:
    """Check ``student_fn(state, goal) -> sparse reward`` against the point robot's own reward.

    ``state`` and ``goal`` are (n, 2) arrays; the answer is (n,): ``1 - d`` inside radius 0.2, else 0.

    Taught in notebooks/01_task_gallery.py (section "Exercise: the sparse reward").
    """
    from peach_lite.envs.point_robot import point_robot_rewards

    rng = np.random.default_rng(0)
    cases = [((rng.uniform(-1, 1, (n, 2)), rng.uniform(-1, 1, (n, 2))), {}) for n in (1, 50, 500)]
    cases.append(((np.array([[0.0, 0.9]]), np.array([[0.0, 1.0]])), {}))  # inside the radius
    cases.append(((np.array([[0.0, 0.8]]), np.array([[0.0, 1.0]])), {}))  # exactly on the boundary
    return compare_function("sparse_reward", student_fn, lambda s, g: point_robot_rewards(s, g)[1], cases)
