# Real programs for tests and demos, provisioned into a version-keyed cache outside the repo.
# Include from the main Makefile:   include tools/programs.mk
# Each script is idempotent (a stamp/version check makes re-runs instant).

CACHE ?= $(or $(LLMFLEET_CACHE),$(HOME)/.cache/llmfleet)
PROGRAMS_DIR := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
PROGRAMS_ENV := LLMFLEET_CACHE=$(CACHE)

.PHONY: programs litellm-proxy compose-bin llama-server go-programs

programs: litellm-proxy compose-bin llama-server go-programs ## install all real programs (litellm proxy, docker compose, llama-server, headscale, tailscale)

litellm-proxy: ## LiteLLM proxy venv in $CACHE/litellm-<ver>/ (~1 min cold)
	$(PROGRAMS_ENV) bash $(PROGRAMS_DIR)/install-litellm.sh

compose-bin: ## Docker Compose v2 binary at $CACHE/bin/docker-compose-<ver> (~5 s cold)
	$(PROGRAMS_ENV) bash $(PROGRAMS_DIR)/install-compose.sh

llama-server: ## build llama.cpp's llama-server into $CACHE/llama-server-<ver>/ (~4-5 min cold)
	$(PROGRAMS_ENV) bash $(PROGRAMS_DIR)/build-llama-server.sh

go-programs: ## build Headscale (every release the lab starts: 0.23.0 0.26.1 0.28.0 0.29.2), Tailscale + Ollama from their Go modules into $CACHE/go-programs/ (~30-50 min cold on 2 cores)
	$(PROGRAMS_ENV) PYTHON=$(abspath $(or $(wildcard .venv/bin/python),$(shell command -v python3))) bash $(PROGRAMS_DIR)/build-go-programs.sh
