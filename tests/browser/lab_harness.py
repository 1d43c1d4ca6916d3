"""Run lessons the way students meet them: JupyterLab in headless Chromium, every control moved.

Used by ``tests/browser/test_*.py`` (see ``conftest.py`` for the fixtures). One ``JupyterLab`` server
runs on a temporary copy of the notebooks; each lesson gets a fresh browser context and workspace,
runs all cells with JupyterLab's own "Run All" (polling the cell models, never sleeping blindly),
then every ipywidgets control is moved and the output it drives must change and not be blank.

Failures collected per lesson (``LessonReport.problems``):
- a "Select Kernel" dialog, or any other JupyterLab dialog left open;
- a cell error on Run All;
- a traceback in the page (a widget callback that raised inside an Output widget) or in the kernel's
  log (a callback that raised outside one: ipykernel logs "Exception in comm_msg");
- a front-end error (``pageerror`` or a console error not in ``IGNORED_CONSOLE``);
- a control whose move changes nothing it drives, or an image it draws that is blank or mostly black.

A cell tagged ``rerun-next-cell`` holds controls that only set a value for the next code cell (and
its text says so): the harness re-runs that cell after each move and checks *its* output instead.
"""
from __future__ import annotations

import dataclasses
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
]
RERUN_TAG = "rerun-next-cell"
# Console errors that are not the course's: JupyterLab asking the internet for news/updates (CI is offline).
IGNORED_CONSOLE = (re.compile(r"favicon|/lab/api/news|/lab/api/update|Failed to load resource.*(news|update)", re.I),)
CONTROL_SELECTOR = (
    ".widget-slider, .widget-dropdown, .widget-toggle-buttons, .widget-button, .widget-checkbox, "
    ".widget-radio-box, .widget-toggle-button"
)
RUN_ALL_TIMEOUT_S = float(os.environ.get("PEACH_BROWSER_RUN_ALL_TIMEOUT", "300"))
CONTROL_TIMEOUT_S = float(os.environ.get("PEACH_BROWSER_CONTROL_TIMEOUT", "60"))
RERUN_PAUSE_MS = 1500
"""Pause between moving a control and re-running the cell that reads it, as a student does. The widget's comm message
goes to a kernel subshell thread and the execute request to the main shell, so running at once can read the old value
(a deterministic cell then redraws the same output: "changed nothing")."""


