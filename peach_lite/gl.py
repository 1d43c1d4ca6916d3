"""Choose MuJoCo's headless OpenGL backend before MuJoCo is imported.

``MUJOCO_GL`` must be set before ``import mujoco``. On Linux without a display we pick ``egl``
(works on CPU through Mesa, and on NVIDIA GPUs), else ``osmesa``. An explicit ``MUJOCO_GL`` wins.
"""
from __future__ import annotations

import ctypes.util
import os
import sys

__all__ = ["choose_gl_backend", "GL_HELP"]

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
