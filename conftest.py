"""pytest setup for the unit tests and the lessons (nbval, fast mode).

- Fast mode is on for every test run (``make test`` also sets ``PEACH_FAST=1``).
- nbval ignores widget views (random model ids), HTML and stderr noise; correctness lives in assert cells.
- Each lesson must finish within ``NOTEBOOK_LIMIT_S`` in fast mode; a slower one fails the run.
"""
from __future__ import annotations

import os
from collections import defaultdict

os.environ.setdefault("PEACH_FAST", "1")
import peach_lite  # noqa: E402,F401  (chooses the headless MuJoCo backend before anything imports mujoco)

NOTEBOOK_LIMIT_S = 60.0
_notebook_seconds: dict[str, float] = defaultdict(float)


def pytest_collectstart(collector):
    if collector.fspath and collector.fspath.ext == ".ipynb":
        collector.skip_compare += ("application/vnd.jupyter.widget-view+json", "text/html", "stderr")


def pytest_runtest_logreport(report):
    path = report.nodeid.split("::")[0]
    if path.endswith(".ipynb"):
        _notebook_seconds[path] += report.duration


def slow_notebooks(limit: float = NOTEBOOK_LIMIT_S) -> dict[str, float]:
    return {path: seconds for path, seconds in _notebook_seconds.items() if seconds > limit}


def pytest_terminal_summary(terminalreporter):
    if not _notebook_seconds:
        return
    terminalreporter.section("lesson run times (fast mode)")
    for path, seconds in sorted(_notebook_seconds.items()):
        flag = "  <-- over the limit" if seconds > NOTEBOOK_LIMIT_S else ""
        terminalreporter.write_line(f"{seconds:6.1f} s  {path}{flag}")


def pytest_sessionfinish(session, exitstatus):
    slow = slow_notebooks()
    if slow and exitstatus == 0:
        for path, seconds in slow.items():
            print(f"\nFAILED lesson time limit: {path} took {seconds:.1f} s > {NOTEBOOK_LIMIT_S:.0f} s in fast mode")
        session.exitstatus = 1
