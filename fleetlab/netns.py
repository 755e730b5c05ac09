"""The lab network: one network namespace per host, veth pairs; the mesh is the real Tailscale.

Layout for a host with inventory address ``10.231.N.2`` and mesh IP ``M``:

* netns ``llmfleet-<name>``; inside it ``eth0`` (the veth peer) holds ``10.231.N.2/24`` with a
  default route via ``10.231.N.1``, which the machine-side end ``lfh-N`` holds;
* the mesh is not made here: the deploy installs the real ``tailscaled`` (kernel TUN mode, nspawn
  provides ``/dev/net/tun``), which creates ``tailscale0`` with the mesh IP ``M`` and carries
  WireGuard over the hosts' ``10.231.N.2`` addresses (forwarded by the machine between lab links);
* the machine holds the mirror address (``10.231.0.1``) on ``llmfleet0``, a bridge without ports
  (kernels without the ``dummy`` module exist: this one has none);
* ``ip_forward=1`` (the previous value is restored on teardown) and an nftables table of our own,
  ``inet llmfleet_lab``, that confines the lab: packets from lab links are forwarded only to
  other lab links (never out to the machine's network), and lab hosts may open connections to
  the machine only on the ports the lab serves (the mirror).

Every change is recorded in the :class:`~fleetlab.ledger.Ledger` first, so teardown removes
exactly what was created.
"""

from __future__ import annotations

import contextlib
import ipaddress
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from fleetlab.ledger import Ledger, LedgerEntry
from llmfleet.inventory.model import Inventory
from llmfleet.layout import MESH_NETWORK

__all__ = [
    "LAB_NETWORK",
    "MACHINE_LINK",
    "NFT_TABLE",
    "HostNet",
    "LabNetError",
    "plan_network",
    "setup_host_net",
    "setup_machine_net",
    "undo",
]

LAB_NETWORK = ipaddress.ip_network("10.231.0.0/16")
MACHINE_LINK = "llmfleet0"
NFT_TABLE = "llmfleet_lab"
NETNS_PREFIX = "llmfleet-"
IP_FORWARD = Path("/proc/sys/net/ipv4/ip_forward")


class LabNetError(RuntimeError):
    """The lab network cannot be set up; the message says why."""


@dataclass(frozen=True)
class HostNet:
    """The network of one lab host."""

    name: str
    netns: str
    address: str  # 10.231.N.2
    gateway: str  # 10.231.N.1, on the machine side
    veth: str  # machine-side link name
    mesh_ip: str | None

    @property
    def netns_path(self) -> str:
        """Path nspawn's --network-namespace-path takes."""
        return f"/run/netns/{self.netns}"


