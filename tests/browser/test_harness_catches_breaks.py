"""The browser harness fails on what it is meant to catch: deliberate breaks in tiny notebooks.

Each notebook has one slider that works on Run All (its callback first runs in the cell, in the
main thread) and breaks when a student moves it:
- ``raises``: the callback raises (a widget-callback traceback in an Output widget);
- ``button_raises``: a button's ``on_click`` raises outside any Output widget (only the kernel log shows it);
- ``black_frame``: the callback draws an all-black frame (what lesson 00 showed before the fix);
- ``gl_thread``: the callback renders with a ``mujoco.Renderer`` made in the cell, which fails in the
  widget's thread exactly as lessons 00/01 did with ipykernel 7 (EGL_BAD_ACCESS), unless rendering
  goes through ``peach_lite.gl.on_render_thread`` (the ``gl_thread_fixed`` notebook, which must pass);
- ``dead``: moving the slider changes nothing;
- ``no_kernelspec``: the file names no kernel, so JupyterLab would ask to "Select Kernel".

And one that must pass: ``rerun_next_cell``, toggle buttons that only set a value for the next cell,
in a cell tagged ``rerun-next-cell`` (lesson 04's train/load toggle): the harness re-runs the next cell.
"""
from __future__ import annotations

import nbformat
import pytest

import lab_harness
from lab_harness import LessonRunner

KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}

SLIDER = """
import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
from IPython.display import display
slider = widgets.IntSlider(value=1, min=0, max=5, description="value")
"""

NOTEBOOKS = {
    "raises": SLIDER + """
def show(value):
    if value != 1:
        raise ZeroDivisionError("deliberate break in a widget callback")
    print("value", value)
display(slider, widgets.interactive_output(show, {"value": slider}))
""",
    "button_raises": """
import ipywidgets as widgets
from IPython.display import display
button = widgets.Button(description="break")
label = widgets.Label("not clicked")
def on_click(_):
    raise KeyError("deliberate break in on_click")
button.on_click(on_click)
display(button, label)
""",
    "black_frame": SLIDER + """
def show(value):
    frame = np.zeros((120, 120, 3), np.uint8)  # what a GL frame that failed to draw looks like
    if value == 1:
        frame[:] = 200
        frame[::10] = 90
    plt.figure(figsize=(2.5, 2.5)); plt.imshow(frame); plt.title(f"value {value}"); plt.axis("off"); plt.show()
display(slider, widgets.interactive_output(show, {"value": slider}))
""",
    "gl_thread": SLIDER + """
import os
os.environ.setdefault("MUJOCO_GL", "egl")
import mujoco
model = mujoco.MjModel.from_xml_string('<mujoco><worldbody><light pos="0 0 2"/><geom type="plane" size="1 1 .1" rgba=".2 .6 .3 1"/><geom type="sphere" size=".2" pos="0 0 .2"/></worldbody></mujoco>')
data = mujoco.MjData(model); mujoco.mj_forward(model, data)
renderer = mujoco.Renderer(model, 96, 96)  # its GL context is made (and made current) in this thread
def show(value):
    data.qpos[:] = 0; renderer.update_scene(data)
    frame = renderer.render()
    plt.figure(figsize=(2.5, 2.5)); plt.imshow(frame); plt.title(f"value {value}"); plt.axis("off"); plt.show()
display(slider, widgets.interactive_output(show, {"value": slider}))
""",
    "gl_thread_fixed": SLIDER + """
import peach_lite.envs as envs
from peach_lite.render import render_frame
env = envs.make("peach_lite/PointMaze-v0", render_mode="rgb_array", width=96, height=96)
env.reset(seed=0)
env.render()  # first frame in the cell's thread, as lessons do
def show(value):
    env.reset(seed=value)
    plt.figure(figsize=(2.5, 2.5)); plt.imshow(env.render()); plt.title(f"seed {value}"); plt.axis("off"); plt.show()
display(slider, widgets.interactive_output(show, {"value": slider}))
""",
    "dead": SLIDER + """
out = widgets.Output()
with out:
    print("this never changes")
display(slider, out)
""",
    "no_kernelspec": """print("hello")""",
    "rerun_next_cell": """
import ipywidgets as widgets
from IPython.display import display
mode = widgets.ToggleButtons(options=["train now (small)", "load pretrained"], description="agent")
display(mode)
""",
}
NEXT_CELL = {"rerun_next_cell": 'print("the next cell uses:", mode.value)'}
TAGS = {"rerun_next_cell": ["rerun-next-cell"]}

EXPECTED = {
    "raises": "widget traceback",
    "button_raises": "KeyError",
    "black_frame": "solid black square",
    "gl_thread": "widget traceback",
    "dead": "changed nothing",
    "no_kernelspec": "Select Kernel",
}


def _write(root, name, source):
    cells = [nbformat.v4.new_code_cell(source.strip(), metadata={"tags": TAGS.get(name, [])})]
    if name in NEXT_CELL:
        cells.append(nbformat.v4.new_code_cell(NEXT_CELL[name]))
    notebook = nbformat.v4.new_notebook(cells=cells)
    if name != "no_kernelspec":
        notebook.metadata["kernelspec"] = KERNELSPEC
    path = root / f"zz_break_{name}.ipynb"
    nbformat.write(notebook, path)
    return path.name


@pytest.mark.browser
@pytest.mark.parametrize("name", list(EXPECTED) + ["gl_thread_fixed", "rerun_next_cell"])
def test_harness_fails_on_a_deliberate_break(name, browser, lab_server, lab_root, monkeypatch):
    monkeypatch.setattr(lab_harness, "CONTROL_TIMEOUT_S", 8.0)  # "changed nothing" needs no 2-minute wait here
    notebook = _write(lab_root, name, NOTEBOOKS[name])
    report = LessonRunner(browser, lab_server).run(notebook)
    print(report.summary(), report.problems)
    if name in ("gl_thread_fixed", "rerun_next_cell"):  # these must pass
        assert not report.problems, report.problems
        assert report.controls and report.controls[0].changed
    else:
        assert any(EXPECTED[name] in problem for problem in report.problems), report.problems