def find_chromium() -> str | None:
    """Debian's chromium (never playwright's download); ``PEACH_CHROMIUM`` overrides."""
    explicit = os.environ.get("PEACH_CHROMIUM")
    if explicit:
        return explicit if os.path.exists(explicit) else None
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def missing_requirements() -> str | None:
    """Why the browser test cannot run here, or None."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as error:  # playwright itself, or pyee, which some playwright wheels do not declare
        return (f"playwright cannot be imported ({error}; `.venv/bin/pip install playwright pyee`, "
                "never `playwright install`)")
    if find_chromium() is None:
        return "no chromium found (`sudo apt-get install chromium`, or set PEACH_CHROMIUM=/path/to/chromium)"
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ------------------------------------------------------------------------------------ the server
class LabServer:
    """``jupyter lab`` from this venv on a free local port with a token, rooted at ``root``.

    The kernel is this venv's Python (``JUPYTER_*`` dirs point into ``root``, so a user's own
    kernelspecs and settings do not leak in), with ``PEACH_FAST=1``. ``stop()`` kills the whole
    process group (server and kernels), also when the test failed.
    """

    def __init__(self, root: Path, extra_env: dict[str, str] | None = None):
        self.root = Path(root)
        self.port = _free_port()
        self.token = secrets.token_hex(16)
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = self.root.parent / "jupyterlab.log"
        home = self.root.parent / "jupyter-home"
        for sub in ("config", "data", "runtime"):
            (home / sub).mkdir(parents=True, exist_ok=True)
        # No "get notified about Jupyter news" toast over the controls, no update checks.
        settings = home / "config" / "lab" / "user-settings" / "@jupyterlab" / "apputils-extension"
        settings.mkdir(parents=True, exist_ok=True)
        (settings / "notification.jupyterlab-settings").write_text(
            json.dumps({"fetchNews": "false", "checkForUpdates": False, "doNotDisturbMode": True}))
        # Every cell rendered (no windowing), so what is checked is what a student scrolls to.
        notebook_settings = settings.parent / "notebook-extension"
        notebook_settings.mkdir(parents=True, exist_ok=True)
        (notebook_settings / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
        self.env = dict(os.environ, PEACH_FAST="1", JUPYTER_CONFIG_DIR=str(home / "config"),
                        JUPYTER_DATA_DIR=str(home / "data"), JUPYTER_RUNTIME_DIR=str(home / "runtime"),
                        JUPYTERLAB_SETTINGS_DIR=str(home / "config" / "lab" / "user-settings"),
                        JUPYTERLAB_WORKSPACES_DIR=str(home / "workspaces"), PYTHONUNBUFFERED="1",
                        **(extra_env or {}))
        self.env.pop("JUPYTER_PATH", None)
        self.process: subprocess.Popen | None = None
        self._log = None

    def start(self, timeout: float = 120.0) -> LabServer:
        jupyter = Path(sys.executable).with_name("jupyter")
        command = [str(jupyter), "lab", "--no-browser", "--ip=127.0.0.1", f"--port={self.port}",
                   f"--ServerApp.token={self.token}", "--ServerApp.password=", "--LabApp.expose_app_in_browser=True",
                   f"--ServerApp.root_dir={self.root}", "--ServerApp.open_browser=False",
                   "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
                   "--ContentsManager.allow_hidden=True"]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            command.append("--allow-root")
        self._log = open(self.log_path, "w")
        self.process = subprocess.Popen(command, cwd=self.root, env=self.env, stdout=self._log,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"jupyter lab exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/api/status?token={self.token}", timeout=2):
                    return self
            except OSError:
                time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"jupyter lab did not answer within {timeout:.0f} s:\n{self.log_tail()}")

    def api(self, method: str, path: str) -> Any:
        request = urllib.request.Request(f"{self.url}{path}", method=method,
                                         headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=30) as response:
            body = response.read()
        return json.loads(body) if body else None

    def shutdown_kernels(self) -> None:
        """Shut down every kernel (one lesson's) so the next lesson has the CPU."""
        try:
            for session in self.api("GET", "/api/sessions"):
                self.api("DELETE", f"/api/sessions/{session['id']}")
            for kernel in self.api("GET", "/api/kernels"):
                self.api("DELETE", f"/api/kernels/{kernel['id']}")
        except OSError:
            pass

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
                try:
                    os.killpg(self.process.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    self.process.wait(timeout=wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
        if self._log is not None:
            self._log.close()
            self._log = None


# ------------------------------------------------------------------------------ in the page (JS)
_STATE_JS = """() => {
  const panel = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  if (!panel || !panel.content || !panel.content.widgets) return {ready: false};
  const kernel = panel.sessionContext && panel.sessionContext.session && panel.sessionContext.session.kernel;
  const cells = panel.content.widgets.filter(c => c.model.type === 'code' && c.model.sharedModel.getSource().trim());
  const errors = [];
  let unrun = 0, running = 0;
  cells.forEach((c, i) => {
    for (const o of c.model.outputs.toJSON()) {
      if (o.output_type === 'error') errors.push(`code cell ${i + 1}: ${o.ename}: ${o.evalue}`);
    }
    if (c.model.executionCount === null) unrun += 1;
    const prompt = c.node.querySelector('.jp-InputPrompt');
    if (c.model.executionState === 'running' || (prompt && prompt.textContent.includes('*'))) running += 1;
  });
  return {ready: true, status: kernel ? kernel.status : 'none', cells: cells.length, unrun, running, errors};
}"""

_TRACEBACK_JS = """() => {
  const found = [];
  document.querySelectorAll('.jp-Notebook .jp-OutputArea-output').forEach(node => {
    const text = node.textContent || '';
    if (text.includes('Traceback (most recent call last)') || /^\\s*\\w*(Error|Exception)\\b.*Traceback/m.test(text)) {
      const lines = text.trim().split('\\n').filter(l => l.trim());
      const error = lines.filter(l => /^\\s*[\\w.]*(Error|Exception)\\b/.test(l)).pop() || lines[lines.length - 1];
      found.push(error.trim().slice(0, 400));
    }
  });
  return found;
}"""

_SUBSHELLS_JS = """() => {
  const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
  if (!kernel.supportsSubshells || !kernel._comms) return {supported: false};
  const comms = Array.from(kernel._comms.values());
  return {supported: true, comms: comms.length, ready: comms.filter(c => c._subshellId).length};
}"""

# Errors the kernel publishes for requests that have no cell (a button's on_click that raised): JupyterLab
# shows them only in its log console, so the harness listens to the kernel's iopub channel itself.
_LISTEN_ERRORS_JS = """() => {
  window.__peachKernelErrors = [];
  const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
  kernel.iopubMessage.connect((_, msg) => {
    if (msg.header.msg_type === 'error') window.__peachKernelErrors.push(`${msg.content.ename}: ${msg.content.evalue}`.slice(0, 300));
  });
}"""

# Controls in document order, each marked with data-peach-control=<n> so Python can find it again;
# for each: the index of the cell that holds it and whether that cell is tagged rerun-next-cell.
_CONTROLS_JS = """(selector) => {
  const panel = window.jupyterapp.shell.currentWidget;
  const out = [];
  const kinds = ['widget-slider', 'widget-dropdown', 'widget-toggle-buttons', 'widget-checkbox', 'widget-radio-box',
                 'widget-toggle-button', 'widget-button'];
  panel.content.widgets.forEach((cell, cellIndex) => {
    const tags = (cell.model.getMetadata && cell.model.getMetadata('tags')) || [];
    cell.node.querySelectorAll(selector).forEach(node => {
      if (node.parentElement && node.parentElement.closest(selector)) return;  // a button inside toggle buttons
      node.setAttribute('data-peach-control', String(out.length));
      const kind = kinds.find(k => node.classList.contains(k));
      const label = (node.querySelector('.widget-label') || {}).textContent || node.textContent || node.title || '';
      out.push({cell: cellIndex, kind, label: label.trim().slice(0, 40), rerun: tags.includes('%TAG%')});
    });
  });
  return out;
}"""

# What a cell's outputs show, minus the controls themselves: text plus each image's source.
_SNAPSHOT_JS = """(cellIndex) => {
  const cell = window.jupyterapp.shell.currentWidget.content.widgets[cellIndex];
  const area = cell.node.querySelector('.jp-Cell-outputArea') || cell.node;
  const clone = area.cloneNode(true);
  clone.querySelectorAll('%CONTROLS%').forEach(n => n.remove());
  const images = Array.from(area.querySelectorAll('img')).filter(img => !img.closest('%CONTROLS%')).map(img => img.src);
  const canvases = Array.from(area.querySelectorAll('canvas')).map(c => { try { return c.toDataURL(); } catch (e) { return ''; } });
  return {text: clone.innerText, images, canvases};
}"""

# Blank: nearly uniform. Black: it holds a solid pure-black square at least BLACK_SQUARE of its smaller
# side (a GL frame that failed to draw, shown by imshow); a checkerboard floor's tiles are far smaller.
_IMAGE_STATS_JS = """async (cellIndex) => {
  const cell = window.jupyterapp.shell.currentWidget.content.widgets[cellIndex];
  const imgs = Array.from(cell.node.querySelectorAll('.jp-Cell-outputArea img'));
  const stats = [];
  for (const img of imgs) {
    try { await img.decode(); } catch (e) {}
    if (!img.naturalWidth) { stats.push({src: img.src.slice(0, 60), std: 0, square: 1, broken: true}); continue; }
    const w = img.naturalWidth, h = img.naturalHeight;
    const canvas = document.createElement('canvas');
    canvas.width = w; canvas.height = h;
    const g = canvas.getContext('2d'); g.drawImage(img, 0, 0);
    const d = g.getImageData(0, 0, w, h).data;
    let sum = 0, sum2 = 0, best = 0;
    let previous = new Uint16Array(w + 1), row = new Uint16Array(w + 1);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const i = 4 * (y * w + x);
        const lum = 0.299 * d[i] + 0.587 * d[i + 1] + 0.114 * d[i + 2];
        sum += lum; sum2 += lum * lum;
        const black = d[i] < 6 && d[i + 1] < 6 && d[i + 2] < 6 && d[i + 3] > 200;
        row[x + 1] = black ? 1 + Math.min(previous[x + 1], row[x], previous[x]) : 0;
        if (row[x + 1] > best) best = row[x + 1];
      }
      [previous, row] = [row, previous];
    }
    const n = w * h, mean = sum / n;
    stats.push({src: img.src.slice(0, 60), std: Math.sqrt(Math.max(sum2 / n - mean * mean, 0)),
                square: best / Math.min(w, h), width: w, height: h});
  }
  return stats;
}"""

BLACK_SQUARE = 0.3
BLANK_STD = 2.0


@dataclasses.dataclass
class ControlResult:
    cell: int
    kind: str
    label: str
    changed: bool
    seconds: float
    note: str = ""


@dataclasses.dataclass
class LessonReport:
    notebook: str
    run_all_s: float = 0.0
    controls_s: float = 0.0
    total_s: float = 0.0
    controls: list[ControlResult] = dataclasses.field(default_factory=list)
    problems: list[str] = dataclasses.field(default_factory=list)
    screenshot: str = ""

    def summary(self) -> str:
        moved = ", ".join(f"{c.kind}[{c.label}]{'' if c.changed else ' (NO CHANGE)'}" for c in self.controls) or "none"
        return (f"{self.notebook}: {self.total_s:.1f} s (run all {self.run_all_s:.1f} s, controls {self.controls_s:.1f} s); "
                f"controls: {moved}")


class LessonRunner:
    """Open one notebook in a fresh browser context, run all cells, move every control."""

    def __init__(self, browser: Any, server: LabServer, screenshot_dir: Path | None = None):
        self.browser, self.server, self.screenshot_dir = browser, server, screenshot_dir

    def run(self, notebook: str) -> LessonReport:
        report = LessonReport(notebook)
        start = time.monotonic()
        log_offset = len(self.server.log_text())
        context = self.browser.new_context(viewport={"width": 1500, "height": 1000})
        page = context.new_page()
        front_end: list[str] = []
        page.on("pageerror", lambda error: front_end.append(f"page error: {error}"))
        page.on("console", lambda msg: front_end.append(f"console {msg.type}: {msg.text}")
                if msg.type == "error" and not any(p.search(msg.text) for p in IGNORED_CONSOLE) else None)
        try:
            self._open(page, notebook, report)
            ran = not report.problems and self._run_all(page, report)
            if ran:
                began = time.monotonic()
                self._move_controls(page, report)
                report.controls_s = time.monotonic() - began
            for dialog in self._dialogs(page):
                report.problems.append(f"a JupyterLab dialog is open: {dialog}")
            report.problems += [f"widget traceback in the page: {t}" for t in page.evaluate(_TRACEBACK_JS)]
        except Exception as error:  # noqa: BLE001  (a harness timeout is a finding too)
            report.problems.append(f"{type(error).__name__}: {str(error).splitlines()[0][:300]}")
        finally:
            report.problems += front_end
            kernel_log = self.server.log_text()[log_offset:]
            for match in re.finditer(r"(Exception in comm_msg|Traceback \(most recent call last\))[\s\S]{0,1500}?\n(\w+(Error|Exception)[^\n]*)", kernel_log):
                report.problems.append(f"kernel log: {match.group(1)} ... {match.group(2)[:200]}")
            if self.screenshot_dir is not None:
                self.screenshot_dir.mkdir(parents=True, exist_ok=True)
                if report.controls:  # show the last control moved and what it drew
                    try:
                        page.locator(f'[data-peach-control="{len(report.controls) - 1}"]').scroll_into_view_if_needed(timeout=5000)
                    except Exception:  # noqa: BLE001
                        pass
                path = self.screenshot_dir / f"{Path(notebook).stem}.png"
                try:
                    page.screenshot(path=str(path))
                    report.screenshot = str(path)
                except Exception:  # noqa: BLE001
                    pass
            context.close()
            self.server.shutdown_kernels()
            report.total_s = time.monotonic() - start
            report.problems = list(dict.fromkeys(report.problems))  # each finding once
        return report

    # ---------------------------------------------------------------------------------- steps
    def _open(self, page: Any, notebook: str, report: LessonReport) -> None:
        workspace = re.sub(r"\W", "-", Path(notebook).stem)
        page.goto(f"{self.server.url}/lab/workspaces/{workspace}/tree/{notebook}?reset&token={self.server.token}")
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            dialogs = self._dialogs(page)
            if any("Select Kernel" in d for d in dialogs):
                report.problems.append(f"JupyterLab asked to 'Select Kernel' (the .ipynb has no kernelspec): {dialogs[0][:120]}")
                return
            state = page.evaluate(_STATE_JS)
            if state.get("ready") and state.get("status") == "idle":
                page.evaluate("() => window.jupyterapp.shell.collapseLeft()")  # the lesson's full width
                return
            page.wait_for_timeout(250)
        report.problems.append(f"the notebook's kernel was not idle within 120 s (state {page.evaluate(_STATE_JS)})")

    def _run_all(self, page: Any, report: LessonReport) -> bool:
        began = time.monotonic()
        # Not awaited: the command's promise can outlive the run; the cell models are polled instead.
        page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")
        settled = None
        deadline = began + RUN_ALL_TIMEOUT_S
        while time.monotonic() < deadline:
            state = page.evaluate(_STATE_JS)
            finished = state["running"] == 0 and state["status"] == "idle" and (state["unrun"] == 0 or state["errors"])
            if finished:
                settled = settled or time.monotonic()
                if time.monotonic() - settled > 1.0:
                    break
            else:
                settled = None
            page.wait_for_timeout(200)
        else:
            report.problems.append(f"Run All did not finish within {RUN_ALL_TIMEOUT_S:.0f} s ({state})")
        report.run_all_s = time.monotonic() - began
        report.problems += [f"cell error on Run All: {e}" for e in state["errors"]]
        self._wait_widgets_rendered(page)
        report.problems += [f"widget traceback in the page: {t}" for t in page.evaluate(_TRACEBACK_JS)]
        ran = not report.problems
        for index in range(page.evaluate("() => window.jupyterapp.shell.currentWidget.content.widgets.length")):
            report.problems += self._bad_images(page, index, "after Run All")
        return ran

    def _move_controls(self, page: Any, report: LessonReport) -> None:
        """Move every control there and back: the first message of a widget can still reach the kernel's
        main thread, later ones run in its subshell thread, where a student's moves run."""
        controls = page.evaluate(_CONTROLS_JS.replace("%TAG%", RERUN_TAG), CONTROL_SELECTOR)
        if controls:
            self._wait_for_subshells(page, report)
        page.evaluate(_LISTEN_ERRORS_JS)
        for position, control in enumerate(controls):
            began = time.monotonic()
            watched = self._next_code_cell(page, control["cell"]) if control["rerun"] else control["cell"]
            where = f"{control['kind']} '{control['label']}' (cell {control['cell'] + 1})"
            undo: dict = {}
            changed_all, notes = True, []
            for back in (False, True):
                before = self._snapshot(page, watched)
                notes.append(self._move(page, position, control, undo, back))
                if control["rerun"]:
                    page.wait_for_timeout(RERUN_PAUSE_MS)
                    self._run_cell(page, watched)
                must_change = not (back and control["kind"] in ("widget-button", "widget-toggle-button"))
                changed = self._wait_for_change(page, watched, before, CONTROL_TIMEOUT_S if must_change else 3.0)
                step = "moving it back:" if back else "moving"
                if must_change and not changed:
                    changed_all = False
                    target = "the next cell's output" if control["rerun"] else "its cell's output"
                    report.problems.append(f"{step} {where} changed nothing in {target} within {CONTROL_TIMEOUT_S:.0f} s")
                report.problems += self._bad_images(page, watched, f"after {step} {where}")
                tracebacks = page.evaluate(_TRACEBACK_JS) + page.evaluate("() => window.__peachKernelErrors.splice(0)")
                report.problems += [f"widget traceback after {step} {where}: {t}" for t in tracebacks]
                if tracebacks or not changed_all:
                    break
            report.controls.append(ControlResult(control["cell"], control["kind"], control["label"], changed_all,
                                                 time.monotonic() - began, "; ".join(notes)))
            if any("traceback" in problem for problem in report.problems):
                return

    # ------------------------------------------------------------------------------- helpers
    def _move(self, page: Any, position: int, control: dict, undo: dict, back: bool) -> str:
        """Move a control one step (``back``: return it to where it was); ``undo`` remembers how."""
        node = page.locator(f'[data-peach-control="{position}"]')
        node.scroll_into_view_if_needed()
        kind = control["kind"]
        if kind == "widget-slider":
            handle = node.locator(".noUi-handle").first
            before = handle.get_attribute("aria-valuenow")
            handle.focus()
            keys = [undo["key"]] if back else ["ArrowRight", "ArrowLeft"]  # ArrowLeft when at its maximum
            for key in keys:
                handle.press(key)
                page.wait_for_timeout(150)
                if handle.get_attribute("aria-valuenow") != before:
                    undo["key"] = "ArrowLeft" if key == "ArrowRight" else "ArrowRight"
                    break
            after = handle.get_attribute("aria-valuenow")
            if after == before:
                raise AssertionError(f"the slider did not move with the arrow keys (value {before})")
            return f"{before} -> {after}"
        if kind == "widget-dropdown":
            select = node.locator("select")
            options = select.locator("option").all_inner_texts()
            current = select.evaluate("s => s.selectedIndex")
            choice = undo["index"] if back else (current + 1) % len(options)
            undo["index"] = current
            select.select_option(index=choice)
            return f"{options[current]} -> {options[choice]}"
        if kind in ("widget-toggle-buttons", "widget-radio-box"):
            items = node.locator("button" if kind == "widget-toggle-buttons" else "input")
            states = [("mod-active" in (items.nth(i).get_attribute("class") or "")) if kind == "widget-toggle-buttons"
                      else items.nth(i).is_checked() for i in range(items.count())]
            target = undo["index"] if back else next((i for i, on in enumerate(states) if not on), None)
            undo["index"] = states.index(True) if True in states else 0
            if target is None:
                return "only one option"
            if kind == "widget-toggle-buttons":
                items.nth(target).dispatch_event("click")
            else:
                items.nth(target).check(force=True)
            return f"-> option {target}"
        if kind == "widget-checkbox":
            node.locator("input").first.dispatch_event("click")
            return "toggled"
        node.dispatch_event("click")  # buttons and single toggle buttons
        return "clicked"

    def _wait_for_subshells(self, page: Any, report: LessonReport, timeout_s: float = 30) -> None:
        """Wait until widget comms talk to their kernel subshell, as they do by the time a student moves one.

        JupyterLab 4.4+ sends comm messages to an ipykernel 7 subshell (another thread) once it has
        created one, asynchronously, a moment after the widgets appear. Moving a control earlier would
        run its callback in the main thread and hide thread bugs (a GL context made in a cell).
        """
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            state = page.evaluate(_SUBSHELLS_JS)
            if not state["supported"] or state["ready"] >= state["comms"]:
                return
            page.wait_for_timeout(250)
        report.problems.append(f"widget comms got no kernel subshell within {timeout_s:.0f} s ({state})")

    def _snapshot(self, page: Any, cell: int) -> dict:
        return page.evaluate(_SNAPSHOT_JS.replace("%CONTROLS%", CONTROL_SELECTOR), cell)

    def _wait_for_change(self, page: Any, cell: int, before: dict, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        changed_at, last = None, None
        while time.monotonic() < deadline:
            now = self._snapshot(page, cell)
            state = page.evaluate(_STATE_JS)
            if now != before and state["status"] == "idle" and state["running"] == 0:
                if now == last:
                    if time.monotonic() - changed_at > 0.6:  # settled: unchanged for 0.6 s
                        return True
                else:
                    changed_at, last = time.monotonic(), now
            page.wait_for_timeout(200)
        return False

    def _run_cell(self, page: Any, cell: int) -> None:
        page.evaluate("""(i) => { const panel = window.jupyterapp.shell.currentWidget;
            panel.content.activeCellIndex = i; window.jupyterapp.commands.execute('notebook:run-cell'); }""", cell)

    def _next_code_cell(self, page: Any, cell: int) -> int:
        return page.evaluate("""(i) => { const cells = window.jupyterapp.shell.currentWidget.content.widgets;
            for (let j = i + 1; j < cells.length; j++) if (cells[j].model.type === 'code') return j; return i; }""", cell)

    def _bad_images(self, page: Any, cell: int, when: str, retries: int = 6) -> list[str]:
        """Blank, broken or half-rendered images in a cell's output; a bad one is measured again, up to ``retries``
        times 1.5 s apart (an output can be swapped in while a loaded browser still paints it), and reported only if
        it stays bad."""
        problems = []
        for stats in page.evaluate(_IMAGE_STATS_JS, cell):
            if stats.get("broken"):
                problems.append(f"a broken image in cell {cell + 1} {when}")
            elif stats["std"] < BLANK_STD:
                problems.append(f"a blank image (std {stats['std']:.2f}) in cell {cell + 1} {when}")
            elif stats["square"] >= BLACK_SQUARE:
                problems.append(f"an image with a solid black square {stats['square']:.0%} of its size (a frame that "
                                f"did not render) in cell {cell + 1} {when}")
        if problems and retries > 0:
            page.wait_for_timeout(1500)
            return self._bad_images(page, cell, when, retries - 1)
        return problems

    def _wait_widgets_rendered(self, page: Any, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            loading = page.evaluate("() => Array.from(document.querySelectorAll('.jp-Notebook .jp-OutputArea-output'))"
                                    ".some(n => (n.innerText || '').includes('Loading widget'))")
            if not loading:
                return
            page.wait_for_timeout(200)

    def _dialogs(self, page: Any) -> list[str]:
        return [text.strip().replace("\n", " ") for text in page.locator(".jp-Dialog").all_inner_texts()]
