"""Builders for inventory tests: a valid base fleet, mutated per test, written as YAML."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from llmfleet.inventory import InventoryError, Loaded, load

BASE: dict[str, Any] = {
    "fleet": "t",
    "hosts": [
        {"name": "gw1", "address": "203.0.113.10", "roles": ["gateway", "headscale"], "mesh": {"ip": "100.64.0.1"}},
        {
            "name": "gpu1",
            "address": "192.0.2.20",
            "roles": ["gpu"],
            "gpu": {"count": 1, "vram_gib": 16, "driver_branch": "550"},
            "mesh": {"ip": "100.64.0.2"},
        },
    ],
    "backends": [
        {"name": "ollama-gpu1", "kind": "ollama", "host": "gpu1", "port": 11434, "ollama": {"version": "0.5.7", "context_length": 8192}},
        {
            "name": "llama-gpu1",
            "kind": "llamacpp",
            "host": "gpu1",
            "port": 8080,
            "llamacpp": {
                "version": "b5000",
                "model": {"url": "https://example.org/ds.gguf", "sha256": "a" * 64},
                "ctx_size": 32768,
                "parallel": 4,
            },
        },
    ],
    "models": [
        {"name": "qwen", "backend": "ollama-gpu1", "upstream": "qwen2.5:14b-instruct", "context_window": 8192, "tools": "required"},
        {"name": "ds", "backend": "llama-gpu1", "upstream": "ds-r1", "context_window": 8192},
        {
            "name": "haiku",
            "provider": "anthropic",
            "upstream": "claude-3-5-haiku-20241022",
            "api_key": "env:ANTHROPIC_API_KEY",
            "context_window": 200000,
        },
    ],
    "gateway": {"litellm_version": "1.106.2", "master_key": "env:LITELLM_MASTER_KEY", "runtime": "systemd-venv"},
    "mesh": {
        "headscale_host": "gw1",
        "headscale_version": "0.23.0",
        "server_url": "https://hs.example.net",
        "base_domain": "mesh.example.internal",
        "listen_port": 8443,
    },
}


def write_yaml(path: Path, data: Any) -> Path:
    yaml = YAML()
    yaml.default_flow_style = False
    with path.open("w") as fh:
        yaml.dump(data, fh)
    return path


@pytest.fixture
def base() -> dict[str, Any]:
    return copy.deepcopy(BASE)


@pytest.fixture
def load_data(tmp_path: Path) -> Callable[..., Loaded]:
    def _load(data: Any, overlay: Any = None) -> Loaded:
        inv = write_yaml(tmp_path / "fleet.yml", data)
        over = write_yaml(tmp_path / "fleet.prod.yml", overlay) if overlay is not None else None
        return load(inv, over)

    return _load


@pytest.fixture
def problems_of(load_data: Callable[..., Loaded]) -> Callable[..., list[str]]:
    """The formatted errors a data set produces (fails the test if it loads cleanly)."""

    def _problems(data: Any, overlay: Any = None) -> list[str]:
        with pytest.raises(InventoryError) as exc:
            load_data(data, overlay)
        return [str(p) for p in exc.value.problems]

    return _problems
