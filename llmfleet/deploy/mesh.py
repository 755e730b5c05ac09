"""The Headscale mesh: the control server on the ``headscale`` host, and every node joining it.

Nodes join in mesh-IP order: Headscale allocates addresses sequentially, and pyinfra runs hosts in
no set order, so each node's join waits (bounded) until every node with a lower inventory IP holds
it on Headscale. On a fresh server each node gets the IP the inventory names, and the join fails
loudly when it does not.
"""

from __future__ import annotations

from pyinfra import host
from pyinfra.api import deploy
from pyinfra.api.operation import OperationMeta
from pyinfra.facts.deb import DebArch
from pyinfra.facts.files import File
from pyinfra.operations import files

from llmfleet.deploy import common
from llmfleet.deploy.context import inventory, rendered, this_host
from llmfleet.deploy.facts.tailscale import TailscaleVersion
from llmfleet.deploy.operations import artifacts, headscale, packages, tailscale, wait
from llmfleet.inventory.model import Host, Inventory, Mesh
from llmfleet.layout import (
    HEADSCALE_BIN,
    HEADSCALE_ETC,
    HEADSCALE_ROOT,
    HEADSCALE_SERVICE,
    TAILSCALE_LINK,
    TAILSCALE_ROOT,
    TAILSCALED_LINK,
    TAILSCALED_SERVICE,
)
from llmfleet.render import key_carries_tags, node_tags, parse_args_file, tailscale_firewall_mode

#: Tailscale's package signing key (https://pkgs.tailscale.com).
TAILSCALE_KEY_FINGERPRINT = "2596A99EAAB33821893C0A79458CA832957F5868"


def headscale_ready_url(mesh: Mesh) -> str:
    """Headscale's health endpoint: at ``server_url`` when Headscale serves TLS itself (``mesh.tls``:
    the certificate is checked like a node checks it), else on loopback behind the operator's proxy."""
    if mesh.tls is not None:
        return f"{mesh.server_url.rstrip('/')}/health"
    return f"http://127.0.0.1:{mesh.listen_port}/health"


@deploy("Run the Headscale control server")
def control_server() -> None:
    """Pinned Headscale, the rendered config + ACL policy + unit, the fleet's user."""
    inv = inventory()
    me = this_host()
    mesh = inv.mesh
    assert mesh is not None
    root = HEADSCALE_ROOT.format(version=mesh.headscale_version)
    headscale.upgrade_allowed(
        name=f"Refuse a Headscale downgrade or skipped minor release (target {mesh.headscale_version})", target=mesh.headscale_version
    )
    changes: list[OperationMeta] = []
    unpinned = "mesh.headscale_binary (url + sha256) is not set"
    install = common.install_pinned(inv, "Headscale", mesh.headscale_version, mesh.headscale_binary, root, "headscale", unpinned=unpinned)
    changes += [install] if install else []
    changes.append(
        files.link(name=f"Point {HEADSCALE_BIN} at Headscale {mesh.headscale_version}", path=HEADSCALE_BIN, target=f"{root}/headscale")
    )
    files.directory(name=f"Create {HEADSCALE_ETC}", path=HEADSCALE_ETC, user="root", group="root", mode="755")
    configs = [common.put_rendered(f) for f in (rendered(me.name, "headscale/config.yaml"), rendered(me.name, "headscale/acl.hujson")) if f]
    unit = rendered(me.name, "systemd/headscale.service")
    unit_files = [common.put_rendered(unit, "Headscale unit")] if unit else []
    common.unit_lifecycle(HEADSCALE_SERVICE, "Headscale", unit_files, changes + configs + unit_files)
    wait.http_ready(name="Wait until Headscale answers", url=headscale_ready_url(mesh), what="Headscale", timeout=60)
    headscale.user(name=f"Create the Headscale user {mesh.user}", user_name=mesh.user)


def _tailscale_from_archive(me: Host, root: str, install: OperationMeta) -> list[OperationMeta]:
    """Links and the rendered tailscaled unit for a client unpacked into ``root``; restart on change."""
    ops = [
        install,
        files.link(name=f"Point {TAILSCALE_LINK} at the pinned client", path=TAILSCALE_LINK, target=f"{root}/tailscale"),
        files.link(name=f"Point {TAILSCALED_LINK} at the pinned daemon", path=TAILSCALED_LINK, target=f"{root}/tailscaled"),
    ]
    unit_file = rendered(me.name, f"systemd/{TAILSCALED_SERVICE}")
    unit = [common.put_rendered(unit_file, "tailscaled unit")] if unit_file else []
    common.unit_lifecycle(TAILSCALED_SERVICE, "tailscaled", unit, [*ops, *unit])
    return [*ops, *unit]


