"""``pyinfra <inventory> deploy/site.py`` end to end through pyinfra's CLI, on its ``@fake`` connector.

No host is needed: every host of the example fleet is a ``@fake/<name>`` host carrying exactly
the adapter's host data, commands "succeed" with canned output. This runs the real deploy code
through pyinfra's prepare *and* execute phases (including the execution-time mesh join and its
pre-auth key), at maximum verbosity with ``--diff``, and checks that no secret value and no key
appears anywhere in what pyinfra prints.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from fake_fleet import FAKE_AUTH_KEY, write_fake_inventory

from llmfleet.inventory.loader import load_inventory
from llmfleet.render.context import gateway_secrets
from llmfleet.versions import DEFAULT_TAILSCALE_VERSION

REPO = Path(__file__).resolve().parents[2]
PYINFRA = str(Path(sys.executable).parent / "pyinfra")
FLEETS = ["lab", "pip", "nova-hybrid", "nova-litellm", "netbox-chatbox", "mobius-one", "lab-local"]


def fleet_secrets(fleet: str) -> dict[str, str]:
    """A distinctive value for every secret the fleet's gateway needs."""
    inv = load_inventory(REPO / "inventories" / f"{fleet}.yml")
    return {v.name: f"sk-{v.name.lower()}-DONOTPRINT-{secrets.token_hex(16)}" for v in gateway_secrets(inv)}


def run_site(tmp_path: Path, fleet: str, *extra: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    inventory = write_fake_inventory(tmp_path / f"fake_{fleet.replace('-', '_')}.py", fleet)
    return subprocess.run(
        [PYINFRA, str(inventory), str(REPO / "deploy" / "site.py"), *extra],
        cwd=tmp_path,  # pyinfra writes pyinfra-debug.log into its working directory on errors
        capture_output=True,
        text=True,
        timeout=300,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), **(env or {})},
    )


@pytest.mark.parametrize("fleet", FLEETS)
def test_site_runs_end_to_end_and_prints_no_secret(tmp_path: Path, fleet: str) -> None:
    values = fleet_secrets(fleet)
    out = run_site(tmp_path, fleet, "-y", "-vvv", "--diff", "--debug", env=values)
    printed = out.stdout + out.stderr
    assert out.returncode == 0, printed[-3000:]
    for name, value in values.items():
        assert value not in printed, f"the value of {name} was printed"
    assert FAKE_AUTH_KEY not in printed, "the pre-auth key was printed"
    inv = load_inventory(REPO / "inventories" / f"{fleet}.yml")
    assert "Apply the new gateway configuration" in printed
    assert ".env (mode 0600) from the operator's environment" in printed
    if inv.mesh is not None:
        assert "Run the Headscale control server" in printed
        assert "headscale preauthkeys create" in printed, "the key is minted during the run"
        assert "joined the mesh as" in printed
    if any(b.kind == "ollama" for b in inv.backends):
        pulled = any(m.ollama is None for b in inv.backends if b.kind == "ollama" for m in inv.models_on(b.name))
        assert ("Pull Ollama model" if pulled else "Create Ollama model") in printed
    if any(b.kind == "llamacpp" for b in inv.backends):
        assert "Wait until llama-server" in printed
    if inv.gateway.runtime == "compose":
        assert "Install Docker Engine and the compose plugin" in printed
    else:
        assert "Install LiteLLM" in printed


def test_dry_run_reports_operations_as_json(tmp_path: Path) -> None:
    values = fleet_secrets("lab")
    out = run_site(tmp_path, "lab", "--dry", "--json", env=values)
    assert out.returncode == 0, out.stderr[-3000:]
    doc = json.loads(out.stdout)
    text = json.dumps(doc)
    assert "Join the Headscale mesh" in text
    for value in values.values():
        assert value not in out.stdout + out.stderr


def test_a_missing_secret_stops_the_deploy_naming_only_the_variable(tmp_path: Path) -> None:
    out = run_site(tmp_path, "lab", "-y", env={})
    printed = out.stdout + out.stderr
    assert out.returncode != 0
    assert "LITELLM_MASTER_KEY is not set" in printed


def test_a_pinned_tailscale_archive_is_installed_instead_of_the_apt_package(tmp_path: Path) -> None:
    v = DEFAULT_TAILSCALE_VERSION  # what the example fleet gets when it pins no version
    values = fleet_secrets("pip")
    unpinned = run_site(tmp_path, "pip", "--dry", "--json", env=values)
    assert unpinned.returncode == 0, unpinned.stderr[-3000:]
    assert f"Install Tailscale {v}" in unpinned.stdout and f"Install Tailscale {v} (sha256" not in unpinned.stdout
    assert "Add the tailscale apt repository" in unpinned.stdout  # Tailscale's signed apt repository
    sha = "ab" * 32
    overlay = tmp_path / "pip.tailscale.yml"
    overlay.write_text(
        f"mesh:\n  tailscale_binary:\n    url: https://pkgs.tailscale.com/stable/tailscale_{v}_amd64.tgz\n    sha256: '{sha}'\n"
    )
    pinned = run_site(tmp_path, "pip", "--dry", "--json", env={**values, "LLMFLEET_OVERLAY": str(overlay)})
    assert pinned.returncode == 0, pinned.stderr[-3000:]
    assert f"Install Tailscale {v} (sha256 {sha[:12]})" in pinned.stdout
    assert "Add the tailscale apt repository" not in pinned.stdout  # no apt repository when the archive is pinned
