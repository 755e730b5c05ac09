# llmfleet — two commands do all set-up on a fresh Debian/Ubuntu machine:
#   make demo   validate + render the lab fleet, boot it as real hosts, deploy it twice, verify, check, tear down
#               (make demo FLEET=<seed>: a seed fleet of inventories/ with its lab overlay <seed>.lab.yml)
#   make test   the whole suite (lint, unit, real-program and lab-host tests)
# Both need root on a Debian/Ubuntu machine (apt, network namespaces, systemd-nspawn).
SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
LLMFLEET := $(VENV)/bin/llmfleet
STAMP := $(VENV)/.deps-installed

include tools/programs.mk

.PHONY: litellm-keys help venv demo demo-local lab-tools lab-up lab-check lab-down test lint unit bench bench-deploy schema docs render-examples clean

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

FLEET ?= lab

demo: $(STAMP) programs lab-tools ## validate + render the lab fleet (or FLEET=<seed> with its lab overlay); boot, deploy (twice), verify, check; tear down
	@if [ "$(FLEET)" = lab ]; then \
	  $(LLMFLEET) validate inventories/lab.yml && $(LLMFLEET) render inventories/lab.yml --out out/lab && $(PY) -m fleetlab.demo run; \
	else \
	  $(LLMFLEET) validate inventories/$(FLEET).yml --env lab && $(LLMFLEET) render inventories/$(FLEET).yml --env lab --out out/$(FLEET) && \
	  $(PY) -m fleetlab.demo run --fleet $(FLEET) --workdir .lab-$(FLEET) --out out/$(FLEET)-report; \
	fi

demo-local: $(STAMP) litellm-proxy llama-server ## no root needed: a real LiteLLM + llama-server on loopback, checked
	$(LLMFLEET) validate inventories/lab-local.yml
	$(PY) -m fleetlab.local demo

lab-tools: ## install what the lab hosts need (mmdebstrap, systemd-nspawn, nftables, ...; root)
	bash tools/install-lab-tools.sh

lab-up: $(STAMP) programs lab-tools ## boot + deploy the lab fleet and leave it running (in .lab/)
	$(PY) -m fleetlab.demo up

lab-check: $(STAMP) ## verify + check the running lab fleet (after lab-up)
	$(PY) -m fleetlab.demo check

lab-down: ## tear the lab fleet down
	@if [ -f .lab/lab-state.json ]; then $(PY) -m fleetlab.hosts down --workdir .lab; else echo "no lab is running"; fi

lint: $(STAMP) ## ruff
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

unit: $(STAMP) ## fast tests only (no real programs)
	$(VENV)/bin/pytest -q -m 'not real and not lab'

test: $(STAMP) programs lab-tools ## the whole suite: lint + every test, real programs and lab hosts included
	$(MAKE) --no-print-directory lint
	LLMFLEET_REQUIRE_REAL=1 $(VENV)/bin/pytest -q

bench: $(STAMP) programs lab-tools ## benchmarks; results are written to benchmarks/RESULTS-*.md
	$(PY) benchmarks/bench_render.py
	$(PY) benchmarks/bench_checks.py
	$(PY) benchmarks/bench_ollama_routes.py
	$(PY) benchmarks/bench_deploy.py

bench-deploy: $(STAMP) programs lab-tools ## only the deploy benchmark (1/2/4 booted lab hosts, a few minutes)
	$(PY) benchmarks/bench_deploy.py

schema: $(STAMP) ## regenerate schema/inventory.schema.json
	$(LLMFLEET) schema --out schema/inventory.schema.json

docs: $(STAMP) schema ## regenerate the README's inventory reference from the schema
	$(PY) -m llmfleet.docs README.md

LITELLM_KEYS_VERSION ?= $(or $(LITELLM_VERSION),1.106.2)
litellm-keys: litellm-proxy ## regenerate the table of keys the pinned LiteLLM accepts (llmfleet/inventory/litellm_keys/<ver>.json)
	LITELLM_LOCAL_MODEL_COST_MAP=True $(CACHE)/litellm-$(LITELLM_KEYS_VERSION)/bin/python tools/gen-litellm-keys.py \
	  llmfleet/inventory/litellm_keys/$(LITELLM_KEYS_VERSION).json

render-examples: $(STAMP) ## re-render the golden files of the example fleets
	for f in inventories/*.yml; do n=$$(basename $$f .yml); case $$n in *.*) continue;; esac; \
	  $(LLMFLEET) render $$f --out tests/golden/$$n || exit 1; done

clean: ## remove build outputs (not the program cache)
	rm -rf out build dist .pytest_cache
