# Quick start on Debian 12 / Raspberry Pi OS: `make demo` and `make test`.
# Every target bootstraps first (scripts/bootstrap.sh is silent when there is nothing to do).

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

VENV := .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=
PYTEST_WORKERS ?= 2
# Two test processes, one test file each at a time (module fixtures stay shared): the end-to-end tests mostly wait on
# brokers and agent processes, so two fit on 2 cores. PYTEST_WORKERS=0 runs everything in this process.
DEMO_ARGS ?=
BENCHES := $(sort $(wildcard bench/bench_*.py))
SMOKE_TIMEOUT_S ?= 120
# A bench that stops running is found by `make test`, not by the next person to measure: each runs --smoke.

.PHONY: help bootstrap test lint demo bench bench-smoke asyncapi clean

help:
	@echo "make demo      run the in-store demo (DEMO_ARGS=...)"
	@echo "make test      lint, type-check, run the tests, then every bench with --smoke (PYTEST_ARGS=...)"
	@echo "make lint      ruff check, ruff format --check, mypy"
	@echo "make bench     run every bench/bench_*.py"
	@echo "make bench-smoke  run bench/_common.py and every bench/bench_*.py with --smoke (seconds each)"
	@echo "make asyncapi  regenerate docs/asyncapi.yaml"
	@echo "make clean     remove caches and build output (keeps $(VENV))"

bootstrap:
	@bash scripts/bootstrap.sh

test: bootstrap
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/pytest -q --durations=15 -n $(PYTEST_WORKERS) --dist loadfile $(PYTEST_ARGS)
	@$(MAKE) --no-print-directory bench-smoke

lint: bootstrap
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

demo: bootstrap
	$(BIN)/python -m simulators.demo $(DEMO_ARGS)

bench: bootstrap
	@if [[ -z "$(BENCHES)" ]]; then echo "no bench/bench_*.py found"; fi
	@for bench in $(BENCHES); do echo "== $$bench"; $(BIN)/python "$$bench"; done

bench-smoke: bootstrap
	@for bench in bench/_common.py $(BENCHES); do \
	  start=$$(date +%s); \
	  if ! out=$$(timeout $(SMOKE_TIMEOUT_S) $(BIN)/python "$$bench" --smoke 2>&1); then \
	    echo "$$out"; echo "FAILED: $$bench --smoke"; exit 1; \
	  fi; \
	  echo "bench smoke ok: $$bench ($$(( $$(date +%s) - start )) s)"; \
	done

asyncapi: bootstrap
	$(BIN)/edge-agent asyncapi --out docs/asyncapi.yaml

clean:
	rm -rf build dist .pytest_cache .mypy_cache .ruff_cache .hypothesis ./*.egg-info
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +
