# Two entry points (see README):
#   make run   - install into .venv and run the baseline scenario with its outputs
#   make test  - install into .venv (with test extras) and run the test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
OUT    ?= runs/baseline

.PHONY: run test install install-test install-browser bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# An editable install leaves the project's modules uncompiled, and where PYTHONDONTWRITEBYTECODE
# is set (many containers) Python then compiles them from source in every process: ~0.08 s of
# each run's start-up. compileall writes their bytecode once (git-ignored __pycache__ folders).
COMPILE = $(BIN)/python -m compileall -q sim agents scenarios analysis

install: $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	$(COMPILE)

install-test: $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[test]"
	$(COMPILE)

run: install
	$(BIN)/frontiersim run baseline --out $(OUT)
	$(BIN)/frontiersim report $(OUT)

# The dashboard's browser test (tests/test_dashboard.py) drives Debian's Chromium through
# Playwright. It is installed here when missing, where this runs as root with apt-get (as CI
# does); elsewhere the test is skipped with a note (and fails where CI is set).
install-browser:
	@if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing chromium (apt-get) for the dashboard's browser test"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else echo "note: chromium is not installed, so the dashboard's browser test is skipped (apt-get install chromium)"; fi

# The suite is spread over the CPUs (pytest-xdist), at most four processes: several tests start
# worker pools of their own. On CI's two cores this takes the suite from ~11 to ~6.5 minutes.
test: install-test install-browser
	$(BIN)/python -m pytest -q -n auto --maxprocesses 4 --dist worksteal

bench: install
	$(BIN)/python benchmarks/bench.py

clean:
	rm -rf $(VENV) runs build *.egg-info
