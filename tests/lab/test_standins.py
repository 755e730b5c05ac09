"""The lab's STAND-INs (ollama, headscale, tailscale, nvidia-smi), run as the scripts the mirror ships,
on loopback and temporary directories only."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from fleetlab import standins
from fleetlab.processes import free_port
from llmfleet.inventory.model import Inventory
from llmfleet.render import render_fleet

REPO = Path(__file__).resolve().parents[2]
STANDINS = REPO / "llmfleet" / "lab" / "standins"


def _install(tmp: Path, module: str, name: str, version: str | None = None) -> Path:
    """Write the stand-in script as the mirror ships it (version substituted) under ``tmp/bin/name``."""
    path = tmp / "bin" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(standins.script(module, version))
    path.chmod(0o755)
    return path


def _run(argv: list[str | Path], env: dict[str, str] | None = None, timeout: float = 20) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *map(str, argv)], capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})}
    )


def _wait(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


class Daemon:
    """A stand-in server process, stopped at the end of the test."""

    def __init__(self, argv: list[str | Path], env: dict[str, str] | None = None, log: Path | None = None) -> None:
        self.log = log
        out = open(log, "wb") if log else subprocess.DEVNULL  # noqa: SIM115 - closed in stop()
        self._out = out
        self.proc = subprocess.Popen([sys.executable, *map(str, argv)], env={**os.environ, **(env or {})}, stdout=out, stderr=out)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)
        if self.log:
            self._out.close()


# ----- ollama -----
@pytest.fixture
def ollama(tmp_path: Path) -> Iterator[tuple[Path, dict[str, str], str]]:
    script = _install(tmp_path, "ollama", "ollama", "0.5.7")
    port = free_port()
    env = {
        "OLLAMA_HOST": f"127.0.0.1:{port}",
        "OLLAMA_MODELS": str(tmp_path / "models"),
        "OLLAMA_KEEP_ALIVE": "30m",
        "OLLAMA_MAX_LOADED_MODELS": "1",
    }
    daemon = Daemon([script, "serve"], env, tmp_path / "ollama.log")
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return httpx.get(base + "/", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        _wait(up)
        yield script, env, base
    finally:
        daemon.stop()


def test_ollama_binds_where_ollama_host_says_and_reports_version(ollama) -> None:
    script, env, base = ollama
    assert httpx.get(base + "/").text == "Ollama is running"
    assert httpx.get(base + "/api/version").json() == {"version": "0.5.7"}
    assert _run([script, "-v"], env).stdout.strip() == "ollama version is 0.5.7"


def test_ollama_pull_streams_progress_and_records_the_model(ollama) -> None:
    script, env, base = ollama
    assert httpx.get(base + "/api/tags").json() == {"models": []}
    assert httpx.post(base + "/api/show", json={"model": "qwen2.5:0.5b-instruct"}).status_code == 404
    with httpx.stream("POST", base + "/api/pull", json={"model": "qwen2.5:0.5b-instruct"}) as resp:
        lines = [json.loads(line) for line in resp.iter_lines() if line]
    assert lines[0] == {"status": "pulling manifest"}
    assert lines[-1] == {"status": "success"}
    assert any("digest" in line and line["completed"] == line["total"] for line in lines)
    cli = _run([script, "pull", "other:1b"], env)
    assert cli.returncode == 0 and cli.stdout.splitlines()[-1] == "success"
    names = [m["name"] for m in httpx.get(base + "/api/tags").json()["models"]]
    assert names == ["other:1b", "qwen2.5:0.5b-instruct"]
    assert "qwen2.5:0.5b-instruct" in _run([script, "list"], env).stdout
    show = httpx.post(base + "/api/show", json={"model": "qwen2.5:0.5b-instruct"}).json()
    assert "tools" in show["capabilities"]


def test_ollama_ps_lists_loaded_models_on_cpu(ollama) -> None:
    _, _, base = ollama
    assert httpx.get(base + "/api/ps").json() == {"models": []}
    body = {"model": "m:1", "messages": [{"role": "user", "content": "hi"}], "stream": False}
    assert httpx.post(base + "/api/chat", json=body).status_code == 404  # not pulled yet: like Ollama
    httpx.post(base + "/api/pull", json={"model": "m:1", "stream": False})
    httpx.post(base + "/api/pull", json={"model": "n:1", "stream": False})
    reply = httpx.post(base + "/api/chat", json=body).json()
    assert reply["done"] is True and "STAND-IN" in reply["message"]["content"]
    ps = httpx.get(base + "/api/ps").json()["models"]
    assert [(m["name"], m["size_vram"]) for m in ps] == [("m:1", 0)]
    httpx.post(base + "/api/chat", json={**body, "model": "n:1"})
    assert [m["name"] for m in httpx.get(base + "/api/ps").json()["models"]] == ["n:1"]  # OLLAMA_MAX_LOADED_MODELS=1


def test_ollama_chat_with_tools_returns_a_schema_valid_tool_call(ollama) -> None:
    _, _, base = ollama
    httpx.post(base + "/api/pull", json={"model": "m:1", "stream": False})
    tool = {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}, "unit": {"enum": ["c", "f"]}},
                "required": ["city", "unit"],
            },
        },
    }
    native = httpx.post(
        base + "/api/chat", json={"model": "m:1", "messages": [{"role": "user", "content": "w?"}], "tools": [tool], "stream": False}
    ).json()
    assert native["message"]["tool_calls"] == [{"function": {"name": "get_weather", "arguments": {"city": "stand-in", "unit": "c"}}}]
    oa = httpx.post(
        base + "/v1/chat/completions", json={"model": "m:1", "messages": [{"role": "user", "content": "w?"}], "tools": [tool]}
    ).json()
    call = oa["choices"][0]["message"]["tool_calls"][0]
    assert oa["choices"][0]["finish_reason"] == "tool_calls"
    assert json.loads(call["function"]["arguments"]) == {"city": "stand-in", "unit": "c"}
    with httpx.stream(
        "POST", base + "/v1/chat/completions", json={"model": "m:1", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    ) as resp:
        events = [line for line in resp.iter_lines() if line.startswith("data: ")]
    assert events[-1] == "data: [DONE]"
    assert json.loads(events[-2][6:])["choices"][0]["finish_reason"] == "stop"


# ----- headscale + tailscale -----
@pytest.fixture
def mesh(tmp_path: Path) -> Iterator[dict]:
    """The Headscale stand-in serving the *rendered* lab config (paths moved to tmp), plus the scripts."""
    # Schema only: the lab inventory's all-zero checksums are filled in by the lab's generated overlay.
    inv = Inventory.model_validate(yaml.safe_load((REPO / "inventories" / "lab.yml").read_text()))
    files = {f.relpath: f.content for f in render_fleet(inv)}
    port = free_port()
    cfg = files["gw1/headscale/config.yaml"]
    replacements = {
        '"127.0.0.1:8080"': f'"127.0.0.1:{port}"',
        '"127.0.0.1:9090"': f'"127.0.0.1:{free_port()}"',
        "/var/lib/headscale": str(tmp_path / "hs-state"),
        "/var/run/headscale/headscale.sock": str(tmp_path / "hs.sock"),
        "/etc/headscale/acl.hujson": str(tmp_path / "acl.hujson"),
    }
    for old, new in replacements.items():
        assert old in cfg, old
        cfg = cfg.replace(old, new)
    (tmp_path / "config.yaml").write_text(cfg)
    (tmp_path / "acl.hujson").write_text(files["gw1/headscale/acl.hujson"])
    hs = _install(tmp_path, "headscale", "headscale", "0.23.0")
    ts = _install(tmp_path, "tailscale", "tailscale", "1.78.1")
    tsd = _install(tmp_path, "tailscale", "tailscaled", "1.78.1")
    server = Daemon([hs, "serve", "-c", tmp_path / "config.yaml"], log=tmp_path / "headscale.log")
    try:
        _wait(lambda: (tmp_path / "hs.sock").exists())
        yield {"tmp": tmp_path, "hs": hs, "ts": ts, "tsd": tsd, "url": f"http://127.0.0.1:{port}", "config": tmp_path / "config.yaml"}
    finally:
        server.stop()


def _hs(mesh: dict, *args: str) -> subprocess.CompletedProcess[str]:
    return _run([mesh["hs"], "-c", mesh["config"], *args])


def _mint(mesh: dict, **flags: str) -> str:
    out = _hs(
        mesh, "preauthkeys", "create", "--user", "llmfleet", "--expiration", "10m", *(f"--{k}={v}" for k, v in flags.items()), "-o", "json"
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)["key"]


@pytest.fixture
def node(mesh: dict) -> Iterator:
    """Start a tailscaled stand-in with its own state and socket; returns a factory."""
    started: list[Daemon] = []

    def start(name: str) -> Path:
        sock = mesh["tmp"] / f"{name}.sock"
        started.append(Daemon([mesh["tsd"], f"--state={mesh['tmp'] / name}.state", f"--socket={sock}", "--port=41641"]))
        _wait(sock.exists)
        return sock

    yield start
    for d in started:
        d.stop()


def _ts(mesh: dict, sock: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return _run([mesh["ts"], f"--socket={sock}", *args])


def _up(mesh: dict, sock: Path, key: str, hostname: str = "gpu1") -> subprocess.CompletedProcess[str]:
    return _ts(
        mesh,
        sock,
        "up",
        f"--login-server={mesh['url']}",
        f"--auth-key={key}",
        f"--hostname={hostname}",
        "--advertise-tags=tag:gpu",
        "--accept-dns=false",
        "--accept-routes=false",
        "--reset",
    )


def test_headscale_refuses_an_invalid_acl_like_headscale(tmp_path: Path, mesh: dict) -> None:
    good = (mesh["tmp"] / "acl.hujson").read_text()
    bad = tmp_path / "bad-config.yaml"
    bad.write_text(mesh["config"].read_text().replace(str(mesh["tmp"] / "acl.hujson"), str(tmp_path / "bad.hujson")))
    (tmp_path / "bad.hujson").write_text(good.replace('"gpu1:8080,11434"', '"gpu9:8080"'))  # undefined host alias
    out = _run([mesh["hs"], "serve", "-c", bad], timeout=10)
    assert out.returncode == 1 and "gpu9" in out.stderr
    (tmp_path / "bad.hujson").write_text("{ not json")
    assert _run([mesh["hs"], "configtest", "-c", bad]).returncode == 1
    assert _hs(mesh, "configtest").returncode == 0


def test_headscale_keys_are_random_and_single_use(mesh: dict, node) -> None:
    assert _hs(mesh, "users", "create", "llmfleet").returncode == 0
    assert _hs(mesh, "users", "create", "llmfleet").returncode != 0
    key1, key2 = _mint(mesh, reusable="false"), _mint(mesh)
    assert re.fullmatch(r"[0-9a-f]{48}", key1) and key1 != key2
    first, second = node("gpu1"), node("other")
    ok = _up(mesh, first, key1)
    assert ok.returncode == 0, ok.stderr
    reused = _up(mesh, second, key1, hostname="other")
    assert reused.returncode == 1 and "already used" in reused.stderr
    nodes = json.loads(_hs(mesh, "nodes", "list", "-o", "json").stdout)
    assert [(n["name"], n["valid_tags"]) for n in nodes] == [("gpu1", ["tag:gpu"])]


def test_tailscale_up_refuses_a_bad_key_and_never_prints_the_key(mesh: dict, node) -> None:
    _hs(mesh, "users", "create", "llmfleet")
    sock = node("gpu1")
    bad = "f" * 48
    refused = _up(mesh, sock, bad)
    assert refused.returncode == 1 and "invalid pre-auth key" in refused.stderr
    assert bad not in refused.stdout + refused.stderr
    status = json.loads(_ts(mesh, sock, "status", "--json").stdout)
    assert status["BackendState"] == "NeedsLogin" and status["Self"]["TailscaleIPs"] == []
    key = _mint(mesh)
    key_file = mesh["tmp"] / "authkey"
    key_file.write_text(key)
    ok = _up(mesh, sock, f"file:{key_file}")
    assert ok.returncode == 0 and key not in ok.stdout + ok.stderr
    status = json.loads(_ts(mesh, sock, "status", "--json").stdout)
    assert status["BackendState"] == "Running" and status["Self"]["Online"] is True
    ip = _ts(mesh, sock, "ip", "-4").stdout.strip()
    assert status["Self"]["TailscaleIPs"] == [ip] and ip.startswith("100.")
    assert key not in (mesh["tmp"] / "gpu1.state").read_text()  # the state never keeps the key
    again = _up(mesh, sock, "")  # same settings, already running: a no-op needing no key
    assert again.returncode == 0


def test_tailscale_cli_without_daemon_fails_like_tailscale(tmp_path: Path) -> None:
    ts = _install(tmp_path, "tailscale", "tailscale")
    out = _run([ts, f"--socket={tmp_path / 'none.sock'}", "status", "--json"])
    assert out.returncode == 1 and "doesn't appear to be running" in out.stderr


def test_nvidia_smi_reports_no_devices(tmp_path: Path) -> None:
    out = _run([_install(tmp_path, "nvidia_smi", "nvidia-smi"), "--query-gpu=name", "--format=csv"])
    assert (out.returncode, out.stdout.strip()) == (6, "No devices were found")


# ----- packaging -----
def test_archives_are_deterministic_and_shaped_like_the_releases(tmp_path: Path) -> None:
    def sha(p: Path) -> str:
        return hashlib.sha256(p.read_bytes()).hexdigest()

    a = standins.package_tailscale(tmp_path / "a" / "t.tgz", "1.78.1")
    time.sleep(1.1)
    b = standins.package_tailscale(tmp_path / "b" / "t.tgz", "1.78.1")
    assert sha(a) == sha(b)
    with tarfile.open(a) as tar:
        names = tar.getnames()
        assert {m.mtime for m in tar.getmembers()} == {standins.MTIME}
        assert "tailscale_1.78.1_amd64/tailscaled" in names and "tailscale_1.78.1_amd64/systemd/tailscaled.service" in names
    o = standins.package_ollama(tmp_path / "o.tgz", "0.5.7")
    with tarfile.open(o) as tar:
        assert b'VERSION = "0.5.7"' in tar.extractfile("bin/ollama").read()  # type: ignore[union-attr]
    assert sha(standins.package_ollama(tmp_path / "o2.tgz", "0.5.8")) != sha(o)
    hs = standins.package_headscale(tmp_path / "headscale", "0.23.0")
    assert os.access(hs, os.X_OK) and hs.read_bytes().startswith(b"#!/usr/bin/env python3")
    for module in ("ollama", "headscale", "tailscale", "nvidia_smi"):
        shipped = standins.script(module).decode()
        assert "STAND-IN" in shipped.split('"""')[1]
        assert not re.search(r"^\s*(from|import) fleetlab\b", shipped, re.M), f"{module}: a lab host has no fleetlab to import"
