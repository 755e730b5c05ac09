"""Fixture inventories for the render tests (built with Inventory.model_validate, rules not applied)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from llmfleet.inventory.model import Inventory

FIXTURES = Path(__file__).parent / "fixtures"
FLEETS = ("full", "manual", "single")


def fixture_data(name: str) -> dict[str, Any]:
    """The raw data of fixture inventory ``name``."""
    return YAML(typ="safe", pure=True).load((FIXTURES / f"{name}.yaml").read_text(encoding="utf-8"))


def load_yaml(text: str) -> Any:
    """Parse YAML the way the validators do (ruamel, safe)."""
    return YAML(typ="safe", pure=True).load(text)


def build(data: dict[str, Any]) -> Inventory:
    """A validated inventory from raw data."""
    return Inventory.model_validate(copy.deepcopy(data))


@pytest.fixture(scope="session")
def inventories() -> dict[str, Inventory]:
    """Every fixture fleet, validated."""
    return {name: build(fixture_data(name)) for name in FLEETS}


@pytest.fixture
def make_inventory() -> Callable[..., Inventory]:
    """Build a fixture fleet after applying ``edit(data)`` to its raw data."""

    def make(name: str, edit: Callable[[dict[str, Any]], None] | None = None) -> Inventory:
        data = fixture_data(name)
        if edit is not None:
            edit(data)
        return build(data)

    return make
