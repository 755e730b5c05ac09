"""A deployed host is as the inventory says: services enabled and running, ports bound only where
intended, rendered files in place, secret files 0600."""

from __future__ import annotations

import pytest

from llmfleet.inventory import Inventory
from llmfleet.inventory.model import Host
from llmfleet.render import RenderedFile


def _listeners(host, port: int) -> set[str]:
    """The local addresses something listens on at TCP ``port``."""
    out = host.check_output(f"ss -Hltn 'sport = :{port}'")
    return {line.split()[3].rsplit(":", 1)[0].strip("[]") for line in out.splitlines() if line.strip()}


def test_rendered_files_are_in_place_with_their_modes(host, fleet_host: Host, rendered: list[RenderedFile]) -> None:
    for f in (f for f in rendered if f.host == fleet_host.name):
        remote = host.file(f.dest)
        assert remote.exists, f"{f.dest} missing"
        assert remote.mode == f.mode, f"{f.dest} has mode {oct(remote.mode)}, want {oct(f.mode)}"
        assert remote.content_string == f.content, f"{f.dest} differs from what the inventory renders"


#: The unit that serves the Docker API of a compose gateway, by ``gateway.engine.source``.
ENGINE_UNITS = {"docker-apt": "docker.service", "debian-podman": "podman.socket"}


def test_services_are_enabled_and_running(host, fleet_host: Host, rendered: list[RenderedFile], inventory: Inventory) -> None:
    units = {f.service for f in rendered if f.host == fleet_host.name and f.service and f.service.endswith(".service")}
    if "gateway" in fleet_host.roles and inventory.gateway.runtime == "compose":
        units.add(ENGINE_UNITS[inventory.gateway.engine.source])  # the gateway itself runs in containers
    assert units or not any(f.host == fleet_host.name for f in rendered)
    for unit in sorted(units):
        service = host.service(unit.removesuffix(".service"))
        assert service.is_enabled, f"{unit} is not enabled"
        assert service.is_running, f"{unit} is not running"


def test_backends_listen_only_on_their_bind_address(host, fleet_host: Host, inventory: Inventory) -> None:
    for backend in inventory.backends_on(fleet_host.name):
        listeners = _listeners(host, backend.port)
        assert listeners == {inventory.backend_bind_ip(backend)}, f"{backend.name} listens on {listeners}"
        assert not listeners & {"0.0.0.0", "*", "::"}


def test_backend_ports_do_not_answer_on_the_lan_address(host, fleet_host: Host, inventory: Inventory) -> None:
    for backend in inventory.backends_on(fleet_host.name):
        if inventory.backend_bind_ip(backend) == fleet_host.address:
            pytest.fail(f"{backend.name} is bound to the host's LAN address")
        cmd = host.run(f"timeout 3 bash -c 'exec 3<>/dev/tcp/{fleet_host.address}/{backend.port}'")
        assert cmd.rc != 0, f"{backend.name} answers on {fleet_host.address}:{backend.port}"


def test_gateway_secrets_file_is_private(host, fleet_host: Host, inventory: Inventory) -> None:
    if "gateway" not in fleet_host.roles:
        pytest.skip("not a gateway host")
    env = host.file(f"{inventory.gateway.install_dir}/.env")
    assert env.exists and env.is_file
    assert env.mode == 0o600, f".env has mode {oct(env.mode)}"
    assert env.user == "root"


def test_gateway_listens_on_its_port(host, fleet_host: Host, inventory: Inventory) -> None:
    if "gateway" not in fleet_host.roles:
        pytest.skip("not a gateway host")
    assert _listeners(host, inventory.gateway.port), f"nothing listens on {inventory.gateway.port}"
