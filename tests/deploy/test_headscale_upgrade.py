"""A Headscale deploy refuses a downgrade or a skipped minor release before it touches Headscale."""

from __future__ import annotations

import pytest

from llmfleet.deploy.facts.headscale import parse_headscale_version
from llmfleet.deploy.operations.headscale import upgrade_refusal


@pytest.mark.parametrize(
    ("output", "version"),
    [
        ("v0.23.0\n", "0.23.0"),  # 0.23 prints the bare version
        ("headscale version v0.29.2\ncommit: unknown\nbuild time: unknown\nbuilt with: go1.26.8 linux/amd64\n", "0.29.2"),
        ("dev\n", None),
        ("", None),
    ],
)
def test_the_installed_version_is_read_from_headscale_version(output: str, version: str | None) -> None:
    assert parse_headscale_version(output) == version


@pytest.mark.parametrize(
    ("installed", "target"), [(None, "0.29.2"), ("0.29.2", "0.29.2"), ("0.28.0", "0.29.2"), ("0.29.1", "0.29.2"), ("0.23.0", "0.24.3")]
)
def test_fresh_installs_patch_and_one_minor_upgrades_are_allowed(installed: str | None, target: str) -> None:
    assert upgrade_refusal(installed, target) is None


def test_a_skipped_minor_is_refused_with_the_next_step() -> None:
    why = upgrade_refusal("0.23.0", "0.29.2")
    assert why is not None and "skips minor releases" in why and "0.24.x first" in why
    assert "llmfleet does not deploy 0.24" in why, "0.24 is not a minor the lab runs"
    assert "does not deploy" not in (upgrade_refusal("0.28.0", "0.30.0") or "x does not deploy 0.29"), "0.29 is deployed"
    assert "llmfleet does not deploy 0.27" in (upgrade_refusal("0.26.1", "0.29.2") or "")


def test_a_downgrade_is_refused() -> None:
    why = upgrade_refusal("0.29.2", "0.28.0")
    assert why is not None and "downgrade" in why
    assert "downgrade" in (upgrade_refusal("0.29.2", "0.29.1") or "")
