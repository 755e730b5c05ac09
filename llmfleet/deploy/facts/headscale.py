"""Facts from the Headscale CLI on the control host: users and nodes (JSON output)."""

from __future__ import annotations

import json
from typing import Any, TypedDict

from pyinfra.api import FactBase


class HeadscaleUser(TypedDict):
    """A Headscale user."""

    id: str
    name: str


class HeadscaleNode(TypedDict):
    """A node registered with Headscale."""

    id: str
    name: str
    given_name: str
    user: str
    ips: list[str]
    online: bool


def _json_list(output: list[str]) -> list[dict[str, Any]]:
    text = "\n".join(output)
    start = min((i for i in (text.find("["), text.find("null")) if i >= 0), default=-1)
    if start < 0:
        return []
    try:
        doc = json.loads(text[start:])
    except ValueError:
        return []
    return [d for d in doc or [] if isinstance(d, dict)]


class HeadscaleUsers(FactBase[list[HeadscaleUser]]):
    """Users known to the running Headscale server (``headscale users list -o json``)."""

    default = list

    def requires_command(self) -> str:
        return "headscale"

    def command(self) -> str:
        return "headscale users list -o json 2>/dev/null || true"

    def process(self, output: list[str]) -> list[HeadscaleUser]:
        return [{"id": str(u.get("id", "")), "name": str(u.get("name", ""))} for u in _json_list(output)]


class HeadscaleNodes(FactBase[list[HeadscaleNode]]):
    """Nodes registered with the running Headscale server (``headscale nodes list -o json``)."""

    default = list

    def requires_command(self) -> str:
        return "headscale"

    def command(self) -> str:
        return "headscale nodes list -o json 2>/dev/null || true"

    def process(self, output: list[str]) -> list[HeadscaleNode]:
        nodes: list[HeadscaleNode] = []
        for n in _json_list(output):
            user = n.get("user") or {}
            nodes.append(
                {
                    "id": str(n.get("id", "")),
                    "name": str(n.get("name", "")),
                    "given_name": str(n.get("given_name") or n.get("givenName") or n.get("name") or ""),
                    "user": str(user.get("name", "")) if isinstance(user, dict) else str(user),
                    "ips": [str(ip) for ip in (n.get("ip_addresses") or n.get("ipAddresses") or [])],
                    "online": bool(n.get("online")),
                }
            )
        return nodes
