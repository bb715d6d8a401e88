# Two entry points (see README):
#   make run   - install into .venv and run the baseline scenario with its outputs
#   make test  - install into .venv (with test extras) and run the test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
OUT    ?= runs/baseline

.PHONY: run test install install-test bench clean

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

test: install-test
	$(BIN)/python -m pytest -q

bench: install
	$(BIN)/python benchmarks/bench.py

clean:
	rm -rf $(VENV) runs build *.egg-info
