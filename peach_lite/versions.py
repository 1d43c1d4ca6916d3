"""Versions of the stack, recorded with every result and checkpoint."""
from __future__ import annotations

import platform
from importlib import metadata

__all__ = ["stack_versions"]

_PACKAGES = ("peach_lite", "torch", "gymnasium", "mujoco", "numpy")


def stack_versions() -> dict[str, str]:
    """``{"python": "3.11.7", "torch": "2.13.0+cpu", ...}`` for the packages that change results."""
    versions = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions
