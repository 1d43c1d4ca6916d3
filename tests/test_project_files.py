"""Project conventions: lesson pairs in sync, environment.yml agrees with pip, the Makefile and CI agree."""
import re
import tomllib

import jupytext
import nbformat
import pytest
import yaml

from peach_lite.paths import REPO_ROOT

NOTEBOOKS = REPO_ROOT / "notebooks"
LESSONS = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.py"))


def _cells(notebook):
    return [(cell.cell_type, cell.source.strip()) for cell in notebook.cells]


def test_there_are_lessons():
    assert LESSONS, "notebooks/ has no NN_name.py lessons"


@pytest.mark.parametrize("script", LESSONS, ids=[p.stem for p in LESSONS])
def test_lesson_pair_is_in_sync_and_stripped(script):
    paired = script.with_suffix(".ipynb")
    assert paired.exists(), f"{script.name} has no .ipynb pair: run `make sync`"
    from_script = jupytext.read(script)
    from_ipynb = nbformat.read(paired, as_version=4)
    assert _cells(from_script) == _cells(from_ipynb), f"{script.name} and {paired.name} differ: run `make sync`"
    for cell in from_ipynb.cells:
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None, f"{paired.name} has stored outputs: `make sync` strips them"


@pytest.mark.parametrize("script", LESSONS, ids=[p.stem for p in LESSONS])
def test_lesson_follows_the_conventions(script):
    text = script.read_text()
    code = "\n".join(c.source for c in jupytext.read(script).cells if c.cell_type == "code")
    assert "os.environ" not in code and "PEACH_FAST" not in code, f"{script.name}: ask the Budget, never the environment"
    assert not re.search(r"if\s+budget\.fast\s+else|budget\.fast\s+and|budget\.fast\s+or", code), \
        f"{script.name}: use budget.pick(full=..., fast=...) instead of a ternary"
    first_code = next(c for c in jupytext.read(script).cells if c.cell_type == "code").source
    assert "Budget.from_env()" in first_code and "print(" in first_code, \
        f"{script.name}: the first code cell must build the Budget and print the mode"
    assert re.search(r"^\s*assert ", text, re.M), f"{script.name}: a lesson proves its claims with assert cells"


def _requirements(lines):
    out = {}
    for line in lines:
        line = line.strip()
        if not line or line.startswith(("-e", "#")):
            continue
        name = re.split(r"[<>=!~\[]", line, maxsplit=1)[0].strip().lower().replace("_", "-")
        out[name] = line.replace(" ", "").lower()
    return out


def test_environment_yml_agrees_with_pyproject():
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    pip_side = _requirements(project["dependencies"] + project["optional-dependencies"]["dev"])
    env = yaml.safe_load((REPO_ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    conda_side = _requirements(pip_section)
    assert conda_side == pip_side
    assert "-e ." in pip_section
    assert any(str(d).startswith("python") for d in env["dependencies"])


def test_constraints_pin_every_dependency_exactly():
    pins = {}
    for line in (REPO_ROOT / "constraints.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            pins[name.lower().replace("_", "-")] = version
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    for name in _requirements(project["dependencies"] + project["optional-dependencies"]["dev"]):
        assert name in pins, f"constraints.txt does not pin {name}"
    assert pins["torch"] == "2.13.0", "torch must stay pinned to the local CPU wheel 2.13.0"


def test_ci_runs_exactly_the_readme_test_command():
    ci = (REPO_ROOT / ".ci" / "run").read_text()
    assert re.search(r"^make test$", ci, re.M)
    readme = (REPO_ROOT / "README.md").read_text()
    assert "make test" in readme and "make lab" in readme
