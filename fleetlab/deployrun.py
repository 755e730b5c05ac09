"""Run ``pyinfra inventories/<fleet>.py deploy/site.py`` against a booted lab fleet and read its results.

One place for what the demo, the lab deploy tests and the deploy benchmark all do: build the
environment the pyinfra inventory adapter reads (lab SSH key, known_hosts, overlay, the master key
from the operator's environment), run pyinfra with ``--json``, and parse which operations changed
what. The master key is handed over in the environment only; a run whose output contains it is
refused (:class:`SecretLeaked`), without the key ever being echoed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fleetlab.hosts import LabFleet

REPO = Path(__file__).resolve().parents[1]
PYINFRA = str(Path(sys.executable).parent / "pyinfra")


class SecretLeaked(RuntimeError):
    """A deploy printed a secret value it was given (the value itself is never part of the message)."""


@dataclass
class DeployRun:
    """One pyinfra run: exit code, parsed ``--json`` results, everything printed, wall time."""

    rc: int
    doc: dict[str, Any]
    printed: str
    seconds: float
    log: Path | None = None

    def ops(self) -> list[dict[str, Any]]:
        """Every operation pyinfra reported, in order."""
        return (self.doc.get("results") or {}).get("operations", [])

    def changed(self) -> list[str]:
        """``"<operation> on <hosts>"`` for each operation that changed something."""
        return [f"{op['name']} on {', '.join(op['success'])}" for op in self.ops() if op.get("success")]

    def errors(self) -> list[str]:
        """``"<operation> on <hosts>"`` for each operation that failed."""
        return [f"{op['name']} on {', '.join(op['error'])}" for op in self.ops() if op.get("error")]

    def tail(self, chars: int = 4000) -> str:
        """The end of what pyinfra printed (for an error message)."""
        return self.printed[-chars:]


def deploy_env(fleet: LabFleet, master_key: str, overlay: Path | None = None) -> dict[str, str]:
    """The environment of a pyinfra run against ``fleet`` (see llmfleet/deploy/inventory.py)."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(fleet.workdir),
        "LITELLM_MASTER_KEY": master_key,
        "LLMFLEET_OVERLAY": str(overlay or fleet.overlay or ""),
        "LLMFLEET_SSH_KEY": str(fleet.ssh_key),
        "LLMFLEET_SSH_KNOWN_HOSTS": str(fleet.known_hosts),
        "LLMFLEET_SSH_STRICT": "yes",
    }


def run_site(
    fleet: LabFleet,
    master_key: str,
    *,
    pyinfra_inventory: Path | None = None,
    overlay: Path | None = None,
    extra: Sequence[str] = (),
    env: dict[str, str] | None = None,
    timeout: float = 1800.0,
    command: Sequence[str] | None = None,
) -> DeployRun:
    """Apply ``deploy/site.py`` to ``fleet`` once and return what happened.

    ``pyinfra_inventory`` defaults to ``inventories/lab.py``; ``env`` adds to :func:`deploy_env`.
    ``command`` replaces ``pyinfra <inventory> deploy/site.py -y --json`` (e.g. an installed
    ``llmfleet deploy INVENTORY --overlay FILE -y --json``); ``extra`` is appended to either.
    The full output is kept in ``<workdir>/deploy-<time>.log``. Raises :class:`SecretLeaked` if
    the master key appears in the output, ``subprocess.TimeoutExpired`` after ``timeout`` s.
    """
    inventory = pyinfra_inventory or REPO / "inventories" / "lab.py"
    run_env = {**deploy_env(fleet, master_key, overlay), **(env or {})}
    t0 = time.monotonic()
    out = subprocess.run(
        [*(command or [PYINFRA, str(inventory), str(REPO / "deploy" / "site.py"), "-y", "--json"]), *extra],
        cwd=fleet.workdir,
        env=run_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    seconds = time.monotonic() - t0
    printed = out.stdout + out.stderr
    if master_key and master_key in printed:
        raise SecretLeaked("the deploy printed the master key: its output was not kept")
    try:
        doc = json.loads(out.stdout)
    except ValueError:
        doc = {}
    log = fleet.workdir / f"deploy-{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}-{int(t0 * 1000) % 100000}.log"
    log.write_text(printed)
    return DeployRun(out.returncode, doc, printed, seconds, log)
