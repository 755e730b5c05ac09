"""The advisory table and the version policy: default pins pass, refused pins are located, audit reports."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from llmfleet import versions
from llmfleet.cli import app
from llmfleet.versions import advisories, image_version, verdict, version_tuple

from .conftest import write_yaml

DEFAULT_PINS = [
    ("litellm", versions.DEFAULT_LITELLM_VERSION),
    ("ollama", versions.DEFAULT_OLLAMA_VERSION),
    ("llamacpp", versions.DEFAULT_LLAMACPP_VERSION),
    ("headscale", versions.DEFAULT_HEADSCALE_VERSION),
    ("tailscale", versions.DEFAULT_TAILSCALE_VERSION),
    ("postgres", image_version(versions.DEFAULT_POSTGRES_IMAGE)),
    ("redis", image_version(versions.DEFAULT_REDIS_IMAGE)),
]


def test_every_row_names_its_source_and_what_was_verified() -> None:
    rows = advisories()
    assert {a.program for a in rows} >= {p for p, _ in DEFAULT_PINS}
    for a in rows:
        assert a.source and a.verified, a.id
        assert a.ranges or a.versions, a.id
        assert a.severity in ("compromised", "critical", "high", "medium", "low"), a.id
    assert len({a.id for a in rows}) == len(rows)


@pytest.mark.parametrize(("program", "version"), DEFAULT_PINS)
def test_default_pins_are_not_refused(program: str, version: str) -> None:
    assert [f.advisory.id for f in verdict(program, version) if f.refused] == []


@pytest.mark.parametrize(
    ("program", "version", "refused_id"),
    [
        ("litellm", "1.82.7", "LITELLM-2026-COMPROMISED"),
        ("litellm", "1.83.14", "PYSEC-2026-388"),
        ("redis", "7.4.1", "GHSA-4789-qfc9-5f9q"),
        ("redis", "8.2.1", "GHSA-4789-qfc9-5f9q"),
    ],
)
def test_known_bad_releases_are_refused(program: str, version: str, refused_id: str) -> None:
    assert refused_id in [f.advisory.id for f in verdict(program, version) if f.refused]


def test_backported_fixes_are_ranges_not_a_floor() -> None:
    enterprise = "GHSA-w4c7-34wj-hqm8"
    assert enterprise in [f.advisory.id for f in verdict("litellm", "1.105.5")]
    assert enterprise not in [f.advisory.id for f in verdict("litellm", "1.105.6")]
    assert enterprise in [f.advisory.id for f in verdict("litellm", "1.106.2")]  # conditional: a warning only
    assert enterprise not in [f.advisory.id for f in verdict("litellm", "1.106.5")]
    assert "GHSA-4789-qfc9-5f9q" not in [f.advisory.id for f in verdict("redis", "7.4.6")]


def test_version_keys() -> None:
    assert version_tuple("b4589") < version_tuple("b12658")
    assert version_tuple("0.23.0") < version_tuple("0.26.1")
    assert image_version("redis:7.4.6") == "7.4.6"
    assert image_version("docker.io/library/postgres:16.4-alpine@sha256:" + "a" * 64) == "16.4"
    assert image_version("registry:5000/redis") is None


def test_refused_image_pin_is_located_and_validate_exits_2(tmp_path: Path, base: dict) -> None:
    base["gateway"]["redis"] = {"bundled": True, "image": "redis:7.4.1", "password": "env:REDIS_PASSWORD"}
    base["gateway"]["runtime"] = "compose"
    inv = write_yaml(tmp_path / "fleet.yml", base)
    result = CliRunner().invoke(app, ["validate", str(inv)])
    assert result.exit_code == 2
    line = next(line for line in result.output.splitlines() if "gateway.redis.image" in line)
    assert "fleet.yml:" in line and "GHSA-4789-qfc9-5f9q" in line and "pin 7.4.6 or later" in line
    audit = CliRunner().invoke(app, ["audit", str(inv)])
    assert audit.exit_code == 2 and "GHSA-4789-qfc9-5f9q" in audit.output


def test_audit_of_every_example_fleet_passes(tmp_path: Path) -> None:
    for inv in sorted(p for p in Path("inventories").glob("*.yml") if "." not in p.stem):  # overlays (<fleet>.<env>.yml) are not fleets
        result = CliRunner().invoke(app, ["audit", str(inv)])
        assert result.exit_code == 0, result.output
        assert "0 refused" in result.output
