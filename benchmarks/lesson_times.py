"""How long each lesson takes in full mode: every notebook run top to bottom with fast mode off, as a "Run All".

For each lesson ``notebooks/NN_*.ipynb`` we run ``jupyter nbconvert --to notebook --execute`` from this venv,
with ``PEACH_FAST`` unset (so every ``budget.pick`` takes its ``full=`` value and every toggle its full-mode
default) and one torch/BLAS thread (``--threads``), writing the executed copy to a temporary folder, never into
``notebooks/``. Per lesson we record the wall time and the CPU time (user + sys of nbconvert and its kernel,
from ``getrusage(RUSAGE_CHILDREN)``, what ``/usr/bin/time`` reports), and the 1-minute load average before and
after: on a shared machine the wall time depends on the other jobs, the CPU time much less.

Lessons run one after another, not through ``peach_lite.sweep`` like the other benchmarks: lessons run side
by side would share the CPUs and distort each other's times. Running some of them (``--lessons 04 07``)
replaces those lessons' entries in ``data/results/lesson_times.json`` and keeps the others' (each entry has its
own date and load), so the file always holds the latest measurement of every lesson. A lesson whose notebook fails is reported, left out of the
headline, and makes the script exit non-zero.

Headline: ``lesson_NN_wall_s``, the full-mode wall time of lesson NN in seconds. ``details["lessons"]["NN"]``:
``wall_s``, ``cpu_s`` (= ``user_s`` + ``sys_s``), ``load_before``/``load_after``, ``date``, ``notebook``, and
``slowest_cells`` (wall seconds of the five slowest code cells, from nbclient's timestamps).
The README's lesson table (column "full mode") quotes these numbers: ``--readme`` prints its cells,
``--update-readme`` writes them into the table (a trailing note in parentheses is kept).

    python benchmarks/lesson_times.py                          # all lessons, ~18 min on a busy 2-core machine
    python benchmarks/lesson_times.py --lessons 04 07          # just these, merged into the file
    python benchmarks/lesson_times.py --lessons 07 --keep-executed /tmp/run   # also keep the executed notebook
    python benchmarks/lesson_times.py --readme                 # print the README cells from the file, run nothing
    python benchmarks/lesson_times.py --update-readme          # write them into the README's lesson table
    PEACH_FAST=1 python benchmarks/lesson_times.py --lessons 00 --out /tmp/smoke   # fast mode: writes only with --out

Quoted in README.md (section "Lessons", column "full mode").
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from peach_lite.budget import Budget
from peach_lite.paths import REPO_ROOT, results_dir
from peach_lite.results import bars_panel, figure_spec, write_results

NAME = "lesson_times"
NOTEBOOKS = REPO_ROOT / "notebooks"
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
"""Set to ``--threads`` in the kernel's environment (torch reads OMP_NUM_THREADS at import)."""
CELL_TIMEOUT_S = 3600
"""nbconvert's per-cell timeout: generous, a full-mode training cell can take many minutes."""


def lesson_notebooks(numbers: list[str] | None = None) -> dict[str, Path]:
    """``{"04": notebooks/04_sac.ipynb, ...}`` for the given lesson numbers (all lessons when None)."""
    found = {path.name[:2]: path for path in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))}
    if numbers is None:
        return found
    missing = [n for n in numbers if n not in found]
    if missing:
        raise SystemExit(f"no lesson {missing} under {NOTEBOOKS} (have {sorted(found)})")
    return {n: found[n] for n in numbers}


