# peach-lite: two commands on a fresh machine (python3 + make):
#   make lab   -> create .venv, install the pinned stack, open JupyterLab on notebooks/
#   make test  -> create .venv, install the pinned stack, run unit tests + every lesson (fast mode)
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.peach_lite-installed
SWEEP_STAMP := $(VENV)/.peach_lite-sweep-installed
ROOT_FLAG := $(if $(filter 0,$(shell id -u 2>/dev/null)),--allow-root,)

.PHONY: install lab test unit browser lessons sync bench doctor clean

install: $(STAMP)

# Reinstall only when the dependency files change; a second run reuses .venv.
$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c "import sys; assert sys.version_info >= (3, 10)" 2>/dev/null || \
	  { echo "ERROR: Python >= 3.10 is needed as '$(PYTHON)' (try: make PYTHON=python3.11 ...)."; exit 1; }
	@$(PYTHON) -c "import venv, ensurepip" 2>/dev/null || \
	  { echo "ERROR: Python's venv module is missing. On Debian/Ubuntu: sudo apt-get install python3-venv"; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[dev]"
	@touch $(STAMP)
	@echo "peach-lite installed in $(VENV)"

# The sweep extra (Ray, rliable) runs the benchmarks' seeds and their statistics; the tests need it, the lessons
# (make lab) do not. It is reinstalled whenever the base install is.
$(SWEEP_STAMP): $(STAMP)
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[dev,sweep]"
	@touch $(SWEEP_STAMP)

doctor: install
	$(PY) -m peach_lite.doctor

lab: install
	@$(PY) -m peach_lite.doctor || echo "WARNING: see the problems above; lessons that render MuJoCo frames will fail."
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks $(ROOT_FLAG)

# TEST_WORKERS pytest-xdist processes share the tests, a file to each (--dist loadfile keeps a lesson's cells, and the
# browser test's one JupyterLab, in one process); TEST_WORKERS=0 runs them all in this one.
TEST_WORKERS ?= 2
test: $(SWEEP_STAMP)
	@PEACH_FAST=1 $(PY) -m peach_lite.doctor
	PEACH_FAST=1 $(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile

unit: $(SWEEP_STAMP)
	PEACH_FAST=1 $(PY) -m pytest tests -m "not browser"

# The lessons in JupyterLab in headless Chromium (needs Debian's chromium; .ci/run installs it).
browser: install
	PEACH_FAST=1 $(PY) -m pytest tests/browser -m browser

lessons: install
	PEACH_FAST=1 $(PY) -m pytest notebooks

# Pair every lesson's .py with its .ipynb (outputs stripped) after editing either side.
sync: install
	$(VENV)/bin/jupytext --sync notebooks/[0-9]*.py
	$(VENV)/bin/jupyter nbconvert --clear-output --inplace --log-level=WARN notebooks/[0-9]*.ipynb

# Every benchmark runs its seeds through peach_lite.sweep (Ray, local unless RAY_ADDRESS names a cluster).
bench: $(SWEEP_STAMP)
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[dev,sweep,bench]"
	for script in benchmarks/*.py; do $(PY) $$script || exit 1; done
	$(PY) -m peach_lite.results --figures
	$(PY) -m peach_lite.results --update-readme

clean:
	rm -rf $(VENV) *.egg-info
