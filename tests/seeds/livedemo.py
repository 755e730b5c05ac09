"""One booted seed fleet per test module: ``make demo FLEET=<seed>``'s own flow, kept up for the live checks.

:func:`seed_demo` runs ``python -m fleetlab.demo run --fleet <seed> --keep`` (boot, deploy twice with
the second run changing nothing, testinfra, first chat answer, discovery, ``llmfleet check``; see
:mod:`fleetlab.demo`) and hands the still-running lab to the module's tests, then tears it down.
The demo's exit status and reports are the tests' evidence of the end-to-end flow.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from fleetlab import hosts as labhosts
from fleetlab import seedlab
from fleetlab.demo import master_key
from fleetlab.hosts import LabFleet
from llmfleet.inventory import load_inventory
from llmfleet.inventory.model import Inventory

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


@dataclass
class SeedDemo:
    """A seed fleet the demo booted, deployed and checked, still running."""

    seed: str
    fleet: LabFleet
    inv: Inventory
    inventory: Path
    overlay: Path
    key: tuple[str, str]
    out: Path
    rc: int
    printed: str
    seconds: float

    def report(self, name: str) -> Any:
        """A JSON report the demo wrote (``check.json``, ``discovery.json``, ...)."""
        return json.loads((self.out / name).read_text())

    def llmfleet_from(self, host: str, *args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
        """``llmfleet <args>`` of this checkout, run inside ``host``'s network namespace, the master key in its environment."""
        env = {**os.environ, self.key[0]: self.key[1]}
        return self.fleet.run_from_host_net(host, [str(BIN / "llmfleet"), *args], timeout=timeout, env=env)

    def python_from(self, host: str, *args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
        """This venv's Python inside ``host``'s network namespace, the master key in its environment."""
        env = {**os.environ, self.key[0]: self.key[1]}
        return self.fleet.run_from_host_net(host, [sys.executable, *args], timeout=timeout, env=env)


@contextlib.contextmanager
def seed_demo(seed: str, base: Path) -> Iterator[SeedDemo]:
    """Run the seed's demo with ``--keep`` in ``base``; yield the running fleet; always tear it down."""
    if reason := labhosts.lab_unavailable_reason():
        pytest.skip(reason)
    workdir, out = base / "lab", base / "report"
    argv = [sys.executable, "-m", "fleetlab.demo", "run", "--fleet", seed, "--keep", "--workdir", str(workdir), "--out", str(out)]
    t0 = time.monotonic()
    try:
        done = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=1500, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        seconds = time.monotonic() - t0
        printed = done.stdout + done.stderr
        (base / "demo.log").write_text(printed)
        assert done.returncode == 0, f"make demo FLEET={seed}: exit {done.returncode}\n{printed[-6000:]}"
        status = labhosts.lab_status(workdir)
        assert status.get("up"), f"the demo ran with --keep but left no lab up in {workdir}"
        inventory = seedlab.seed_files(seed)[0]
        overlay = Path(status["overlay"])
        inv = load_inventory(inventory, overlay)
        fleet = labhosts.lab_up(inv, workdir)
        yield SeedDemo(seed, fleet, inv, inventory, overlay, master_key(inv, workdir), out, done.returncode, printed, seconds)
    finally:
        if labhosts.lab_status(workdir).get("up"):
            labhosts.lab_down(workdir)
