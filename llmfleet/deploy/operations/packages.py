"""Install apt packages only when missing: ``apt-get update`` runs only if something is installed."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from pyinfra import host
from pyinfra.api import QuoteString, StringCommand, operation
from pyinfra.facts.deb import DebPackages

APT = "DEBIAN_FRONTEND=noninteractive apt-get -q -y -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold"


def _versions(value: Any) -> set[str]:
    if hasattr(value, "installed_versions"):
        return set(value.installed_versions)
    if isinstance(value, str):
        return {value}
    return set(value or ())


def is_installed(spec: str, installed: Mapping[str, Any]) -> bool:
    """Whether ``spec`` (``name`` or ``name=version``) is satisfied by the ``DebPackages`` fact."""
    name, _, version = spec.partition("=")
    if name not in installed:
        return False
    if not version:
        return True
    pattern = re.compile(rf"^(\d+:)?{re.escape(version)}([^0-9.].*)?$")
    return any(pattern.match(v) for v in _versions(installed[name]))


@operation()
def apt_installed(packages: Iterable[str]):
    """Install the listed packages (``name`` or ``name=version``) that are missing.

    Unlike ``apt.packages(update=True)`` nothing runs when all are present, not even
    ``apt-get update``: a second run is a no-op whatever the age of the apt cache.
    """
    wanted = list(packages)
    installed = host.get_fact(DebPackages)
    missing = [p for p in wanted if not is_installed(p, installed)]
    if not missing:
        host.noop(f"packages already installed: {', '.join(wanted)}")
        return
    yield f"{APT} update"
    yield StringCommand(APT, "install", "--no-install-recommends", *[QuoteString(p) for p in missing])
