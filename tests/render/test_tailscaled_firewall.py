"""tailscaled's firewall mode: iptables where a container engine writes iptables rules (compose gateways).

Live: tests/seeds/test_live_pip.py (the VPS runs tailscaled and podman's bridged gateway).
"""

from __future__ import annotations

from pathlib import Path

from llmfleet.inventory import load_inventory
from llmfleet.render import render_fleet

REPO = Path(__file__).resolve().parents[2]
MODE = 'Environment="TS_DEBUG_FIREWALL_MODE=iptables"'


def units(fleet: str) -> dict[str, str]:
    files = render_fleet(load_inventory(REPO / "inventories" / f"{fleet}.yml"))
    return {f.host: f.content for f in files if f.relpath.endswith("/systemd/tailscaled.service")}


def test_only_the_compose_gateway_host_pins_iptables() -> None:
    pip = units("pip")
    assert MODE in pip["vps"]  # compose gateway: podman/Docker write iptables rules
    assert MODE not in pip["home-gpu"]  # no container engine: Tailscale's own choice


def test_a_systemd_venv_gateway_keeps_tailscales_choice() -> None:
    assert all(MODE not in unit for unit in units("lab").values())
