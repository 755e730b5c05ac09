"""Facts about the Tailscale client: ``tailscale status --json`` and ``tailscale version``."""

from __future__ import annotations

import json
from typing import Any, TypedDict

from pyinfra.api import FactBase


class TailscaleState(TypedDict):
    """The part of ``tailscale status --json`` deploy decides on."""

    backend_state: str  # Running, NeedsLogin, NeedsMachineAuth, Stopped, Starting, NoState
    ips: list[str]
    online: bool | None
    hostname: str | None
    version: str | None


def empty_state() -> TailscaleState:
    """The state of a host without a (reachable) tailscaled."""
    return {"backend_state": "NoState", "ips": [], "online": None, "hostname": None, "version": None}


def parse_status(text: str) -> TailscaleState:
    """Parse ``tailscale status --json`` output (tolerates log lines before the JSON)."""
    start = text.find("{")
    if start < 0:
        return empty_state()
    try:
        doc: dict[str, Any] = json.loads(text[start:])
    except ValueError:
        return empty_state()
    me = doc.get("Self") or {}
    return {
        "backend_state": str(doc.get("BackendState") or "NoState"),
        "ips": [str(ip) for ip in (me.get("TailscaleIPs") or [])],
        "online": me.get("Online"),
        "hostname": me.get("HostName"),
        "version": doc.get("Version"),
    }


class TailscaleStatus(FactBase[TailscaleState]):
    """Whether the node is joined (``backend_state == "Running"``), its mesh IPs and online flag."""

    def requires_command(self) -> str:
        return "tailscale"

    def command(self) -> str:
        return "tailscale status --json 2>/dev/null || true"

    @staticmethod
    def default() -> TailscaleState:
        return empty_state()

    def process(self, output: list[str]) -> TailscaleState:
        return parse_status("\n".join(output))


class TailscaleVersion(FactBase[str | None]):
    """The installed client's version (first line of ``tailscale version``), or ``None``."""

    def requires_command(self) -> str:
        return "tailscale"

    def command(self) -> str:
        return "tailscale version 2>/dev/null | head -n 1 || true"

    def process(self, output: list[str]) -> str | None:
        first = output[0].strip() if output else ""
        return first.split("-", 1)[0].lstrip("v") or None
