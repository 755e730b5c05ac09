"""Generate large, valid fleets for benchmarks: one gateway + N-1 GPU hosts, two models per GPU host."""

from __future__ import annotations

from typing import Any


def generate_fleet(hosts: int) -> dict[str, Any]:
    """A valid inventory with ``hosts`` hosts and about ``2 * hosts`` models."""
    data: dict[str, Any] = {
        "fleet": f"bench-{hosts}",
        "hosts": [{"name": "gw1", "address": "203.0.113.1", "roles": ["gateway", "headscale"], "mesh": {"ip": "100.64.0.1"}}],
        "backends": [],
        "models": [],
        "gateway": {"litellm_version": "1.106.2", "runtime": "systemd-venv", "master_key": "env:LITELLM_MASTER_KEY"},
        "mesh": {
            "headscale_host": "gw1",
            "headscale_version": "0.23.0",
            "server_url": "https://hs.bench.example",
            "base_domain": "mesh.bench.internal",
        },
    }
    for i in range(1, hosts):
        name = f"gpu{i}"
        ip = f"100.64.{i // 250}.{i % 250 + 2}"
        data["hosts"].append(
            {
                "name": name,
                "address": f"10.{i // 250}.{i % 250}.2",
                "roles": ["gpu"],
                "gpu": {"count": 1, "vram_gib": 24, "driver_branch": "550"},
                "mesh": {"ip": ip},
            }
        )
        data["backends"].append(
            {
                "name": f"ollama-{name}",
                "kind": "ollama",
                "host": name,
                "port": 11434,
                "ollama": {"version": "0.5.7", "context_length": 8192, "max_loaded_models": 2},
            }
        )
        for j in range(2):
            data["models"].append(
                {
                    "name": f"m{i}-{j}",
                    "backend": f"ollama-{name}",
                    "upstream": f"qwen2.5:{7 + j}b",
                    "context_window": 8192,
                    "tools": "required",
                    "vram": {"gib": 8},
                    "slo": {"ttft_p95_ms": 500, "e2e_p95_ms": 4000},
                    "tags": ["local"],
                }
            )
    data["models"].append(
        {"name": "haiku", "provider": "anthropic", "upstream": "claude-3-5-haiku-20241022", "api_key": "env:ANTHROPIC_API_KEY"}
    )
    data["models"].append({"name": "gpt-4o", "provider": "openai", "upstream": "gpt-4o", "api_key": "env:OPENAI_API_KEY"})
    return data
