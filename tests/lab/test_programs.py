"""Real-program tests (marked `real`): Docker Compose v2, the LiteLLM proxy and llama-server.

Each test skips (naming the make target) when its program is not provisioned; `make programs`
installs all three into ${LLMFLEET_CACHE:-~/.cache/llmfleet}.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from fleetlab import processes
from fleetlab.programs import ProgramMissing, compose_bin, litellm_bin, llama_server_bin
from fleetlab.tiny_gguf import EAGER_TOOL_CALL_BIAS, write_tiny_gguf

MASTER_KEY = "sk-llmfleet-test-0123456789"
STUB_MODEL = "stub-model"
HTTP_TIMEOUT = 30.0


def _require(locate: Callable[[], Path]) -> Path:
    try:
        return locate()
    except ProgramMissing as exc:
        pytest.skip(str(exc))


# --- Docker Compose --------------------------------------------------------------------------

VALID_COMPOSE = """\
services:
  backend:
    image: ollama/ollama:0.12.0
    healthcheck:
      test: ["CMD", "ollama", "list"]
      interval: 10s
      start_interval: 1s
  gateway:
    image: ghcr.io/berriai/litellm:main-v1.106.2
    ports: ["127.0.0.1:4000:4000"]
    depends_on:
      backend:
        condition: service_healthy
"""

INVALID_COMPOSE = """\
services:
  gateway:
    image: ghcr.io/berriai/litellm:main-v1.106.2
    depends_on: [backend]
"""


def _compose_config(compose: Path, tmp_path: Path, text: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "compose.yaml"
    path.write_text(text)
    return subprocess.run(
        [str(compose), "-f", str(path), "-p", "llmfleet-test", "config", "-q"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.real
def test_compose_version() -> None:
    compose = _require(compose_bin)
    out = subprocess.run([str(compose), "version"], capture_output=True, text=True, timeout=30, check=True).stdout
    assert out.strip() == "Docker Compose version v2.40.3"


@pytest.mark.real
def test_compose_accepts_valid_file(tmp_path: Path) -> None:
    compose = _require(compose_bin)
    result = _compose_config(compose, tmp_path, VALID_COMPOSE)
    assert result.returncode == 0, result.stderr


@pytest.mark.real
def test_compose_rejects_undefined_dependency(tmp_path: Path) -> None:
    compose = _require(compose_bin)
    result = _compose_config(compose, tmp_path, INVALID_COMPOSE)
    assert result.returncode != 0
    assert "undefined service" in result.stderr and "backend" in result.stderr, result.stderr


# --- LiteLLM proxy against a stdlib stub backend ----------------------------------------------


class _StubHandler(BaseHTTPRequestHandler):
    """A minimal OpenAI-compatible backend: /v1/models and /v1/chat/completions."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, *args: object) -> None:
        pass

    def _send(self, code: int, body: dict[str, object]) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path.rstrip("/") == "/v1/models":
            self._send(200, {"object": "list", "data": [{"id": STUB_MODEL, "object": "model"}]})
        else:
            self._send(404, {"error": "not found"})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        request = json.loads(self.rfile.read(length) or b"{}")
        if self.path.rstrip("/") != "/v1/chat/completions":
            self._send(404, {"error": "not found"})
            return
        self._send(
            200,
            {
                "id": "chatcmpl-stub",
                "object": "chat.completion",
                "created": 0,
                "model": request.get("model", STUB_MODEL),
                "choices": [
                    {
                        "index": 0,
                        "finish_reason": "stop",
                        "message": {"role": "assistant", "content": "pong from stub"},
                    }
                ],
                "usage": {"prompt_tokens": 1, "completion_tokens": 3, "total_tokens": 4},
            },
        )


class _StubServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64


