"""Fast mode: the one switch that shrinks every training budget for tests.

``make test`` sets ``PEACH_FAST=1``; lessons then ask the budget for sizes instead of testing the
environment themselves::

    budget = Budget.from_env()
    num_updates = budget.pick(full=20_000, fast=200)

Taught in notebooks/00_how_to_use.py (section "Fast mode").
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TypeVar

__all__ = ["Budget", "FAST_ENV_VAR"]

FAST_ENV_VAR = "PEACH_FAST"
"""Environment variable that turns fast mode on (``1``) or off (``0`` or unset)."""

T = TypeVar("T")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}


@dataclass(frozen=True)
class Budget:
    """How much compute a lesson or script may spend.

    Taught in notebooks/00_how_to_use.py (section "Fast mode").
    """

    fast: bool = False
    """True in tests (``PEACH_FAST=1``): every loop uses its ``fast`` size."""

    @classmethod
    def from_env(cls) -> "Budget":
        """Read ``PEACH_FAST`` from the environment; a value other than 0/1/true/false is a ValueError."""
        raw = os.environ.get(FAST_ENV_VAR, "").strip().lower()
        if raw in _TRUE:
            return cls(fast=True)
        if raw in _FALSE:
            return cls(fast=False)
        raise ValueError(f"{FAST_ENV_VAR} must be one of 0/1/true/false, got {raw!r}")

    @property
    def mode(self) -> str:
        """``"fast"`` or ``"full"``."""
        return "fast" if self.fast else "full"

    def pick(self, *, full: T, fast: T) -> T:
        """Return ``fast`` in fast mode, else ``full``."""
        return fast if self.fast else full

    def __str__(self) -> str:
        how = "small budgets for tests" if self.fast else "full budgets"
        return f"peach_lite budget: {self.mode} mode ({how}; set {FAST_ENV_VAR}=1 for fast, 0 for full)"
