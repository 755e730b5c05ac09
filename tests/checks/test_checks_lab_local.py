"""The local lab's plumbing without starting programs: pins, ports, and the rendered commands it runs."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from fleetlab import local
from fleetlab.local import DEFAULT_INVENTORY, LabError, ensure_gguf, ensure_port_free, llama_argv
from llmfleet.inventory import load_inventory
from llmfleet.render import render_fleet


def test_lab_inventory_is_a_single_host_loopback_fleet() -> None:
    inv = load_inventory(DEFAULT_INVENTORY)
    assert inv.mesh is None and len(inv.hosts) == 1
    assert set(inv.hosts[0].roles) == {"gateway", "gpu"}
    assert all(b.kind == "llamacpp" and b.bind == "loopback" for b in inv.backends)
    assert inv.gateway.runtime == "systemd-venv" and inv.gateway.master_key.scheme == "env"
    for b in inv.backends:
        assert b.llamacpp is not None and b.llamacpp.model.filename in local.GGUF_RECIPES


def test_generated_ggufs_match_the_pins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    inv = load_inventory(DEFAULT_INVENTORY)
    for b in inv.backends:
        path = ensure_gguf(b, tmp_path)
        assert path.name == b.llamacpp.model.filename  # type: ignore[union-attr]
        assert local.sha256_file(path) == b.llamacpp.model.sha256  # type: ignore[union-attr]


def test_a_pin_mismatch_is_a_clear_error(tmp_path: Path) -> None:
    inv = load_inventory(DEFAULT_INVENTORY)
    b = inv.backends[0]
    wrong = b.model_copy(
        update={
            "llamacpp": b.llamacpp.model_copy(
                update={  # type: ignore[union-attr]
                    "model": b.llamacpp.model.model_copy(update={"sha256": "0" * 64})
                }
            )
        }
    )  # type: ignore[union-attr]
    with pytest.raises(LabError, match="inventory pins 0000"):
        ensure_gguf(wrong, tmp_path)


def test_a_taken_port_is_a_clear_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        with pytest.raises(LabError, match=f"port 127.0.0.1:{port} for the LiteLLM gateway is taken"):
            ensure_port_free("127.0.0.1", port, "the LiteLLM gateway")


def test_the_rendered_commands_are_the_ones_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(local, "llama_server_bin", lambda: Path("/bin/llama-server"))
    monkeypatch.setattr(local, "litellm_bin", lambda: Path("/bin/litellm"))
    files = {f.relpath: f for f in render_fleet(load_inventory(DEFAULT_INVENTORY))}
    unit = files["lab/systemd/llama-server-llama-tools.service"].content
    argv = llama_argv(unit, Path("/m/tiny.gguf"))
    assert argv[0] == "/bin/llama-server" and argv[argv.index("--model") + 1] == "/m/tiny.gguf"
    assert argv[argv.index("--port") + 1] == "14080" and argv[argv.index("--host") + 1] == "127.0.0.1"
    assert "--jinja" in argv and argv[argv.index("--ctx-size") + 1] == "4096"
    gw = local.litellm_argv(files["lab/systemd/litellm.service"].content, Path("/w/config.yaml"), "127.0.0.1")
    assert gw[0] == "/bin/litellm" and gw[gw.index("--config") + 1] == "/w/config.yaml"
    assert gw[gw.index("--port") + 1] == "14000"
