# modelops — one entry point for setup, checks, tests, images, the local cluster and the demo.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
export PATH := $(abspath $(VENV))/bin:$(PATH)

.PHONY: help install lint lint-python lint-generated test test-unit test-cluster bench demo clean

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $@

install: $(VENV)/.installed ## create .venv with everything the tests need

lint: install lint-python ## ruff, mypy --strict, import contracts (and generated-file drift)

lint-python:
	$(VENV)/bin/ruff check runtime operator cli tests bench
	$(VENV)/bin/ruff format --check runtime operator cli tests bench
	$(VENV)/bin/mypy runtime/modelops_runtime operator/modelops_operator cli/modelops_cli
	$(VENV)/bin/lint-imports

test-unit: install ## unit and in-process API tests (no cluster)
	$(PY) -m pytest -m 'not cluster' -q

test: install ## the whole suite: lint, unit, API, and the cluster tests when the cluster is up
	$(MAKE) lint
	$(PY) -m pytest -q $(PYTEST_ARGS)

bench: install ## benchmarks against peers measured in the same run (see docs/benchmarks.md)
	$(PY) bench/predictor.py $(BENCH_ARGS)

clean: ## remove the venv and caches inside the repo
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

-include tests/cluster/cluster.mk
