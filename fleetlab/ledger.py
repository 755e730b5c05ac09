"""A persistent record of everything the lab created, so that teardown removes exactly that.

Every action that changes the machine (a network namespace, a link, a route, the nftables table,
the ip_forward setting, a started process) is appended to ``<workdir>/lab-state.json`` *before*
the next action runs. ``down`` (from any process) undoes the entries in reverse order and never
touches anything that is not listed, so a half-finished ``up`` is cleaned up just as well.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Ledger", "LedgerEntry"]

STATE_FILE = "lab-state.json"


@dataclass
class LedgerEntry:
    """One thing the lab created: ``kind`` (netns, link, route, nft-table, sysctl, process) and its data."""

    kind: str
    data: dict[str, Any]


@dataclass
class Ledger:
    """The lab's state file: created resources in creation order, plus free-form ``info``."""

    path: Path
    entries: list[LedgerEntry] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def open(cls, workdir: Path) -> Ledger:
        """Read ``<workdir>/lab-state.json`` (an empty ledger if there is none)."""
        path = Path(workdir) / STATE_FILE
        try:
            raw = json.loads(path.read_text())
        except FileNotFoundError:
            return cls(path)
        return cls(path, [LedgerEntry(e["kind"], e["data"]) for e in raw.get("entries", [])], raw.get("info", {}))

    def exists(self) -> bool:
        """True when a state file is on disk."""
        return self.path.exists()

    def save(self) -> None:
        """Write the state file atomically."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        payload = {"entries": [{"kind": e.kind, "data": e.data} for e in self.entries], "info": self.info}
        tmp.write_text(json.dumps(payload, indent=2) + "\n")
        os.replace(tmp, self.path)

    def add(self, kind: str, **data: Any) -> LedgerEntry:
        """Record a created resource and persist at once."""
        entry = LedgerEntry(kind, data)
        self.entries.append(entry)
        self.save()
        return entry

    def remove(self, entry: LedgerEntry) -> None:
        """Forget a resource that was undone, and persist."""
        with contextlib.suppress(ValueError):
            self.entries.remove(entry)
        self.save()

    def of_kind(self, kind: str) -> list[LedgerEntry]:
        """Entries of one kind, in creation order."""
        return [e for e in self.entries if e.kind == kind]

    def delete(self) -> None:
        """Remove the state file (after a complete teardown)."""
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
