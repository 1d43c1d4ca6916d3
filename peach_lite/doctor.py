"""``python -m peach_lite.doctor``: check the install and say exactly what to fix.

It checks the Python version, the pinned torch, MuJoCo, headless rendering (in a subprocess per
backend, since a failing GL backend can abort the process, and from a second thread, as widget
callbacks render) and fast mode. Exit code 1 when something a lesson needs is broken.

In a git clone it also configures the ``strip-notebook-outputs`` clean filter named in
``.gitattributes``: JupyterLab saves outputs into ``notebooks/*.ipynb``, and the filter strips them
(and the kernel's ``language_info``, widget state, run timings) from what git sees, so ``git status``
stays clean and commits stay stripped. ``make lab`` and ``make test`` run the doctor.
"""
from __future__ import annotations

import os
import subprocess
import sys

from peach_lite.gl import GL_HELP

_RENDER_PROBE = (
    "import mujoco\n"
    "m = mujoco.MjModel.from_xml_string('<mujoco><worldbody><light pos=\"0 0 2\"/>"
    "<geom type=\"sphere\" size=\".1\"/></worldbody></mujoco>')\n"
    "r = mujoco.Renderer(m, 32, 32); d = mujoco.MjData(m); r.update_scene(d)\n"
    "assert r.render().shape == (32, 32, 3)\n"
)

# What a widget callback does: render, from another thread, a model whose renderer was made in the main one.
_THREAD_PROBE = (
    "import threading, peach_lite, peach_lite.envs as envs\n"
    "env = envs.make('peach_lite/PointMaze-v0', render_mode='rgb_array', width=32, height=32); env.reset(seed=0)\n"
    "main = env.render(); out = {}\n"
    "t = threading.Thread(target=lambda: out.setdefault('frame', env.render())); t.start(); t.join()\n"
    "assert (out['frame'] == main).all() and main.std() > 1, 'frames differ between threads'\n"
)


def render_works(backend: str, timeout: float = 60.0, probe: str = _RENDER_PROBE) -> tuple[bool, str]:
    """Try to render one small frame with ``MUJOCO_GL=backend`` in a fresh process."""
    env = dict(os.environ, MUJOCO_GL=backend)
    try:
        run = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True,
                             text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return False, "timed out"
    last = (run.stderr.strip().splitlines() or [""])[-1]
    return run.returncode == 0, last


GIT_FILTER = "strip-notebook-outputs"
"""The clean filter that ``.gitattributes`` applies to ``notebooks/*.ipynb``."""


def strip_command(python: str = sys.executable) -> str:
    """The shell command git runs as the clean filter: stdin notebook -> stripped notebook on stdout.

    It keeps what ``make sync`` writes (sources, ids, ``kernelspec``, ``jupytext``, the ``tags`` and
    jupytext's ``lines_to_*`` cell metadata) and drops outputs, execution counts and every other metadata.
    """
    mask = "--ClearMetadataPreprocessor.preserve_{}_metadata_mask={}"
    keep = [mask.format("nb", key) for key in ("kernelspec", "jupytext")]
    keep += [mask.format("cell", key) for key in ("tags", "lines_to_next_cell", "lines_to_end_of_cell_marker")]
    return " ".join([f"'{python}'", "-m nbconvert --to notebook --stdin --stdout --log-level=ERROR",
                     "--ClearOutputPreprocessor.enabled=True --ClearMetadataPreprocessor.enabled=True", *keep])


def configure_git_filter(repo: str | os.PathLike | None = None) -> str:
    """Point git's ``strip-notebook-outputs`` clean filter at this Python; return what was done."""
    from peach_lite.paths import REPO_ROOT

    repo = str(repo or REPO_ROOT)
    if not os.path.exists(os.path.join(repo, ".gitattributes")) or not os.path.exists(os.path.join(repo, ".git")):
        return "not a git clone: no notebook filter needed"
    key = f"filter.{GIT_FILTER}.clean"
    try:
        current = subprocess.run(["git", "config", "--local", "--get", key], cwd=repo, capture_output=True, text=True)
        wanted = strip_command()
        if current.stdout.strip() == wanted:
            return "configured"
        subprocess.run(["git", "config", "--local", key, wanted], cwd=repo, check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError) as error:
        return f"could not be configured ({error}); saved outputs will show in `git status`"
    return "configured now (saved outputs stay out of git)"


def main(argv: list[str] | None = None) -> int:
    import peach_lite

    problems: list[str] = []
    print(f"python {sys.version.split()[0]}")
    if sys.version_info < (3, 10):
        problems.append("Python >= 3.10 is needed.")
    try:
        import torch

        from peach_lite.device import describe_device

        print(f"torch {torch.__version__}: {describe_device()}")
    except ImportError as error:
        problems.append(f"torch is missing ({error}); run `make install`.")
    try:
        import mujoco

        print(f"mujoco {mujoco.__version__}")
    except ImportError as error:
        problems.append(f"mujoco is missing ({error}); run `make install`.")
    backend = os.environ.get("MUJOCO_GL", "<unset>")
    ok, message = render_works(backend) if backend != "<unset>" else (False, "MUJOCO_GL unset")
    print(f"rendering with MUJOCO_GL={backend}: {'ok' if ok else 'FAILED: ' + message}")
    if ok:
        threads_ok, threads_message = render_works(backend, probe=_THREAD_PROBE)
        print(f"rendering from a widget callback's thread: {'ok' if threads_ok else 'FAILED: ' + threads_message}")
        if not threads_ok:
            problems.append("MuJoCo renders in the main thread but not from another thread (widget callbacks "
                            f"would show errors or black frames): {threads_message}")
    if not ok:
        alternatives = [b for b in ("egl", "osmesa") if b != backend and render_works(b)[0]]
        if alternatives:
            problems.append(f"Rendering fails with MUJOCO_GL={backend} but works with "
                            f"MUJOCO_GL={alternatives[0]}: `export MUJOCO_GL={alternatives[0]}`.")
        else:
            problems.append(GL_HELP)
    from peach_lite.budget import Budget

    print(Budget.from_env())
    print(f"git filter stripping notebook outputs: {configure_git_filter()}")
    print(f"peach_lite {peach_lite.__version__}")
    if problems:
        print("\nPROBLEMS:")
        for problem in problems:
            print(f"- {problem}")
        return 1
    print("all good")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
