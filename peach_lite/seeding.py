"""The one seeding helper: python, numpy, torch (and gymnasium through ``env.reset(seed=...)``).

Taught in notebooks/00_how_to_use.py (section "Same seed, same numbers").
"""
from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch

from peach_lite.validation import check_range

__all__ = ["seed_everything", "preserved_rng"]


def seed_everything(seed: int, env=None) -> np.random.Generator:
    """Seed python's ``random``, numpy's global RNG and torch, and return a fresh numpy Generator.

    Args:
        seed: a non-negative integer < 2**32.
        env: optional gymnasium env (or vector env); it is reset with this seed and its
            action space seeded, so random actions repeat too.
    Returns:
        ``np.random.default_rng(seed)``, the generator code should prefer over global state.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"seed must be an integer in [0, 2**32 - 1], got {seed!r}")
    check_range("seed", seed, 0, 2**32 - 1)
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if env is not None:
        env.reset(seed=seed)
        env.action_space.seed(seed)
    return np.random.default_rng(seed)


@contextmanager
def preserved_rng() -> Iterator[None]:
    """Run a block without touching the global RNGs: python's ``random``, numpy's and torch's (CPU) states are
    restored when it ends, so a measurement taken mid-training (e.g. a diagnostic at a snapshot) leaves the rest of
    the run exactly as it would have been."""
    python_state, numpy_state = random.getstate(), np.random.get_state()
    with torch.random.fork_rng(devices=[]):
        try:
            yield
        finally:
            random.setstate(python_state)
            np.random.set_state(numpy_state)
