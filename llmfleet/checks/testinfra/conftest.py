"""Fixtures: the typed inventory, its rendered files, and the inventory host a testinfra host is."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from llmfleet.inventory import Inventory, load_inventory
from llmfleet.inventory.model import Host
from llmfleet.inventory.problems import InventoryError
from llmfleet.render import RenderedFile, render_fleet


@pytest.fixture(scope="session")
def inventory() -> Inventory:
    """The inventory named by LLMFLEET_INVENTORY (and LLMFLEET_OVERLAY)."""
    path = os.environ.get("LLMFLEET_INVENTORY")
    if not path:
        pytest.exit("set LLMFLEET_INVENTORY to the inventory the hosts were deployed from", returncode=2)
    overlay = os.environ.get("LLMFLEET_OVERLAY")
    try:
        return load_inventory(Path(path), Path(overlay) if overlay else None)
    except InventoryError as exc:
        pytest.exit(f"{exc}\nthe inventory does not load (LLMFLEET_INVENTORY={path}): no host was tested", returncode=2)


@pytest.fixture(scope="session")
def rendered(inventory: Inventory) -> list[RenderedFile]:
    """Every file the inventory renders."""
    return render_fleet(inventory)


@pytest.fixture
def fleet_host(host, inventory: Inventory) -> Host:
    """The inventory host the testinfra ``host`` is (matched by address, then by name)."""
    target = host.backend.get_hostname()
    for h in inventory.hosts:
        if target in (h.address, h.name):
            return h
    pytest.fail(f"testinfra host {target} is not in fleet {inventory.fleet}")
