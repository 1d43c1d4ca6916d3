"""Versions of the stack, recorded with every result and checkpoint."""
from __future__ import annotations

import hashlib
import platform
from importlib import metadata
from pathlib import Path

__all__ = ["stack_versions", "source_fingerprint"]

_PACKAGES = ("peach_lite", "torch", "gymnasium", "mujoco", "numpy")
PACKAGE_DIR = Path(__file__).resolve().parent


def source_fingerprint(root: Path | str = PACKAGE_DIR) -> str:
    """The first 12 hex digits of a SHA-256 over every ``*.py`` file under ``root`` (relative path and bytes, in sorted
    order): two results with the same fingerprint were made by the same package source, whatever its version says."""
    root = Path(root)
    files = sorted(root.rglob("*.py")) if root.is_dir() else []
    if not files:
        raise ValueError(f"root must be a directory holding *.py files; got {str(root)!r}")
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


def stack_versions() -> dict[str, str]:
    """``{"python": "3.11.7", "torch": "2.13.0+cpu", ..., "peach_lite_source": "3f2a..."}`` for what changes results."""
    versions = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    versions["peach_lite_source"] = source_fingerprint()
    return versions
