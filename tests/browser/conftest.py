"""Fixtures for the real-browser test: one JupyterLab server and one headless Chromium per session.

The test runs when Debian's ``chromium`` and the ``playwright`` package are present (``make test``
then includes it; CI installs chromium). Otherwise every browser test is skipped with one line
saying why and how to enable it. Run it alone with ``.venv/bin/python -m pytest tests/browser -m browser``.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from lab_harness import CHROMIUM_ARGS, LabServer, find_chromium, missing_requirements

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"


_NOT_RUN: list[str] = []


def _is_browser_test(item) -> bool:
    return "tests/browser/" in item.nodeid.replace("\\", "/")


def pytest_collection_modifyitems(config, items):
    """Without chromium or playwright, leave the browser tests out and say so in one line (not one per test)."""
    browser_items = [item for item in items if _is_browser_test(item)]
    for item in browser_items:
        item.add_marker(pytest.mark.browser)
    reason = missing_requirements()
    if browser_items and reason and os.environ.get("PEACH_REQUIRE_BROWSER") != "1":
        items[:] = [item for item in items if not _is_browser_test(item)]
        config.hook.pytest_deselected(items=browser_items)
        _NOT_RUN.append(f"browser test did not run ({len(browser_items)} tests): {reason}; then `make test` runs it "
                        "(alone: `.venv/bin/python -m pytest tests/browser -m browser`)")


def _require_browser():
    reason = missing_requirements()
    if reason and os.environ.get("PEACH_REQUIRE_BROWSER") == "1":  # CI (.ci/run): it must run
        pytest.fail(f"browser test cannot run: {reason}", pytrace=False)
    if reason:
        pytest.skip(f"browser test did not run: {reason}; then `make test` runs it (alone: "
                    "`.venv/bin/python -m pytest tests/browser -m browser`)")


@pytest.fixture(scope="session")
def lab_root(tmp_path_factory):
    """A temporary copy of notebooks/: the lessons' saved state never touches the repository."""
    _require_browser()
    root = tmp_path_factory.mktemp("browser") / "notebooks"
    shutil.copytree(NOTEBOOKS, root, ignore=shutil.ignore_patterns("*.py", ".ipynb_checkpoints", "__pycache__"))
    return root


@pytest.fixture(scope="session")
def lab_server(lab_root):
    server = LabServer(lab_root)
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def browser():
    _require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=find_chromium(), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def pytest_terminal_summary(terminalreporter):
    for line in _NOT_RUN:
        terminalreporter.write_line(line, yellow=True)
    reports = [r for key in ("passed", "failed") for r in terminalreporter.stats.get(key, []) if getattr(r, "when", None) == "call"]
    times = sorted(value for r in reports for name, value in getattr(r, "user_properties", []) if name == "lesson_summary")
    if times:  # recorded by each browser test, on whichever worker ran it
        terminalreporter.section("lessons in JupyterLab + headless Chromium (fast mode)")
        for line in times:
            terminalreporter.write_line(line)
