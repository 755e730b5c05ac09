"""Every older Headscale llmfleet supports, started for real on booted lab hosts by the real deploy.

For each release of ``versions.HEADSCALE_LAB_RELEASES`` older than the default (the default, 0.29, runs in
``test_deploy_lab.py``): a two-host fleet (gw1: LiteLLM + Headscale, gpu1: llama-server) pinned to that
Headscale is booted and deployed twice by ``deploy/site.py``. Headscale runs with the configuration and
policy llmfleet renders for that minor (TLS from the lab CA, embedded DERP + STUN, no internet); the deploy
mints each node's pre-auth key with that minor's command (``--user NAME`` 0.23, ``--user ID`` 0.26,
``--tags`` 0.28) and a real Tailscale (kernel TUN) joins with it. Checked: Headscale's ``/health`` at
``server_url``, both nodes online (Headscale's and Tailscale's own view), the tags the policy needs, the
ACL enforced by the data plane both ways, the other key-command variant refused by that release, and a
deploy that skips minor releases refused before Headscale changes. From the newest older release the
allowed upgrade to the default is run: the nodes stay, online, with their addresses; a downgrade after it
is refused.

Marked ``lab``: needs root, the lab tools, llama-server and the Headscale releases (``make go-programs``).
"""

from __future__ import annotations

import copy
import json
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from fleetlab import hosts as labhosts
from fleetlab.deployrun import DeployRun, run_site
from fleetlab.hosts import LabFleet
from fleetlab.mirror import prepare
from fleetlab.programs import ProgramMissing, go_release
from llmfleet.deploy.operations.headscale import preauth_key_argv
from llmfleet.versions import DEFAULT_HEADSCALE_VERSION, DEFAULT_TAILSCALE_VERSION, headscale_lab_versions, version_tuple

pytestmark = pytest.mark.lab
REPO = Path(__file__).resolve().parents[2]
FLEET = "hsversions"
MASTER_KEY = f"sk-lab-{secrets.token_hex(20)}"
OLDER = [v for v in headscale_lab_versions() if v != DEFAULT_HEADSCALE_VERSION]
#: The older release one minor below the default: the one upgraded to it (None when none is supported).
UPGRADE_FROM = next(
    (
        v
        for v in OLDER
        if version_tuple(v)[:2] == (version_tuple(DEFAULT_HEADSCALE_VERSION)[0], version_tuple(DEFAULT_HEADSCALE_VERSION)[1] - 1)
    ),
    None,
)
PROBE = "python3 -c 'import sys,urllib.request; print(urllib.request.urlopen(sys.argv[1], timeout=10).status)' "


def fleet_doc(version: str) -> dict:
    """The lab fleet without Ollama (not what is tested here), pinned to Headscale ``version``."""
    doc = copy.deepcopy(yaml.safe_load((REPO / "inventories" / "lab.yml").read_text()))
    doc["fleet"] = FLEET
    doc["backends"] = [b for b in doc["backends"] if b["kind"] == "llamacpp"]
    kept = {b["name"] for b in doc["backends"]}
    doc["models"] = [m for m in doc["models"] if m.get("backend") in kept]
    doc["mesh"]["headscale_version"] = version
    return doc


def write_fleet(directory: Path, version: str) -> tuple[Path, Path]:
    """The inventory YAML pinned to ``version`` and its pyinfra inventory module."""
    yml = directory / f"{FLEET}.yml"
    yml.write_text(yaml.safe_dump(fleet_doc(version), sort_keys=False))
    py = directory / f"{FLEET}.py"
    py.write_text(
        "import sys\n"
        f"sys.path.insert(0, {str(REPO)!r})\n"
        "from pathlib import Path\n"
        "from llmfleet.deploy.inventory import fleet_groups\n"
        f"all, gateway, gpu, headscale = fleet_groups({FLEET!r}, inventory_dir=Path(__file__).parent)\n"
    )
    return yml, py


@dataclass
class VersionLab:
    version: str
    fleet: LabFleet
    yml: Path
    py: Path
    first: DeployRun
    second: DeployRun

    def deploy(self) -> DeployRun:
        return run_site(self.fleet, MASTER_KEY, pyinfra_inventory=self.py)

    def repin(self, version: str) -> None:
        """Pin the fleet to Headscale ``version``: inventory, mirror (served live) and overlay."""
        write_fleet(self.yml.parent, version)
        prepare(self.yml, self.fleet.workdir, log=lambda *_: None)


