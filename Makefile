# Every target creates .venv when it is missing; nothing is installed outside it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
BASE := $(VENV)/.installed-base
DEV := $(VENV)/.installed-dev

.PHONY: install install-dev demo docs test lint bench clean

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

# The README's gallery (docs/*.png): the demo's plots and a screenshot of its report.
DOCS_RUN := results/docs-demo
CHROMIUM ?= chromium
docs: $(BASE)
	rm -rf $(DOCS_RUN)
	$(BIN)/lrsweep run configs/digits.yaml --out $(DOCS_RUN)
	$(BIN)/lrsweep find configs/digits.yaml --out $(DOCS_RUN)
	$(BIN)/lrsweep report $(DOCS_RUN)
	cp $(addprefix $(DOCS_RUN)/plots/,u_curve.png loss_vs_epoch.png rangetest.png) docs/
	$(BIN)/lrsweep run configs/compare-optimizers.yaml --out $(DOCS_RUN)-compare --overwrite
	cp $(DOCS_RUN)-compare/plots/u_curve.png docs/compare-optimizers-u-curve.png
	$(CHROMIUM) --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --no-first-run \
		--disable-background-networking --disable-component-update --disable-sync \
		--hide-scrollbars --force-device-scale-factor=1 --user-data-dir=$(DOCS_RUN)/.chromium \
		--window-size=1280,1900 --screenshot=$(abspath docs/report-screenshot.png) \
		file://$(abspath $(DOCS_RUN))/report.html 2>/dev/null

test: $(DEV)
	$(BIN)/ruff check lrsweep tests benchmarks
	$(BIN)/mypy
	$(BIN)/python -m pytest -n 2 -q

lint: $(DEV)
	$(BIN)/ruff check lrsweep tests benchmarks
	$(BIN)/mypy
	$(BIN)/ruff format --check lrsweep tests benchmarks

bench: $(BASE)
	$(BIN)/python benchmarks/bench_training.py
	$(BIN)/python benchmarks/bench_refine.py
	$(BIN)/python benchmarks/bench_find.py
	$(BIN)/python benchmarks/bench_estimate.py --blas-threads 1
	$(BIN)/python benchmarks/bench_data.py
	$(BIN)/python benchmarks/bench_optimizers.py
	$(BIN)/python benchmarks/bench_answer.py --jobs 2
	$(BIN)/python benchmarks/bench_divergence.py

clean:
	rm -rf $(VENV) results .pytest_cache .ruff_cache
