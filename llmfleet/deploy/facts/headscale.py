"""Facts from the Headscale CLI on the control host: its users (JSON output) and its version."""

from __future__ import annotations

import json
import re
from typing import Any, TypedDict

from pyinfra.api import FactBase


class HeadscaleUser(TypedDict):
    """A Headscale user."""

    id: str
    name: str


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


class HeadscaleVersion(FactBase[str | None]):
    """The installed Headscale's version (``headscale version`` prints ``v0.23.0`` or ``headscale version v0.29.2``), or ``None``."""

    def requires_command(self) -> str:
        return "headscale"

    def command(self) -> str:
        return "headscale version 2>/dev/null || true"

    def process(self, output: list[str]) -> str | None:
        return parse_headscale_version("\n".join(output))


def parse_headscale_version(text: str) -> str | None:
    """The first ``[v]X.Y.Z`` in ``headscale version`` output (``None`` when there is none, e.g. ``dev``)."""
    match = re.search(r"\bv?(\d+\.\d+\.\d+)\b", text)
    return match[1] if match else None
