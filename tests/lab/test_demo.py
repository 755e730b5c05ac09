"""``python -m fleetlab.demo`` (what ``make demo`` runs): bad input stops it before anything starts.

The whole flow itself (boot, deploy twice, testinfra, check, tear down) is exercised by
tests/deploy/test_deploy_lab.py through the same functions, and by ``make demo``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_a_bad_inventory_stops_the_demo_with_file_line_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text("fleet: lab\nhosts: []\n")
    workdir = tmp_path / "lab"
    out = subprocess.run(
        [sys.executable, "-m", "fleetlab.demo", "run", "--inventory", str(bad), "--workdir", str(workdir)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2
    assert f"{bad}:1 models: required field is missing" in out.stdout
    assert f"{bad}:2 hosts:" in out.stdout
    assert "Traceback" not in out.stdout + out.stderr
    assert not workdir.exists(), "nothing is created for an inventory that does not load"
