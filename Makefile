# Every target creates .venv when it is missing; nothing is installed outside it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
BASE := $(VENV)/.installed-base
DEV := $(VENV)/.installed-dev

.PHONY: install install-dev demo test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(BASE): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $(BASE)

$(DEV): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(BASE) $(DEV)

install: $(BASE)

install-dev: $(DEV)

demo: $(BASE)
	$(BIN)/lrsweep run configs/digits.yaml --out results/digits

test: $(DEV)
	$(BIN)/ruff check lrsweep tests benchmarks
	$(BIN)/python -m pytest -n 2 -q

lint: $(DEV)
	$(BIN)/ruff check lrsweep tests benchmarks
	$(BIN)/ruff format --check lrsweep tests benchmarks

bench: $(BASE)
	$(BIN)/python benchmarks/bench_training.py
	$(BIN)/python benchmarks/bench_refine.py
	$(BIN)/python benchmarks/bench_find.py

clean:
	rm -rf $(VENV) results .pytest_cache .ruff_cache
