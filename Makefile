# Quick start on Debian 12 / Raspberry Pi OS: `make demo` and `make test`.
# Every target bootstraps first (scripts/bootstrap.sh is silent when there is nothing to do).

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

VENV := .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=
DEMO_ARGS ?=
BENCHES := $(sort $(wildcard bench/bench_*.py))

.PHONY: help bootstrap test lint demo bench asyncapi clean

help:
	@echo "make demo      run the in-store demo (DEMO_ARGS=...)"
	@echo "make test      lint, type-check and run the tests (PYTEST_ARGS=...)"
	@echo "make lint      ruff check, ruff format --check, mypy"
	@echo "make bench     run every bench/bench_*.py"
	@echo "make asyncapi  regenerate docs/asyncapi.yaml"
	@echo "make clean     remove caches and build output (keeps $(VENV))"

bootstrap:
	@bash scripts/bootstrap.sh

test: bootstrap
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/pytest -q $(PYTEST_ARGS)

lint: bootstrap
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

demo: bootstrap
	$(BIN)/python -m simulators.demo $(DEMO_ARGS)

bench: bootstrap
	@if [[ -z "$(BENCHES)" ]]; then echo "no bench/bench_*.py found"; fi
	@for bench in $(BENCHES); do echo "== $$bench"; $(BIN)/python "$$bench"; done

asyncapi: bootstrap
	$(BIN)/edge-agent asyncapi --out docs/asyncapi.yaml

clean:
	rm -rf build dist .pytest_cache .mypy_cache .ruff_cache .hypothesis ./*.egg-info
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +
