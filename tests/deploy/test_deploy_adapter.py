"""The pyinfra inventory adapter: every example fleet → role groups of plain host data."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from llmfleet.deploy.inventory import FleetGroups, fleet_groups
from llmfleet.inventory.loader import load_inventory

REPO = Path(__file__).resolve().parents[2]
INVENTORY_DIR = REPO / "inventories"
FLEETS = sorted(p.stem for p in INVENTORY_DIR.glob("*.yml") if "." not in p.stem)
PLAIN = (str, int, bool, type(None))


def test_every_example_fleet_has_a_thin_pyinfra_inventory() -> None:
    assert FLEETS, "no example fleets found"
    for fleet in FLEETS:
        module = INVENTORY_DIR / f"{fleet}.py"
        assert module.is_file(), f"inventories/{fleet}.py is missing"
        assert f'fleet_groups("{fleet}", inventory_dir=Path(__file__).parent)' in module.read_text()


@pytest.mark.parametrize("fleet", FLEETS)
def test_groups_match_the_typed_inventory(fleet: str) -> None:
    groups = fleet_groups(fleet, environ={}, inventory_dir=INVENTORY_DIR)
    inv = load_inventory(INVENTORY_DIR / f"{fleet}.yml")
    assert isinstance(groups, FleetGroups)
    assert sorted(groups.all) == sorted(h.name for h in inv.hosts)
    for role in ("gateway", "gpu", "headscale"):
        assert [name for name, _ in getattr(groups, role)] == [n for n in groups.all if role in inv.host_by_name[n].roles]
    for name, data in groups.gateway + groups.gpu + groups.headscale:
        host = inv.host_by_name[name]
        assert data["ssh_hostname"] == host.address
        assert data["ssh_user"] == host.ssh.user and data["ssh_port"] == host.ssh.port
        assert data["llmfleet_host"] == name
        assert data["llmfleet_inventory"] == str((INVENTORY_DIR / f"{fleet}.yml").resolve())
        assert data["llmfleet_overlay"] is None
        assert all(isinstance(v, PLAIN) for v in data.values()), "host data must be plain values, never model objects"
        json.dumps(data)


def test_hosts_are_ordered_by_mesh_ip_for_the_join() -> None:
    inv = load_inventory(INVENTORY_DIR / "lab.yml")
    groups = fleet_groups("lab", environ={}, inventory_dir=INVENTORY_DIR)
    ips = [str(inv.host_by_name[n].mesh.ip) for n in groups.all if inv.host_by_name[n].mesh]
    assert ips == sorted(ips, key=lambda ip: tuple(int(p) for p in ip.split(".")))


def test_environment_sets_overlay_and_ssh(tmp_path: Path) -> None:
    overlay = tmp_path / "lab.artifacts.yml"
    overlay.write_text("artifacts:\n  mirror: http://10.231.0.1:8099/\n")
    env = {
        "LLMFLEET_OVERLAY": str(overlay),
        "LLMFLEET_SSH_KEY": "/lab/id_ed25519",
        "LLMFLEET_SSH_CONFIG": "/lab/ssh_config",
        "LLMFLEET_SSH_KNOWN_HOSTS": "/lab/known_hosts",
        "LLMFLEET_SSH_STRICT": "yes",
    }
    (_, data), *_ = fleet_groups("lab", environ=env, inventory_dir=INVENTORY_DIR).gateway
    assert data["llmfleet_overlay"] == str(overlay.resolve())
    assert data["ssh_key"] == "/lab/id_ed25519"
    assert data["ssh_config_file"] == "/lab/ssh_config"
    assert data["ssh_known_hosts_file"] == "/lab/known_hosts"
    assert data["ssh_strict_host_key_checking"] == "yes"


def test_a_non_root_ssh_user_gets_sudo(tmp_path: Path) -> None:
    src = (INVENTORY_DIR / "nova-litellm.yml").read_text()
    assert "ssh:" not in src
    fleet = tmp_path / "ops.yml"
    fleet.write_text(src.replace("roles: [gateway]", "roles: [gateway]\n    ssh: {user: ops, port: 2222}", 1))
    groups = fleet_groups("ops", environ={}, inventory_dir=tmp_path)
    (_, data), *_ = groups.gateway
    assert data["ssh_user"] == "ops" and data["ssh_port"] == 2222 and data["_sudo"] is True


@pytest.mark.parametrize("fleet", ["lab", "pip", "nova-hybrid"])
def test_pyinfra_loads_the_inventory_module(fleet: str) -> None:
    """What `pyinfra inventories/<fleet>.py deploy/site.py` loads first, through pyinfra's own CLI."""
    out = subprocess.run(
        [str(Path(sys.executable).parent / "pyinfra"), f"inventories/{fleet}.py", "debug-inventory", "--json"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    doc = json.loads(out.stdout)
    inv = load_inventory(INVENTORY_DIR / f"{fleet}.yml")
    text = json.dumps(doc)
    for host in inv.hosts:
        assert host.name in text and host.address in text
    for role in ("gateway", "gpu", "headscale"):
        if inv.hosts_with(role):
            assert role in text


def test_pyinfra_with_a_broken_inventory_names_the_problem_and_exits_2(tmp_path: Path) -> None:
    overlay = tmp_path / "broken.yml"
    overlay.write_text("models:\n  - name: tiny-chat\n    backend: llama-gpu9\n")
    out = subprocess.run(
        [str(Path(sys.executable).parent / "pyinfra"), str(REPO / "inventories" / "lab.py"), str(REPO / "deploy" / "site.py"), "--dry"],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "LLMFLEET_OVERLAY": str(overlay)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 2
    assert "broken.yml:3 models[0].backend: unknown backend 'llama-gpu9' (did you mean 'llama-gpu1'?)" in out.stderr
    assert "Traceback" not in out.stdout + out.stderr