@pytest.fixture(scope="module")
def stub_backend() -> Iterator[str]:
    server = _StubServer((processes.LOOPBACK, 0), _StubHandler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        yield f"http://{processes.LOOPBACK}:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def litellm_proxy(stub_backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    _require(litellm_bin)
    config = tmp_path_factory.mktemp("litellm") / "config.yaml"
    config.write_text(
        "model_list:\n"
        f"  - model_name: {STUB_MODEL}\n"
        "    litellm_params:\n"
        f"      model: openai/{STUB_MODEL}\n"
        f"      api_base: {stub_backend}\n"
        "      api_key: not-used\n"
        "general_settings:\n"
        "  master_key: os.environ/LITELLM_MASTER_KEY\n"
    )
    with processes.run_litellm(config, env={"LITELLM_MASTER_KEY": MASTER_KEY}) as base:
        yield base


@pytest.mark.real
def test_litellm_rejects_request_without_key(litellm_proxy: str) -> None:
    resp = httpx.get(f"{litellm_proxy}/v1/models", timeout=HTTP_TIMEOUT)
    assert resp.status_code == 401, resp.text


@pytest.mark.real
def test_litellm_rejects_wrong_key(litellm_proxy: str) -> None:
    resp = httpx.get(f"{litellm_proxy}/v1/models", timeout=HTTP_TIMEOUT, headers={"Authorization": "Bearer sk-1234"})
    assert resp.status_code in (400, 401), resp.text


@pytest.mark.real
def test_litellm_lists_model_with_key(litellm_proxy: str) -> None:
    resp = httpx.get(f"{litellm_proxy}/v1/models", timeout=HTTP_TIMEOUT, headers={"Authorization": f"Bearer {MASTER_KEY}"})
    assert resp.status_code == 200, resp.text
    assert [m["id"] for m in resp.json()["data"]] == [STUB_MODEL]


@pytest.mark.real
def test_litellm_routes_chat_to_backend(litellm_proxy: str) -> None:
    resp = httpx.post(
        f"{litellm_proxy}/v1/chat/completions",
        timeout=HTTP_TIMEOUT,
        headers={"Authorization": f"Bearer {MASTER_KEY}"},
        json={"model": STUB_MODEL, "messages": [{"role": "user", "content": "ping"}]},
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["choices"][0]["message"]["content"] == "pong from stub"


# --- llama-server on the tiny random GGUF -----------------------------------------------------


def test_program_missing_names_make_target(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMFLEET_CACHE", str(tmp_path))
    monkeypatch.delenv("LLMFLEET_LLAMA_SERVER_BIN", raising=False)
    with pytest.raises(ProgramMissing, match=r"make llama-server"):
        llama_server_bin()
    fake = tmp_path / "llama-server"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    monkeypatch.setenv("LLMFLEET_LLAMA_SERVER_BIN", str(fake))
    assert llama_server_bin() == fake
    monkeypatch.setenv("LLMFLEET_COMPOSE_BIN", str(tmp_path / "nope"))
    with pytest.raises(ProgramMissing, match=r"make compose-bin.*LLMFLEET_COMPOSE_BIN"):
        compose_bin()
    monkeypatch.delenv("LLMFLEET_LITELLM_BIN", raising=False)
    monkeypatch.delenv("LITELLM_VERSION", raising=False)
    with pytest.raises(ProgramMissing, match=r"make litellm-proxy") as exc_info:
        litellm_bin()
    assert exc_info.value.path == tmp_path / "litellm-1.106.2" / "bin" / "litellm"


def test_tiny_gguf_is_deterministic(tmp_path: Path) -> None:
    a = write_tiny_gguf(tmp_path / "a.gguf", seed=7).read_bytes()
    b = write_tiny_gguf(tmp_path / "b.gguf", seed=7).read_bytes()
    c = write_tiny_gguf(tmp_path / "c.gguf", seed=8).read_bytes()
    assert a == b
    assert a != c
    assert a[:4] == b"GGUF"


def test_scripted_gguf_is_deterministic_and_the_pinned_recipes_are_unchanged(tmp_path: Path) -> None:
    from fleetlab.local import GGUF_RECIPES
    from fleetlab.tiny_gguf import SCRIPTED_TEMPLATE, write_scripted_tools_gguf

    a = write_scripted_tools_gguf(tmp_path / "a.gguf", seed=0).read_bytes()
    b = write_tiny_gguf(tmp_path / "b.gguf", seed=0, template=SCRIPTED_TEMPLATE).read_bytes()
    assert a == b and a[:4] == b"GGUF"
    pinned = {  # inventories/lab-local.yml and lab.yml pin these (overlays and goldens too)
        "tiny-qwen2.5-tools.gguf": "1ce1193f3c2752e9800802cfa30aae2b9d0751b11374766c8404781328a4966e",
        "tiny-eager-tools.gguf": "801ace579679a1bbbc073b6d90183e8975cf719477fa9d330cc054b968104313",
        "tiny-chatml.gguf": "9c72523f1e1e7bdaefd9228a5f229bca63c113390e66331649756f2ae9b80a81",
        "tiny-scripted-tools.gguf": "6be51536804efbdd883c0e51d75e90ccc5be2aa3270056d04e254c5c9e47702c",
    }
    assert set(GGUF_RECIPES) == set(pinned)
    for name, (seed, template, eager) in GGUF_RECIPES.items():
        path = write_tiny_gguf(tmp_path / name, seed=seed, template=template, tool_call_bias=EAGER_TOOL_CALL_BIAS if eager else None)
        assert hashlib.sha256(path.read_bytes()).hexdigest() == pinned[name], name


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    _require(llama_server_bin)
    model = write_tiny_gguf(tmp_path_factory.mktemp("gguf") / "tiny.gguf")
    with processes.run_llama_server(model, extra_args=["--jinja", "-np", "1"]) as base:
        yield base


@pytest.mark.real
def test_llama_server_health(llama_server: str) -> None:
    resp = httpx.get(f"{llama_server}/health", timeout=HTTP_TIMEOUT)
    assert resp.status_code == 200


@pytest.mark.real
def test_llama_server_reports_tool_support(llama_server: str) -> None:
    props = httpx.get(f"{llama_server}/props", timeout=HTTP_TIMEOUT).json()
    caps = props["chat_template_caps"]
    assert caps["supports_tools"] is True
    assert caps["supports_tool_calls"] is True
    assert "<tool_call>" in props["chat_template"]


@pytest.mark.real
def test_llama_server_chat_completion(llama_server: str) -> None:
    resp = httpx.post(
        f"{llama_server}/v1/chat/completions",
        timeout=HTTP_TIMEOUT,
        json={"messages": [{"role": "user", "content": "Say hello."}], "max_tokens": 32, "seed": 1},
    )
    assert resp.status_code == 200, resp.text
    choice = resp.json()["choices"][0]
    assert choice["message"]["role"] == "assistant"
    assert isinstance(choice["message"]["content"], str)
    assert choice["finish_reason"] in ("stop", "length")


WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["c", "f"]}},
            "required": ["city", "unit"],
        },
    },
}


