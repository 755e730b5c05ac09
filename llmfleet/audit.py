"""``llmfleet audit``: each pinned program of a loaded inventory against the advisory table.

A pin the policy refuses makes the inventory fail to load (exit 2, the pin's file:line named), so an
audit that gets here lists the warnings only.
"""

from __future__ import annotations

from pathlib import Path

from llmfleet.inventory import Loaded
from llmfleet.inventory.advisories import inventory_pins
from llmfleet.inventory.problems import format_path
from llmfleet.versions import advisories


def audit_lines(inventory: Path, loaded: Loaded) -> list[str]:
    """The report: one line per pin, then one per matching advisory, then the totals."""
    lines = [f"{inventory}: {len(advisories())} advisories known (llmfleet/data/advisories.toml)"]
    warned = 0
    for pin in inventory_pins(loaded.inventory):
        file, line = loaded.locate(pin.path)
        head = f"  {file}:{line} {format_path(pin.path)} = {pin.program} {pin.version}"
        if not pin.findings:
            lines.append(f"{head}: no known advisory")
            continue
        lines.append(f"{head}: {len(pin.findings)} advisor{'y' if len(pin.findings) == 1 else 'ies'}")
        for finding in pin.findings:
            warned += 1
            lines.append(f"    {'REFUSED' if finding.refused else 'warning'}: {finding.message()}")
    lines.append(f"0 refused, {warned} warning(s).")
    return lines
