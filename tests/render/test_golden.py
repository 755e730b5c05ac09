"""Golden files: every example fleet validates and renders exactly the committed tree.

After an intended change: `make render-examples`, review the diff, commit it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from llmfleet.inventory import load
from llmfleet.inventory.problems import errors
from llmfleet.render import diff_tree, render_fleet, validate_rendered

ROOT = Path(__file__).resolve().parents[2]
FLEETS = sorted(p for p in (ROOT / "inventories").glob("*.yml") if p.stem.count(".") == 0)


def test_every_example_fleet_has_a_golden_tree() -> None:
    assert {p.stem for p in FLEETS} == {p.name for p in (ROOT / "tests/golden").iterdir()}
    assert {"lab", "pip", "nova-hybrid", "netbox-chatbox", "mobius-one", "nova-litellm"} <= {p.stem for p in FLEETS}


@pytest.mark.parametrize("inventory", FLEETS, ids=lambda p: p.stem)
def test_example_fleet_renders_its_golden_files(inventory: Path) -> None:
    inv = load(inventory).inventory
    files = render_fleet(inv)
    assert errors(validate_rendered(files, inv)) == []
    diff = diff_tree(files, ROOT / "tests/golden" / inventory.stem)
    assert diff == "", f"golden files of {inventory.stem} are stale (make render-examples):\n{diff[:3000]}"
