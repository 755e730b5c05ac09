"""Host layout: every path, unit name, compose project and mesh name llmfleet uses on a deployed host.

Render (where rendered files land), deploy (what it installs and restarts) and the checks (what they
look for) all read these names from here, so the three always agree.
"""

from __future__ import annotations

import ipaddress

# ----------------------------------------------------------------------------- directories and binaries
SYSTEMD_DIR = "/etc/systemd/system"
#: Non-secret llmfleet data on every host (tailscale up arguments, firewall rules, ...).
LLMFLEET_ETC = "/etc/llmfleet"
#: Files deploy writes with values (0600, root): llama-server API keys, ``<backend>.key``.
SECRETS_DIR = f"{LLMFLEET_ETC}/secrets"
#: State deploy keeps on a host (markers of what was applied).
STATE_DIR = "/var/lib/llmfleet"
#: GGUF weights, by the artifact's file name.
MODELS_DIR = f"{STATE_DIR}/models"
#: Downloaded, verified archives (kept so a re-install needs no download).
ARTIFACT_CACHE = "/var/cache/llmfleet/artifacts"
#: Per-run scratch space on tmpfs (auth keys live here for the duration of one command).
RUN_DIR = "/run/llmfleet"
#: Small stdlib-only Python helpers deploy uploads to every host (see :mod:`llmfleet.deploy.remote`).
HELPERS_DIR = "/usr/local/lib/llmfleet"
ARTIFACT_HELPER = f"{HELPERS_DIR}/artifact.py"
WAIT_HELPER = f"{HELPERS_DIR}/wait.py"
GATEWAY_HELPER = f"{HELPERS_DIR}/gateway.py"
WARMUP_HELPER = f"{HELPERS_DIR}/warmup.py"
#: The last Ollama warm-up of each backend (``<backend>.json``: cold time per model, models loaded).
WARMUP_DIR = f"{STATE_DIR}/warm-up"

#: The gateway's directory (config.yaml, compose file, .env) unless the inventory sets ``gateway.install_dir``.
GATEWAY_DIR = "/opt/llmfleet/litellm"
#: Deploy installs the pinned ``litellm[proxy]`` here for the systemd-venv runtime.
LITELLM_VENV = "/opt/llmfleet/litellm-venv"
#: The gateway's last-known-good configuration (inside its install dir), restored when a new one does not become ready.
GATEWAY_SNAPSHOT = ".llmfleet-previous"
#: Per-request records (``gateway.logging.request_log``): the callback module beside config.yaml,
#: the instance LiteLLM loads (``callbacks: [module.instance]``) and the JSON-lines file on the gateway host.
REQUEST_LOG_MODULE = "llmfleet_request_log"
REQUEST_LOG_CALLBACK = f"{REQUEST_LOG_MODULE}.handler"
REQUEST_LOG_DIR = "/var/log/litellm"
REQUEST_LOG_FILE = f"{REQUEST_LOG_DIR}/requests.jsonl"
#: The compose project name of the gateway (``docker compose -p``; also the top-level ``name:``).
COMPOSE_PROJECT = "litellm"

#: Where pinned binaries are unpacked, one directory per tool and version (``{version}`` = e.g. b4589).
LLAMA_ROOT = "/opt/llmfleet/llama.cpp/{version}"
LLAMA_SERVER_BIN = f"{LLAMA_ROOT}/llama-server"
OLLAMA_DIR = "/opt/llmfleet/ollama"
OLLAMA_ROOT = f"{OLLAMA_DIR}/{{version}}"
OLLAMA_LINK = "/usr/local/bin/ollama"
OLLAMA_USER = "ollama"
OLLAMA_HOME = "/var/lib/ollama"
HEADSCALE_ROOT = "/opt/llmfleet/headscale/{version}"
HEADSCALE_BIN = "/usr/local/bin/headscale"
HEADSCALE_ETC = "/etc/headscale"
HEADSCALE_STATE = "/var/lib/headscale"
TAILSCALE_ROOT = "/opt/llmfleet/tailscale/{version}"
#: The pinned standalone Docker Compose v2 binary (gateway.engine.compose_binary), one directory per version.
COMPOSE_ROOT = "/opt/llmfleet/docker-compose/{version}"
TAILSCALE_LINK = "/usr/local/bin/tailscale"
TAILSCALED_LINK = "/usr/local/sbin/tailscaled"
TAILSCALE_STATE = "/var/lib/tailscale"
#: tailscaled's WireGuard UDP port.
TAILSCALE_PORT = 41641

# ----------------------------------------------------------------------------- units
LITELLM_SERVICE = "litellm.service"
OLLAMA_SERVICE = "ollama.service"
HEADSCALE_SERVICE = "headscale.service"
TAILSCALED_SERVICE = "tailscaled.service"
#: The unit that loads the nftables rules admitting backend ports only over the mesh.
FIREWALL_SERVICE = "llmfleet-firewall.service"


def llama_service(backend: str) -> str:
    """The systemd unit of the llama-server serving ``backend``."""
    return f"llama-server-{backend}.service"


# ----------------------------------------------------------------------------- mesh
#: The mesh interface tailscaled creates; backends are reachable only through it.
MESH_INTERFACE = "tailscale0"
#: Tailscale's CGNAT range, the default tailnet prefix (a fleet may pick a narrower one in ``mesh.prefix_v4``).
MESH_NETWORK = ipaddress.IPv4Network("100.64.0.0/10")
#: Tailscale ACL tag per host role.
ROLE_TAGS = {"gateway": "tag:gateway", "gpu": "tag:gpu", "headscale": "tag:headscale"}
#: The rendered ``tailscale up`` arguments (one per line).
TAILSCALE_ARGS_FILE = f"{LLMFLEET_ETC}/tailscale-up.args"
#: Hash of the ``tailscale up`` arguments last applied successfully.
TAILSCALE_APPLIED = f"{STATE_DIR}/tailscale-up.applied"
#: nftables rules that admit backend ports only over the mesh, and their table.
FIREWALL_FILE = f"{LLMFLEET_ETC}/firewall.nft"
FIREWALL_TABLE = "llmfleet"
