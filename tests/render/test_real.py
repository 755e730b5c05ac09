"""Rendered files accepted by the real programs: Docker Compose v2 and the LiteLLM proxy 1.106.2.

Skipped (naming the make target) when a program is not provisioned; `make test` turns those
skips into failures. One LiteLLM start (~6 s) serves every proxy assertion.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from fleetlab.programs import ProgramMissing, compose_bin, litellm_bin
from llmfleet.inventory.model import Inventory
from llmfleet.render import render_fleet, validate_rendered
from llmfleet.render.context import NO_KEY_PLACEHOLDER

from .conftest import FLEETS, build, fixture_data

pytestmark = pytest.mark.real

MASTER_KEY = "sk-" + "llmfleet-real-test-master-key-0123456"[:37]  # 40 characters
LEAK_CANARY = "sk-gateway-openai-key-must-never-reach-a-local-backend"
HTTP_TIMEOUT = 30.0
REPO = Path(__file__).resolve().parents[2]


def require(locate) -> Path:
    try:
        return locate()
    except ProgramMissing as exc:
        pytest.skip(str(exc))


# ----------------------------------------------------------------------------- Docker Compose
def compose_inventories() -> dict[str, Inventory]:
    invs = {name: build(fixture_data(name)) for name in FLEETS}
    lab = REPO / "inventories" / "lab.yml"
    if lab.is_file():
        from ruamel.yaml import YAML

        invs["lab"] = Inventory.model_validate(YAML(typ="safe", pure=True).load(lab.read_text(encoding="utf-8")))
    return invs


def test_real_compose_accepts_every_rendered_compose_file():
    require(compose_bin)
    checked = 0
    for name, inv in compose_inventories().items():
        files = render_fleet(inv)
        checked += sum(f.relpath.endswith("docker-compose.yml") for f in files)
        problems = [p for p in validate_rendered(files, inv) if "compose" in p.message]
        assert not problems, f"{name}: {[str(p) for p in problems]}"
    assert checked >= 2


def test_real_compose_rejects_a_broken_file():
    require(compose_bin)
    inv = build(fixture_data("full"))
    files = [
        dataclasses.replace(f, content=f.content.replace("condition: service_healthy", "condition: service_happy", 1))
        if f.relpath.endswith("docker-compose.yml")
        else f
        for f in render_fleet(inv)
    ]
    problems = validate_rendered(files, inv)
    assert any("docker compose rejects it" in p.message and p.severity == "error" for p in problems)


def test_real_compose_interpolates_secrets_only_from_the_environment(tmp_path):
    binary = require(compose_bin)
    files = {Path(f.relpath).name: f for f in render_fleet(build(fixture_data("full"))) if f.relpath.startswith("gw1/litellm/")}
    (tmp_path / "docker-compose.yml").write_text(files["docker-compose.yml"].content)
    (tmp_path / "config.yaml").write_text(files["config.yaml"].content)
    (tmp_path / ".env").write_text("REDIS_PASSWORD=r\nLITELLM_MASTER_KEY=m\n")  # POSTGRES_PASSWORD missing
    run = subprocess.run([str(binary), "config", "-q"], cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False)
    assert run.returncode != 0 and "set POSTGRES_PASSWORD in .env" in run.stderr, "a missing password must fail loudly"
    (tmp_path / ".env").write_text("REDIS_PASSWORD=r\nLITELLM_MASTER_KEY=m\nPOSTGRES_PASSWORD=pw\n")
    run = subprocess.run([str(binary), "config", "--format", "json"], cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False)
    assert run.returncode == 0, run.stderr
    services = json.loads(run.stdout)["services"]
    assert services["litellm"]["environment"]["DATABASE_URL"] == "postgresql://litellm:pw@postgres:5432/litellm"
    assert services["postgres"]["environment"]["POSTGRES_PASSWORD"] == "pw"
    assert "ports" not in services["postgres"] and "ports" not in services["redis"]


# ----------------------------------------------------------------------------- systemd
def _fake_root(root: Path, units: list[tuple[str, str]]) -> list[str]:
    """A root for `systemd-analyze verify --root`: the host's stock units, our units, stub executables."""
    stock = next((p for p in (Path("/usr/lib/systemd/system"), Path("/lib/systemd/system")) if p.is_dir()), None)
    if stock is None:
        pytest.skip("no stock systemd units on this machine")
    shutil.copytree(stock, root / "usr/lib/systemd/system", symlinks=True)
    etc = root / "etc/systemd/system"
    names: list[str] = []
    for dest, content in units:
        target = root / dest.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, encoding="utf-8")
        if dest.endswith(".service"):
            names.append(Path(dest).name)
        else:  # a drop-in: give it the unit it extends
            base = Path(dest).parent.name.removesuffix(".d")
            (etc / base).write_text(f"[Unit]\nDescription=stub\n[Service]\nExecStart=/usr/bin/{base.split('.')[0]} serve\n")
            names.append(base)
    for unit in etc.glob("*.service"):
        for line in unit.read_text(encoding="utf-8").splitlines():
            key, _, value = line.partition("=")
            if key in ("ExecStart", "ExecReload"):
                exe = root / value.split()[0].strip('"').lstrip("/")
                exe.parent.mkdir(parents=True, exist_ok=True)
                exe.write_text("#!/bin/sh\n")
                exe.chmod(0o755)
            elif key == "EnvironmentFile":
                env = root / value.lstrip("-/")
                env.parent.mkdir(parents=True, exist_ok=True)
                env.touch()
    return sorted(names)


