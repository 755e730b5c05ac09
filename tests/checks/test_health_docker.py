"""``llmfleet health --docker``: the gateway containers' state as check results, in every report.

The Docker engine of the ``real`` tests is podman's Docker-compatible API, started by the fixture of
``tests/deploy/test_docker_state.py`` (reused as it is: skipped without podman, runc and busybox).
The engine faults need no podman: a unix socket that accepts connections and never answers (an
engine that hangs), a socket path nobody listens on, and ``container_states`` replaced by a
function that blocks (an SSH connection that hangs).
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import socket
import subprocess
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from checks_fixtures import TEST_KEY, fleet_dict
from prometheus_client.parser import text_string_to_metric_families
from rich.console import Console
from typer.testing import CliRunner

from fleetlab.faulty_backend import Behaviour, serve
from llmfleet.checks import docker_state
from llmfleet.checks.cli import execute
from llmfleet.checks.context import Options
from llmfleet.checks.docker_state import MAX_RESTARTS, docker_targets
from llmfleet.checks.http import Timeouts
from llmfleet.checks.report import prom_text, render_terminal
from llmfleet.checks.results import CheckResult, Report
from llmfleet.checks.runner import run_checks
from llmfleet.checks.targets import CannotRun
from llmfleet.cli import app
from llmfleet.inventory.model import Inventory

REPO = Path(__file__).resolve().parents[2]
SLACK_S = 1.0  # scheduling slack on a loaded 2-core machine


def _docker_state_tests() -> Any:
    spec = importlib.util.spec_from_file_location("llmfleet_tests_docker_state", REPO / "tests" / "deploy" / "test_docker_state.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


#: podman's Docker-compatible API on a socket of its own (fixture of tests/deploy/test_docker_state.py).
podman_api = _docker_state_tests().podman_api


def _fleet_dict(port: int, runtime: str = "compose") -> dict[str, Any]:
    data = fleet_dict([{"name": "m"}], backend_port=port)
    data["gateway"]["runtime"] = runtime
    return data


def _fleet(port: int, runtime: str = "compose") -> Inventory:
    return Inventory.model_validate(_fleet_dict(port, runtime))


@contextmanager
def _servers() -> Iterator[tuple[str, int]]:
    """A locked stand-in gateway and a stand-in backend of the fleet's one model: (gateway URL, backend port)."""
    with (
        serve({"m": Behaviour("ok", tokens=1)}, gateway_auth="on", master_key=TEST_KEY) as gw,
        serve({"m": Behaviour("ok", tokens=1)}) as backend,
    ):
        yield gw.url, backend.port


def _health(inv: Inventory, url: str, docker: list[str] | None, timeout: float = 20.0) -> Report:
    opts = Options(
        command="health",
        gateway=url,
        tools=False,
        latency=False,
        samples=0,
        warmup=0,
        max_tokens=1,
        timeouts=Timeouts(connect=1.0, stall=timeout, total=timeout, cold_total=timeout),
        global_timeout=60,
        docker=docker,
    )
    return asyncio.run(run_checks(inv, "fleet.yml", opts, TEST_KEY))


def _containers(report: Report) -> dict[tuple[str, str], CheckResult]:
    return {(r.subject, r.check): r for r in report.results if r.kind == "container"}


@contextmanager
def _silent_engine() -> Iterator[str]:
    """A unix socket that accepts connections and never answers (an engine that hangs)."""
    with tempfile.TemporaryDirectory(prefix="lf-docker-") as tmp:
        path = Path(tmp) / "silent.sock"
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as srv:
            srv.bind(str(path))
            srv.listen(16)
            yield f"unix://{path}"


# ----------------------------------------------------------------------------- nothing Docker-related runs
def test_without_docker_the_container_checks_are_skipped_not_passed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(docker_state, "container_states", _must_not_run)
    with _servers() as (url, port):
        report = _health(_fleet(port), url, docker=None)
    assert report.exit_code == 0
    assert list(_containers(report)) == [("lab", "container_engine")]
    engine = _containers(report)["lab", "container_engine"]
    assert engine.status == "skip" and "not asked (pass --docker ssh://root@127.0.0.1)" in engine.message
    console = Console(record=True, width=200)
    render_terminal(report, console)
    text = console.export_text()
    assert "container_engine" in text and "skip" in text and "not asked" in text
    assert "1 skipped" in text


