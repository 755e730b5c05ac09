"""Shared fixtures of the importer tests: the seed configs and helpers to locate lines in them."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from llmfleet.importer import ImportResult, format_findings, import_litellm

ROOT = Path(__file__).resolve().parents[2]
SEEDS = ROOT / "tests" / "fixtures" / "seeds"
SYNTHETIC = Path(__file__).resolve().parent / "fixtures"


@dataclass(frozen=True)
class Case:
    """One import: its inputs and the secret values that must never be echoed."""

    config: Path
    compose: Path | None = None
    units: tuple[Path, ...] = ()
    secrets: tuple[str, ...] = field(default_factory=tuple)

    def run(self, fleet: str = "imported") -> ImportResult:
        return import_litellm(self.config, self.compose, fleet=fleet, unit_paths=self.units)


SEED_CASES = {
    "pip": Case(SEEDS / "pip_litellm_config.yaml", SEEDS / "pip_compose.yaml", (SEEDS / "pip_ollama.service",)),
    "nova-adr009": Case(SEEDS / "nova_adr009_litellm_config.yaml", SEEDS / "nova_adr009_compose.yaml", secrets=("litellm_dev_password",)),
    "netbox": Case(SEEDS / "netbox_litellm_config.yaml", SEEDS / "netbox_compose.yaml", secrets=("litellm:password@",)),
    "mobius": Case(SEEDS / "mobius_router_config.yaml"),
    "nova-adr011": Case(SEEDS / "nova_adr011_litellm_config.yaml"),
}

SYNTHETIC_CASES = {
    "open-proxy": Case(
        SYNTHETIC / "open_proxy_config.yaml",
        secrets=(
            "sk-ant-api03-FAKEfakeFAKEfake0123456789abcdefghij",
            "FAKEfakeFAKE",
            "sk-live-7f3a9c2e4b1d8f6a0c5e9b2d4f7a1c3e",
            "7f3a9c2e4b1d",
            "r3dis-Pa55word-literal",
            "Pa55word",
        ),
    ),
    "policy": Case(
        SYNTHETIC / "policy_config.yaml",
        SYNTHETIC / "policy_compose.yaml",
        secrets=("hunter2-literal-ui", "litellm-default-pw"),
    ),
    "clean": Case(SYNTHETIC / "policy_config.yaml", SYNTHETIC / "clean_compose.yaml"),
}

ALL_CASES = {**SEED_CASES, **SYNTHETIC_CASES}


def line_of(path: Path, text: str, occurrence: int = 1) -> int:
    """The 1-based line of the ``occurrence``-th line of ``path`` containing ``text``."""
    hits = [number for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1) if text in line]
    assert len(hits) >= occurrence, f"{text!r} not found {occurrence} time(s) in {path}"
    return hits[occurrence - 1]


def all_text(result: ImportResult) -> str:
    """Everything an import shows a user: findings, draft, TODOs and notes."""
    parts = [format_findings(result.findings), result.inventory_yaml, *result.todos, *result.notes]
    parts += [f"{f.problem}\n{f.fix}\n{f.key_path}" for f in result.findings]
    return "\n".join(parts)


@pytest.fixture(scope="session")
def results() -> dict[str, ImportResult]:
    """Every case imported once."""
    return {name: case.run(fleet=name) for name, case in ALL_CASES.items()}
