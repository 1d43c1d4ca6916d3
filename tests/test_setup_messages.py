"""Setup problems are reported with the exact fix: a missing venv module, a missing GL library."""
import os
import shutil
import subprocess
import sys

import pytest

from peach_lite import doctor
from peach_lite.gl import GL_HELP
from peach_lite.paths import REPO_ROOT


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_names_the_package_when_venv_is_missing(tmp_path):
    fake_python = tmp_path / "python3"
    fake_python.write_text(
        "#!/bin/sh\n"
        'case "$*" in *ensurepip*) echo "No module named ensurepip" >&2; exit 1;; esac\n'
        f'exec {sys.executable} "$@"\n'
    )
    fake_python.chmod(0o755)
    run = subprocess.run(["make", "-C", str(REPO_ROOT), "install", f"PYTHON={fake_python}", f"VENV={tmp_path / 'venv'}"],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode != 0
    assert "sudo apt-get install python3-venv" in run.stdout + run.stderr
    assert not (tmp_path / "venv").exists()


def test_doctor_passes_on_this_machine(capsys):
    assert doctor.main() == 0
    out = capsys.readouterr().out
    assert "rendering with MUJOCO_GL=" in out and "all good" in out


def test_doctor_says_what_to_install_without_gl(monkeypatch, capsys):
    monkeypatch.setattr(doctor, "render_works", lambda backend, timeout=60.0: (False, "Cannot initialize EGL"))
    assert doctor.main() == 1
    out = capsys.readouterr().out
    assert GL_HELP in out and "apt-get install libegl1" in out


def test_doctor_suggests_the_backend_that_works(monkeypatch, capsys):
    monkeypatch.setenv("MUJOCO_GL", "glfw")
    monkeypatch.setattr(doctor, "render_works", lambda backend, timeout=60.0: (backend == "osmesa", "no display"))
    assert doctor.main() == 1
    assert "export MUJOCO_GL=osmesa" in capsys.readouterr().out


def test_import_picks_a_headless_backend():
    env = {k: v for k, v in os.environ.items() if k not in ("MUJOCO_GL", "DISPLAY")}
    run = subprocess.run([sys.executable, "-c", "import os, peach_lite; print(os.environ.get('MUJOCO_GL'))"],
                         env=env, capture_output=True, text=True, timeout=60)
    assert run.stdout.strip() in ("egl", "osmesa"), run.stdout + run.stderr
