"""Helpers for the checks tests: fleets pointing at the purpose-built faulty backend on loopback."""

from __future__ import annotations

from typing import Any

from llmfleet.inventory.model import Inventory

#: A syntactically valid master key used only by the tests (never a real secret).
TEST_KEY = "sk-test-" + "k3y" * 10  # 38 characters


def fleet_dict(
    models: list[dict[str, Any]], *, backend_port: int, gateway_port: int = 14999, backend_kind: str = "openai_compatible"
) -> dict[str, Any]:
    """A one-host loopback fleet whose models are all served by one backend on ``backend_port``."""
    return {
        "fleet": "faults",
        "hosts": [{"name": "lab", "address": "127.0.0.1", "roles": ["gateway", "gpu"]}],
        "backends": [{"name": "fb", "kind": backend_kind, "host": "lab", "port": backend_port, "bind": "loopback"}],
        "models": [{"backend": "fb", "upstream": m["name"], **m} for m in models],
        "gateway": {
            "litellm_version": "1.106.2",
            "runtime": "systemd-venv",
            "port": gateway_port,
            "bind": "127.0.0.1",
            "master_key": "env:LLMFLEET_TEST_MASTER_KEY",
        },
    }


def fleet(models: list[dict[str, Any]], **kw: Any) -> Inventory:
    """The typed inventory of :func:`fleet_dict`."""
    return Inventory.model_validate(fleet_dict(models, **kw))