@pytest.mark.parametrize("fleet", FLEETS)
def test_real_systemd_analyze_verifies_every_unit(fleet, tmp_path):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze not found (apt-get install systemd)")
    by_host: dict[str, list[tuple[str, str]]] = {}
    for f in render_fleet(build(fixture_data(fleet))):
        if f.dest.startswith("/etc/systemd/system/"):
            by_host.setdefault(f.host, []).append((f.dest, f.content))
    assert by_host
    for host, host_units in by_host.items():
        root = tmp_path / host
        names = _fake_root(root, host_units)
        run = subprocess.run(
            [analyze, "verify", "--man=no", f"--root={root}", *names], capture_output=True, text=True, timeout=120, check=False
        )
        output = (run.stdout + run.stderr).strip()
        assert run.returncode == 0 and not output, f"{fleet}/{host}: {output}"


# ----------------------------------------------------------------------------- LiteLLM proxy
class StubBackend:
    """A minimal OpenAI-compatible server on loopback that records what the gateway sends it."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            disable_nagle_algorithm = True

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))) or b"{}")
                stub.requests.append({"path": self.path, "auth": self.headers.get("authorization"), "body": body})
                reply = {
                    "id": "chatcmpl-stub",
                    "object": "chat.completion",
                    "created": 1,
                    "model": body.get("model", "stub"),
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                }
                data = json.dumps(reply).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> StubBackend:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def proxy(tmp_path_factory) -> Iterator[tuple[str, Inventory, StubBackend]]:
    """The real LiteLLM proxy running the rendered config of the `single` fleet (cloud + local models)."""
    require(litellm_bin)
    from fleetlab.processes import run_litellm

    tmp = tmp_path_factory.mktemp("litellm")
    with StubBackend() as stub:
        data = fixture_data("single")
        next(b for b in data["backends"] if b["name"] == "local-openai")["port"] = stub.port
        inv = build(data)
        config = next(f for f in render_fleet(inv) if f.relpath == "box/litellm/config.yaml")
        path = tmp / "config.yaml"
        path.write_text(config.content, encoding="utf-8")
        env = {
            "LITELLM_MASTER_KEY": MASTER_KEY,
            "ANTHROPIC_API_KEY": "dummy-anthropic-key",
            "OPENAI_API_KEY": LEAK_CANARY,
        }
        with run_litellm(path, env=env, log_path=tmp / "litellm.log") as base:
            yield base, inv, stub


def auth(key: str = MASTER_KEY) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_real_litellm_lists_exactly_the_public_names(proxy):
    base, inv, _ = proxy
    r = httpx.get(f"{base}/v1/models", headers=auth(), timeout=HTTP_TIMEOUT)
    assert r.status_code == 200, r.text
    assert sorted(m["id"] for m in r.json()["data"]) == inv.public_names()


def test_real_litellm_requires_the_master_key(proxy):
    base, _, _ = proxy
    assert httpx.get(f"{base}/v1/models", timeout=HTTP_TIMEOUT).status_code == 401
    # A wrong key is looked up as a virtual key; without a database 1.106.2 answers 400 "No connected db."
    wrong = httpx.get(f"{base}/v1/models", headers=auth("sk-" + "x" * 37), timeout=HTTP_TIMEOUT)
    assert wrong.status_code in (400, 401) and "data" not in wrong.json()


def test_real_litellm_reaches_the_local_model_without_leaking_the_openai_key(proxy):
    base, _, stub = proxy
    before = len(stub.requests)
    body = {"model": "local-chat", "messages": [{"role": "user", "content": "hi"}]}
    r = httpx.post(f"{base}/v1/chat/completions", headers=auth(), json=body, timeout=HTTP_TIMEOUT)
    assert r.status_code == 200, r.text
    assert r.json()["choices"][0]["message"]["content"] == "ok"
    sent = stub.requests[before:]
    assert sent and sent[-1]["path"] == "/v1/chat/completions"
    assert sent[-1]["body"]["model"] == "tiny:q8_0"
    assert all(req["auth"] == f"Bearer {NO_KEY_PLACEHOLDER}" for req in stub.requests)
    assert not any(LEAK_CANARY in json.dumps(req) for req in stub.requests)


def test_real_litellm_health_check_uses_the_inventory_max_tokens(proxy):
    """Background health checks (general_settings) probe the local model with model_info.health_check_max_tokens."""
    base, inv, stub = proxy
    deadline = time.monotonic() + 60
    while not any("max_tokens" in r["body"] for r in stub.requests) and time.monotonic() < deadline:
        time.sleep(0.2)
    probes = [r for r in stub.requests if "max_tokens" in r["body"]]
    assert probes, "no background health check reached the local backend within 60 s"
    assert all(p["body"]["max_tokens"] == inv.gateway.health.max_tokens for p in probes)
    assert all(p["auth"] == f"Bearer {NO_KEY_PLACEHOLDER}" for p in probes)
    while time.monotonic() < deadline:
        r = httpx.get(f"{base}/health", headers=auth(), timeout=HTTP_TIMEOUT)
        healthy = {e["model"] for e in r.json().get("healthy_endpoints", [])}
        if "openai/tiny:q8_0" in healthy:
            break
        time.sleep(0.5)
    assert "openai/tiny:q8_0" in healthy, r.text


def test_real_litellm_keeps_our_model_metadata(proxy):
    base, _, _ = proxy
    r = httpx.get(f"{base}/model/info", headers=auth(), timeout=HTTP_TIMEOUT)
    assert r.status_code == 200, r.text
    infos = {d["model_name"]: d["model_info"] for d in r.json()["data"] if d["model_name"] == "local-chat"}
    assert infos["local-chat"]["llmfleet_tags"] == ["local"]
    assert infos["local-chat"]["llmfleet_tools"] == "optional"


EXAMPLE_FLEETS = sorted(p.stem for p in (Path(__file__).resolve().parents[2] / "inventories").glob("*.yml") if "." not in p.stem)


@pytest.mark.parametrize("fleet", EXAMPLE_FLEETS)
def test_real_litellm_starts_with_every_example_gateway_config(fleet: str, tmp_path: Path) -> None:
    """Every rendered gateway config of every example fleet, as rendered, in the real proxy: it starts,
    lists exactly the inventory's public names, and refuses a request without the key.

    Secrets get dummy values under the names the config references; a ``database_url`` variable is
    left unset (no Postgres here), which LiteLLM takes as "no database".
    """
    require(litellm_bin)
    from fleetlab.processes import run_litellm
    from llmfleet.inventory.loader import load_inventory
    from llmfleet.render.context import gateway_secrets

    inv = load_inventory(Path(__file__).resolve().parents[2] / "inventories" / f"{fleet}.yml")
    env = {v.name: f"sk-dummy-{v.name.lower()}-0123456789abcdef0123456789" for v in gateway_secrets(inv)}
    key = env[inv.gateway.master_key.env_name]
    configs = [f for f in render_fleet(inv) if f.relpath.endswith("/litellm/config.yaml")]
    assert configs, f"fleet {fleet} renders no gateway config"
    for f in configs:
        path = tmp_path / f.relpath.replace("/", "_")
        path.write_text(f.content, encoding="utf-8")
        with run_litellm(path, env=env, log_path=tmp_path / f"{path.stem}.log") as base:
            listed = httpx.get(f"{base}/v1/models", headers=auth(key), timeout=HTTP_TIMEOUT)
            assert listed.status_code == 200, f"{f.relpath}: {listed.text}"
            assert sorted(m["id"] for m in listed.json()["data"]) == inv.public_names(), f.relpath
            assert httpx.get(f"{base}/v1/models", timeout=HTTP_TIMEOUT).status_code == 401, f.relpath
