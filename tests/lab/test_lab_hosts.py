"""Real booted lab hosts (systemd-nspawn): boot inventories/lab.yml, reach it, tear it down cleanly.

Marked ``lab``: needs root, ``tools/install-lab-tools.sh`` and a built llama-server (the mirror
ships it). The first run builds the base image (~20 s) and the mirror's caches (~20 s).
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from fleetlab import hosts as labhosts
from fleetlab import netns

pytestmark = pytest.mark.lab
REPO = Path(__file__).resolve().parents[2]
INVENTORY = REPO / "inventories" / "lab.yml"


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[labhosts.LabFleet]:
    if reason := labhosts.lab_unavailable_reason():
        pytest.skip(reason)
    with labhosts.prepared_lab(INVENTORY, tmp_path_factory.mktemp("lab")) as fleet:
        yield fleet  # teardown is a no-op when test_teardown_leaves_nothing_behind already ran


def test_ssh_reaches_every_host_under_its_inventory_name(lab: labhosts.LabFleet) -> None:
    import testinfra

    assert set(lab.hosts) == {"gw1", "gpu1"}
    for name, host in lab.hosts.items():
        out = lab.ssh(name, "hostname; systemctl is-system-running")
        assert out.returncode == 0, out.stderr
        assert out.stdout.split() == [name, "running"]
        remote = testinfra.get_host(lab.testinfra_url(name))
        assert remote.check_output("hostname") == name
        assert remote.interface("eth0").addresses[0] == host.address
        assert not remote.interface("tailscale0").exists, "the mesh interface is tailscaled's, made by the deploy"
        # The lab CA is installed the way an operator installs a private CA, and server_url's name resolves.
        assert remote.file("/usr/local/share/ca-certificates/llmfleet-lab-ca.crt").contains("BEGIN CERTIFICATE")
        assert remote.check_output("getent hosts hs.lab.example").split()[0] == lab.hosts["gw1"].address
    gw1 = testinfra.get_host(lab.testinfra_url("gw1"))
    key = gw1.file("/etc/headscale/tls/server.key")
    assert (key.mode, key.user) == (0o600, "root")
    assert not testinfra.get_host(lab.testinfra_url("gpu1")).file("/etc/headscale/tls/server.key").exists
    verify = gw1.run("openssl verify -CAfile /usr/local/share/ca-certificates/llmfleet-lab-ca.crt /etc/headscale/tls/server.crt")
    assert verify.rc in (0, 127), verify.stderr  # 127: no openssl in the minimal image (the deploy's TLS check covers it)
    ssh = subprocess.run(["ssh", "-F", str(lab.ssh_config), "gw1", "true"], capture_output=True, timeout=20)
    assert ssh.returncode == 0  # plain OpenSSH with the generated config (strict host key checking)


def test_up_again_is_idempotent(lab: labhosts.LabFleet) -> None:
    from llmfleet.inventory import load

    inv = load(INVENTORY, lab.overlay).inventory
    messages: list[str] = []
    again = labhosts.lab_up(inv, lab.workdir, log=messages.append)
    assert again.hosts == lab.hosts and "already up" in messages[0]
    assert labhosts.lab_status(lab.workdir)["up"] is True


LISTENER = """
import socket, sys
srv = socket.create_server((sys.argv[1], int(sys.argv[2])))
print("listening", flush=True)
srv.settimeout(30)
conn, peer = srv.accept()
conn.sendall(peer[0].encode())
conn.close()
"""

CONNECT = """
import socket, sys
try:
    with socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3) as s:
        print("open", s.recv(64).decode())
except OSError as exc:
    print("closed", type(exc).__name__)
"""


def _listen_in_netns(ns: str, ip: str, port: int) -> subprocess.Popen[str]:
    proc = subprocess.Popen(["ip", "netns", "exec", ns, "python3", "-c", LISTENER, ip, str(port)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "listening"
    return proc


def _connect_from(lab: labhosts.LabFleet, host: str, ip: str, port: int) -> str:
    out = lab.ssh(host, f"python3 -c '{CONNECT}' {ip} {port}")
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_hosts_reach_each_other_at_their_lab_addresses_only_through_the_machine(lab: labhosts.LabFleet) -> None:
    """The path WireGuard takes between nodes: lab address to lab address, forwarded between lab links."""
    gpu1 = lab.hosts["gpu1"]
    listener = _listen_in_netns("llmfleet-gpu1", gpu1.address, 18081)
    try:
        assert _connect_from(lab, "gw1", gpu1.address, 18081) == f"open {lab.hosts['gw1'].address}"
        assert listener.wait(timeout=10) == 0
    finally:
        if listener.poll() is None:
            listener.kill()
            listener.wait(timeout=5)


VERIFY = """
import hashlib, sys, urllib.request
base = sys.argv[1]
sums = urllib.request.urlopen(base + "SHA256SUMS", timeout=10).read().decode().splitlines()
bad = checked = 0
for line in sums:
    digest, name = line.split(maxsplit=1)
    if name.startswith("wheels/") and not name.startswith(("wheels/requirements", "wheels/litellm-")):
        continue
    got = hashlib.sha256(urllib.request.urlopen(base + name, timeout=30).read()).hexdigest()
    checked += 1
    bad += got != digest
