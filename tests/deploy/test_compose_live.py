"""The compose runtime, live: ``pyinfra inventories/lab-compose.py deploy/site.py`` on a booted lab host.

The gateway host installs Debian's podman (its Docker API on ``/run/docker.sock``) and the pinned
real Docker Compose v2 binary from the lab mirror, loads the two images built offline (LiteLLM from
the pinned wheelhouse, Debian's Redis) from their archives, verified by SHA-256 and image ID, and
runs ``docker-compose up -d`` of the rendered compose file: healthchecks, ``depends_on:
service_healthy``, ``env_file``, restart policy and the bundled Redis, all real. Then: the second
run changes nothing; ``llmfleet health --docker`` reads the real containers; a configuration that
never becomes ready is rolled back and the previous containers keep serving.

LiteLLM with a database cannot start here (prisma downloads its query engine at start), so the
bundled Postgres of database mode is proven by render + ``docker compose config`` only
(tests/render), not here.

Marked ``lab``: root, the lab tools, podman on this machine (to build the images) and a built
llama-server.
"""

from __future__ import annotations

import json
import os
import secrets
import shlex
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from fleetlab import hosts as labhosts
from fleetlab.demo import run_llmfleet
from fleetlab.deployrun import DeployRun, run_site
from fleetlab.hosts import LabFleet

pytestmark = pytest.mark.lab
REPO = Path(__file__).resolve().parents[2]
INVENTORY = REPO / "inventories" / "lab-compose.yml"
PYINFRA_INVENTORY = REPO / "inventories" / "lab-compose.py"
MASTER_KEY = f"sk-lab-{secrets.token_hex(20)}"
REDIS_PASSWORD = secrets.token_hex(16)
HOST = "cgw1"
COMPOSE = "/opt/llmfleet/docker-compose/2.40.3/docker-compose -p litellm -f /opt/llmfleet/litellm/docker-compose.yml"
PROBE = "python3 -c 'import sys,urllib.request; print(urllib.request.urlopen(sys.argv[1], timeout=10).status)' "


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabFleet]:
    if reason := labhosts.lab_unavailable_reason():
        pytest.skip(reason)
    with labhosts.prepared_lab(INVENTORY, tmp_path_factory.mktemp("composelab")) as fleet:
        yield fleet


def deploy(lab: LabFleet, overlay: Path | None = None, *extra: str) -> DeployRun:
    run = run_site(
        lab, MASTER_KEY, pyinfra_inventory=PYINFRA_INVENTORY, overlay=overlay, extra=extra, env={"REDIS_PASSWORD": REDIS_PASSWORD}
    )
    assert REDIS_PASSWORD not in run.printed, "the deploy printed the Redis password"
    return run


@pytest.fixture(scope="module")
def first(lab: LabFleet) -> DeployRun:
    return deploy(lab)


@pytest.fixture(scope="module")
def second(lab: LabFleet, first: DeployRun) -> DeployRun:
    return deploy(lab)


def sh(lab: LabFleet, command: str, timeout: float = 120) -> str:
    out = lab.ssh(HOST, command, timeout=timeout)
    assert out.returncode == 0, f"{HOST}: {command}: {out.stdout[-2000:]} {out.stderr[-2000:]}"
    return out.stdout.strip()


def containers(lab: LabFleet) -> dict[str, dict]:
    """``docker inspect`` of the project's containers, by compose service."""
    ids = sh(lab, "docker ps -a -q --filter label=com.docker.compose.project=litellm").split()
    docs = json.loads(sh(lab, "docker inspect " + " ".join(ids))) if ids else []
    return {d["Config"]["Labels"]["com.docker.compose.service"]: d for d in docs}


def test_first_run_converges(first: DeployRun) -> None:
    assert first.rc == 0, first.printed[-6000:]
    assert not first.errors()
    changed = "\n".join(first.changed())
    assert "Install podman, its Docker API and networking (Debian)" in changed
    assert "Install Docker Compose 2.40.3" in changed
    assert "Load the image localhost/llmfleet-lab/litellm:main-v1.106.2" in changed
    assert "Load the image localhost/llmfleet-lab/redis:" in changed
    print(f"compose converge: {first.seconds:.1f} s, {len(first.changed())} operations changed")


