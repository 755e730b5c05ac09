"""Gateway container state through the Docker SDK: a fake client, and a real Docker API (podman)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from llmfleet.checks.docker_state import ContainerState, DockerStateError, container_states, docker_url, pinned_images
from llmfleet.inventory.loader import load_inventory

REPO = Path(__file__).resolve().parents[2]
PIP = load_inventory(REPO / "inventories" / "pip.yml")  # compose gateway `vps` with a bundled Postgres
LITELLM_REF = PIP.gateway.image_ref
LITELLM_ID = "sha256:" + "1" * 64
POSTGRES_ID = "sha256:" + "2" * 64


@dataclass
class FakeContainer:
    name: str
    labels: dict[str, str]
    attrs: dict[str, Any]
    status: str = "running"


def container(
    service: str, image: str, image_id: str, status: str = "running", health: str | None = "healthy", restarts: int = 0
) -> FakeContainer:
    state: dict[str, Any] = {"Status": status}
    if health:
        state["Health"] = {"Status": health, "FailingStreak": 0}
    return FakeContainer(
        name=f"litellm-{service}-1",
        labels={"com.docker.compose.project": "litellm", "com.docker.compose.service": service},
        attrs={"State": state, "RestartCount": restarts, "Image": image_id, "Config": {"Image": image}},
        status=status,
    )


@dataclass
class FakeClient:
    containers_: list[FakeContainer]
    images_: dict[str, str]
    filters: list[Any] = field(default_factory=list)
    closed: bool = False

    @property
    def containers(self) -> FakeClient:
        return self

    @property
    def images(self) -> FakeClient:
        return self

    def list(self, all: bool = False, filters: Any = None) -> list[FakeContainer]:
        self.filters.append(filters)
        return self.containers_

    def get(self, ref: str) -> Any:
        if ref not in self.images_:
            raise KeyError(ref)
        return type("Image", (), {"id": self.images_[ref]})()

    def close(self) -> None:
        self.closed = True


def test_docker_url() -> None:
    assert docker_url(PIP.host_by_name["vps"]) == f"ssh://root@{PIP.host_by_name['vps'].address}"


def test_pinned_images_cover_bundled_services() -> None:
    assert pinned_images(PIP) == {"litellm": LITELLM_REF, "postgres": PIP.gateway.database.bundled.image}


def test_all_in_order() -> None:
    client = FakeClient(
        [container("litellm", LITELLM_REF, LITELLM_ID), container("postgres", "postgres:16.4", POSTGRES_ID)],
        {LITELLM_REF: LITELLM_ID, "postgres:16.4": POSTGRES_ID},
    )
    states = container_states(PIP, "vps", client=client)
    assert [s.service for s in states] == ["litellm", "postgres"]
    assert all(s.ok for s in states)
    assert states[0].health == "healthy" and states[0].image_matches is True
    assert client.filters == [{"label": "com.docker.compose.project=litellm"}]
    assert not client.closed, "a client passed in is the caller's to close"


def test_problems_are_named() -> None:
    other = "sha256:" + "9" * 64
    client = FakeClient(
        [container("litellm", "ghcr.io/berriai/litellm:main-latest", other, status="restarting", health="unhealthy", restarts=7)],
        {LITELLM_REF: LITELLM_ID},
    )
    states = {s.service: s for s in container_states(PIP, PIP.host_by_name["vps"], client=client)}
    lit = states["litellm"]
    assert lit.restart_count == 7 and lit.status == "restarting" and lit.health == "unhealthy"
    assert lit.image_matches is False
    assert lit.problems == [
        "litellm is restarting, not running",
        "litellm is unhealthy",
        f"litellm runs ghcr.io/berriai/litellm:main-latest ({other}, not {LITELLM_ID}); the inventory pins {LITELLM_REF}",
    ]
    pg = states["postgres"]
    assert pg.status == "missing" and pg.container is None and not pg.ok


def test_no_healthcheck_and_pinned_image_absent() -> None:
    client = FakeClient([container("litellm", LITELLM_REF, LITELLM_ID, health=None)], {})
    (lit, _pg) = container_states(PIP, "vps", client=client)
    assert lit.health == "none"
    assert lit.pinned_id is None and lit.image_matches is False


def test_systemd_venv_gateway_has_no_containers() -> None:
    lab = load_inventory(REPO / "inventories" / "lab.yml")
    assert container_states(lab, "gw1", client=FakeClient([], {})) == []
    assert container_states(PIP, "home-gpu", client=FakeClient([], {})) == []


def test_engine_errors_become_docker_state_errors() -> None:
    class Broken(FakeClient):
        def list(self, all: bool = False, filters: Any = None) -> list[FakeContainer]:
            raise ConnectionError("ssh: connect to host 203.0.113.10 port 22: Connection refused")

    with pytest.raises(DockerStateError, match="Connection refused"):
        container_states(PIP, "vps", client=Broken([], {}))


def test_result_is_json_serializable() -> None:
    state = container_states(PIP, "vps", client=FakeClient([container("litellm", LITELLM_REF, LITELLM_ID)], {LITELLM_REF: LITELLM_ID}))[0]
    assert ContainerState.model_validate_json(state.model_dump_json()) == state


# ----------------------------------------------------------------------------- real Docker API (podman)
PODMAN = shutil.which("podman")
BUSYBOX = shutil.which("busybox")

CONTAINERS_CONF = """[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
[containers]
default_ulimits = []
"""


@pytest.fixture
def podman_api(tmp_path: Path):
    """Podman's Docker-compatible API on a socket of our own, with its own storage (nothing shared)."""
    if not PODMAN or not BUSYBOX or not shutil.which("runc"):
        pytest.skip("podman, runc and busybox are needed: apt-get install podman runc busybox-static")
    conf = tmp_path / "containers.conf"
    conf.write_text(CONTAINERS_CONF)
    runroot = Path(tempfile.mkdtemp(prefix="llmfleet-pm-"))  # podman wants a runroot shorter than 50 characters
    base = [PODMAN, "--root", str(tmp_path / "storage"), "--runroot", str(runroot)]
    env = {**os.environ, "CONTAINERS_CONF": str(conf)}
    rootfs = tmp_path / "rootfs"
    (rootfs / "bin").mkdir(parents=True)
    shutil.copy(BUSYBOX, rootfs / "bin" / "busybox")
    for tool in ("sh", "sleep", "true"):
        (rootfs / "bin" / tool).symlink_to("busybox")
    subprocess.run(["tar", "-C", str(rootfs), "-cf", str(tmp_path / "rootfs.tar"), "."], check=True)
    imported = subprocess.run(
        [*base, "import", str(tmp_path / "rootfs.tar"), "localhost/llmfleet-tiny:1"], env=env, capture_output=True, text=True
    )
    assert imported.returncode == 0, imported.stderr[-2000:]
    sock = tmp_path / "docker.sock"
    log = open(tmp_path / "service.log", "w")  # noqa: SIM115 - closed below
    service = subprocess.Popen([*base, "system", "service", "--time=0", f"unix://{sock}"], env=env, stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 20
        while not sock.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        if not sock.exists():
            pytest.skip("podman system service did not start")
        yield base, env, f"unix://{sock}"
    finally:
        service.terminate()
        service.wait(timeout=20)
        log.close()
        subprocess.run([*base, "rm", "--all", "--force"], env=env, capture_output=True)
        subprocess.run([*base, "rmi", "--all", "--force"], env=env, capture_output=True)
        shutil.rmtree(runroot, ignore_errors=True)


@pytest.mark.real
def test_against_a_real_docker_api(podman_api) -> None:
    import docker

    base, env, url = podman_api
    subprocess.run([*base, "tag", "localhost/llmfleet-tiny:1", LITELLM_REF], check=True, env=env)
    client = docker.DockerClient(base_url=url)
    labels = {"com.docker.compose.project": "litellm"}
    try:
        client.containers.run(
            LITELLM_REF,
            ["/bin/sleep", "600"],
            detach=True,
            name="litellm-litellm-1",
            labels={**labels, "com.docker.compose.service": "litellm"},
            network_mode="none",
            healthcheck={"test": ["CMD", "/bin/true"], "interval": 10**9 * 3600, "retries": 1},
        )
        client.containers.run(
            "localhost/llmfleet-tiny:1",
            ["/bin/sleep", "600"],
            detach=True,
            name="litellm-postgres-1",
            labels={**labels, "com.docker.compose.service": "postgres"},
            network_mode="none",
        )
        subprocess.run([*base, "healthcheck", "run", "litellm-litellm-1"], env=env, capture_output=True)
        states = {s.service: s for s in container_states(PIP, "vps", client=client)}
    finally:
        client.close()
    lit = states["litellm"]
    assert lit.status == "running" and lit.restart_count == 0
    assert lit.health in ("healthy", "starting")
    assert lit.image_matches is True and lit.image_id == lit.pinned_id
    pg = states["postgres"]
    assert pg.status == "running"
    assert pg.image_matches is False, "postgres runs the tiny image, not the pinned postgres:16.4"
    assert "the inventory pins postgres:16.4" in pg.problems[-1]
