"""Transfer, "same dynamics, a new reward" (the poster's open question): PEACH's trained lower levels, frozen, under a
fresh top level and encoder for a new goal distribution.

Measured by benchmarks/peach_transfer.py. Taught in notebooks/11_peach.py (section "Transfer: same dynamics, a new reward").
"""
from __future__ import annotations

from typing import Any

from peach_lite.peach import PEACH
from peach_lite.peach_config import PeachConfig
from peach_lite.validation import check_int

__all__ = ["transfer_agent"]


def transfer_agent(trained: PEACH, num_train_tasks: int, **overrides: Any) -> PEACH:
    """"Same dynamics, a new reward" (the poster's open question): a fresh PEACH whose lower levels are copies of
    ``trained``'s and stay frozen (``lower_updates_per_episode = 0``); its top level and encoder start anew.

    Args:
        trained: a trained PEACH (its spec: the same maze).
        num_train_tasks: train tasks of the new goal distribution.
        **overrides: :class:`PeachConfig` fields of the new agent (default: ``trained``'s, with a new seed if given).

    Taught in notebooks/11_peach.py (section "Transfer: same dynamics, a new reward").
    """
    config = PeachConfig.from_dict({**trained.config.to_dict(), "lower_updates_per_episode": 0, **overrides})
    check_int("lower_updates_per_episode", config.lower_updates_per_episode, 0, 0)  # frozen lower levels
    agent = PEACH(trained.spec, num_train_tasks, config)
    for new, old in zip(agent.hierarchy.levels[:-1], trained.hierarchy.levels[:-1]):
        new.load_state_dict(old.state_dict())
        new.requires_grad_(False)
    agent.hierarchy.actors_changed()
    return agent
