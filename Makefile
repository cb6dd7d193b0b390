# The lab book's commands. Each creates the virtual environment first if it is missing.
#   make book   execute every notebook (PRESET=workshop, SEED=0) into build/, figures into figures/
#   make test   run the whole test suite (every notebook on digits and on 28x28 images)
#   make lab    open JupyterLab on notebooks/
#   make bench  print the speed and memory figures (benchmarks/)
#   make solutions  execute the worked solutions (solutions/) into build/solutions/
#   make check  the attendees' setup check, before a workshop
#   make warm   run every search of the workshop preset into runs/, so search cells resume in seconds

PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3 2>/dev/null)
VENV ?= .venv
BIN := $(VENV)/bin
PRESET ?= workshop
SEED ?= 0
# One test process per core, four at most (each may hold a notebook's kernel and a search's processes).
TEST_WORKERS ?= $(shell n=$$(nproc 2>/dev/null || sysctl -n hw.ncpu 2>/dev/null || echo 2); echo $$(( n > 4 ? 4 : n )))

.PHONY: help setup setup-dev lock chromium book solutions solutions-reference check warm workshop-kit lab test lint bench clean

help:
	@sed -n '2,9p' Makefile

$(BIN)/python:
	@test -n "$(PYTHON)" || { echo "No python3.11 found: install Python 3.11, or run make PYTHON=/path/to/python3.11"; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed; run make PYTHON=/path/to/python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Stamp files: reinstall only when a requirements file changes.
$(VENV)/.runtime-installed: $(BIN)/python requirements.txt requirements.lock pyproject.toml
	$(BIN)/python -m pip install -r requirements.txt -c requirements.lock -e .
	@touch $@

$(VENV)/.dev-installed: $(VENV)/.runtime-installed requirements-dev.txt
	$(BIN)/python -m pip install -r requirements-dev.txt -c requirements.lock
	@touch $@

setup: $(VENV)/.runtime-installed

setup-dev: $(VENV)/.dev-installed

# A new requirements.lock: the newest releases requirements-dev.txt allows, installed into a
# fresh environment of its own and frozen. Then run `make test` and recompute what it says differs.
lock:
	rm -rf build/lock-venv
	$(PYTHON) -m venv build/lock-venv
	build/lock-venv/bin/python -m pip install --quiet --upgrade pip
	build/lock-venv/bin/python -m pip install --quiet -r requirements-dev.txt
	{ sed -n '1,4p' requirements.lock; build/lock-venv/bin/python -m pip freeze --exclude-editable; } > build/requirements.lock
	mv build/requirements.lock requirements.lock
	rm -rf build/lock-venv

# The browser test drives JupyterLab in the system Chromium. Where none is found, install
# Debian's `chromium` (as root, or with passwordless sudo); otherwise say how, and go on:
# the test then skips with the reason (and fails under CI=true).
chromium:
	@if [ -n "$$LAB_CHROMIUM" ] || command -v chromium >/dev/null || command -v chromium-browser >/dev/null \
		|| command -v google-chrome >/dev/null; then exit 0; fi; \
	if ! command -v apt-get >/dev/null; then \
		echo "No Chromium found and no apt-get: install Chromium or set LAB_CHROMIUM, or the browser test is skipped."; \
		exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then sudo=""; elif sudo -n true 2>/dev/null; then sudo="sudo -n"; else \
		echo "No Chromium found: run 'sudo apt-get install chromium', or the browser test is skipped."; \
		exit 0; fi; \
	echo "Installing Debian's chromium for the browser test..."; \
	$$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq chromium >/dev/null \
		|| echo "Installing chromium failed: the browser test will be skipped (or fail under CI=true)."

book: setup
	$(BIN)/python -m lab.book --preset $(PRESET) --seed $(SEED)

# ONLY="01 02" limits a run to some notebooks.
solutions: setup
	$(BIN)/python -m lab.book --solutions --preset $(PRESET) --seed $(SEED) $(if $(ONLY),--only $(ONLY))

# The answers the solutions print beside every run's own: workshop preset, seed 0, committed.
solutions-reference: setup
	$(BIN)/python -m lab.book --solutions --preset workshop --seed 0 --figures-dir solutions/reference $(if $(ONLY),--only $(ONLY))

# Before a workshop: every attendee runs `make check`; the instructor's machines run `make warm`.
check: setup
	$(BIN)/python -m lab.setup_check

warm: setup
	$(BIN)/python -m lab.workshop warm --seed $(SEED)

# The schedule and the generated blocks of the instructor notes (workshop/).
workshop-kit: setup
	$(BIN)/python -m lab.workshop

lab: setup
	$(BIN)/jupyter lab notebooks $(if $(filter 0,$(shell id -u)),--allow-root)

# Tests run in TEST_WORKERS processes (pytest-xdist), worksteal balancing the long notebook runs.
# On 2 cores the suite is CPU-bound: 2, 3 and 4 workers each took 12.2 to 12.3 minutes.
test: setup-dev chromium
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist worksteal

lint: setup-dev
	$(BIN)/ruff check lab tests benchmarks notebooks solutions

bench: setup-dev
	$(BIN)/python benchmarks/training_speed.py
	$(BIN)/python benchmarks/panel_browser.py
	$(BIN)/python benchmarks/tuning_overhead.py
	$(BIN)/python benchmarks/memory_per_trial.py
	$(BIN)/python benchmarks/distributed_search.py
	$(BIN)/python benchmarks/acquisition.py
	$(BIN)/python benchmarks/notebook_times.py --preset $(PRESET) --warm

clean:
	rm -rf build runs .pytest_cache