def test_second_run_changes_nothing(second: DeployRun) -> None:
    assert second.rc == 0, second.printed[-6000:]
    assert second.changed() == []
    assert second.errors() == []
    print(f"compose idempotent re-run: {second.seconds:.1f} s, {len(second.ops())} operations")


def test_containers_run_as_the_compose_file_says(lab: LabFleet, second: DeployRun) -> None:
    inv_images = {a["ref"]: a["image_id"] for a in yaml.safe_load(Path(lab.overlay).read_text())["gateway"]["engine"]["images"]}
    state = containers(lab)
    assert set(state) == {"litellm", "redis"}
    for service, doc in state.items():
        assert doc["State"]["Status"] == "running", (service, doc["State"])
        assert doc["HostConfig"]["RestartPolicy"]["Name"] == "unless-stopped"
        ref = doc["Config"]["Image"]
        assert ref in inv_images, f"{service} runs {ref}, not an image the inventory loaded"
        assert "sha256:" + doc["Image"].removeprefix("sha256:") == inv_images[ref], "the loaded image ID is the pinned one"
    deadline = time.monotonic() + 180  # healthchecks run every 30 s (LiteLLM) / 10 s (Redis)
    while time.monotonic() < deadline:
        health = {s: d["State"].get("Health", {}).get("Status") for s, d in containers(lab).items()}
        if health == {"litellm": "healthy", "redis": "healthy"}:
            break
        time.sleep(5)
    assert health == {"litellm": "healthy", "redis": "healthy"}
    # env_file: the 0600 .env reached the containers (Redis requires its password).
    assert sh(lab, "stat -c '%a %U' /opt/llmfleet/litellm/.env") == "600 root"
    assert sh(lab, "docker exec litellm-redis-1 sh -c 'test -n \"$REDIS_PASSWORD\" && echo set'") == "set"
    denied = lab.ssh(HOST, "docker exec litellm-redis-1 redis-cli -h 127.0.0.1 ping", timeout=60)
    assert "NOAUTH" in denied.stdout + denied.stderr, "Redis answers without its password"
    assert sh(lab, PROBE + "http://127.0.0.1:4000/health/readiness") == "200"
    assert MASTER_KEY not in sh(lab, "cat /opt/llmfleet/litellm/config.yaml /opt/llmfleet/litellm/docker-compose.yml")


def test_the_gateway_answers_through_the_containers(lab: LabFleet, second: DeployRun, tmp_path: Path) -> None:
    key = ("LITELLM_MASTER_KEY", MASTER_KEY)
    report = tmp_path / "check.json"
    assert run_llmfleet("check", lab, INVENTORY, key, "--samples", "3", "--json", str(report)) == 0
    doc = json.loads(report.read_text())
    verdicts = {(r["subject"], r["check"]): r["status"] for r in doc["results"]}
    assert verdicts[("gateway", "models")] == "pass"
    assert verdicts[("tiny-chat", "answer")] == "pass", doc["results"]
    assert "fail" not in verdicts.values()


CHAT_STATUS = r"""
import json, urllib.error, urllib.request
env = dict(l.split("=", 1) for l in open("/opt/llmfleet/litellm/.env").read().splitlines() if "=" in l and not l.startswith("#"))
body = json.dumps({"model": "tiny-chat", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}).encode()
headers = {"Authorization": "Bearer " + env["LITELLM_MASTER_KEY"].strip().strip("'"), "Content-Type": "application/json"}
try:
    print(urllib.request.urlopen(urllib.request.Request("http://127.0.0.1:4000/v1/chat/completions", body, headers), timeout=120).status)
except urllib.error.HTTPError as e:
    print(e.code)
"""
BACKEND_UP = "until python3 -c 'import urllib.request; urllib.request.urlopen(\"http://127.0.0.1:8080/health\", timeout=5)' 2>/dev/null; do sleep 1; done"


