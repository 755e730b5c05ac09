"""Headscale's configuration per supported minor release, the TLS mode, and the real Headscale's verdict on it."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from llmfleet.inventory.loader import load_inventory
from llmfleet.render import render_fleet, validate_rendered
from llmfleet.render.context import headscale_unsupported
from llmfleet.versions import DEFAULT_HEADSCALE_VERSION

REPO = Path(__file__).resolve().parents[2]


def lab(version: str | None = None, tls: bool = True):
    inv = load_inventory(REPO / "inventories" / "lab.yml")
    mesh = inv.mesh
    assert mesh is not None
    update = {"headscale_version": version or mesh.headscale_version}
    if not tls:
        update["tls"] = None
    return inv.model_copy(update={"mesh": mesh.model_copy(update=update)})


def files(inv) -> dict[str, str]:
    return {f.relpath: f.content for f in render_fleet(inv)}


def config(inv) -> dict:
    return yaml.safe_load(files(inv)["gw1/headscale/config.yaml"])


def test_029_takes_the_node_block_and_no_randomize_client_port() -> None:
    cfg = config(lab("0.29.2"))
    assert cfg["node"] == {"ephemeral": {"inactivity_timeout": "30m"}}
    assert "ephemeral_node_inactivity_timeout" not in cfg and "randomize_client_port" not in cfg


@pytest.mark.parametrize("version", ["0.23.0", "0.26.1", "0.28.0"])
def test_older_minors_keep_their_keys(version: str) -> None:
    cfg = config(lab(version))
    assert cfg["ephemeral_node_inactivity_timeout"] == "30m" and cfg["randomize_client_port"] is False
    assert "node" not in cfg


def test_every_version_runs_the_embedded_derp_and_stun_without_the_internet() -> None:
    for version in ("0.23.0", "0.29.2"):
        derp = config(lab(version))["derp"]
        assert derp["server"]["enabled"] is True and derp["server"]["stun_listen_addr"] == "0.0.0.0:3478"
        assert derp["urls"] == [] and derp["paths"] == [] and derp["auto_update_enabled"] is False


def test_tls_mode_serves_server_url_itself_with_credentials_from_systemd() -> None:
    out = files(lab())
    cfg = yaml.safe_load(out["gw1/headscale/config.yaml"])
    assert cfg["listen_addr"] == "0.0.0.0:443"
    assert cfg["tls_cert_path"] == "/run/credentials/headscale.service/tls.crt"
    unit = out["gw1/systemd/headscale.service"]
    assert "LoadCredential=tls.key:/etc/headscale/tls/server.key" in unit
    assert "AmbientCapabilities=CAP_NET_BIND_SERVICE" in unit and "DynamicUser=yes" in unit
    behind_proxy = files(lab(tls=False))
    cfg = yaml.safe_load(behind_proxy["gw1/headscale/config.yaml"])
    assert cfg["listen_addr"] == "127.0.0.1:8080" and "tls_cert_path" not in cfg
    assert "LoadCredential" not in behind_proxy["gw1/systemd/headscale.service"]
    assert "AmbientCapabilities=\n" in behind_proxy["gw1/systemd/headscale.service"]


def test_validate_refuses_a_headscale_it_does_not_render_for() -> None:
    assert headscale_unsupported("0.23.0") is None and headscale_unsupported("0.29.2") is None
    inv = lab("0.22.3")
    problems = [p for p in validate_rendered(render_fleet(inv), inv) if p.severity == "error"]
    assert any("Headscale 0.22.3 is not supported" in p.message and "0.23 to 0.29" in p.message for p in problems), problems
    assert "0.30.0 is not supported" in (headscale_unsupported("0.30.0") or "")


def _headscale() -> Path:
    from fleetlab.programs import ProgramMissing, go_release

    try:
        return go_release("headscale", DEFAULT_HEADSCALE_VERSION)
    except ProgramMissing as exc:
        pytest.skip(str(exc))


@pytest.mark.real
def test_the_real_headscale_accepts_the_rendered_config_and_policy(tmp_path: Path) -> None:
    """``headscale configtest`` (the newest, built here) on the rendered files, paths moved into tmp."""
    binary = tmp_path / "headscale"
    shutil.copy(_headscale(), binary)
    binary.chmod(0o755)
    out = files(lab())
    (tmp_path / "acl.hujson").write_text(out["gw1/headscale/acl.hujson"])
    tls = tmp_path / "tls"
    tls.mkdir()
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", str(tls / "tls.key"),
         "-out", str(tls / "tls.crt"), "-days", "1", "-subj", "/CN=hs.lab.example"],
        check=True, capture_output=True,
    )  # fmt: skip
    text = out["gw1/headscale/config.yaml"]
    for old, new in {
        "/var/lib/headscale": str(tmp_path / "state"),
        "/etc/headscale/acl.hujson": str(tmp_path / "acl.hujson"),
        "/var/run/headscale/headscale.sock": str(tmp_path / "hs.sock"),
        "/run/credentials/headscale.service": str(tls),
    }.items():
        text = text.replace(old, new)
    (tmp_path / "state").mkdir()
    (tmp_path / "config.yaml").write_text(text)
    run = subprocess.run([str(binary), "configtest", "-c", str(tmp_path / "config.yaml")], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    broken = text.replace("logtail:\n  enabled: false\n", "logtail:\n  enabled: false\nrandomize_client_port: false\n")
    (tmp_path / "config.yaml").write_text(broken)
    run = subprocess.run([str(binary), "configtest", "-c", str(tmp_path / "config.yaml")], capture_output=True, text=True, timeout=120)
    assert run.returncode != 0 and "randomize_client_port" in run.stdout + run.stderr, "0.29 refuses the pre-0.29 key"
