"""Benchmark results: every ``benchmarks/<name>.py`` writes ``data/results/<name>.json``.

Each file holds a flat ``"headline"`` of key figures plus the command, seeds, versions and date.
Lessons and the README read figures from here instead of pasting numbers:
``python -m peach_lite.results --update-readme`` regenerates the README's results table.

Taught in notebooks/00_how_to_use.py (section "Where the numbers come from").
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import math
import os
import shlex
import sys
from pathlib import Path
from typing import Any

from peach_lite import paths
from peach_lite.paths import REPO_ROOT, results_dir
from peach_lite.versions import stack_versions

__all__ = ["write_results", "read_results", "read_headline", "readme_table", "update_readme", "BEGIN", "END"]

BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"
"""The README markers between which ``update_readme`` writes ``readme_table()``."""


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
        "command": command or this_command(),
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


def readme_table(results_dir: str | Path | None = None) -> str:
    """A markdown table of every ``data/results/*.json``: headline figures, seeds, day and command.

    Taught in notebooks/00_how_to_use.py (section "Where the numbers come from").
    """
    files = sorted(Path(results_dir or paths.results_dir()).glob("*.json"))
    if not files:
        return "_No results yet: run `make bench`._"
    rows = ["| benchmark | headline | seeds | date | command |", "|---|---|---|---|---|"]
    for path in files:
        record = json.loads(path.read_text())
        figures = "<br>".join(f"{k} = {_compact(v)}" for k, v in record["headline"].items())
        seeds = ", ".join(str(s) for s in record.get("seeds", []))
        command = record.get("command", "").replace("|", "\\|")
        rows.append(f"| [{path.stem}](benchmarks/{path.stem}.py) | {figures} | {seeds} "
                    f"| {record.get('date', '')[:10]} | `{command}` |")
    return "\n".join(rows)


def update_readme(readme: str | Path | None = None, results_dir: str | Path | None = None) -> Path:
    """Rewrite the block between ``BEGIN`` and ``END`` in README.md with ``readme_table()``, atomically."""
    path = Path(readme or REPO_ROOT / "README.md")
    text = path.read_text()
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        raise ValueError(f"{path} needs the markers {BEGIN} and then {END} on their own lines "
                         "where the results table goes")
    text = text[: start + len(BEGIN)] + "\n" + readme_table(results_dir) + "\n" + text[end:]
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
    return path


def _compact(value: float) -> str:
    """3 significant digits, whole numbers as they are: ``0.99961`` -> ``1.00``, ``1707.2`` -> ``1,710``, ``3.0`` -> ``3``."""
    if value.is_integer():
        return f"{int(value):,}"
    rounded = float(f"{value:.3g}")
    return f"{rounded:,.0f}" if abs(rounded) >= 1000 else f"{value:#.3g}".rstrip(".")


def this_command() -> str:
    """This process's command line as a user would retype it: ``python benchmarks/x.py --seeds 0 1``."""
    argv = list(sys.argv)
    if argv and argv[0].endswith(".py"):
        try:
            argv[0] = str(Path(argv[0]).resolve().relative_to(Path.cwd()))
        except ValueError:
            pass
        return "python " + shlex.join(argv)
    return shlex.join([Path(sys.executable).name, *argv])


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m peach_lite.results", description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--readme", action="store_true", help="print the README results table")
    group.add_argument("--update-readme", action="store_true", help="rewrite the table between the README markers")
    args = parser.parse_args()
    if args.readme:
        print(readme_table())
    else:
        try:
            print(f"updated {update_readme()}")
        except ValueError as error:
            sys.exit(f"error: {error}")
