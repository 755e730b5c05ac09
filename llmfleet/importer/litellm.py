"""``llmfleet import litellm``: judge an existing LiteLLM setup and draft an inventory from it.

:func:`import_litellm` reads a LiteLLM proxy config (optionally its compose file and systemd units
of native model servers), reports every mistake it finds as a :class:`Finding` (file, line, key
path, problem, fix) and returns a draft inventory in llmfleet's schema as commented YAML.

Exit codes for the CLI (:attr:`ImportResult.exit_code`): 0 when there are no findings, 1 when there
are findings (the draft is still written: it already has them fixed, up to its TODOs). Unreadable
input raises :class:`ImportInputError` before anything is written (the CLI maps it to 2).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError
from ruamel.yaml import YAML

from llmfleet.importer.checks import check_config
from llmfleet.importer.compose import ComposeFile, load_compose
from llmfleet.importer.compose_checks import check_compose, check_unit
from llmfleet.importer.deployments import Deployment, read_deployments
from llmfleet.importer.draft import DraftBuilder
from llmfleet.importer.emit import dump
from llmfleet.importer.findings import Finding
from llmfleet.importer.includes import follow_includes
from llmfleet.importer.source import ImportInputError, load_yaml
from llmfleet.importer.units import load_unit
from llmfleet.inventory.model import Inventory
from llmfleet.inventory.problems import Problem

FLEET_RE = re.compile(r"^[a-z0-9][a-z0-9-]*$")


@dataclass
class ImportResult:
    """What an import produced."""

    inventory_yaml: str
    findings: list[Finding]
    todos: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    draft_problems: list[Problem] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """0 without findings, 1 with findings (the draft is written either way)."""
        return 1 if self.findings else 0


def import_litellm(
    config_path: Path,
    compose_path: Path | None = None,
    fleet: str = "imported",
    unit_paths: Sequence[Path] = (),
) -> ImportResult:
    """Check a LiteLLM config (and its compose file / model-server units) and draft an inventory.

    Raises :class:`ImportInputError` (with file and line) when an input cannot be read.
    """
    if not FLEET_RE.match(fleet):
        raise ImportInputError("--fleet", None, f"'{fleet}' is not a valid fleet name (lower-case letters, digits and '-')")
    config, included = follow_includes(load_yaml(Path(config_path), what="LiteLLM config", yaml_1_1=True))
    compose = load_compose(Path(compose_path)) if compose_path is not None else None
    units = [load_unit(Path(p)) for p in unit_paths]
    deployments = read_deployments(config, compose)

    findings = check_config(config, deployments, compose)
    notes: list[str] = list(compose.notes) if compose else []
    if compose is not None:
        used = proxy_services(compose, deployments)
        findings += check_compose(compose, used)
        ignored = sorted(set(compose.services) - used)
        if ignored:
            notes.append(f"compose services the proxy does not use, neither judged nor drafted: {', '.join(ignored)}")
    for unit in units:
        findings += check_unit(unit)

    builder = DraftBuilder(fleet, config, deployments, compose, units, included)
    draft = builder.build()
    findings += builder.coverage.findings
    text = dump(draft.data, header=draft.header)
    return ImportResult(
        inventory_yaml=text,
        findings=findings,
        todos=draft.todos,
        notes=notes,
        draft_problems=validate_draft(text),
    )


def proxy_services(compose: ComposeFile, deployments: list[Deployment]) -> set[str]:
    """The compose services that are part of the proxy's setup: LiteLLM, its database and cache, its model servers."""
    used = {s.name for s in compose.services.values() if s.kind in ("litellm", "postgres", "redis")}
    used |= {d.endpoint.service.name for d in deployments if d.endpoint is not None and d.endpoint.service is not None}
    return used


def validate_draft(text: str) -> list[Problem]:
    """Schema problems of a draft (read back from its YAML text, as a user's file would be)."""
    data = YAML(typ="safe", pure=True).load(text)
    try:
        Inventory.model_validate(data)
    except ValidationError as exc:
        return [Problem(tuple(part for part in err["loc"] if isinstance(part, (str, int))), err["msg"]) for err in exc.errors()]
    return []
