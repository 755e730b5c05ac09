"""Build pyinfra inventory groups from a typed llmfleet inventory (plain host data only).

Each ``inventories/<fleet>.py`` is a thin pyinfra inventory::

    from llmfleet.deploy.inventory import fleet_groups
    all, gateway, gpu, headscale = fleet_groups("lab", inventory_dir=Path(__file__).parent)

Hosts are named by their inventory name (``gw1``; the model's contract: the host name is also the
pyinfra host name) and reached at ``ssh_hostname`` = their address. Host data holds only plain
values: SSH settings, ``llmfleet_host`` (the inventory name), ``llmfleet_inventory`` and
``llmfleet_overlay`` (absolute paths); deploy code loads the typed model back from those.

Environment (all optional):

* ``LLMFLEET_OVERLAY``   — overlay file merged over the inventory (e.g. the lab's ``lab.artifacts.yml``);
* ``LLMFLEET_SSH_KEY``   — private key file; ``LLMFLEET_SSH_CONFIG`` — ssh_config file;
* ``LLMFLEET_SSH_KNOWN_HOSTS`` — known_hosts file; ``LLMFLEET_SSH_STRICT`` — host key policy
  (``yes``, ``no``, ``accept-new``, ``off``).
"""

from __future__ import annotations

import ipaddress
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

from llmfleet.inventory.loader import load_inventory
from llmfleet.inventory.model import Host, Inventory
from llmfleet.inventory.problems import InventoryError

HostEntry = tuple[str, dict[str, Any]]

_ENV_DATA = {
    "LLMFLEET_SSH_KEY": "ssh_key",
    "LLMFLEET_SSH_CONFIG": "ssh_config_file",
    "LLMFLEET_SSH_KNOWN_HOSTS": "ssh_known_hosts_file",
    "LLMFLEET_SSH_STRICT": "ssh_strict_host_key_checking",
}


class FleetGroups(NamedTuple):
    """The pyinfra groups of a fleet: ``all`` (host names, join order) and one group per role."""

    all: list[str]
    gateway: list[HostEntry]
    gpu: list[HostEntry]
    headscale: list[HostEntry]


def host_data(host: Host, inventory_path: Path, overlay: Path | None, environ: Mapping[str, str]) -> dict[str, Any]:
    """The plain pyinfra host data of one inventory host."""
    data: dict[str, Any] = {
        "ssh_hostname": host.address,
        "ssh_user": host.ssh.user,
        "ssh_port": host.ssh.port,
        "llmfleet_host": host.name,
        "llmfleet_inventory": str(inventory_path),
        "llmfleet_overlay": str(overlay) if overlay else None,
    }
    if host.ssh.user != "root":
        data["_sudo"] = True
    for env, key in _ENV_DATA.items():
        if environ.get(env):
            data[key] = environ[env]
    return data


def _join_order(inv: Inventory) -> list[Host]:
    """Hosts in the order they join the mesh: by mesh IP (Headscale allocates sequentially), then the rest."""
    meshed = sorted((h for h in inv.hosts if h.mesh), key=lambda h: ipaddress.ip_address(str(h.mesh.ip)) if h.mesh else 0)
    return meshed + [h for h in inv.hosts if not h.mesh]


def groups_from(inv: Inventory, inventory_path: Path, overlay: Path | None = None, environ: Mapping[str, str] | None = None) -> FleetGroups:
    """Build the pyinfra groups of a loaded inventory."""
    env = os.environ if environ is None else environ
    ordered = _join_order(inv)
    entries = {h.name: (h.name, host_data(h, inventory_path, overlay, env)) for h in ordered}
    by_role = {role: [entries[h.name] for h in ordered if role in h.roles] for role in ("gateway", "gpu", "headscale")}
    return FleetGroups([h.name for h in ordered], by_role["gateway"], by_role["gpu"], by_role["headscale"])


def fleet_groups(fleet: str, environ: Mapping[str, str] | None = None, inventory_dir: Path | None = None) -> FleetGroups:
    """Load ``<inventory_dir>/<fleet>.yml`` (default ``./inventories``; plus ``$LLMFLEET_OVERLAY``) and build its pyinfra groups."""
    env = os.environ if environ is None else environ
    path = (inventory_dir or Path("inventories")) / f"{fleet}.yml"
    overlay = Path(env["LLMFLEET_OVERLAY"]) if env.get("LLMFLEET_OVERLAY") else None
    return file_groups(path, overlay, env)


def file_groups(path: Path, overlay: Path | None = None, environ: Mapping[str, str] | None = None) -> FleetGroups:
    """Load the inventory at ``path`` (plus ``overlay``) and build its pyinfra groups; a bad inventory stops with exit 2."""
    env = os.environ if environ is None else environ
    path = path.resolve()
    overlay = overlay.resolve() if overlay else None
    try:
        inv = load_inventory(path, overlay)
    except InventoryError as exc:
        # pyinfra would print a traceback: say what is wrong (file:line field: problem, all of them) and stop.
        print(f"{exc}\nllmfleet: {path.name} does not load; no host was contacted.", file=sys.stderr)
        raise SystemExit(2) from None
    return groups_from(inv, path, overlay, env)