def plan_network(inv: Inventory) -> list[HostNet]:
    """Derive every host's network from the inventory.

    Raises:
        LabNetError: an address is not ``10.231.N.2`` with 1 <= N <= 254, or two hosts share an N.
    """
    plans: list[HostNet] = []
    seen: dict[int, str] = {}
    for host in inv.hosts:
        try:
            addr = ipaddress.IPv4Address(host.address)
        except ValueError:
            raise LabNetError(f"lab host {host.name}: address {host.address!r} is not an IPv4 address") from None
        third, fourth = addr.packed[2], addr.packed[3]
        if addr not in LAB_NETWORK or fourth != 2 or not 1 <= third <= 254:
            raise LabNetError(f"lab host {host.name}: address {addr} must be 10.231.N.2 (1 <= N <= 254); the lab derives its links from N")
        if third in seen:
            raise LabNetError(f"lab hosts {seen[third]} and {host.name} share the subnet 10.231.{third}.0/24")
        seen[third] = host.name
        mesh = str(host.mesh.ip) if host.mesh else None
        plans.append(HostNet(host.name, f"{NETNS_PREFIX}{host.name}", str(addr), f"10.231.{third}.1", f"lfh-{third}", mesh))
    return plans


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(["ip", *args], capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise LabNetError(f"`ip {' '.join(args)}` failed: {proc.stderr.strip()}")
    return proc


def _nft(script: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(["nft", "-f", "-"], input=script, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise LabNetError(f"nft failed: {proc.stderr.strip()}\n{script}")
    return proc


def netns_exists(name: str) -> bool:
    """True when ``/run/netns/<name>`` exists."""
    return Path(f"/run/netns/{name}").exists()


def link_exists(name: str) -> bool:
    """True when a link of that name exists in the machine's namespace."""
    return _ip("link", "show", "dev", name, check=False).returncode == 0


def nft_table_exists() -> bool:
    """True when our nftables table exists."""
    return subprocess.run(["nft", "list", "table", "inet", NFT_TABLE], capture_output=True).returncode == 0


def setup_machine_net(ledger: Ledger, mirror_ip: str, open_ports: Sequence[int]) -> None:
    """Machine-wide part: the mirror address, ip_forward and the confining nftables table.

    The table also keeps the machine's own traffic to mesh addresses in the lab: a mesh IP is routed
    to its host's lab link (:func:`setup_host_net`); anything else in the mesh range (a host not yet
    routed, a typo in a check's target) is refused on the machine instead of leaving by its default route.

    Raises:
        LabNetError: a resource of that name already exists (another lab?), or a command failed.
    """
    if link_exists(MACHINE_LINK):
        raise LabNetError(f"link {MACHINE_LINK} already exists: another lab is up (`python -m fleetlab.hosts down --workdir ...`)")
    if nft_table_exists():
        raise LabNetError(f"nftables table inet {NFT_TABLE} already exists: another lab is up")
    ledger.add("link", name=MACHINE_LINK)
    _ip("link", "add", MACHINE_LINK, "type", "bridge")  # a port-less bridge: holds an address (no `dummy` module everywhere)
    _ip("addr", "add", f"{mirror_ip}/32", "dev", MACHINE_LINK)
    _ip("link", "set", MACHINE_LINK, "up")

    previous = IP_FORWARD.read_text().strip()
    ledger.add("sysctl", path=str(IP_FORWARD), restore=previous)
    IP_FORWARD.write_text("1\n")

    ports = ", ".join(str(p) for p in sorted(set(open_ports)))
    ledger.add("nft-table", family="inet", name=NFT_TABLE)
    _nft(
        f"""table inet {NFT_TABLE} {{
    chain forward {{
        type filter hook forward priority 0; policy accept;
        iifname "lfh-*" oifname != "lfh-*" counter drop comment "lab hosts never reach the machine's network"
        oifname "lfh-*" iifname != "lfh-*" counter drop comment "nothing outside reaches lab hosts through us"
    }}
    chain input {{
        type filter hook input priority 0; policy accept;
        iifname != "lfh-*" accept
        ct state established,related accept
        ip daddr {mirror_ip} tcp dport {{ {ports} }} accept
        icmp type echo-request accept
        counter drop comment "lab hosts may only use the lab's own services on this machine"
    }}
    chain output {{
        type filter hook output priority 0; policy accept;
        ip daddr {MESH_NETWORK} oifname != "lfh-*" counter reject comment "mesh addresses from the machine stay in the lab"
    }}
}}
"""
    )


def setup_host_net(ledger: Ledger, h: HostNet) -> None:
    """Create ``h``'s namespace, veth pair, addresses and default route.

    Raises:
        LabNetError: the namespace or link already exists, or a command failed.
    """
    if netns_exists(h.netns):
        raise LabNetError(f"network namespace {h.netns} already exists: another lab is up")
    if link_exists(h.veth):
        raise LabNetError(f"link {h.veth} already exists: another lab is up")
    ledger.add("netns", name=h.netns)
    _ip("netns", "add", h.netns)
    ledger.add("link", name=h.veth)
    peer = f"{h.veth}p"
    _ip("link", "add", h.veth, "type", "veth", "peer", "name", peer)
    _ip("link", "set", peer, "netns", h.netns)
    _ip("-n", h.netns, "link", "set", peer, "name", "eth0")
    _ip("-n", h.netns, "addr", "add", f"{h.address}/24", "dev", "eth0")
    _ip("-n", h.netns, "link", "set", "lo", "up")
    _ip("-n", h.netns, "link", "set", "eth0", "up")
    _ip("-n", h.netns, "route", "add", "default", "via", h.gateway)
    _ip("addr", "add", f"{h.gateway}/24", "dev", h.veth)
    _ip("link", "set", h.veth, "up")
    if h.mesh_ip:
        # The machine is not on the mesh. A packet it sends to a mesh IP (a check run from here) must
        # stay in the lab: it goes to that host's lab address, where the firewall keeps backend ports
        # for tailscale0. Without this route it would leave through the machine's default route.
        ledger.add("route", dst=f"{h.mesh_ip}/32", via=h.address)
        _ip("route", "add", f"{h.mesh_ip}/32", "via", h.address)


def netns_pids(name: str) -> list[int]:
    """PIDs of processes inside network namespace ``name``."""
    proc = _ip("netns", "pids", name, check=False)
    return [int(p) for p in proc.stdout.split() if p.isdigit()]


def undo(entry: LedgerEntry) -> None:
    """Remove one network resource recorded in the ledger (missing ones are fine)."""
    d = entry.data
    if entry.kind == "route":
        _ip("route", "del", d["dst"], "via", d["via"], check=False)
    elif entry.kind == "link":
        if link_exists(d["name"]):
            _ip("link", "del", d["name"])
    elif entry.kind == "netns":
        if netns_exists(d["name"]):
            _ip("netns", "del", d["name"])
    elif entry.kind == "nft-table":
        if nft_table_exists():
            subprocess.run(["nft", "delete", "table", d["family"], d["name"]], check=True, capture_output=True)
    elif entry.kind == "sysctl":
        with contextlib.suppress(OSError):
            Path(d["path"]).write_text(f"{d['restore']}\n")
    else:
        raise ValueError(f"not a network resource: {entry.kind}")
