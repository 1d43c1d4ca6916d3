"""The one place that picks a torch device (CUDA when present, else CPU) and sets torch's thread count.

Taught in notebooks/00_how_to_use.py (section "Which device?").
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

__all__ = ["get_device", "describe_device", "torch_threads", "set_threads"]


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


@contextlib.contextmanager
def torch_threads(num_threads: int | None) -> Iterator[None]:
    """Run a block with ``torch.set_num_threads(num_threads)`` and restore the previous count after.

    The project's one thread policy: training CLIs, benchmarks and agents that want a fixed float
    summation order (bit-identical runs) or that share the cores with other jobs pass ``1``; ``None``
    or ``0`` leaves torch's choice alone. Small networks are fastest on one thread on this CPU.
    """
    if num_threads is None or num_threads == 0:
        yield
        return
    from peach_lite.validation import check_int

    check_int("num_threads", num_threads, 1, 1024)
    before = torch.get_num_threads()
    torch.set_num_threads(int(num_threads))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def set_threads(num_threads: int | None) -> None:
    """``torch.set_num_threads`` for a whole process (CLIs, benchmark workers); ``None``/``0``: torch's choice."""
    if num_threads is None or num_threads == 0:
        return
    from peach_lite.validation import check_int

    check_int("num_threads", num_threads, 1, 1024)
    torch.set_num_threads(int(num_threads))
