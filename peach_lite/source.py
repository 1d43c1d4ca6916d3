"""Show the package's real code inside a lesson instead of copying it into the notebook.

Lessons show whole public functions, classes and methods: never a line slice (it drifts silently when
the code changes) and never a private name (an implementation detail a student should not rely on).

Taught in notebooks/00_how_to_use.py (section "Reading the real code").
"""
from __future__ import annotations

import inspect
from typing import Any

__all__ = ["show_source"]


def show_source(obj: Any):
    """Display the whole source of a public function, class or method with syntax highlighting.

    Args:
        obj: a function, class or method of the package (anything ``inspect.getsource`` accepts)
            whose name and qualified name have no private (``_``-prefixed) part.
    Returns:
        An ``IPython.display.Code`` object (a notebook shows it; ``str(...)`` gives the text).
    Raises:
        ValueError: ``obj`` has no source, or is private (e.g. ``PEARL._forward``).
    """
    from IPython.display import Code

    qualname = getattr(obj, "__qualname__", getattr(obj, "__name__", ""))
    private = [part for part in str(qualname).split(".") if part.startswith("_") and not part.startswith("__")]
    if private:
        raise ValueError(f"obj must be public (lessons show public functions whole), got the private name {qualname!r}")
    try:
        source = inspect.getsource(obj)
    except (TypeError, OSError) as error:
        raise ValueError(f"obj must be a python function, class or module with source, got {obj!r}: {error}") from None
    return Code(source, language="python")
