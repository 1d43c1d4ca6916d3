"""Returns and bootstrapped targets shared by every algorithm.

Taught in notebooks/00_how_to_use.py (section "Your first exercise").
"""
from __future__ import annotations

import torch

from peach_lite.validation import check_range

__all__ = ["discounted_return", "reward_to_go"]


def discounted_return(rewards: torch.Tensor, gamma: float) -> torch.Tensor:
    """Discounted return G = sum_t gamma^t r_t of each episode.

    Args:
        rewards: (..., T) rewards of episodes of length T.
        gamma: discount in [0, 1].
    Returns:
        (...,) one return per episode.
    """
    check_range("gamma", gamma, 0.0, 1.0)
    steps = torch.arange(rewards.shape[-1], dtype=rewards.dtype, device=rewards.device)
    return (rewards * gamma**steps).sum(-1)


def reward_to_go(rewards: torch.Tensor, gamma: float) -> torch.Tensor:
    """Discounted reward-to-go G_t = sum_{k>=t} gamma^(k-t) r_k at every step.

    Args:
        rewards: (..., T) rewards.
        gamma: discount in [0, 1].
    Returns:
        (..., T) returns from each step on.
    """
    check_range("gamma", gamma, 0.0, 1.0)
    out = torch.empty_like(rewards)
    running = torch.zeros_like(rewards[..., 0])
    for t in range(rewards.shape[-1] - 1, -1, -1):
        running = rewards[..., t] + gamma * running
        out[..., t] = running
    return out
