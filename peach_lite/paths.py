"""Where the project keeps its data: ``data/`` at the repository root (override with ``PEACH_DATA_DIR``)."""
from __future__ import annotations

import os
from pathlib import Path

__all__ = ["REPO_ROOT", "data_dir", "results_dir", "checkpoints_dir"]

REPO_ROOT = Path(__file__).resolve().parents[1]
"""The repository root (``peach_lite`` is installed in editable mode)."""


def data_dir() -> Path:
    """``data/`` at the repository root, or ``$PEACH_DATA_DIR`` when set."""
    return Path(os.environ.get("PEACH_DATA_DIR", REPO_ROOT / "data"))


def results_dir() -> Path:
    """``data/results``: one JSON file per benchmark script."""
    return data_dir() / "results"


def checkpoints_dir() -> Path:
    """``data/checkpoints``: pretrained agents recorded in ``data/MANIFEST.json``."""
    return data_dir() / "checkpoints"