def install_tailscale(inv: Inventory, me: Host, mesh: Mesh) -> list[OperationMeta]:
    """The pinned Tailscale client, from the first source that applies:

    1. its archive pinned in the inventory (``mesh.tailscale_binary``);
    2. a client already installed at ``mesh.tailscale_version`` (kept as it is);
    3. air-gapped: the archive ``tailscale_<version>_<arch>.tgz`` the mirror lists in its
       ``SHA256SUMS`` (verified against that list, when the inventory pins no archive);
    4. Tailscale's apt repository (signing key fingerprint-checked), version pinned.
    """
    root = TAILSCALE_ROOT.format(version=mesh.tailscale_version)
    artifact = mesh.tailscale_binary
    if artifact is not None:
        install = common.install_pinned(inv, "Tailscale", mesh.tailscale_version, artifact, root, "tailscale")
        assert install is not None  # pinned: installed, never refused
        return _tailscale_from_archive(me, root, install)
    if host.get_fact(TailscaleVersion) == mesh.tailscale_version and not host.get_fact(File, path=f"{root}/.llmfleet-artifact"):
        common.unit_lifecycle(TAILSCALED_SERVICE, "tailscaled", [], [])
        return []
    if inv.artifacts.mirror:
        arch = host.get_fact(DebArch) or "amd64"
        install = artifacts.install_listed(
            name=f"Install Tailscale {mesh.tailscale_version} listed in the mirror's SHA256SUMS (no inventory pin)",
            sums_url=f"{inv.artifacts.mirror.rstrip('/')}/SHA256SUMS",
            suffix=f"tailscale_{mesh.tailscale_version}_{arch}.tgz",
            dest_dir=root,
            binary="tailscale",
            layout="flat",
        )
        return _tailscale_from_archive(me, root, install)
    common.apt_repository(
        "tailscale",
        f"https://pkgs.tailscale.com/stable/{me.os}/{common.codename()}.noarmor.gpg",
        "/etc/apt/keyrings/tailscale.gpg",
        TAILSCALE_KEY_FINGERPRINT,
        f"https://pkgs.tailscale.com/stable/{me.os}",
        common.codename(),
        "main",
    )
    ops = [packages.apt_installed(name=f"Install Tailscale {mesh.tailscale_version}", packages=[f"tailscale={mesh.tailscale_version}"])]
    common.unit_lifecycle(TAILSCALED_SERVICE, "tailscaled", [], ops)
    return ops


def join_after(inv: Inventory, me: Host) -> list[str]:
    """The mesh IPs of the nodes that join before ``me``: every lower one (Headscale allocates in join order)."""
    assert me.mesh is not None
    return [str(h.mesh.ip) for h in inv.hosts if h.mesh is not None and h.mesh.ip < me.mesh.ip]


@deploy("Join the Headscale mesh")
def node() -> None:
    """Tailscale client, the rendered ``up`` arguments, an idempotent join, and an online check."""
    inv = inventory()
    me = this_host()
    mesh = inv.mesh
    assert mesh is not None and me.mesh is not None
    if tailscale_firewall_mode(inv, me) == "iptables":
        packages.apt_installed(
            name="Install iptables before tailscaled starts (a container engine shares its rules)", packages=["iptables"]
        )
    install_tailscale(inv, me, mesh)
    args_file = rendered(me.name, "tailscale/up.args")
    if args_file is None:
        return
    common.put_rendered(args_file, "tailscale up arguments")
    tailscale.up(
        name=f"Join the mesh at {mesh.server_url} as {me.mesh_name} (only if not joined or arguments changed)",
        args=parse_args_file(args_file.content),
        control_host=mesh.headscale_host,
        user=mesh.user,
        headscale_version=mesh.headscale_version,
        expect_ip=str(me.mesh.ip),
        tags=node_tags(me) if key_carries_tags(mesh.headscale_version) else [],
        join_after=join_after(inv, me),
    )
    tailscale.verify_online(name=f"Verify the node is online on the mesh as {me.mesh.ip}", expect_ip=str(me.mesh.ip))