@pytest.fixture(scope="module")
def eager_llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """llama-server on the tiny model built to open <tool_call> at once (see tools/FINDINGS.md)."""
    _require(llama_server_bin)
    model = write_tiny_gguf(tmp_path_factory.mktemp("gguf") / "eager.gguf", tool_call_bias=EAGER_TOOL_CALL_BIAS)
    with processes.run_llama_server(model, extra_args=["--jinja", "-np", "1"]) as base:
        yield base


@pytest.mark.real
@pytest.mark.parametrize("tool_choice", ["auto", "required"])
def test_llama_server_grammar_constrained_tool_call(eager_llama_server: str, tool_choice: str) -> None:
    resp = httpx.post(
        f"{eager_llama_server}/v1/chat/completions",
        timeout=HTTP_TIMEOUT,
        json={
            "messages": [{"role": "user", "content": "Weather in Paris?"}],
            "tools": [WEATHER_TOOL],
            "tool_choice": tool_choice,
            "max_tokens": 300,
            "seed": 3,
        },
    )
    assert resp.status_code == 200, resp.text
    choice = resp.json()["choices"][0]
    assert choice["finish_reason"] == "tool_calls", choice
    (call,) = choice["message"]["tool_calls"]
    assert call["function"]["name"] == "get_weather"
    args = json.loads(call["function"]["arguments"])
    assert set(args) == {"city", "unit"} and args["unit"] in ("c", "f")


def test_claim_port_refuses_a_listening_port_but_not_time_wait() -> None:
    import socket

    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn and llama-server do
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    with pytest.raises(processes.ProcessStartError, match=f"port {port} on 127.0.0.1 is already in use"):
        processes._claim_port("127.0.0.1", port)
    # The server side closes first: its port is left in TIME_WAIT, which a restarted server may reuse.
    client = socket.create_connection(("127.0.0.1", port))
    conn, _ = listener.accept()
    conn.close()
    listener.close()
    client.recv(1)
    client.close()
    assert processes._claim_port("127.0.0.1", port) == port
