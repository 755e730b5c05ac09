"""Every draft of the real corpus validates once an operator fills its placeholders (issue 12, "Done when").

For each real config (tests/importer/fixtures/real, with its compose file where the corpus has one):
import it, fill every placeholder the way an operator would, write the result and run what
``llmfleet validate`` runs, minus the real-program validators: the loader (schema, literal secrets,
placeholders, cross-object rules), the render and the render's own checks. Every filled draft must
come out with no error at all.

The filler knows no corpus file: it reads the kind of value a placeholder stands for from the
inventory's JSON Schema at the placeholder's path (pattern, format, type) and from the field's name,
and picks a value of that kind that is unique within the draft (documentation addresses, example.com
URLs, a valid SHA-256, distinct mesh IPs). Real values would differ; their kind and uniqueness do not.
"""

from __future__ import annotations

import hashlib
import ipaddress
import itertools
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from ruamel.yaml import YAML

from llmfleet.importer import ImportInputError, import_litellm
from llmfleet.inventory import dump_json_schema
from llmfleet.inventory.loader import load
from llmfleet.inventory.placeholders import PLACEHOLDER_RE, find_placeholders
from llmfleet.inventory.problems import InventoryError, errors
from llmfleet.render import render_fleet, validate_rendered

REAL = Path(__file__).resolve().parent / "fixtures" / "real"
CONFIGS = sorted(REAL.glob("*.yaml"))
SCHEMA = dump_json_schema()
#: Documentation address blocks (RFC 5737) for the addresses an operator would put in.
DOC_NETS = [ipaddress.ip_network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24")]
#: The mesh range (CGNAT, 100.64.0.0/10) for mesh IPs.
MESH_NET = ipaddress.ip_network("100.64.0.0/10")


def resolve(node: dict[str, Any]) -> dict[str, Any]:
    """Follow a ``$ref`` of the inventory schema."""
    while "$ref" in node:
        node = SCHEMA["$defs"][node["$ref"].rsplit("/", 1)[-1]]
    return node


def alternatives(node: dict[str, Any]) -> list[dict[str, Any]]:
    """The non-null alternatives of a schema node (itself when it is no union)."""
    node = resolve(node)
    options = node.get("anyOf") or node.get("oneOf")
    if not options:
        return [node]
    return [alt for option in options for alt in alternatives(option) if alt.get("type") != "null"]


def schema_at(path: tuple[str | int, ...], data: Any) -> dict[str, Any]:
    """The schema of the value at ``path``: through properties, items and unions (the one whose keys fit)."""
    node: dict[str, Any] = SCHEMA
    value = data
    for step in path:
        candidates = alternatives(node)
        if isinstance(step, int):
            node = next((c["items"] for c in candidates if "items" in c), {})
        else:
            fitting = [c for c in candidates if step in c.get("properties", {})]
            if isinstance(value, dict) and len(fitting) > 1:
                fitting = [c for c in fitting if set(value) <= set(c["properties"])] or fitting
            node = fitting[0]["properties"][step] if fitting else {}
        value = value[step] if isinstance(value, (dict, list)) else None
    merged: dict[str, Any] = {}
    for alt in alternatives(node):
        merged = {**alt, **merged}
    return {**resolve(node), **merged}


class Filler:
    """Fills placeholders with values of the kind their field wants, each one unique in the draft."""

    def __init__(self) -> None:
        self.addresses: Iterator[str] = (str(ip) for net in DOC_NETS for ip in itertools.islice(net.hosts(), 1, None))
        self.mesh_ips: Iterator[str] = (str(ip) for ip in itertools.islice(MESH_NET.hosts(), 1, None))
        self.counter = itertools.count(1)

    def value(self, path: tuple[str | int, ...], placeholder: str, schema: dict[str, Any]) -> Any:
        field = str(next(p for p in reversed(path) if isinstance(p, str)))
        pattern = schema.get("pattern", "")
        kind = schema.get("type")
        if kind in ("integer", "number"):
            return self.number(schema)
        if "[0-9a-f]{64}" in pattern:
            return hashlib.sha256("/".join(map(str, path)).encode()).hexdigest()
        if pattern.startswith("^(env:") or "SecretRef" in schema.get("title", "") or field in ("password", "api_key", "key"):
            return "env:" + re.sub(r"[^A-Z0-9]+", "_", "/".join(map(str, path)).upper()).strip("_")
        if field == "ip" or schema.get("format") == "ipv4" or "100.64" in schema.get("description", ""):
            return next(self.mesh_ips)
        if field in ("url", "api_base") or schema.get("format") == "uri" or ".invalid" in placeholder:
            parts = urlsplit(placeholder)
            return f"https://downloads.example.com{parts.path or '/'}" if parts.scheme else "https://api.example.com/v1"
        if field in ("address", "host") or schema.get("title") in ("Address", "Host"):
            return next(self.addresses)
        filled = re.sub(r"(?i)todo", f"filled{next(self.counter)}", placeholder).strip("-_ ").lower()
        if pattern and not re.search(pattern, filled):
            example = (schema.get("examples") or [None])[0]
            assert isinstance(example, str) and re.search(pattern, example), f"no value of the kind {schema} for {path}"
            return example
        return filled

    @staticmethod
    def number(schema: dict[str, Any]) -> int | float:
        example = (schema.get("examples") or [None])[0]
        if isinstance(example, (int, float)) and not isinstance(example, bool):
            return example
        return schema.get("minimum", schema.get("exclusiveMinimum", 0) + 1)

    def fill(self, data: Any) -> Any:
        """``data`` with every placeholder replaced (in place)."""
        for path, placeholder in find_placeholders(data):
            parent = data
            for step in path[:-1]:
                parent = parent[step]
            parent[path[-1]] = self.value(path, placeholder, schema_at(path, data))
        return data


def imported(config: Path) -> str | None:
    compose = config.with_suffix(".compose.yml")
    try:
        return import_litellm(config, compose if compose.exists() else None).inventory_yaml
    except ImportInputError:
        return None  # refused with its line (test_real_corpus): there is no draft to fill


def validate(path: Path) -> list[str]:
    """What ``llmfleet validate`` reports as errors, without the real-program validators."""
    try:
        loaded = load(path)
    except InventoryError as exc:
        return [str(p) for p in errors(exc.problems)]
    files = render_fleet(loaded.inventory)
    return [str(p) for p in errors(validate_rendered(files, loaded.inventory))]


def test_the_corpus_is_the_real_one() -> None:
    assert len(CONFIGS) >= 30


@pytest.mark.parametrize("config", CONFIGS, ids=[c.stem for c in CONFIGS])
def test_a_filled_draft_validates(config: Path, tmp_path: Path) -> None:
    draft = imported(config)
    if draft is None:
        pytest.skip(f"{config.name} is refused by the importer, with its line")
    yaml = YAML(typ="safe", pure=True)
    data = Filler().fill(yaml.load(draft))
    assert not [v for _, v in find_placeholders(data)], "the filler left a placeholder"
    assert not PLACEHOLDER_RE.search(str(data))
    target = tmp_path / "fleet.yml"
    yaml.default_flow_style = False
    with target.open("w", encoding="utf-8") as fh:
        yaml.dump(data, fh)
    assert validate(target) == []
