"""The pins an inventory makes, judged against the advisory table of :mod:`llmfleet.versions`."""

from __future__ import annotations

from llmfleet.inventory.model import Inventory
from llmfleet.inventory.problems import Problem
from llmfleet.versions import Pin, image_version, verdict


def inventory_pins(inv: Inventory) -> list[Pin]:
    """Every program version the inventory pins, with the field that pins it and its findings."""
    raw: list[tuple[tuple[str | int, ...], str, str]] = [(("gateway", "litellm_version"), "litellm", inv.gateway.litellm_version)]
    for i, backend in enumerate(inv.backends):
        if backend.ollama is not None:
            raw.append((("backends", i, "ollama", "version"), "ollama", backend.ollama.version))
        if backend.llamacpp is not None:
            raw.append((("backends", i, "llamacpp", "version"), "llamacpp", backend.llamacpp.version))
    if inv.mesh is not None:
        raw.append((("mesh", "headscale_version"), "headscale", inv.mesh.headscale_version))
        raw.append((("mesh", "tailscale_version"), "tailscale", inv.mesh.tailscale_version))
    db = inv.gateway.database
    if db is not None and db.bundled is not None:
        raw.append((("gateway", "database", "bundled", "image"), "postgres", db.bundled.image))
    redis = inv.gateway.redis
    if redis is not None and redis.bundled:
        raw.append((("gateway", "redis", "image"), "redis", redis.image))
    pins = []
    for path, program, value in raw:
        version = image_version(value) if program in ("postgres", "redis") else value
        pins.append(Pin(path, program, version or value, verdict(program, version) if version else []))
    return pins


def advisory_problems(inv: Inventory) -> list[Problem]:
    """A located problem per matching advisory: an error when the policy refuses it, else a warning.

    LiteLLM refusals are already raised by the model's own validator, so only its warnings are added here.
    """
    problems = []
    for pin in inventory_pins(inv):
        for finding in pin.findings:
            if finding.refused and pin.program == "litellm":
                continue
            problems.append(Problem(pin.path, finding.message(), "error" if finding.refused else "warning"))
    return problems