print(checked, bad)
"""


def test_mirror_serves_files_with_their_sha256(lab: labhosts.LabFleet) -> None:
    out = lab.ssh("gpu1", f"python3 -c '{VERIFY}' {lab.mirror_url}", timeout=60)
    assert out.returncode == 0, out.stderr
    checked, bad = map(int, out.stdout.split())
    assert checked >= 10 and bad == 0
    manifest = json.loads((lab.workdir / "mirror" / "manifest.json").read_text())
    overlay = lab.overlay.read_text() if lab.overlay else ""
    # The mirror's pins go into the overlay; an artifact the lab inventory pins itself (the Ollama model's
    # GGUF, with the digest Ollama must report) is pinned there, by the same url + sha256 lines.
    pins = overlay + INVENTORY.read_text()
    for name, info in manifest["artifacts"].items():
        local = hashlib.sha256((lab.workdir / "mirror" / name).read_bytes()).hexdigest()
        assert local == info["sha256"], name
        has_inventory_field = name.endswith(".gguf") or name.startswith(("llama-server-", "ollama-linux-", "headscale_", "tailscale_"))
        if has_inventory_field:
            pinned = rf"/{re.escape(name)}\n\s+sha256: \"?{info['sha256']}\"?\s"
            assert re.search(pinned, pins), f"{name} is not pinned in the overlay nor in {INVENTORY.name}"


def test_apt_installs_from_the_mirror_only(lab: labhosts.LabFleet) -> None:
    out = lab.ssh("gpu1", "apt-get update -q 2>&1 | tail -1; apt-cache policy libgomp1 | grep -c 10.231.0.1", timeout=60)
    assert out.returncode == 0 and out.stdout.split()[-1] == "1", out.stdout + out.stderr


def test_lab_is_confined_by_its_own_nft_table(lab: labhosts.LabFleet) -> None:
    rules = subprocess.run(["nft", "list", "table", "inet", netns.NFT_TABLE], capture_output=True, text=True, check=True).stdout
    assert 'iifname "lfh-*" oifname != "lfh-*"' in rules and "drop" in rules


def test_the_machines_mesh_traffic_never_leaves_the_lab(lab: labhosts.LabFleet) -> None:
    """Checks run from the machine reach mesh IPs through the lab links; the rest of the mesh range is refused locally."""
    from llmfleet.layout import MESH_NETWORK

    rules = subprocess.run(["nft", "list", "chain", "inet", netns.NFT_TABLE, "output"], capture_output=True, text=True, check=True).stdout
    assert f'ip daddr {MESH_NETWORK} oifname != "lfh-*"' in rules and "reject" in rules, rules
    routed = [h for h in lab.hosts.values() if h.mesh_ip]
    assert routed
    for h in routed:
        route = subprocess.run(["ip", "route", "get", h.mesh_ip], capture_output=True, text=True, check=True).stdout
        assert " dev lfh-" in route, f"{h.name}: {route}"


def test_teardown_leaves_nothing_behind(lab: labhosts.LabFleet) -> None:
    from fleetlab.ledger import Ledger

    entries = Ledger.open(lab.workdir).entries
    pids = [e.data["pid"] for e in entries if e.kind == "process"]
    t0 = time.monotonic()
    assert labhosts.lab_down(lab.workdir) is True
    down = time.monotonic() - t0
    print(f"\nlab timings: up {lab.timings}, down {down:.2f} s")
    assert not Path(lab.workdir / "lab-state.json").exists()
    for e in entries:
        if e.kind == "netns":
            assert not netns.netns_exists(e.data["name"])
        if e.kind == "link":
            assert not netns.link_exists(e.data["name"])
    routes = subprocess.run(["ip", "route"], capture_output=True, text=True, check=True).stdout
    assert "100.64." not in routes and "10.231." not in routes
    assert not netns.nft_table_exists()
    for pid in pids:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] if Path(f"/proc/{pid}").exists() else None
        assert state in (None, "Z"), f"process {pid} still runs"
    assert Path("/proc/sys/net/ipv4/ip_forward").read_text().strip() == next(e.data["restore"] for e in entries if e.kind == "sysctl")
