"""The one place that picks a torch device: CUDA when present, else CPU.

Taught in notebooks/00_how_to_use.py (section "Which device?").
"""
from __future__ import annotations

import torch

__all__ = ["get_device", "describe_device"]


def get_device(prefer: str | None = None) -> torch.device:
    """Return the device to train on.

    Args:
        prefer: ``None`` (CUDA if available, else CPU), ``"cpu"`` or ``"cuda"``. Asking for ``"cuda"``
            on a machine without it is a ValueError, never a silent fallback.
    """
    if prefer is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if prefer not in ("cpu", "cuda"):
        raise ValueError(f"prefer must be one of [None, 'cpu', 'cuda'], got {prefer!r}")
    if prefer == "cuda" and not torch.cuda.is_available():
        raise ValueError("prefer='cuda' but no CUDA device is available; use prefer=None or 'cpu'")
    return torch.device(prefer)


def describe_device(device: torch.device | None = None) -> str:
    """One line saying which device is used and why."""
    device = device or get_device()
    if device.type == "cuda":
        return f"GPU detected: {torch.cuda.get_device_name(device)} (torch {torch.__version__})"
    threads = torch.get_num_threads()
    return f"No GPU detected: using the CPU with {threads} threads (torch {torch.__version__}). Every lesson runs on CPU."
