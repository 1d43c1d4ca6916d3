"""Benchmark results: every ``benchmarks/<name>.py`` writes ``data/results/<name>.json``.

Each file holds a flat ``"headline"`` of key figures plus the command, seeds, versions and date.
Lessons and the README read figures from here instead of pasting numbers.

Taught in notebooks/00_how_to_use.py (section "Where the numbers come from").
"""
from __future__ import annotations

import datetime as _dt
import json
import math
import os
import shlex
import sys
from pathlib import Path
from typing import Any

from peach_lite.paths import results_dir
from peach_lite.versions import stack_versions

__all__ = ["write_results", "read_results", "read_headline"]


def write_results(
    name: str,
    headline: dict[str, float],
    *,
    seeds: list[int],
    details: dict[str, Any] | None = None,
    command: str | None = None,
) -> Path:
    """Write ``data/results/<name>.json`` atomically and print the headline as the last line.

    Args:
        name: the benchmark script's name, e.g. ``"env_speed"``.
        headline: flat ``{figure name: number}``; nested values or non-finite numbers are a ValueError.
        seeds: the seeds the figures were measured over.
        details: anything else worth keeping (per-seed numbers, configs).
        command: how to rerun it; defaults to this process's command line.
    """
    if not name or "/" in name:
        raise ValueError(f"name must be a plain file stem like 'env_speed', got {name!r}")
    for key, value in headline.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"headline[{key!r}] must be a finite number, got {value!r}")
    record = {
        "name": name,
        "headline": {k: float(v) for k, v in headline.items()},
        "command": command or _this_command(),
        "seeds": [int(s) for s in seeds],
        "versions": stack_versions(),
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "details": details or {},
    }
    path = results_dir() / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(record, indent=2, sort_keys=False) + "\n")
    os.replace(tmp, path)
    print(f"wrote {path}")
    print("headline: " + json.dumps(record["headline"]))
    return path


def read_results(name: str) -> dict[str, Any]:
    """Load ``data/results/<name>.json``; a missing file is a FileNotFoundError that says how to make it."""
    path = results_dir() / f"{name}.json"
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist yet: run `python benchmarks/{name}.py` to produce it")
    record = json.loads(path.read_text())
    if not isinstance(record.get("headline"), dict):
        raise ValueError(f"{path} has no 'headline' object")
    return record


def read_headline(name: str) -> dict[str, float]:
    """Just the headline figures of ``data/results/<name>.json``."""
    return read_results(name)["headline"]


def _this_command() -> str:
    argv = list(sys.argv)
    if argv and argv[0].endswith(".py"):
        try:
            argv[0] = str(Path(argv[0]).resolve().relative_to(Path.cwd()))
        except ValueError:
            pass
        return "python " + shlex.join(argv)
    return shlex.join([Path(sys.executable).name, *argv])
