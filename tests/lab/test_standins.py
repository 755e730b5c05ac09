"""The lab's one STAND-IN (nvidia-smi: no GPU here), run as the script the mirror ships,
on loopback and temporary directories only."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import tarfile
import time
from pathlib import Path

from fleetlab import standins

REPO = Path(__file__).resolve().parents[2]
STANDINS = REPO / "llmfleet" / "lab" / "standins"


def _install(tmp: Path, module: str, name: str, version: str | None = None) -> Path:
    """Write the stand-in script as the mirror ships it (version substituted) under ``tmp/bin/name``."""
    path = tmp / "bin" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(standins.script(module, version))
    path.chmod(0o755)
    return path


def _run(argv: list[str | Path], env: dict[str, str] | None = None, timeout: float = 20) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *map(str, argv)], capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})}
    )


def _wait(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


class Daemon:
    """A stand-in server process, stopped at the end of the test."""

    def __init__(self, argv: list[str | Path], env: dict[str, str] | None = None, log: Path | None = None) -> None:
        self.log = log
        out = open(log, "wb") if log else subprocess.DEVNULL  # noqa: SIM115 - closed in stop()
        self._out = out
        self.proc = subprocess.Popen([sys.executable, *map(str, argv)], env={**os.environ, **(env or {})}, stdout=out, stderr=out)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)
        if self.log:
            self._out.close()


def test_nvidia_smi_reports_no_devices(tmp_path: Path) -> None:
    out = _run([_install(tmp_path, "nvidia_smi", "nvidia-smi"), "--query-gpu=name", "--format=csv"])
    assert (out.returncode, out.stdout.strip()) == (6, "No devices were found")


# ----- packaging -----
def test_archives_are_deterministic(tmp_path: Path) -> None:
    def sha(p: Path) -> str:
        return hashlib.sha256(p.read_bytes()).hexdigest()

    a = standins.package_nvidia_smi(tmp_path / "a.tgz")
    time.sleep(1.1)
    assert sha(standins.package_nvidia_smi(tmp_path / "b.tgz")) == sha(a)
    with tarfile.open(a) as tar:
        assert {m.mtime for m in tar.getmembers()} == {standins.MTIME}
    shipped = standins.script("nvidia_smi").decode()
    assert "STAND-IN" in shipped.split('"""')[1]
    assert not re.search(r"^\s*(from|import) fleetlab\b", shipped, re.M), "a lab host has no fleetlab to import"
