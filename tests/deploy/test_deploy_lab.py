"""``pyinfra inventories/lab.py deploy/site.py`` against the booted lab (systemd-nspawn hosts).

Molecule-style: converge, idempotence (the second run changes nothing, read from pyinfra's
``--json`` results), verify on the hosts, then a broken gateway configuration that must be
rolled back, and a run of the good one again that changes nothing.

Marked ``lab``: needs root, the lab tools and a built llama-server (see tests/lab/).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.lab
REPO = Path(__file__).resolve().parents[2]
INVENTORY = REPO / "inventories" / "lab.yml"
PYINFRA = str(Path(sys.executable).parent / "pyinfra")
MASTER_KEY = f"sk-lab-{secrets.token_hex(20)}"


def _skip_reason() -> str | None:
    if os.geteuid() != 0:
        return "the lab needs root"
    missing = [t for t in ("systemd-nspawn", "mmdebstrap", "nft", "ip", "ssh", "dpkg-scanpackages") if shutil.which(t) is None]
    if missing:
        return f"missing {', '.join(missing)}: run `bash tools/install-lab-tools.sh`"
    from llmfleet.lab.programs import ProgramMissing, llama_server_bin

    try:
        llama_server_bin()
    except ProgramMissing as exc:
        return str(exc)
    return None


@dataclass
class Run:
    """One pyinfra run: exit code, parsed --json results, everything printed, wall time."""

    rc: int
    doc: dict[str, Any]
    printed: str
    seconds: float

    def ops(self) -> list[dict[str, Any]]:
        return (self.doc.get("results") or {}).get("operations", [])

    def changed(self) -> list[str]:
        return [f"{op['name']} on {', '.join(op['success'])}" for op in self.ops() if op.get("success")]

    def errors(self) -> list[str]:
        return [f"{op['name']} on {', '.join(op['error'])}" for op in self.ops() if op.get("error")]


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    from llmfleet.lab import hosts as labhosts
    from llmfleet.lab.mirror import prepare

    workdir = tmp_path_factory.mktemp("deploylab")
    inv, overlay = prepare(INVENTORY, workdir)
    original = labhosts._nspawn_argv

    def with_net_admin(*args: Any, **kwargs: Any) -> list[str]:
        # The deploy loads nftables rules; a container needs CAP_NET_ADMIN for that (a real
        # server has it). Added here until the lab's own nspawn arguments grant it.
        argv = original(*args, **kwargs)
        return argv if any(a.startswith("--capability") for a in argv) else [*argv[:-1], "--capability=CAP_NET_ADMIN", argv[-1]]

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(labhosts, "_nspawn_argv", with_net_admin)
        fleet = labhosts.lab_up(inv, workdir, overlay=overlay)
    try:
        probe = fleet.ssh("gpu1", "nft list tables", timeout=30)
        if probe.returncode != 0 and "not permitted" in (probe.stdout + probe.stderr):
            pytest.skip(
                "the lab's hosts cannot load nftables rules (no CAP_NET_ADMIN in the container: "
                "llmfleet/lab/hosts.py's systemd-nspawn needs --capability=CAP_NET_ADMIN), so the deploy's "
                "firewall step cannot run there"
            )
        yield fleet
    finally:
        labhosts.lab_down(workdir)


def deploy(lab: Any, overlay: Path | None = None, *extra: str) -> Run:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(lab.workdir),
        "LITELLM_MASTER_KEY": MASTER_KEY,
        "LLMFLEET_OVERLAY": str(overlay or lab.overlay),
        "LLMFLEET_SSH_KEY": str(lab.ssh_key),
        "LLMFLEET_SSH_KNOWN_HOSTS": str(lab.known_hosts),
        "LLMFLEET_SSH_STRICT": "yes",
        # The lab's mesh stand-in routes mesh traffic at L3 over eth0, not through tailscale0.
        "LLMFLEET_MESH_FIREWALL": "source",
    }
    t0 = time.monotonic()
    out = subprocess.run(
        [PYINFRA, str(REPO / "inventories" / "lab.py"), str(REPO / "deploy" / "site.py"), "-y", "--json", *extra],
        cwd=lab.workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    seconds = time.monotonic() - t0
    try:
        doc = json.loads(out.stdout)
    except ValueError:
        doc = {}
    run = Run(out.returncode, doc, out.stdout + out.stderr, seconds)
    (lab.workdir / f"deploy-{int(t0)}.log").write_text(run.printed)
    assert MASTER_KEY not in run.printed, "the master key was printed"
    return run


@pytest.fixture(scope="module")
def first(lab: Any) -> Run:
    return deploy(lab)


@pytest.fixture(scope="module")
def second(lab: Any, first: Run) -> Run:
    return deploy(lab)


def test_first_run_converges(first: Run) -> None:
    assert first.rc == 0, first.printed[-4000:]
    assert not first.errors()
    assert first.changed(), "a first run on fresh hosts changes things"
    print(f"converge: {first.seconds:.1f} s, {len(first.changed())} operations changed")


def test_second_run_changes_nothing(second: Run) -> None:
    assert second.rc == 0, second.printed[-4000:]
    assert second.changed() == []
    assert second.errors() == []
    print(f"idempotent re-run: {second.seconds:.1f} s, {len(second.ops())} operations, none changed")


def sh(lab: Any, host: str, command: str) -> str:
    out = lab.ssh(host, command, timeout=60)
    assert out.returncode == 0, f"{host}: {command}: {out.stderr}"
    return out.stdout.strip()


PROBE = "python3 -c 'import sys,urllib.request; print(urllib.request.urlopen(sys.argv[1], timeout=10).status)' "


def test_hosts_are_as_the_inventory_says(lab: Any, second: Run) -> None:
    assert sh(lab, "gw1", "stat -c '%a %U %G' /opt/llmfleet/litellm/.env") == "600 root root"
    assert MASTER_KEY not in sh(lab, "gw1", "cat /opt/llmfleet/litellm/config.yaml /etc/systemd/system/litellm.service")
    assert sh(lab, "gw1", "systemctl is-active litellm headscale tailscaled").split() == ["active"] * 3
    assert sh(lab, "gw1", PROBE + "http://127.0.0.1:4000/health/readiness") == "200"
    assert sh(lab, "gpu1", "systemctl is-active llama-server-llama-gpu1 ollama tailscaled llmfleet-firewall").split() == ["active"] * 4
    status = json.loads(sh(lab, "gpu1", "tailscale status --json"))
    assert status["BackendState"] == "Running" and "100.64.0.2" in status["Self"]["TailscaleIPs"]
    # The gateway reaches both backends over the mesh, through the firewall.
    assert sh(lab, "gw1", PROBE + "http://100.64.0.2:8080/health") == "200"
    tags = json.loads(
        sh(
            lab,
            "gw1",
            "python3 -c 'import urllib.request; print(urllib.request.urlopen(\"http://100.64.0.2:11434/api/tags\", timeout=10).read().decode())'",
        )
    )
    assert "qwen2.5:0.5b-instruct" in [m["name"] for m in tags["models"]]
    # Nothing answers on the backends' ports at the host's own (non-mesh) address.
    refused = lab.ssh("gw1", PROBE + "http://10.231.2.2:8080/health", timeout=60)
    assert refused.returncode != 0


def test_a_gateway_config_that_never_gets_ready_is_rolled_back(lab: Any, second: Run, tmp_path: Path) -> None:
    broken = tmp_path / "lab.broken.yml"
    data = yaml.safe_load(Path(lab.overlay).read_text())
    data["gateway"] = {"bind": "192.0.2.10"}  # valid, but not an address of gw1: LiteLLM cannot listen
    broken.write_text(yaml.safe_dump(data))
    run = deploy(lab, broken, "--data", "llmfleet_ready_timeout=60")
    assert run.rc != 0
    assert "rolled back to the previous configuration, which is ready again" in run.printed
    assert sh(lab, "gw1", PROBE + "http://127.0.0.1:4000/health/readiness") == "200"
    assert "--host 0.0.0.0" in sh(lab, "gw1", "grep ExecStart /etc/systemd/system/litellm.service")
    again = deploy(lab)
    assert again.rc == 0, again.printed[-4000:]
    assert again.changed() == [], "after the rollback the good configuration is exactly what runs"
