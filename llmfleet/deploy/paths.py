"""Paths on the deployed hosts that deploy owns (the rendered files' paths come from the render).

Paths shared with rendered files (venv, llama-server binaries, model directory, secrets
directory, ...) are imported from :mod:`llmfleet.render.context` so both sides always agree.
"""

from __future__ import annotations

from llmfleet.render.context import (
    HEADSCALE_BIN,
    HEADSCALE_ETC,
    LITELLM_VENV,
    LLAMA_SERVER_BIN,
    LLMFLEET_ETC,
    MODELS_DIR,
    OLLAMA_DIR,
    SECRETS_DIR,
    SYSTEMD_DIR,
)

#: Small stdlib-only Python helpers deploy uploads to every host (see :mod:`llmfleet.deploy.remote`).
HELPERS_DIR = "/usr/local/lib/llmfleet"
ARTIFACT_HELPER = f"{HELPERS_DIR}/artifact.py"
WAIT_HELPER = f"{HELPERS_DIR}/wait.py"
GATEWAY_HELPER = f"{HELPERS_DIR}/gateway.py"
#: State deploy keeps on a host (markers of what was applied).
STATE_DIR = "/var/lib/llmfleet"
#: Downloaded, verified archives (kept so a re-install needs no download).
ARTIFACT_CACHE = "/var/cache/llmfleet/artifacts"
#: Where pinned binaries are unpacked, one directory per tool and version.
OLLAMA_ROOT = f"{OLLAMA_DIR}/{{version}}"
LLAMA_ROOT = "/opt/llmfleet/llama.cpp/{version}"
HEADSCALE_ROOT = "/opt/llmfleet/headscale/{version}"
TAILSCALE_ROOT = "/opt/llmfleet/tailscale/{version}"
#: Hash of the `tailscale up` arguments last applied successfully.
TAILSCALE_APPLIED = f"{STATE_DIR}/tailscale-up.applied"
#: The rendered `tailscale up` arguments (one per line).
TAILSCALE_ARGS_FILE = f"{LLMFLEET_ETC}/tailscale-up.args"
#: nftables rules that admit backend ports only over the mesh, and the unit that loads them.
FIREWALL_FILE = f"{LLMFLEET_ETC}/firewall.nft"
FIREWALL_UNIT = "llmfleet-firewall.service"
#: Per-run scratch space on tmpfs (auth keys live here for the duration of one command).
RUN_DIR = "/run/llmfleet"
#: The gateway's last-known-good configuration, restored when a new one does not become ready.
GATEWAY_SNAPSHOT = ".llmfleet-previous"
#: The mesh interface tailscaled creates; backends are reachable only through it.
MESH_INTERFACE = "tailscale0"

__all__ = [
    "ARTIFACT_CACHE",
    "ARTIFACT_HELPER",
    "FIREWALL_FILE",
    "FIREWALL_UNIT",
    "GATEWAY_HELPER",
    "GATEWAY_SNAPSHOT",
    "HEADSCALE_BIN",
    "HEADSCALE_ETC",
    "HEADSCALE_ROOT",
    "HELPERS_DIR",
    "LITELLM_VENV",
    "LLAMA_ROOT",
    "LLAMA_SERVER_BIN",
    "LLMFLEET_ETC",
    "MESH_INTERFACE",
    "MODELS_DIR",
    "OLLAMA_DIR",
    "OLLAMA_ROOT",
    "RUN_DIR",
    "SECRETS_DIR",
    "STATE_DIR",
    "SYSTEMD_DIR",
    "TAILSCALE_APPLIED",
    "TAILSCALE_ARGS_FILE",
    "TAILSCALE_ROOT",
    "WAIT_HELPER",
]
