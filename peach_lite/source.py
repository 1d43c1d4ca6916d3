"""Show the package's real code inside a lesson instead of copying it into the notebook.

Taught in notebooks/00_how_to_use.py (section "Reading the real code").
"""
from __future__ import annotations

import inspect
from typing import Any

__all__ = ["show_source"]


def show_source(obj: Any, *, lines: tuple[int, int] | None = None):
    """Display the source of a function, class or method with syntax highlighting.

    Args:
        obj: anything ``inspect.getsource`` accepts.
        lines: optional (first, last) line numbers within the source, 1-based and inclusive.
    Returns:
        An ``IPython.display.Code`` object (a notebook shows it; ``str(...)`` gives the text).
    """
    from IPython.display import Code

    try:
        source = inspect.getsource(obj)
    except (TypeError, OSError) as error:
        raise ValueError(f"obj must be a python function, class or module with source, got {obj!r}: {error}") from None
    if lines is not None:
        first, last = lines
        all_lines = source.splitlines()
        if not 1 <= first <= last <= len(all_lines):
            raise ValueError(f"lines must satisfy 1 <= first <= last <= {len(all_lines)}, got {lines}")
        source = "\n".join(all_lines[first - 1 : last])
    return Code(source, language="python")
