"""Choose MuJoCo's headless OpenGL backend before MuJoCo is imported, and own its GL contexts.

``MUJOCO_GL`` must be set before ``import mujoco``. On Linux without a display we pick ``egl``
(works on CPU through Mesa, and on NVIDIA GPUs), else ``osmesa``. An explicit ``MUJOCO_GL`` wins.

A GL context is current in one thread at a time, and widget callbacks run in another thread than
the cells (ipykernel 7 subshells). ``on_render_thread`` runs every MuJoCo GL call of peach_lite on a
single rendering thread that owns all the contexts, so frames render the same from any thread.
"""
from __future__ import annotations

import ctypes.util
import os
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

__all__ = ["choose_gl_backend", "GL_HELP", "on_render_thread", "in_render_thread"]

T = TypeVar("T")

GL_HELP = (
    "MuJoCo could not render headless. On Debian/Ubuntu install EGL: `sudo apt-get install libegl1` "
    "(or OSMesa: `sudo apt-get install libosmesa6` and `export MUJOCO_GL=osmesa`). "
    "Run `python -m peach_lite.doctor` to check."
)


def choose_gl_backend() -> str | None:
    """Set ``MUJOCO_GL`` when unset on a headless Linux machine; return the backend in force."""
    if "MUJOCO_GL" in os.environ:
        return os.environ["MUJOCO_GL"]
    if sys.platform.startswith("linux") and not os.environ.get("DISPLAY"):
        if ctypes.util.find_library("EGL"):
            os.environ["MUJOCO_GL"] = "egl"
        elif ctypes.util.find_library("OSMesa"):
            os.environ["MUJOCO_GL"] = "osmesa"
    return os.environ.get("MUJOCO_GL")


# ------------------------------------------------------------------------------ the render thread
# An OpenGL (EGL/OSMesa) context is current in at most one thread, and mujoco.Renderer never releases
# it. ipykernel 7 runs widget callbacks in a "subshell" thread, so a context made in a cell cannot be
# made current there (EGL_BAD_ACCESS) or silently renders black. Every MuJoCo GL call in peach_lite
# therefore runs on ONE thread that owns all contexts: ``on_render_thread(fn, ...)`` runs ``fn`` there
# and returns its result (or raises its exception) in the calling thread.
_render_lock = threading.RLock()
_render_executor: ThreadPoolExecutor | None = None
_render_thread_ident: int | None = None


def _mark_render_thread() -> None:
    global _render_thread_ident
    _render_thread_ident = threading.get_ident()


def _reset_after_fork() -> None:  # a forked child has no render thread; start a new one on demand
    global _render_executor, _render_thread_ident, _render_lock
    _render_executor, _render_thread_ident, _render_lock = None, None, threading.RLock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)


def in_render_thread() -> bool:
    """True when called from the thread that owns peach_lite's MuJoCo GL contexts."""
    return _render_thread_ident is not None and threading.get_ident() == _render_thread_ident


def on_render_thread(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run ``fn(*args, **kwargs)`` on the rendering thread and return its result.

    Safe from any thread (main, a widget callback's subshell, a worker) and re-entrant: called from
    the rendering thread itself it just calls ``fn``. The caller waits, so MuJoCo data is never read
    while the caller steps it.
    """
    global _render_executor
    if in_render_thread():
        return fn(*args, **kwargs)
    with _render_lock:
        if _render_executor is None:
            _render_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="peach_lite-render",
                                                  initializer=_mark_render_thread)
        executor = _render_executor
    return executor.submit(fn, *args, **kwargs).result()
