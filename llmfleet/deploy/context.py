"""The typed inventory and its rendered files, loaded and rendered once per pyinfra run.

The pyinfra inventory (``llmfleet/deploy/inventory.py``) stores only plain host data: the inventory
path, the overlay path and the inventory host name. Deploy code calls :func:`inventory`,
:func:`this_host` and :func:`files_for` and gets the typed model back; loading and rendering are
cached per (path, overlay), so a run over many hosts loads the YAML once.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from llmfleet.inventory.loader import load_inventory
from llmfleet.inventory.model import Artifact, Host, Inventory
from llmfleet.render import RenderedFile, render_fleet

#: Host data keys the adapter sets (plain strings, never objects).
DATA_INVENTORY = "llmfleet_inventory"
DATA_OVERLAY = "llmfleet_overlay"
DATA_HOST = "llmfleet_host"


class DeployContextError(RuntimeError):
    """The pyinfra host carries no llmfleet data (not built by ``llmfleet/deploy/inventory.py``)."""


@dataclass(frozen=True)
class Fleet:
    """A loaded inventory and every file rendered from it."""

    inventory: Inventory
    files: tuple[RenderedFile, ...]

    def files_for(self, host_name: str) -> list[RenderedFile]:
        """The rendered files of one host, sorted by relpath."""
        return [f for f in self.files if f.host == host_name]

    def file(self, host_name: str, suffix: str) -> RenderedFile | None:
        """The rendered file ``<host>/<suffix>`` (e.g. ``litellm/config.yaml``), or ``None``."""
        relpath = f"{host_name}/{suffix}"
        return next((f for f in self.files if f.relpath == relpath), None)


@lru_cache(maxsize=8)
def load_fleet(path: str, overlay: str | None = None) -> Fleet:
    """Load, check and render the inventory at ``path`` (plus ``overlay``); cached per arguments."""
    inv = load_inventory(Path(path), Path(overlay) if overlay else None)
    return Fleet(inv, tuple(render_fleet(inv)))


def _host_data(key: str, default: str | None = None) -> str | None:
    from pyinfra import host

    value = host.data.get(key, default)
    return str(value) if value is not None else None


def fleet() -> Fleet:
    """The fleet of the pyinfra host currently being deployed."""
    path = _host_data(DATA_INVENTORY)
    if not path:
        raise DeployContextError(
            "this pyinfra host has no llmfleet_inventory data: run deploys with an inventory built by "
            "llmfleet/deploy/inventory.py (pyinfra inventories/<fleet>.py deploy/site.py)"
        )
    return load_fleet(path, _host_data(DATA_OVERLAY) or None)


def inventory() -> Inventory:
    """The typed inventory of the current pyinfra run."""
    return fleet().inventory


def this_host() -> Host:
    """The typed inventory host the current pyinfra host is."""
    name = _host_data(DATA_HOST)
    inv = inventory()
    if name is None or name not in inv.host_by_name:
        raise DeployContextError(f"pyinfra host data names inventory host {name!r}, which the inventory does not have")
    return inv.host_by_name[name]


def files_for(host_name: str) -> list[RenderedFile]:
    """The rendered files of ``host_name`` (an inventory host name)."""
    return fleet().files_for(host_name)


def rendered(host_name: str, suffix: str) -> RenderedFile | None:
    """One rendered file of ``host_name`` by its path under the host directory, or ``None``."""
    return fleet().file(host_name, suffix)


def artifact_url(inv: Inventory, artifact: Artifact) -> str:
    """Where to download ``artifact``: its URL, or its file name under ``artifacts.mirror`` (air-gapped)."""
    mirror = inv.artifacts.mirror
    if mirror:
        return f"{mirror.rstrip('/')}/{artifact.filename}"
    return artifact.url