def test_manual_mode_returns_a_stopped_backends_error_without_fallback(lab: LabFleet, second: DeployRun) -> None:
    """Pip's choice (routing.fallback_mode: manual): the client gets the error, nothing answers in its place."""
    assert int(sh(lab, "python3 -c " + shlex.quote(CHAT_STATUS), timeout=180)) == 200
    sh(lab, "systemctl stop llama-server-llama-cgw1")
    try:
        status = int(sh(lab, "python3 -c " + shlex.quote(CHAT_STATUS), timeout=180))
        assert status >= 400, f"a stopped backend answered {status}: something stood in for it"
    finally:
        sh(lab, "systemctl start llama-server-llama-cgw1")
        sh(lab, f"timeout 120 sh -c {shlex.quote(BACKEND_UP)}", timeout=180)


@pytest.fixture
def engine_socket(lab: LabFleet, tmp_path: Path) -> Iterator[str]:
    """The host's Docker API socket, forwarded here over the lab's SSH (what an operator's tunnel does)."""
    sock = Path(f"/tmp/llmfleet-dock-{os.getpid()}.sock")
    sock.unlink(missing_ok=True)
    tunnel = subprocess.Popen(
        ["ssh", "-F", str(lab.ssh_config), "-N", "-o", "ExitOnForwardFailure=yes", "-L", f"{sock}:/run/docker.sock", HOST],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while not sock.exists() and time.monotonic() < deadline and tunnel.poll() is None:
            time.sleep(0.2)
        assert sock.exists(), "the SSH tunnel to the engine socket did not come up"
        yield f"unix://{sock}"
    finally:
        tunnel.terminate()
        tunnel.wait(timeout=10)
        sock.unlink(missing_ok=True)


def test_health_docker_reads_the_real_containers(lab: LabFleet, second: DeployRun, engine_socket: str, tmp_path: Path) -> None:
    report = tmp_path / "health.json"
    rc = run_llmfleet("health", lab, INVENTORY, ("LITELLM_MASTER_KEY", MASTER_KEY), "--docker", engine_socket, "--json", str(report))
    doc = json.loads(report.read_text())
    verdicts = {(r["subject"], r["check"]): r["status"] for r in doc["results"] if r["kind"] == "container"}
    for service in ("litellm", "redis"):
        for check in ("container_running", "container_healthy", "container_restarts"):
            assert verdicts[(f"{HOST}/litellm-{service}-1", check)] == "pass", doc["results"]
    # Both images are the ones the inventory pins (loaded from their archives).
    assert verdicts[(f"{HOST}/litellm-litellm-1", "container_image_pinned")] == "pass", doc["results"]
    assert rc == 0, doc["results"]
    # Stop Redis: health must say so, not stay green.
    sh(lab, f"{COMPOSE} stop redis")
    try:
        rc = run_llmfleet("health", lab, INVENTORY, ("LITELLM_MASTER_KEY", MASTER_KEY), "--docker", engine_socket, "--json", str(report))
        doc = json.loads(report.read_text())
        verdicts = {(r["subject"], r["check"]): r["status"] for r in doc["results"] if r["kind"] == "container"}
        assert rc != 0 and verdicts[(f"{HOST}/litellm-redis-1", "container_running")] == "fail", doc["results"]
    finally:
        sh(lab, f"{COMPOSE} up -d --wait redis", timeout=240)


def test_a_config_that_never_gets_ready_is_rolled_back(lab: LabFleet, second: DeployRun, tmp_path: Path) -> None:
    before = containers(lab)["redis"]["Id"]
    broken = tmp_path / "lab-compose.broken.yml"
    data = yaml.safe_load(Path(lab.overlay).read_text())
    data["gateway"]["bind"] = "192.0.2.10"  # valid, but not an address of the host: LiteLLM cannot listen
    broken.write_text(yaml.safe_dump(data))
    run = deploy(lab, broken, "--data", "llmfleet_ready_timeout=90")
    assert run.rc != 0
    assert "rolled back to the previous configuration, which is ready again" in run.printed, run.printed[-4000:]
    assert sh(lab, PROBE + "http://127.0.0.1:4000/health/readiness") == "200"
    assert "192.0.2.10" not in sh(lab, "cat /opt/llmfleet/litellm/docker-compose.yml")
    assert containers(lab)["redis"]["Id"] == before, "the rollback left the running Redis alone"
    again = deploy(lab)
    assert again.rc == 0, again.printed[-4000:]
    assert again.changed() == [], "after the rollback the good configuration is exactly what runs"