@pytest.fixture(scope="module", params=OLDER)
def lab(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[VersionLab]:
    version: str = request.param
    if reason := labhosts.lab_unavailable_reason():
        pytest.skip(reason)
    try:
        go_release("headscale", version)
        go_release("headscale", DEFAULT_HEADSCALE_VERSION)
    except ProgramMissing as exc:
        pytest.skip(str(exc))
    directory = tmp_path_factory.mktemp(f"hs-{version}")
    yml, py = write_fleet(directory, version)
    with labhosts.prepared_lab(yml, directory / "lab") as fleet:
        first = run_site(fleet, MASTER_KEY, pyinfra_inventory=py)
        second = run_site(fleet, MASTER_KEY, pyinfra_inventory=py) if first.rc == 0 else first
        yield VersionLab(version, fleet, yml, py, first, second)


def sh(lab: VersionLab, host: str, command: str, timeout: float = 60) -> str:
    out = lab.fleet.ssh(host, command, timeout=timeout)
    assert out.returncode == 0, f"{host}: {command}: {out.stdout[-2000:]} {out.stderr[-2000:]}"
    return out.stdout.strip()


def nodes(lab: VersionLab) -> list[dict]:
    return json.loads(sh(lab, "gw1", "headscale nodes list -o json"))


def online(node: dict) -> bool:
    return bool(node.get("online"))  # JSON of a protobuf message: a false bool may be left out


def identity(node: dict) -> tuple[str, list[str]]:
    return str(node["id"]), sorted(node.get("ip_addresses") or node.get("ipAddresses") or [])


def node_tags(node: dict) -> set[str]:
    """A node's tags as Headscale lists them (0.23-0.26: forced_tags/valid_tags; 0.28+: tags)."""
    return {t for key in ("tags", "forced_tags", "valid_tags") for t in node.get(key) or []}


def test_headscale_starts_with_the_rendered_files_and_the_deploy_converges(lab: VersionLab) -> None:
    assert lab.first.rc == 0, lab.first.tail()
    assert not lab.first.errors()
    assert f"v{lab.version}" in sh(lab, "gw1", "headscale version"), "the release the inventory pins"
    assert sh(lab, "gw1", "systemctl is-active headscale tailscaled litellm").split() == ["active"] * 3
    config = sh(lab, "gw1", "cat /etc/headscale/config.yaml")
    assert f"# Headscale {lab.version} " in config
    # /health at server_url, through TLS signed by the lab CA, from the other host.
    assert sh(lab, "gpu1", PROBE + "https://hs.lab.example/health") == "200"
    print(f"Headscale {lab.version}: converge {lab.first.seconds:.1f} s")


def test_second_run_changes_nothing(lab: VersionLab) -> None:
    assert lab.second.rc == 0, lab.second.tail()
    assert lab.second.changed() == [] and lab.second.errors() == []


def test_both_nodes_joined_with_that_minors_key_and_are_online(lab: VersionLab) -> None:
    listed = nodes(lab)
    assert sorted((n["given_name"], online(n)) for n in listed) == [("gpu1", True), ("gw1", True)], listed
    tags = {n["given_name"]: node_tags(n) for n in listed}
    assert "tag:gateway" in tags["gw1"] and "tag:gpu" in tags["gpu1"], tags
    for name, ip in (("gw1", "100.64.0.1"), ("gpu1", "100.64.0.2")):
        status = json.loads(sh(lab, name, "tailscale status --json"))
        assert status["BackendState"] == "Running" and status["Self"]["TailscaleIPs"][0] == ip
        assert status["Version"].startswith(DEFAULT_TAILSCALE_VERSION), status["Version"]
        assert [p["Online"] for p in status["Peer"].values()] == [True], status["Peer"]
    assert "hskey-" not in lab.first.printed + lab.second.printed, "a pre-auth key was printed"


def test_the_acl_rendered_for_that_minor_is_enforced(lab: VersionLab) -> None:
    # Granted: tag:gateway reaches the backend port over the mesh (the tags and the policy took effect).
    assert sh(lab, "gw1", PROBE + "http://100.64.0.2:8080/health") == "200"
    # Denied: the backend host opens nothing on the gateway's mesh address (no rule grants tag:gpu).
    sh(lab, "gw1", "systemd-run --unit=probe-9999 python3 -m http.server 9999 --bind 100.64.0.1 --directory /tmp >/dev/null 2>&1 || true")
    sh(lab, "gw1", f"for i in $(seq 50); do {PROBE}http://100.64.0.1:9999/ >/dev/null 2>&1 && exit 0; sleep 0.2; done; exit 1")
    denied = lab.fleet.ssh("gpu1", PROBE.replace("timeout=10", "timeout=3") + "http://100.64.0.1:9999/", timeout=60)
    assert denied.returncode != 0, "gpu1 reached a port on gw1 that the ACL does not grant"


def test_only_that_minors_key_command_works(lab: VersionLab) -> None:
    """The command llmfleet renders for the release mints a key; the other user form is refused by it."""
    users = json.loads(sh(lab, "gw1", "headscale users list -o json"))
    user_id = str(next(u["id"] for u in users if u["name"] == "llmfleet"))
    argv = preauth_key_argv(lab.version, "llmfleet", "5m", tags=["tag:gpu"], user_id=user_id)
    minted = lab.fleet.ssh("gw1", " ".join(argv) + " >/dev/null", timeout=60)  # the key itself is never read
    assert minted.returncode == 0, minted.stderr
    other = ["--user", "llmfleet"] if version_tuple(lab.version) >= (0, 26) else ["--user", user_id]
    wrong = lab.fleet.ssh("gw1", " ".join([*argv[:3], *other, "--expiration", "5m"]) + " >/dev/null", timeout=60)
    assert wrong.returncode != 0, f"Headscale {lab.version} accepted {other}"


# Only the releases this applies to (a skip would fail under LLMFLEET_REQUIRE_REAL): UPGRADE_FROM -> the default
# is one minor step, which the upgrade test below runs. Same parameter values, so the same booted labs.
@pytest.mark.parametrize("lab", [v for v in OLDER if v != UPGRADE_FROM], indirect=True)
def test_a_deploy_that_skips_minors_is_refused_before_headscale_changes(lab: VersionLab) -> None:
    lab.repin(DEFAULT_HEADSCALE_VERSION)
    try:
        run = lab.deploy()
    finally:
        lab.repin(lab.version)
    assert run.rc != 0 and "skips minor releases" in run.printed, run.tail()
    assert f"v{lab.version}" in sh(lab, "gw1", "headscale version")
    assert sh(lab, "gw1", "readlink /usr/local/bin/headscale").endswith(f"/{lab.version}/headscale")
    assert sh(lab, "gw1", "systemctl is-active headscale") == "active"
    assert all(online(n) for n in nodes(lab))


# The upgrade to the default runs from the release one minor below it.
@pytest.mark.parametrize("lab", [UPGRADE_FROM], indirect=True)
def test_one_minor_upgrade_to_the_default_keeps_the_nodes(lab: VersionLab) -> None:
    before = {n["given_name"]: identity(n) for n in nodes(lab)}
    lab.repin(DEFAULT_HEADSCALE_VERSION)
    run = lab.deploy()
    assert run.rc == 0 and not run.errors(), run.tail()
    assert f"v{DEFAULT_HEADSCALE_VERSION}" in sh(lab, "gw1", "headscale version")
    config = sh(lab, "gw1", "cat /etc/headscale/config.yaml")
    assert "randomize_client_port" not in config and "inactivity_timeout" in config, "0.29's keys"
    deadline = time.monotonic() + 120  # the nodes reconnect to the restarted server
    after = nodes(lab)
    while not all(online(n) for n in after) and time.monotonic() < deadline:
        time.sleep(2)
        after = nodes(lab)
    assert {n["given_name"]: identity(n) for n in after} == before, "same nodes, same addresses"
    assert all(online(n) for n in after), after
    assert sh(lab, "gw1", PROBE + "http://100.64.0.2:8080/health") == "200"
    # And back down is refused: the database is migrated.
    lab.repin(UPGRADE_FROM)
    down = lab.deploy()
    assert down.rc != 0 and "downgrade" in down.printed, down.tail()
    assert f"v{DEFAULT_HEADSCALE_VERSION}" in sh(lab, "gw1", "headscale version")
    assert sh(lab, "gw1", "systemctl is-active headscale") == "active"
