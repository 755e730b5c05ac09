# llmfleet — two commands do all set-up on a fresh Debian/Ubuntu machine:
#   make demo   validate + render the lab fleet, then check it through a real local gateway
#   make test   the whole suite (lint, unit, real-program tests)
SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
LLMFLEET := $(VENV)/bin/llmfleet
STAMP := $(VENV)/.deps-installed

include tools/programs.mk

.PHONY: help venv demo test lint unit bench schema docs render-examples clean

help: ## list targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | sort

$(STAMP): pyproject.toml constraints.txt
	@command -v $(PYTHON) >/dev/null || { echo "need python3 (>= 3.11)"; exit 2; }
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "need Python >= 3.11"; exit 2; }
	@$(PYTHON) -c 'import venv, ensurepip' 2>/dev/null || { apt-get update -qq && apt-get install -y -qq python3-venv; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP) ## project venv with pinned dependencies

demo: $(STAMP) litellm-proxy llama-server ## validate + render the lab fleet, start a local lab gateway and check it
	$(LLMFLEET) validate inventories/lab.yml
	$(LLMFLEET) render inventories/lab.yml --out out/lab
	$(PY) -m llmfleet.lab.local demo

lint: $(STAMP) ## ruff
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

unit: $(STAMP) ## fast tests only (no real programs)
	$(VENV)/bin/pytest -q -m 'not real and not lab'

test: $(STAMP) programs ## the whole suite: lint + every test, real programs included
	$(MAKE) --no-print-directory lint
	LLMFLEET_REQUIRE_REAL=1 $(VENV)/bin/pytest -q

bench: $(STAMP) programs ## benchmarks; results are written to benchmarks/RESULTS-*.md
	$(PY) benchmarks/bench_render.py
	$(PY) benchmarks/bench_checks.py

schema: $(STAMP) ## regenerate schema/inventory.schema.json
	$(LLMFLEET) schema --out schema/inventory.schema.json

docs: $(STAMP) schema ## regenerate the README's inventory reference from the schema
	$(PY) -m llmfleet.docs README.md

render-examples: $(STAMP) ## re-render the golden files of the example fleets
	for f in inventories/*.yml; do n=$$(basename $$f .yml); case $$n in *.*) continue;; esac; \
	  $(LLMFLEET) render $$f --out tests/golden/$$n || exit 1; done

clean: ## remove build outputs (not the program cache)
	rm -rf out build dist .pytest_cache