def time_lesson(notebook: Path, *, fast: bool, threads: int, out_dir: Path) -> dict:
    """Execute one notebook in a fresh kernel; return its wall and CPU seconds, load and exit status."""
    env = {k: v for k, v in os.environ.items() if k != "PEACH_FAST"}
    if fast:
        env["PEACH_FAST"] = "1"
    env.update({name: str(threads) for name in THREAD_VARIABLES})
    command = [str(Path(sys.executable).with_name("jupyter")), "nbconvert", "--to", "notebook", "--execute",
               f"--ExecutePreprocessor.timeout={CELL_TIMEOUT_S}", "--log-level=WARN",
               "--output-dir", str(out_dir), "--output", notebook.stem, str(notebook)]
    load_before = os.getloadavg()[0]
    usage_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    user, system = usage.ru_utime - usage_before.ru_utime, usage.ru_stime - usage_before.ru_stime
    return {"notebook": str(notebook.relative_to(REPO_ROOT)), "wall_s": wall, "cpu_s": user + system, "user_s": user,
            "sys_s": system, "load_before": load_before, "load_after": os.getloadavg()[0], "returncode": proc.returncode,
            "error_tail": proc.stderr[-2000:] if proc.returncode else "", "mode": "fast" if fast else "full",
            "threads": threads, "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "slowest_cells": slowest_cells(out_dir / notebook.name)}


def slowest_cells(executed: Path, count: int = 5) -> list[dict]:
    """The ``count`` slowest code cells of an executed notebook (nbclient's per-cell timestamps), slowest first."""
    if not executed.exists():
        return []
    cells = []
    code_cells = [c for c in json.loads(executed.read_text())["cells"] if c["cell_type"] == "code"]
    for index, cell in enumerate(code_cells):
        stamps = cell.get("metadata", {}).get("execution", {})
        if "iopub.execute_input" in stamps and "shell.execute_reply" in stamps:
            start, end = (_dt.datetime.fromisoformat(stamps[k].replace("Z", "+00:00"))
                          for k in ("iopub.execute_input", "shell.execute_reply"))
            source = "".join(cell["source"]).strip().splitlines()
            cells.append({"code_cell": index, "wall_s": (end - start).total_seconds(), "first_line": source[0][:100] if source else ""})
    return sorted(cells, key=lambda c: -c["wall_s"])[:count]


def rounded(seconds: float) -> str:
    """README style: "~40 s" under a minute and a half, "~3 min" above."""
    if seconds < 90:
        return f"~{max(5, round(seconds / 5) * 5):.0f} s"
    return f"~{round(seconds / 60):.0f} min"


def readme_cells(lessons: dict[str, dict]) -> dict[str, str]:
    """The README lesson table's "full mode" cell of each measured lesson: wall time, then CPU time."""
    return {n: f"{rounded(e['wall_s'])} wall, {rounded(e['cpu_s'])} CPU" for n, e in sorted(lessons.items())}


def update_readme_column(lessons: dict[str, dict], readme: Path = REPO_ROOT / "README.md") -> list[str]:
    """Rewrite the "full mode" cell (the last column) of each measured lesson's row in the README's lesson
    table from :func:`readme_cells`, keeping a trailing note in parentheses; returns the lessons updated."""
    cells, updated, lines = readme_cells(lessons), [], readme.read_text().split("\n")
    for i, line in enumerate(lines):
        number = line[2:4]
        if line.startswith("| ") and line[4:7] == " | " and number in cells and line.rstrip().endswith("|"):
            head, old = line.rstrip()[:-1].rsplit("|", 1)
            note = re.search(r"\((?:[^()]|\([^()]*\))*\)\s*$", old.strip())  # "(a note (nested once))"
            lines[i] = f"{head}| {cells[number]}{' ' + note.group(0) if note else ''} |"
            updated.append(number)
    readme.write_text("\n".join(lines))
    return updated


def main() -> None:
    budget = Budget.from_env()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lessons", nargs="+", help="lesson numbers, e.g. 04 07 (default: every lesson)")
    parser.add_argument("--threads", type=int, default=1, help="torch/BLAS threads of each kernel (default 1)")
    parser.add_argument("--out", help="folder for lesson_times.json/.png (default data/results; "
                                      "a fast-mode run writes only when --out is given)")
    parser.add_argument("--readme", action="store_true", help="print the README cells from the file and exit")
    parser.add_argument("--update-readme", action="store_true",
                        help="rewrite the README lesson table's full-mode column from the file and exit")
    parser.add_argument("--keep-executed", metavar="DIR", help="keep the executed notebooks (with outputs) in DIR")
    args = parser.parse_args()
    out_dir = Path(args.out) if args.out else results_dir()
    path = out_dir / f"{NAME}.json"
    previous = json.loads(path.read_text())["details"]["lessons"] if path.exists() else {}
    if args.readme:
        for number, cell in readme_cells(previous).items():
            print(f"{number}: {cell}")
        return
    if args.update_readme:
        print(f"README.md: full-mode cells of lessons {update_readme_column(previous)} rewritten from {path}")
        return
    if budget.fast and not args.out:
        print("fast mode (PEACH_FAST=1): measuring fast-mode times; pass --out DIR to write them")

    lessons, failed = dict(previous), []
    with tempfile.TemporaryDirectory(prefix="lesson_times_") as scratch:
        executed = Path(args.keep_executed or scratch)
        if executed.resolve().is_relative_to(NOTEBOOKS.resolve()):
            raise SystemExit("--keep-executed must be outside notebooks/ (the committed notebooks stay stripped)")
        executed.mkdir(parents=True, exist_ok=True)
        for number, notebook in lesson_notebooks(args.lessons).items():
            print(f"lesson {number}: {notebook.name} ({'fast' if budget.fast else 'full'} mode, {args.threads} thread) ...",
                  flush=True)
            entry = time_lesson(notebook, fast=budget.fast, threads=args.threads, out_dir=executed)
            print(f"  wall {entry['wall_s']:.0f} s, CPU {entry['cpu_s']:.0f} s, load {entry['load_before']:.1f} -> "
                  f"{entry['load_after']:.1f}, exit {entry['returncode']}", flush=True)
            if entry["returncode"]:
                print(entry["error_tail"], file=sys.stderr)
                failed.append(number)
            else:
                lessons[number] = entry
    if budget.fast and not args.out:
        return
    if not lessons:
        raise SystemExit(f"no lesson ran through: {failed}")
    numbers = sorted(lessons)
    headline = {f"lesson_{n}_wall_s": lessons[n]["wall_s"] for n in numbers}
    bars = bars_panel("Full-mode run time per lesson (nbconvert --execute, 1 thread)", "lesson", "seconds",
                      numbers, [{"label": "wall", "values": [[lessons[n]["wall_s"]] for n in numbers]},
                                {"label": "CPU (user + sys)", "values": [[lessons[n]["cpu_s"]] for n in numbers]}], log=True)
    details = {"lessons": lessons, "readme_cells": readme_cells(lessons),
               "clock": "wall: time.perf_counter around nbconvert; CPU: getrusage(RUSAGE_CHILDREN) user + sys",
               "machine_cpus": os.cpu_count()}
    write_results(NAME, headline, seeds=[], details=details, command="python benchmarks/lesson_times.py",
                  figure=figure_spec("Lessons in full mode: wall and CPU time", [bars]), out_dir=out_dir)
    if failed:
        raise SystemExit(f"lessons {failed} failed in {'fast' if budget.fast else 'full'} mode (see above)")


if __name__ == "__main__":
    main()