def test_systemd_venv_runtime_runs_no_docker_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(docker_state, "container_states", _must_not_run)
    with _servers() as (url, port):
        report = _health(_fleet(port, runtime="systemd-venv"), url, docker=["unix:///nonexistent/docker.sock"])
    assert report.exit_code == 0
    containers = _containers(report)
    assert list(containers) == [("lab", "container_engine")]
    assert containers["lab", "container_engine"].status == "skip"
    assert "the gateway runtime is systemd-venv; --docker is not used" in containers["lab", "container_engine"].message


def test_check_command_reads_no_containers() -> None:
    with _servers() as (url, port):
        opts = Options(gateway=url, samples=1, warmup=0, tools=False, docker=["unix:///nonexistent/docker.sock"])
        report = asyncio.run(run_checks(_fleet(port), "fleet.yml", opts, TEST_KEY))
    assert not _containers(report)


def _must_not_run(*args: object, **kw: object) -> None:
    raise AssertionError("the Docker engine was asked although it should not have been")


# ----------------------------------------------------------------------------- engine faults: error, never a pass
def test_engine_that_never_answers_is_an_error_within_the_timeout() -> None:
    with _servers() as (gateway, port), _silent_engine() as url:
        t0 = time.monotonic()
        report = _health(_fleet(port), gateway, docker=[url], timeout=1.0)
        elapsed = time.monotonic() - t0
    engine = _containers(report)["lab", "container_engine"]
    assert engine.status == "fail" and engine.message.startswith("lab container_engine: error: ")
    assert url in engine.message
    assert engine.duration_ms is not None and engine.duration_ms < (1.0 + SLACK_S) * 1000
    assert elapsed < 1.0 + 2 * SLACK_S + 2  # the gateway checks run alongside
    assert report.exit_code == 1 and engine in report.failed()
    assert list(_containers(report)) == [("lab", "container_engine")], "nothing is claimed about containers it could not read"


def test_hanging_connection_is_cut_at_the_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    release = threading.Event()

    def hang(*args: object, **kw: object) -> list[Any]:
        release.wait(30)  # like an SSH connect to a host that drops packets
        return []

    monkeypatch.setattr(docker_state, "container_states", hang)
    try:
        with _servers() as (url, port):
            report = _health(_fleet(port), url, docker=["ssh://root@lab.invalid"], timeout=0.5)
    finally:
        release.set()
    engine = _containers(report)["lab", "container_engine"]
    assert engine.status == "fail"
    assert engine.message == "lab container_engine: error: the Docker engine at ssh://root@lab.invalid did not answer within 0.5 s"
    assert engine.duration_ms is not None and engine.duration_ms < (0.5 + SLACK_S) * 1000
    assert report.exit_code == 1


