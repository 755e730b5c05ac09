"""checks/testinfra with an inventory that does not load: the problems, exit 2, no host tested."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_bad_inventory_stops_the_host_tests_with_its_problems(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text("fleet: x\nhosts: []\n")
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(REPO / "checks" / "testinfra"), "--hosts=local://"],
        cwd=tmp_path,
        env={**os.environ, "LLMFLEET_INVENTORY": str(bad)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 2
    assert "bad.yml:1 models: required field is missing" in out.stdout + out.stderr  # shown relative to the working directory
    assert "no host was tested" in out.stdout + out.stderr
