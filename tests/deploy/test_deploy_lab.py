"""``pyinfra inventories/lab.py deploy/site.py`` against the booted lab (systemd-nspawn hosts).

Molecule-style: converge, idempotence (the second run changes nothing, read from pyinfra's
``--json`` results), verify on the hosts, then a broken gateway configuration that must be
rolled back, and a run of the good one again that changes nothing.

Marked ``lab``: needs root, the lab tools and a built llama-server (see tests/lab/).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path
from xml.etree import ElementTree

import pytest
import yaml

from fleetlab import hosts as labhosts
from fleetlab.demo import check_from_mesh, run_llmfleet, run_testinfra
from fleetlab.deployrun import DeployRun, run_site
from fleetlab.hosts import LabFleet
from llmfleet.inventory import load_inventory

pytestmark = pytest.mark.lab
REPO = Path(__file__).resolve().parents[2]
INVENTORY = REPO / "inventories" / "lab.yml"
MASTER_KEY = f"sk-lab-{secrets.token_hex(20)}"


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabFleet]:
    if reason := labhosts.lab_unavailable_reason():
        pytest.skip(reason)
    with labhosts.prepared_lab(INVENTORY, tmp_path_factory.mktemp("deploylab")) as fleet:
        yield fleet


def deploy(lab: LabFleet, overlay: Path | None = None, *extra: str) -> DeployRun:
    return run_site(lab, MASTER_KEY, overlay=overlay, extra=extra)  # raises if the key was printed


@pytest.fixture(scope="module")
def first(lab: LabFleet) -> DeployRun:
    return deploy(lab)


@pytest.fixture(scope="module")
def second(lab: LabFleet, first: DeployRun) -> DeployRun:
    return deploy(lab)


def test_first_run_converges(first: DeployRun) -> None:
    assert first.rc == 0, first.printed[-4000:]
    assert not first.errors()
    assert first.changed(), "a first run on fresh hosts changes things"
    print(f"converge: {first.seconds:.1f} s, {len(first.changed())} operations changed")


def test_second_run_changes_nothing(second: DeployRun) -> None:
    assert second.rc == 0, second.printed[-4000:]
    assert second.changed() == []
    assert second.errors() == []
    print(f"idempotent re-run: {second.seconds:.1f} s, {len(second.ops())} operations, none changed")


def sh(lab: LabFleet, host: str, command: str) -> str:
    out = lab.ssh(host, command, timeout=60)
    assert out.returncode == 0, f"{host}: {command}: {out.stderr}"
    return out.stdout.strip()


PROBE = "python3 -c 'import sys,urllib.request; print(urllib.request.urlopen(sys.argv[1], timeout=10).status)' "


def test_hosts_are_as_the_inventory_says(lab: LabFleet, second: DeployRun) -> None:
    assert sh(lab, "gw1", "stat -c '%a %U %G' /opt/llmfleet/litellm/.env") == "600 root root"
    assert MASTER_KEY not in sh(lab, "gw1", "cat /opt/llmfleet/litellm/config.yaml /etc/systemd/system/litellm.service")
    assert sh(lab, "gw1", "systemctl is-active litellm headscale tailscaled").split() == ["active"] * 3
    assert sh(lab, "gw1", PROBE + "http://127.0.0.1:4000/health/readiness") == "200"
    assert sh(lab, "gpu1", "systemctl is-active llama-server-llama-gpu1 ollama tailscaled llmfleet-firewall").split() == ["active"] * 4
    status = json.loads(sh(lab, "gpu1", "tailscale status --json"))
    assert status["BackendState"] == "Running" and "100.64.0.2" in status["Self"]["TailscaleIPs"]
    # The gateway reaches both backends over the mesh, through the firewall.
    assert sh(lab, "gw1", PROBE + "http://100.64.0.2:8080/health") == "200"
    tags = json.loads(
        sh(
            lab,
            "gw1",
            "python3 -c 'import urllib.request; print(urllib.request.urlopen(\"http://100.64.0.2:11434/api/tags\", timeout=10).read().decode())'",
        )
    )
    created = {m["name"]: m["digest"] for m in tags["models"]}
    assert created == {"tiny-ollama:latest": "96db9383d0843904953f01e82249e09de6fd39619af39971c33c4efb51c698d6"}, "created from the GGUF"
    assert "0.17.4" in sh(lab, "gpu1", "ollama --version 2>&1"), "the real Ollama, built from its Go module"
    # Nothing answers on the backends' ports at the host's own (non-mesh) address.
    refused = lab.ssh("gw1", PROBE + "http://10.231.2.2:8080/health", timeout=60)
    assert refused.returncode != 0


def _serve_on(lab: LabFleet, host: str, ip: str, port: int) -> None:
    """A throwaway HTTP server on ``ip:port`` of ``host`` (a transient unit, stopped by the lab's teardown)."""
    sh(lab, host, f"systemd-run --unit=probe-{port} python3 -m http.server {port} --bind {ip} --directory /tmp >/dev/null 2>&1 || true")
    sh(lab, host, f"for i in $(seq 50); do {PROBE}http://{ip}:{port}/ >/dev/null 2>&1 && exit 0; sleep 0.2; done; exit 1")


def test_the_mesh_is_real_and_its_acl_is_enforced_by_the_data_plane(lab: LabFleet, first: DeployRun, second: DeployRun) -> None:
    assert "hskey-" not in first.printed + second.printed, "a pre-auth key was printed"
    for name, ip in (("gw1", "100.64.0.1"), ("gpu1", "100.64.0.2")):
        status = json.loads(sh(lab, name, "tailscale status --json"))
        assert status["BackendState"] == "Running" and status["Self"]["TailscaleIPs"][0] == ip
        assert status["Version"].startswith("1.102.3"), status["Version"]
        assert sh(lab, name, "ip -o -4 addr show dev tailscale0").split()[3] == f"{ip}/32", "kernel TUN interface"
    peers = json.loads(sh(lab, "gw1", "tailscale status --json"))["Peer"].values()
    assert [(p["HostName"], p["Online"]) for p in peers] == [("gpu1", True)]
    nodes = json.loads(sh(lab, "gw1", "headscale nodes list -o json"))
    assert sorted(n["given_name"] for n in nodes) == ["gpu1", "gw1"] and all(n["online"] for n in nodes)
    assert "v0.29.2" in sh(lab, "gw1", "headscale version")
    # Granted: the gateway reaches every backend port over the mesh.
    assert sh(lab, "gw1", PROBE + "http://100.64.0.2:8080/health") == "200"
    assert sh(lab, "gw1", PROBE + "http://100.64.0.2:11434/api/version") == "200"
    # Not granted: a port of the backend host the ACL does not name, and the gateway from the backend.
    _serve_on(lab, "gpu1", "100.64.0.2", 9099)
    _serve_on(lab, "gw1", "100.64.0.1", 9099)
    assert lab.ssh("gw1", PROBE.replace("timeout=10", "timeout=5") + "http://100.64.0.2:9099/", timeout=60).returncode != 0
    assert lab.ssh("gpu1", PROBE.replace("timeout=10", "timeout=5") + "http://100.64.0.1:9099/", timeout=60).returncode != 0
    assert lab.ssh("gpu1", PROBE.replace("timeout=10", "timeout=5") + "http://100.64.0.1:4000/health", timeout=60).returncode != 0
    # A non-mesh address reaches no backend port (the firewall drops them off tailscale0).
    for port in (8080, 11434):
        assert lab.ssh("gw1", PROBE.replace("timeout=10", "timeout=5") + f"http://10.231.2.2:{port}/", timeout=60).returncode != 0


def test_a_gateway_config_that_never_gets_ready_is_rolled_back(lab: LabFleet, second: DeployRun, tmp_path: Path) -> None:
    broken = tmp_path / "lab.broken.yml"
    data = yaml.safe_load(Path(lab.overlay).read_text())
    data["gateway"] = {"bind": "192.0.2.10"}  # valid, but not an address of gw1: LiteLLM cannot listen
    broken.write_text(yaml.safe_dump(data))
    run = deploy(lab, broken, "--data", "llmfleet_ready_timeout=60")
    assert run.rc != 0
    assert "rolled back to the previous configuration, which is ready again" in run.printed
    assert sh(lab, "gw1", PROBE + "http://127.0.0.1:4000/health/readiness") == "200"
    assert "--host 0.0.0.0" in sh(lab, "gw1", "grep ExecStart /etc/systemd/system/litellm.service")
    again = deploy(lab)
    assert again.rc == 0, again.printed[-4000:]
    assert again.changed() == [], "after the rollback the good configuration is exactly what runs"


def test_testinfra_verifies_every_deployed_host(lab: LabFleet, second: DeployRun, tmp_path: Path) -> None:
    junit = tmp_path / "testinfra.xml"
    assert run_testinfra(lab, INVENTORY, junit=junit).returncode == 0
    suite = ElementTree.parse(junit).getroot().find("testsuite")
    assert suite is not None and int(suite.get("failures", "0")) == 0 and int(suite.get("errors", "0")) == 0
    ran = int(suite.get("tests", "0")) - int(suite.get("skipped", "0"))
    assert ran >= 6 * len(lab.hosts) - 4, f"only {ran} host tests ran"  # some apply only to one role


def test_llmfleet_check_and_health_pass_against_the_deployed_gateway(lab: LabFleet, second: DeployRun, tmp_path: Path) -> None:
    key = ("LITELLM_MASTER_KEY", MASTER_KEY)
    report = tmp_path / "check.json"
    assert run_llmfleet("check", lab, INVENTORY, key, "--samples", "3", "--json", str(report)) == 0
    text = report.read_text()
    assert MASTER_KEY not in text
    doc = json.loads(text)
    assert doc["gateway_url"].startswith("http://10.231.1.2:4000")
    verdicts = {(r["subject"], r["check"]): r["status"] for r in doc["results"]}
    # LiteLLM without a database answers a wrong key with 400 "No connected db." (still locked): a warning.
    assert verdicts[("gateway", "auth")] in ("pass", "warn")
    assert verdicts[("gateway", "models")] == "pass"
    for model in ("tiny-chat", "tiny-ollama"):
        # `tools: optional` in inventories/lab.yml: a random-weight model's prose is reported (warn), not failed.
        assert verdicts[(model, "answer")] == "pass" and verdicts[(model, "latency")] == "pass", doc["results"]
        assert verdicts[(model, "tools")] in ("pass", "warn"), doc["results"]
    assert "fail" not in verdicts.values()
    assert run_llmfleet("health", lab, INVENTORY, key, "--json", str(tmp_path / "health.json")) == 0
    # A wrong key: the check cannot run and says so (exit 2), never green. (LiteLLM without a database
    # refuses it with 400 "No connected db." rather than 401; the checker knows that refusal.)
    assert run_llmfleet("health", lab, INVENTORY, ("LITELLM_MASTER_KEY", "sk-wrong-" + "0" * 32)) == 2


def test_backend_checks_pass_from_a_mesh_node_and_are_skipped_off_it(lab: LabFleet, second: DeployRun, tmp_path: Path) -> None:
    """``check``'s backend probes against the real Ollama and llama-server, from gw1 (on the mesh) and from this machine (off it)."""
    key = ("LITELLM_MASTER_KEY", MASTER_KEY)
    # Load the Ollama model (an empty generate) so /api/ps has it, whatever ran before this test.
    load = "import json,urllib.request as u; u.urlopen(u.Request('http://100.64.0.2:11434/api/generate', json.dumps({'model':'tiny-ollama','keep_alive':'30m'}).encode()), timeout=120).read()"
    sh(lab, "gw1", f'python3 -c "{load}"')
    mesh = check_from_mesh(lab, INVENTORY, key, tmp_path, load_inventory(INVENTORY, lab.overlay))  # raises unless all pass
    assert mesh.host == "gw1" and mesh.rc == 0
    ollama = mesh.backend["tiny-ollama"]
    assert ollama["status"] == "pass", ollama
    pinned = "96db9383d0843904953f01e82249e09de6fd39619af39971c33c4efb51c698d6"  # inventories/lab.yml
    assert ollama["facts"]["digest"] == ollama["facts"]["digest_pinned"] == pinned, ollama
    assert f"digest {pinned[:12]} as pinned" in ollama["message"]
    # The lab has no GPU and gpu1 has no gpu section: CPU placement is reported as such, neither warned nor hidden.
    assert ollama["facts"]["loaded"] is True and ollama["facts"]["placement"] == "CPU", ollama
    assert ollama["facts"]["size_vram_bytes"] == 0 and "loaded on CPU (host gpu1 declares no GPU)" in ollama["message"]
    llama = mesh.backend["tiny-chat"]
    # Reached (/health and /props answered); its chat template's tool support is judged honestly (warn without it).
    assert llama["status"] in ("pass", "warn") and llama["facts"]["n_ctx"], llama
    assert MASTER_KEY not in mesh.report.read_text()
    # From this machine (no mesh address; the backends' firewall drops what does not come over tailscale0)
    # the same probes cannot connect: skipped with the reason, never passed.
    report = tmp_path / "check-machine.json"
    run_llmfleet("check", lab, INVENTORY, key, "--no-tools", "--no-latency", "--json", str(report))
    off = {r["subject"]: r for r in json.loads(report.read_text())["results"] if r["check"] == "backend"}
    for model in ("tiny-ollama", "tiny-chat"):
        assert off[model]["status"] == "skip" and "not reachable from this machine" in off[model]["message"], off[model]
