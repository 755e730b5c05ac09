"""``llmfleet audit``: each pinned program of an inventory against the advisory table.

An inventory whose pins are refused does not load, so the audit reads the pins from the raw YAML
when loading fails (and still reports every other load problem with its location).
"""

from __future__ import annotations

from pathlib import Path

from llmfleet.inventory import InventoryError, load, overlay_for
from llmfleet.inventory.advisories import inventory_pins
from llmfleet.inventory.problems import format_path
from llmfleet.versions import advisories


def audit_report(inventory: Path, env: str | None = None, overlay: Path | None = None) -> tuple[int, list[str]]:
    """The exit code (0 clean or warnings only, 2 refused or unreadable) and the report lines."""
    if env:
        overlay = overlay_for(inventory, env)
    try:
        loaded = load(inventory, overlay)
    except InventoryError as exc:
        return 2, [str(p) for p in exc.problems] + ["the inventory does not load; fix the errors above (refused pins included)"]
    lines = [f"{inventory}: {len(advisories())} advisories known (llmfleet/data/advisories.toml)"]
    refused = warned = 0
    for pin in inventory_pins(loaded.inventory):
        file, line = loaded.locate(pin.path)
        head = f"  {file}:{line} {format_path(pin.path)} = {pin.program} {pin.version}"
        if not pin.findings:
            lines.append(f"{head}: no known advisory")
            continue
        lines.append(f"{head}: {len(pin.findings)} advisor{'y' if len(pin.findings) == 1 else 'ies'}")
        for finding in pin.findings:
            refused += finding.refused
            warned += not finding.refused
            lines.append(f"    {'REFUSED' if finding.refused else 'warning'}: {finding.message()}")
    lines.append(f"{refused} refused, {warned} warning(s).")
    return (2 if refused else 0), lines