def test_unreachable_engine_fails_the_cli_run_and_every_report(write_fleet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMFLEET_TEST_MASTER_KEY", TEST_KEY)
    url = f"unix://{tmp_path}/nobody-listens.sock"
    out = {"json": tmp_path / "r.json", "junit": tmp_path / "r.xml", "prom": tmp_path / "r.prom"}
    with _servers() as (gateway, port):
        path = write_fleet(_fleet_dict(port))
        args = ["health", str(path), "--gateway", gateway, "--docker", url, "--timeout", "5", "--quiet"]
        result = CliRunner().invoke(app, [*args, "--json", str(out["json"]), "--junit", str(out["junit"]), "--prom", str(out["prom"])])
    assert result.exit_code == 1, result.output
    assert "1 check(s) failed: lab container_engine" in result.output

    report = Report.model_validate_json(out["json"].read_text())
    engine = _containers(report)["lab", "container_engine"]
    assert engine.status == "fail" and "error: cannot reach the Docker engine of lab at " + url in engine.message
    assert engine.facts == {"docker_url": url}
    assert report.options["docker"] == url

    case = ET.parse(out["junit"]).getroot().find(".//testcase[@classname='llmfleet.faults.lab'][@name='container_engine']")
    assert case is not None and case.find("failure") is not None
    assert _gauge(out["prom"].read_text(), "llmfleet_check_success", subject="lab", check="container_engine") == 0.0


def test_docker_values() -> None:
    data = _fleet_dict(1)
    inv = Inventory.model_validate(data)
    assert docker_targets(inv, None) == {}
    assert docker_targets(inv, ["ssh://root@203.0.113.10"]) == {"lab": "ssh://root@203.0.113.10"}
    assert docker_targets(inv, ["lab=unix:///var/run/docker.sock"]) == {"lab": "unix:///var/run/docker.sock"}
    for bad, why in (
        ("203.0.113.10", "not a Docker URL"),
        ("gw9=ssh://root@gw9", "gw9 is not a gateway host"),
    ):
        with pytest.raises(CannotRun, match=why):
            docker_targets(inv, [bad])
    with pytest.raises(CannotRun, match="lab is given twice"):
        docker_targets(inv, ["unix:///a.sock", "lab=unix:///b.sock"])
    data["hosts"].append({"name": "lab2", "address": "127.0.0.2", "roles": ["gateway"]})
    two = Inventory.model_validate(data)
    with pytest.raises(CannotRun, match=r"2 gateway hosts \(lab, lab2\); use HOST=URL"):
        docker_targets(two, ["unix:///a.sock"])
    assert docker_targets(two, ["lab2=unix:///a.sock"]) == {"lab2": "unix:///a.sock"}


def test_bad_docker_value_cannot_run(write_fleet, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMFLEET_TEST_MASTER_KEY", TEST_KEY)
    path = write_fleet(_fleet_dict(1))
    opts = Options(command="health", gateway="http://127.0.0.1:9", docker=["nohost=unix:///x.sock"])
    assert execute(path, opts, quiet=True) == 2
    assert "cannot run: --docker 'nohost=unix:///x.sock': nohost is not a gateway host" in capsys.readouterr().err


# ----------------------------------------------------------------------------- a real Docker API (podman)
def _run_litellm(client: Any, image: str, **kw: Any) -> None:
    """A container shaped like the compose project's ``litellm`` service."""
    labels = {"com.docker.compose.project": "litellm", "com.docker.compose.service": "litellm"}
    client.containers.run(image, kw.pop("command", ["/bin/sleep", "600"]), detach=True, name="litellm-litellm-1", labels=labels, **kw)


def _podman_health(url: str) -> Report:
    with _servers() as (gateway, port):
        return _health(_fleet(port), gateway, docker=[url])


@pytest.mark.real
def test_healthy_pinned_container_passes(podman_api) -> None:
    import docker

    base, env, url = podman_api
    inv = _fleet(1)
    subprocess.run([*base, "tag", "localhost/llmfleet-tiny:1", inv.gateway.image_ref], check=True, env=env)
    client = docker.DockerClient(base_url=url)
    try:
        check = {"test": ["CMD", "/bin/true"], "interval": 10**9 * 3600, "retries": 1}
        _run_litellm(client, inv.gateway.image_ref, network_mode="none", healthcheck=check)
    finally:
        client.close()
    subprocess.run([*base, "healthcheck", "run", "litellm-litellm-1"], env=env, capture_output=True, check=True)
    report = _podman_health(url)
    containers = _containers(report)
    subject = "lab/litellm-litellm-1"
    assert {check: r.status for (s, check), r in containers.items() if s == subject} == {
        "container_running": "pass",
        "container_healthy": "pass",
        "container_image_pinned": "pass",
        "container_restarts": "pass",
    }
    assert containers["lab", "container_engine"].status == "pass"
    assert containers[subject, "container_image_pinned"].facts["pinned"] == inv.gateway.image_ref
    assert report.exit_code == 0, report.failed()
    doc = json.loads(report.model_dump_json())
    assert {(r["subject"], r["check"]) for r in doc["results"]} >= set(containers)
    assert _gauge(prom_text(report), "llmfleet_check_success", subject=subject, check="container_healthy") == 1.0


def _gauge(text: str, name: str, **labels: str) -> float:
    """The value of the one sample of ``name`` whose labels include ``labels``."""
    values = [
        s.value
        for fam in text_string_to_metric_families(text)
        for s in fam.samples
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    ]
    assert len(values) == 1, (name, labels, values)
    return values[0]


def _other_image(tmp: Path, base: list[str], env: dict[str, str], ref: str) -> None:
    """Tag an image other than the one the container runs as the pinned ``ref``."""
    (tmp / "other").mkdir()
    (tmp / "other" / "marker").write_text("not the image the container runs\n")
    subprocess.run(["tar", "-C", str(tmp / "other"), "-cf", str(tmp / "other.tar"), "."], check=True)
    subprocess.run([*base, "import", str(tmp / "other.tar"), ref], check=True, env=env, capture_output=True)


@pytest.mark.real
@pytest.mark.parametrize("fault", ["unhealthy", "wrong-image", "restarting"])
def test_faulty_container_fails_with_the_reason(podman_api, fault: str, tmp_path: Path) -> None:
    import docker

    base, env, url = podman_api
    ref = _fleet(1).gateway.image_ref
    tiny = "localhost/llmfleet-tiny:1"
    client = docker.DockerClient(base_url=url)
    try:
        if fault == "unhealthy":
            subprocess.run([*base, "tag", tiny, ref], check=True, env=env)
            # a failing healthcheck (podman splits `sh -c "exit 1"` into words: a single word fails instead)
            check = {"test": ["CMD", "/bin/sleep", "not-a-number"], "interval": 10**9 * 3600, "retries": 1}
            _run_litellm(client, ref, network_mode="none", healthcheck=check)
            subprocess.run([*base, "healthcheck", "run", "litellm-litellm-1"], env=env, capture_output=True)
        elif fault == "wrong-image":
            _other_image(tmp_path, base, env, ref)
            _run_litellm(client, tiny, network_mode="none")
        else:
            subprocess.run([*base, "tag", tiny, ref], check=True, env=env)
            policy = {"Name": "on-failure", "MaximumRetryCount": MAX_RESTARTS + 2}
            _run_litellm(client, ref, command=["/bin/sh", "-c", "exit 1"], network_mode="none", restart_policy=policy)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                attrs = client.containers.get("litellm-litellm-1").attrs
                if attrs.get("RestartCount", 0) >= MAX_RESTARTS + 2 and attrs["State"]["Status"] != "running":
                    break
                time.sleep(0.2)
    finally:
        client.close()
    report = _podman_health(url)
    got = {check: r for (subject, check), r in _containers(report).items() if subject == "lab/litellm-litellm-1"}
    failed = {check for check, r in got.items() if r.status == "fail"}
    if fault == "unhealthy":
        assert failed == {"container_healthy"}
        assert got["container_healthy"].message == "lab/litellm-litellm-1 container_healthy: litellm is unhealthy (its healthcheck fails)"
    elif fault == "wrong-image":
        assert failed == {"container_image_pinned"}
        why = got["container_image_pinned"].message
        assert f"litellm runs {tiny} (sha256:" in why and f"; the inventory pins {ref}" in why and ", not sha256:" in why
        assert got["container_healthy"].status == "skip", "no healthcheck: not a pass"
    else:
        assert failed == {"container_running", "container_restarts"}
        assert got["container_running"].message.endswith("litellm is exited, not running")
        assert got["container_restarts"].message.endswith(f"litellm was restarted {MAX_RESTARTS + 2} times (more than {MAX_RESTARTS})")
    assert report.exit_code == 1
    assert {f"lab/litellm-litellm-1 {c}" for c in failed} <= {f"{r.subject} {r.check}" for r in report.failed()}
