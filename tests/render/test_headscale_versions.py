"""Headscale's configuration per supported minor release, the TLS mode, and the real Headscale's verdict on it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from llmfleet.inventory.loader import load_inventory
from llmfleet.render import render_fleet, validate_rendered
from llmfleet.render.context import headscale_unsupported
from llmfleet.versions import DEFAULT_HEADSCALE_VERSION, HEADSCALE_LAB_RELEASES, go_build_pin, headscale_lab_versions

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


@pytest.mark.parametrize("version", [v for v in headscale_lab_versions() if v != DEFAULT_HEADSCALE_VERSION])
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


def test_the_supported_minors_are_those_the_lab_runs() -> None:
    assert sorted(HEADSCALE_LAB_RELEASES) == [(0, 23), (0, 26), (0, 28), (0, 29)]
    assert HEADSCALE_LAB_RELEASES[(0, 29)] == DEFAULT_HEADSCALE_VERSION
    for version in ("0.23.0", "0.23.1", "0.26.1", "0.28.0", "0.29.2"):
        assert headscale_unsupported(version) is None, version


@pytest.mark.parametrize("version", ["0.22.3", "0.24.4", "0.25.1", "0.27.1", "0.30.0"])
def test_render_validation_refuses_a_headscale_minor_never_run(version: str) -> None:
    inv = lab(version)
    problems = [p for p in validate_rendered(render_fleet(inv), inv) if p.severity == "error"]
    assert any(f"Headscale {version} is not supported" in p.message for p in problems), problems
    why = headscale_unsupported(version) or ""
    assert "(0.23, 0.26, 0.28, 0.29; run there: 0.23.0, 0.26.1, 0.28.0, 0.29.2)" in why and "was never run" in why


def test_validate_refuses_an_unsupported_headscale_with_file_line_field(tmp_path: Path) -> None:
    text = (REPO / "inventories" / "lab.yml").read_text()
    line = next(i for i, t in enumerate(text.splitlines(), 1) if t.strip().startswith("headscale_version:"))
    bad = tmp_path / "fleet.yml"
    bad.write_text(text.replace("headscale_version: 0.29.2", "headscale_version: 0.25.1"))
    proc = subprocess.run(
        [sys.executable, "-m", "llmfleet.cli", "validate", str(bad)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "COLUMNS": "400"},
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert f"fleet.yml:{line} mesh.headscale_version: Headscale 0.25.1 is not supported" in proc.stderr, proc.stderr
    assert "0.23, 0.26, 0.28, 0.29" in proc.stderr


def _headscale(version: str) -> Path:
    from fleetlab.programs import ProgramMissing, go_release

    try:
        return go_release("headscale", version)
    except ProgramMissing as exc:
        pytest.skip(str(exc))


@pytest.mark.real
@pytest.mark.parametrize("version", headscale_lab_versions())
def test_the_real_headscale_accepts_the_rendered_config_and_policy(tmp_path: Path, version: str) -> None:
    """``headscale configtest`` of each supported release (built here) on the files rendered for it, paths moved into tmp."""
    binary = tmp_path / "headscale"
    shutil.copy(_headscale(version), binary)
    binary.chmod(0o755)
    out = files(lab(version))
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
    if version != DEFAULT_HEADSCALE_VERSION:
        return
    broken = text.replace("logtail:\n  enabled: false\n", "logtail:\n  enabled: false\nrandomize_client_port: false\n")
    (tmp_path / "config.yaml").write_text(broken)
    run = subprocess.run([str(binary), "configtest", "-c", str(tmp_path / "config.yaml")], capture_output=True, text=True, timeout=120)
    assert run.returncode != 0 and "randomize_client_port" in run.stdout + run.stderr, "0.29 refuses the pre-0.29 key"


def test_every_supported_release_has_a_pinned_build() -> None:
    for version in headscale_lab_versions():
        pin = go_build_pin("headscale", version)
        assert pin["version"] == version and pin["h1"].startswith("h1:") and pin["h1"].endswith("="), pin
        assert {"toolchain", "version_var", "sumdb_missing"} <= set(pin), pin


@pytest.mark.real
@pytest.mark.parametrize("version", headscale_lab_versions())
def test_each_built_release_is_recorded_and_reports_its_version(version: str) -> None:
    """The cache holds the release the lab mirror serves: sha256 as recorded in SHA256SUMS, `version` as pinned."""
    from fleetlab.mirror import sha256_file
    from fleetlab.programs import ProgramMissing, go_release

    try:
        binary = go_release("headscale", version)
    except ProgramMissing as exc:
        pytest.skip(str(exc))
    recorded = dict(reversed(line.split()) for line in (binary.parent / "SHA256SUMS").read_text().splitlines())
    assert recorded[binary.name] == sha256_file(binary)
    out = subprocess.run([str(binary), "version"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and f"v{version}" in out.stdout + out.stderr


def test_the_schema_names_the_supported_minors() -> None:
    from llmfleet.inventory.model import Mesh

    description = Mesh.model_fields["headscale_version"].description or ""
    assert f"({', '.join(f'{a}.{b}' for a, b in sorted(HEADSCALE_LAB_RELEASES))};" in description
