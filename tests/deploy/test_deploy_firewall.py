"""The GPU hosts' firewall (rendered ``nftables/llmfleet.nft`` + ``llmfleet-firewall.service``):
backend ports only over the mesh interface and loopback."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from llmfleet.inventory.loader import load_inventory
from llmfleet.render import render_fleet
from llmfleet.render.context import mesh_ports

REPO = Path(__file__).resolve().parents[2]


def rendered(name: str, inventory: str = "lab.yml") -> str:
    inv = load_inventory(REPO / "inventories" / inventory)
    return next(f.content for f in render_fleet(inv) if f.relpath == f"gpu1/{name}")


def firewall_rules() -> str:
    return rendered("nftables/llmfleet.nft")


def test_backend_ports_only_on_the_mesh_interface_and_loopback() -> None:
    rules = firewall_rules()
    assert 'iifname "lo" accept' in rules
    assert 'iifname "tailscale0" tcp dport { 8080, 11434 } accept' in rules
    assert "tcp dport { 8080, 11434 } drop" in rules
    assert rules.index("accept\n    tcp dport") > 0, "the drop comes after the accepts"


def test_the_ruleset_replaces_its_own_table_atomically() -> None:
    lines = firewall_rules().splitlines()
    assert lines[3:6] == ["table inet llmfleet", "delete table inet llmfleet", "table inet llmfleet {"]
    unit = rendered("systemd/llmfleet-firewall.service")
    assert "ExecStart=/usr/sbin/nft -f /etc/llmfleet/firewall.nft" in unit
    assert "ExecStop=/usr/sbin/nft delete table inet llmfleet" in unit


def test_only_mesh_bound_backends_are_firewalled() -> None:
    lab = load_inventory(REPO / "inventories" / "lab.yml")
    assert mesh_ports(lab, lab.host_by_name["gpu1"]) == [8080, 11434]
    local = load_inventory(REPO / "inventories" / "lab-local.yml")
    assert mesh_ports(local, local.host_by_name["lab"]) == [], "loopback backends need no firewall"
    assert not any("nftables" in f.relpath for f in render_fleet(local)), "and get no firewall files"


@pytest.mark.real
def test_nft_accepts_the_ruleset(tmp_path: Path) -> None:
    nft = shutil.which("nft")
    if nft is None:
        pytest.skip("nft is not installed (apt-get install nftables)")
    path = tmp_path / "firewall.nft"
    path.write_text(firewall_rules())
    out = subprocess.run([nft, "-c", "-f", str(path)], capture_output=True, text=True, timeout=30)
    if out.returncode != 0 and "Operation not permitted" in out.stderr:
        pytest.skip("nft -c needs CAP_NET_ADMIN here")
    assert out.returncode == 0, out.stderr


def _sh(*cmd: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(cmd), capture_output=True, text=True, timeout=30, check=check)


@pytest.fixture
def netns_host(tmp_path: Path):
    """A network namespace standing in for a GPU host: ``eth0`` (LAN) and ``tailscale0`` (mesh)
    veth links to this machine, and an HTTP server on port 8080. Removed afterwards."""
    import os

    if os.geteuid() != 0 or not shutil.which("ip") or not shutil.which("nft"):
        pytest.skip("needs root, ip and nft")
    tag = f"{os.getpid() % 100000}"
    ns, lan, mesh = f"llmfleet-fw{tag}", f"fwl{tag}", f"fwm{tag}"
    server = None
    try:
        _sh("ip", "netns", "add", ns)
        _sh("ip", "link", "add", lan, "type", "veth", "peer", "name", "eth0", "netns", ns)
        _sh("ip", "link", "add", mesh, "type", "veth", "peer", "name", "tailscale0", "netns", ns)
        for link, addrs in ((lan, ["10.250.1.1/24", "100.64.250.1/24"]), (mesh, ["10.250.2.1/24"])):
            for a in addrs:
                _sh("ip", "addr", "add", a, "dev", link)
            _sh("ip", "link", "set", link, "up")
        for link, addrs in (("eth0", ["10.250.1.2/24", "100.64.250.2/24"]), ("tailscale0", ["10.250.2.2/24"])):
            for a in addrs:
                _sh("ip", "netns", "exec", ns, "ip", "addr", "add", a, "dev", link)
            _sh("ip", "netns", "exec", ns, "ip", "link", "set", link, "up")
        _sh("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up")
        (tmp_path / "health").write_text("ok")
        server = subprocess.Popen(
            ["ip", "netns", "exec", ns, sys.executable, "-m", "http.server", "8080", "--bind", "0.0.0.0", "--directory", str(tmp_path)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        yield ns
    except subprocess.CalledProcessError as exc:
        pytest.skip(f"cannot build a test network namespace here: {exc.stderr.strip()}")
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=10)
        _sh("ip", "netns", "del", ns, check=False)  # removes eth0/tailscale0 and so their peers
        _sh("ip", "link", "del", lan, check=False)
        _sh("ip", "link", "del", mesh, check=False)


def _get(url: str, source: str | None = None, patience: float = 5.0) -> bool:
    import socket
    import time
    import urllib.request

    deadline = time.monotonic() + patience
    while True:
        try:
            if source:
                host, port = url.split("/")[2].split(":")
                with socket.create_connection((host, int(port)), timeout=1, source_address=(source, 0)) as s:
                    s.sendall(b"GET /health HTTP/1.0\r\n\r\n")
                    return b" 200 " in s.recv(100)
            return urllib.request.urlopen(url, timeout=1).status == 200
        except OSError:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.2)


@pytest.mark.real
def test_the_ruleset_drops_backend_ports_off_the_mesh(netns_host: str, tmp_path: Path) -> None:
    assert _get("http://10.250.1.2:8080/health"), "the server answers before the firewall"
    rules = tmp_path / "fw.nft"
    rules.write_text(firewall_rules())
    _sh("ip", "netns", "exec", netns_host, "nft", "-f", str(rules))
    assert _get("http://10.250.2.2:8080/health"), "over tailscale0 the backend port answers"
    assert not _get("http://10.250.1.2:8080/health", patience=1), "over eth0 it is dropped"
    _sh("ip", "netns", "exec", netns_host, "nft", "-f", str(rules))  # loading again replaces, not duplicates
    listed = _sh("ip", "netns", "exec", netns_host, "nft", "list", "table", "inet", "llmfleet").stdout
    assert listed.count("tcp dport { 8080, 11434 } drop") == 1
