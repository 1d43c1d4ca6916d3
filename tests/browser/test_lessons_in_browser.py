"""Every lesson in JupyterLab in headless Chromium, fast mode, as a student meets it.

For each ``notebooks/NN_*.ipynb``: open it (no "Select Kernel" dialog), Run All (no cell error),
move every ipywidgets control (slider, dropdown, toggle buttons, button, checkbox) and check the
output it drives changes and any image it draws is not blank or black, with no widget-callback
traceback and no front-end error. A screenshot of each lesson's final state goes to
``tests/browser/screenshots/`` (git-ignored). See ``lab_harness.py`` for the details.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from lab_harness import LessonRunner

LESSONS = sorted(p.name for p in (Path(__file__).resolve().parents[2] / "notebooks").glob("[0-9][0-9]_*.ipynb"))
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"


@pytest.mark.browser
@pytest.mark.parametrize("notebook", LESSONS, ids=[Path(n).stem for n in LESSONS])
def test_lesson_in_jupyterlab(notebook, browser, lab_server, record_property):
    report = LessonRunner(browser, lab_server, SCREENSHOTS).run(notebook)
    record_property("lesson_summary", report.summary())  # conftest's summary reads it (from a worker too, under xdist)
    print(report.summary())
    assert not report.problems, f"{notebook} in JupyterLab:\n- " + "\n- ".join(report.problems)
