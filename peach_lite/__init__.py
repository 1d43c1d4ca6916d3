"""peach-lite: a hands-on course in meta-RL and hierarchical RL, from belief states to PEACH.

Importing the package picks MuJoCo's headless renderer (see ``peach_lite.gl``) before MuJoCo loads.

Taught in notebooks/00_how_to_use.py.
"""
from __future__ import annotations

from peach_lite.gl import choose_gl_backend as _choose_gl_backend

_choose_gl_backend()

__version__ = "0.1.0"

from peach_lite import envs  # noqa: E402  (registers the peach_lite/... gymnasium ids; cheap)
from peach_lite.source import show_source  # noqa: E402

__all__ = ["__version__", "envs", "show_source"]
