"""Every custom fact: the command it runs and how it reads real-shaped output (and no output)."""

from __future__ import annotations

import json
import shlex
import subprocess

import pytest

from llmfleet.deploy.facts.docker import ComposeRunning
from llmfleet.deploy.facts.files import VerifiedSha256
from llmfleet.deploy.facts.headscale import HeadscaleUsers
from llmfleet.deploy.facts.http import HttpStatus
from llmfleet.deploy.facts.keys import KeyringFingerprints
from llmfleet.deploy.facts.nvidia import NvidiaSmi, driver_branch
from llmfleet.deploy.facts.ollama import OllamaModels, normalize_model
from llmfleet.deploy.facts.tailscale import TailscaleStatus, TailscaleVersion, parse_status

TAILSCALE_STATUS = """{
  "Version": "1.78.1-t1a2b3c4d-g5e6f7a8b9",
  "BackendState": "Running",
  "Self": {
    "ID": "n1", "HostName": "gpu1", "DNSName": "gpu1.mesh.lab.internal.",
    "TailscaleIPs": ["100.64.0.2", "fd7a:115c:a1e0::2"], "Online": true
  },
  "Peer": {}
}"""


def test_tailscale_status_running() -> None:
    fact = TailscaleStatus()
    assert fact.requires_command() == "tailscale"
    assert fact.command() == "tailscale status --json 2>/dev/null || true"
    assert fact.process(TAILSCALE_STATUS.splitlines()) == {
        "backend_state": "Running",
        "ips": ["100.64.0.2", "fd7a:115c:a1e0::2"],
        "online": True,
        "hostname": "gpu1",
        "version": "1.78.1-t1a2b3c4d-g5e6f7a8b9",
    }


@pytest.mark.parametrize(
    "output, state",
    [
        ('{"BackendState": "NeedsLogin", "Self": null}', "NeedsLogin"),
        ('Warning: client version != tailscaled\n{"BackendState": "Stopped"}', "Stopped"),
        ("not json at all", "NoState"),
        ("", "NoState"),
    ],
)
def test_tailscale_status_not_joined(output: str, state: str) -> None:
    status = parse_status(output)
    assert status["backend_state"] == state
    assert status["ips"] == []


def test_tailscale_default_is_not_joined() -> None:
    assert TailscaleStatus.default()["backend_state"] == "NoState"


def test_tailscale_version() -> None:
    fact = TailscaleVersion()
    assert fact.process(["1.78.1", "  tailscale commit: abc", "  go version: go1.23"]) == "1.78.1"
    assert fact.process(["1.78.1-t1a2b3c4d"]) == "1.78.1"
    assert fact.process([]) is None


def test_headscale_users() -> None:
    fact = HeadscaleUsers()
    assert fact.command() == "headscale users list -o json 2>/dev/null || true"
    out = json.dumps([{"id": "1", "name": "llmfleet", "created_at": {"seconds": 1}}, {"id": 2, "name": "ops"}], indent=2)
    assert fact.process(out.splitlines()) == [{"id": "1", "name": "llmfleet"}, {"id": "2", "name": "ops"}]
    assert fact.process(["null"]) == []
    assert fact.process(["2024-01-01 WRN something", "[]"]) == []
    assert HeadscaleUsers.default() == []


def test_ollama_models() -> None:
    fact = OllamaModels()
    assert fact.command(address="100.64.0.2:11434") == "OLLAMA_HOST=100.64.0.2:11434 ollama list 2>/dev/null || true"
    output = [
        "NAME                     ID              SIZE      MODIFIED",
        "qwen2.5:0.5b-instruct    a8b0c5157701    397 MB    2 minutes ago",
        "llama3:latest            365c0bd3c000    4.7 GB    3 weeks ago",
    ]
    assert fact.process(output) == ["llama3:latest", "qwen2.5:0.5b-instruct"]
    assert fact.process([]) == []
    assert normalize_model("llama3") == "llama3:latest"


def test_nvidia_smi() -> None:
    fact = NvidiaSmi()
    assert "--query-gpu=index,name,driver_version,memory.total" in fact.command()
    out = ["0, NVIDIA GeForce RTX 4080, 550.120, 16376", "1, NVIDIA GeForce RTX 4080, 550.120, 16376"]
    assert fact.process(out) == [
        {"index": 0, "name": "NVIDIA GeForce RTX 4080", "driver_version": "550.120", "memory_mib": 16376},
        {"index": 1, "name": "NVIDIA GeForce RTX 4080", "driver_version": "550.120", "memory_mib": 16376},
    ]
    # What a host without a loaded driver prints (the lab's stand-in too): no GPU.
    assert fact.process(["No devices were found"]) == []
    assert driver_branch("550.120") == "550"


def test_keyring_fingerprints() -> None:
    fact = KeyringFingerprints()
    assert fact.requires_command(path="/etc/apt/keyrings/docker.asc") == "gpg"
    assert fact.process(["9dc858229fc7dd38854ae2d88d81803c0ebfcd88", ""]) == ["9DC858229FC7DD38854AE2D88D81803C0EBFCD88"]


def test_compose_running() -> None:
    fact = ComposeRunning()
    cmd = fact.command(project="litellm", compose_file="/opt/llmfleet/litellm/docker-compose.yml")
    assert cmd.startswith("docker compose -p litellm -f /opt/llmfleet/litellm/docker-compose.yml ps --status running")
    assert fact.process(["litellm", "postgres", "litellm"]) == ["litellm", "postgres"]


def test_http_status_probe_really_runs(tmp_path) -> None:
    """The probe is a real python3 program: run it against a port nothing listens on."""
    fact = HttpStatus()
    cmd = fact.command(url="http://127.0.0.1:9/none")
    out = subprocess.run(["sh", "-c", cmd], capture_output=True, text=True, timeout=30)
    assert fact.process(out.stdout.splitlines()) == 0
    assert fact.process(["200"]) == 200
    assert HttpStatus.default() == 0


def test_verified_sha256_command_really_runs(tmp_path) -> None:
    """The marker check is real shell: same size and mtime → the verified hash; touched → None."""
    target = tmp_path / "model.gguf"
    target.write_bytes(b"weights")
    st = target.stat()
    (tmp_path / "model.gguf.llmfleet-sha256").write_text(f"{'a' * 64} {st.st_size} {int(st.st_mtime)}\n")
    fact = VerifiedSha256()

    def run() -> str | None:
        out = subprocess.run(["sh", "-c", fact.command(path=str(target))], capture_output=True, text=True, check=True)
        return fact.process(out.stdout.splitlines())

    assert run() == "a" * 64
    target.write_bytes(b"weights, changed")
    assert run() is None
    (tmp_path / "model.gguf.llmfleet-sha256").unlink()
    assert run() is None
    assert shlex.quote(str(target)) in fact.command(path=str(target))


def test_resolved_addresses() -> None:
    from llmfleet.deploy.facts.hosts import ResolvedAddresses

    fact = ResolvedAddresses()
    assert fact.command(hostname="localhost") == "getent hosts localhost || true"
    assert fact.process(["127.0.0.1       localhost", "::1             localhost ip6-localhost"]) == ["127.0.0.1", "::1"]
    assert fact.process([]) == []
