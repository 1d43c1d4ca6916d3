"""Checkers for lesson 11 ("PEACH")."""
from __future__ import annotations

import numpy as np

from peach_lite.checks._core import CheckResult, compare_function
from peach_lite.peach import top_context_row

__all__ = ["check_detach_map", "check_top_context_row"]


def check_detach_map(student_map: dict[str, set[str]], measured: dict[str, set[str]]) -> CheckResult:
    """Check a student's ``{loss: {parts its gradient reaches}}`` against the map measured on the real agent by
    :func:`peach_lite.peach_diagnostics.gradient_routing` (losses ``critic_loss``, ``kl``, ``actor_loss``; parts ``encoder``,
    ``top_actor``, ``top_critic``, ``lower_levels``).

    Taught in notebooks/11_peach.py (section "Algorithm 1, line by line").
    """
    wrong = [f"{loss}: you said {sorted(student_map.get(loss, set()))}, the agent's gradients reach {sorted(parts)}"
             for loss, parts in measured.items() if set(student_map.get(loss, set())) != set(parts)]
    extra = sorted(set(student_map) - set(measured))
    if extra:
        wrong.append(f"unknown losses {extra}; the losses are {sorted(measured)}")
    return CheckResult("detach_map", not wrong, "detach map: correct" if not wrong else "detach map differs:\n  " + "\n  ".join(wrong))


def check_top_context_row(student_fn) -> CheckResult:
    """Check ``student_fn(obs, subgoal, reward, next_obs) -> (context_dim,)`` against
    :func:`peach_lite.peach.top_context_row` ([s, hindsight subgoal, reward, s']).

    Taught in notebooks/11_peach.py (section "What the encoder reads").
    """
    rng = np.random.default_rng(0)
    cases = []
    for reward in (-1.0, 0.0, -0.7):
        cases.append(((rng.normal(size=4).astype(np.float32), rng.normal(size=2).astype(np.float32), reward,
                       rng.normal(size=4).astype(np.float32)), {}))
    return compare_function("top_context_row", student_fn, top_context_row, cases, atol=1e-6)
