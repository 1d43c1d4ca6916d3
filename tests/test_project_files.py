"""Project conventions: lesson pairs in sync, environment.yml agrees with pip, the Makefile and CI agree."""
import json
import re
import subprocess
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
    # Outputs a student's JupyterLab saved into the working copy are fine (git's clean filter strips
    # them); what git stores (the index, i.e. what is committed or staged) must be stripped.
    stored = _stored_in_git(paired)
    for cell in (from_ipynb if stored is None else stored).cells:
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None, f"{paired.name} has stored outputs: `make sync` strips them"


def _stored_in_git(path):
    """The notebook as git's index holds it, or None outside a git clone / for an untracked file."""
    relative = path.relative_to(REPO_ROOT).as_posix()
    try:
        shown = subprocess.run(["git", "show", f":{relative}"], cwd=REPO_ROOT, capture_output=True, text=True)
    except OSError:
        return None
    return nbformat.reads(shown.stdout, as_version=4) if shown.returncode == 0 else None


NOTEBOOK_FILES = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))


@pytest.mark.parametrize("notebook", NOTEBOOK_FILES, ids=[p.stem for p in NOTEBOOK_FILES])
def test_notebook_names_its_kernel(notebook):
    """Without metadata.kernelspec, JupyterLab opens every lesson with a "Select Kernel" dialog."""
    kernelspec = nbformat.read(notebook, as_version=4).metadata.get("kernelspec", {})
    assert kernelspec.get("name") == "python3", (
        f"{notebook.name} has no kernelspec: add `#   kernelspec: ... name: python3` to the header of "
        f"{notebook.with_suffix('.py').name} (see notebooks/00_how_to_use.py), then `make sync`")


def test_saved_outputs_stay_out_of_git(tmp_path):
    """A notebook saved with outputs by JupyterLab is stripped back to the committed bytes by the clean filter."""
    from peach_lite.doctor import GIT_FILTER, strip_command

    assert f"notebooks/*.ipynb filter={GIT_FILTER}" in (REPO_ROOT / ".gitattributes").read_text()
    path = NOTEBOOKS / "00_how_to_use.ipynb"
    shown = subprocess.run(["git", "show", ":notebooks/00_how_to_use.ipynb"], cwd=REPO_ROOT, capture_output=True, text=True)
    committed = shown.stdout if shown.returncode == 0 else path.read_text()
    notebook = json.loads(committed)
    notebook["metadata"]["language_info"] = {"name": "python", "version": "3.11"}
    notebook["metadata"]["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    for index, cell in enumerate(notebook["cells"]):
        if cell["cell_type"] == "code":
            cell["execution_count"] = index
            cell["outputs"] = [{"output_type": "stream", "name": "stdout", "text": ["saved\n"]}]
            cell["metadata"]["execution"] = {"iopub.status.idle": "2026-01-01T00:00:00Z"}
    saved = json.dumps(notebook, indent=1)
    cleaned = subprocess.run(strip_command(), shell=True, input=saved, capture_output=True, text=True, cwd=tmp_path)
    assert cleaned.returncode == 0, cleaned.stderr
    assert cleaned.stdout == committed, "the clean filter does not give back the committed notebook"


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


def test_every_taught_in_line_names_a_real_lesson_section():
    """'Taught in notebooks/NN_x.py (section "S")' in the package, tests and benchmarks: the lesson exists and has a
    heading that starts with S (a renamed or removed section must not leave its docstrings pointing nowhere)."""
    headings = {path.name: [re.sub(r"^#+\s*", "", line[2:]).strip() for line in path.read_text().splitlines() if re.match(r"^# #+ ", line)]
                for path in NOTEBOOKS.glob("[0-9][0-9]_*.py")}
    broken = []
    for folder in ("peach_lite", "tests", "benchmarks"):
        for path in sorted((REPO_ROOT / folder).rglob("*.py")):
            text = re.sub(r"\s+", " ", path.read_text())
            for lesson, section in re.findall(r'Taught in notebooks/(\d\d_\w+\.py) \(section "([^"]+)"\)', text):
                if not any(heading.startswith(section) for heading in headings.get(lesson, [])):
                    broken.append(f"{path.relative_to(REPO_ROOT)}: {lesson} / {section}")
    assert len(headings) >= 12
    assert not broken, "\n".join(broken)
