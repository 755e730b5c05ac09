#!/usr/bin/env python3
"""STAND-IN for Ollama (``ollama``), used only in llmfleet's lab: no real Ollama can be had there.

It is NOT Ollama and runs NO model. It reproduces the behaviours llmfleet's deploy and checks rely on:

* ``ollama serve`` binds where ``OLLAMA_HOST`` says (``host:port``, default 127.0.0.1:11434), like
  the real server, and keeps its models under ``OLLAMA_MODELS`` (default ``~/.ollama/models``);
* HTTP API: ``GET /`` ("Ollama is running"), ``GET /api/version``, ``GET /api/tags``,
  ``GET /api/ps`` (loaded models, ``size_vram`` 0 = on CPU, honouring ``OLLAMA_KEEP_ALIVE`` and
  ``OLLAMA_MAX_LOADED_MODELS``), ``POST /api/pull`` (streams progress JSON lines, then records the
  model as pulled; nothing is downloaded: the "blob" is a small text file saying so),
  ``POST /api/show``, ``DELETE /api/delete``, ``POST /api/chat``, ``POST /api/generate``,
  ``GET /v1/models`` and ``POST /v1/chat/completions`` (streaming or not). A model that was not
  pulled is a 404, as in Ollama. Answers are canned: a fixed text, or, when the request offers
  ``tools``, a call of the first tool with arguments built from its JSON schema;
* CLI like the real one: ``ollama serve | pull NAME | list | ps | show NAME | rm NAME | -v``; the
  client commands talk to the server at ``OLLAMA_HOST``.

Single file, Python 3 standard library only (Debian's python3).
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import http.server
import json
import os
import re
import sys
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

VERSION = "0.5.7"
DEFAULT_PORT = 11434
REPLY = "This is the llmfleet Ollama STAND-IN; no model was run."


def parse_host(value: str | None) -> tuple[str, int]:
    """OLLAMA_HOST as (host, port): ``host:port``, ``http://host:port``, ``:port`` or ``host``."""
    value = (value or "").strip()
    value = re.sub(r"^https?://", "", value).rstrip("/")
    if not value:
        return "127.0.0.1", DEFAULT_PORT
    host, sep, port = value.rpartition(":")
    if not sep:
        return value, DEFAULT_PORT
    return host or "0.0.0.0", int(port)


def models_dir() -> Path:
    """Where pulled models are recorded (OLLAMA_MODELS, else ~/.ollama/models)."""
    env = os.environ.get("OLLAMA_MODELS")
    return Path(env) if env else Path.home() / ".ollama" / "models"


def parse_duration(value: str | None, default: float = 300.0) -> float:
    """An Ollama keep-alive ("30m", "1h", "0", "-1", "300") in seconds; -1 means forever."""
    if value is None or value == "":
        return default
    m = re.fullmatch(r"(-?\d+)(ms|s|m|h)?", str(value).strip())
    if not m:
        return default
    n = int(m[1])
    if n < 0:
        return -1.0
    return n * {"ms": 0.001, "s": 1, "m": 60, "h": 3600, None: 1}[m[2]]


def split_name(name: str) -> tuple[str, str]:
    """``qwen2.5:0.5b`` -> ("qwen2.5", "0.5b"); the tag defaults to ``latest``."""
    base, _, tag = name.partition(":")
    return base, tag or "latest"


def full_name(name: str) -> str:
    """The name with its tag (``x`` -> ``x:latest``)."""
    base, tag = split_name(name)
    return f"{base}:{tag}"


class Store:
    """Pulled models: a manifest per model under ``<models>/manifests/registry.ollama.ai/library``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.lock = threading.Lock()

    def _manifest(self, name: str) -> Path:
        base, tag = split_name(name)
        return self.root / "manifests" / "registry.ollama.ai" / "library" / base / tag

    def pull(self, name: str) -> dict:
        """Record ``name`` as pulled (a stand-in blob, no weights); return its entry."""
        blob = f"llmfleet Ollama STAND-IN: no weights for {full_name(name)}\n".encode()
        digest = hashlib.sha256(blob).hexdigest()
        with self.lock:
            (self.root / "blobs").mkdir(parents=True, exist_ok=True)
            (self.root / "blobs" / f"sha256-{digest}").write_bytes(blob)
            path = self._manifest(name)
            path.parent.mkdir(parents=True, exist_ok=True)
            entry = {"name": full_name(name), "digest": digest, "size": len(blob), "modified_at": _now(), "standin": True}
            path.write_text(json.dumps(entry))
        return entry

    def get(self, name: str) -> dict | None:
        """The entry of a pulled model, or None."""
        try:
            return json.loads(self._manifest(name).read_text())
        except (OSError, ValueError):
            return None

    def remove(self, name: str) -> bool:
        """Forget a model; False if it was not there."""
        path = self._manifest(name)
        if not path.exists():
            return False
        path.unlink()
        return True

    def all(self) -> list[dict]:
        """Every pulled model, by name."""
        base = self.root / "manifests" / "registry.ollama.ai" / "library"
        found = []
        for path in sorted(base.glob("*/*")) if base.exists() else []:
            try:
                found.append(json.loads(path.read_text()))
            except (OSError, ValueError):
                continue
        return found


def _now(offset: float = 0.0) -> str:
    return (datetime.now(UTC) + timedelta(seconds=offset)).isoformat().replace("+00:00", "Z")


def details(name: str) -> dict:
    """The ``details`` object Ollama reports for a model (stand-in values)."""
    family = re.split(r"[:.\d]", name, maxsplit=1)[0] or "standin"
    return {
        "parent_model": "",
        "format": "gguf",
        "family": family,
        "families": [family],
        "parameter_size": "0",
        "quantization_level": "STANDIN",
    }


def model_entry(entry: dict) -> dict:
    """A model as /api/tags lists it."""
    return {
        "name": entry["name"],
        "model": entry["name"],
        "modified_at": entry["modified_at"],
        "size": entry["size"],
        "digest": entry["digest"],
        "details": details(entry["name"]),
    }


def example_value(schema: dict) -> object:
    """A value that satisfies a simple JSON schema (enum first, else by type)."""
    if not isinstance(schema, dict):
        return "stand-in"
    if schema.get("enum"):
        return schema["enum"][0]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    if kind == "object":
        props = schema.get("properties", {})
        return {k: example_value(v) for k, v in props.items() if k in schema.get("required", list(props))}
    return {"integer": 1, "number": 1.0, "boolean": True, "array": [], "null": None}.get(kind, "stand-in")


def canned_answer(body: dict) -> tuple[str, list[dict]]:
    """(text, tool calls) for a chat request: a call of the first offered tool, else a fixed text."""
    tools = body.get("tools") or []
    for tool in tools:
        fn = tool.get("function", tool) if isinstance(tool, dict) else {}
        if fn.get("name"):
            return "", [{"function": {"name": fn["name"], "arguments": example_value(fn.get("parameters") or {})}}]
    return REPLY, []


class Server(http.server.ThreadingHTTPServer):
    """The stand-in server: the store and the loaded-model table."""

    daemon_threads = True
    request_queue_size = 64

    def __init__(self, address: tuple[str, int], store: Store) -> None:
        super().__init__(address, Handler)
        self.store = store
        self.loaded: dict[str, float] = {}  # name -> expiry (monotonic; -1 forever)
        self.keep_alive = parse_duration(os.environ.get("OLLAMA_KEEP_ALIVE"), 300.0)
        self.max_loaded = int(os.environ.get("OLLAMA_MAX_LOADED_MODELS") or 3)
        self.lock = threading.Lock()

    def load(self, name: str, keep_alive: object = None) -> None:
        """Mark ``name`` loaded (evicting the oldest beyond OLLAMA_MAX_LOADED_MODELS)."""
        ttl = self.keep_alive if keep_alive is None else parse_duration(str(keep_alive), self.keep_alive)
        with self.lock:
            self.loaded.pop(name, None)
            if ttl == 0:
                return
            self.loaded[name] = -1.0 if ttl < 0 else time.monotonic() + ttl
            while len(self.loaded) > self.max_loaded:
                self.loaded.pop(next(iter(self.loaded)))

    def running(self) -> list[tuple[str, float]]:
        """Loaded models with their expiry, expired ones dropped."""
        now = time.monotonic()
        with self.lock:
            for name in [n for n, t in self.loaded.items() if 0 <= t < now]:
                del self.loaded[name]
            return list(self.loaded.items())


class Handler(http.server.BaseHTTPRequestHandler):
    """Ollama's HTTP API (the parts llmfleet uses)."""

    server: Server
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server_version = f"ollama-standin/{VERSION}"

    def log_message(self, format: str, *args: object) -> None:
        sys.stderr.write(f"[ollama-standin] {self.command} {self.path} {format % args}\n")

    # ----- plumbing -----
    def _json(self, status: int, payload: object) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _text(self, status: int, text: str) -> None:
        data = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _stream_start(self, content_type: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _stream_end(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _body(self) -> dict:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = None
        return body if isinstance(body, dict) else {"__invalid__": True}

    def _not_found(self, name: str) -> None:
        self._json(404, {"error": f'model "{name}" not found, try pulling it first'})

    # ----- routes -----
    def do_HEAD(self) -> None:
        """HEAD / answers like GET /."""
        self._text(200, "Ollama is running")

    def do_GET(self) -> None:
        """Version, tags, ps, OpenAI model list."""
        path = self.path.split("?", 1)[0]
        store = self.server.store
        if path == "/":
            self._text(200, "Ollama is running")
        elif path == "/api/version":
            self._json(200, {"version": VERSION})
        elif path == "/api/tags":
            self._json(200, {"models": [model_entry(e) for e in store.all()]})
        elif path == "/api/ps":
            models = []
            for name, expiry in self.server.running():
                entry = store.get(name)
                if entry is None:
                    continue
                expires = _now(10**8) if expiry < 0 else _now(expiry - time.monotonic())
                models.append({**model_entry(entry), "expires_at": expires, "size_vram": 0})
            self._json(200, {"models": models})
        elif path == "/v1/models":
            data = [{"id": e["name"], "object": "model", "created": 0, "owned_by": "library"} for e in store.all()]
            self._json(200, {"object": "list", "data": data})
        else:
            self._text(404, "404 page not found")

    def do_DELETE(self) -> None:
        """/api/delete."""
        body = self._body()
        name = body.get("model") or body.get("name") or ""
        if self.path == "/api/delete" and self.server.store.remove(name):
            self.server.loaded.pop(full_name(name), None)
            self._json(200, {})
        else:
            self._json(404, {"error": f"model '{name}' not found"})

    def do_POST(self) -> None:
        """pull, show, chat, generate, OpenAI chat completions."""
        path = self.path.split("?", 1)[0]
        body = self._body()
        if body.get("__invalid__"):
            self._json(400, {"error": "invalid JSON body"})
            return
        routes = {
            "/api/pull": self._pull,
            "/api/show": self._show,
            "/api/chat": self._chat,
            "/api/generate": self._generate,
            "/v1/chat/completions": self._openai_chat,
        }
        route = routes.get(path)
        if route is None:
            self._text(404, "404 page not found")
        else:
            route(body)

    def _pull(self, body: dict) -> None:
        name = body.get("model") or body.get("name")
        if not name:
            self._json(400, {"error": "model is required"})
            return
        entry = self.server.store.pull(name)
        steps = [
            {"status": "pulling manifest"},
            {
                "status": f"pulling {entry['digest'][:12]}",
                "digest": f"sha256:{entry['digest']}",
                "total": entry["size"],
                "completed": entry["size"],
            },
            {"status": "verifying sha256 digest"},
            {"status": "writing manifest"},
            {"status": "success"},
        ]
        if body.get("stream", True) is False:
            self._json(200, {"status": "success"})
            return
        self._stream_start("application/x-ndjson")
        for step in steps:
            self._chunk(json.dumps(step).encode() + b"\n")
        self._stream_end()

    def _show(self, body: dict) -> None:
        name = body.get("model") or body.get("name") or ""
        entry = self.server.store.get(name)
        if entry is None:
            self._json(404, {"error": f"model '{name}' not found"})
            return
        self._json(
            200,
            {
                "license": "",
                "modelfile": f"# STAND-IN: no Modelfile\nFROM {entry['name']}\n",
                "parameters": "",
                "template": "{{ .Prompt }}",
                "details": details(entry["name"]),
                "model_info": {"general.architecture": "standin", "general.parameter_count": 0, "standin.context_length": 4096},
                "capabilities": ["completion", "tools"],
                "modified_at": entry["modified_at"],
            },
        )

    def _resolve(self, body: dict) -> str | None:
        name = body.get("model") or ""
        if self.server.store.get(name) is None:
            self._not_found(name)
            return None
        self.server.load(full_name(name), body.get("keep_alive"))
        return full_name(name)

    @staticmethod
    def _stats(text: str) -> dict:
        return {
            "total_duration": 1_000_000,
            "load_duration": 100_000,
            "prompt_eval_count": 1,
            "prompt_eval_duration": 100_000,
            "eval_count": max(1, len(text.split())),
            "eval_duration": 500_000,
        }

    def _chat(self, body: dict) -> None:
        name = self._resolve(body)
        if name is None:
            return
        text, calls = canned_answer(body)
        message: dict = {"role": "assistant", "content": text}
        if calls:
            message["tool_calls"] = calls
        final = {"model": name, "created_at": _now(), "message": message, "done_reason": "stop", "done": True, **self._stats(text)}
        if body.get("stream", True) is False:
            self._json(200, final)
            return
        self._stream_start("application/x-ndjson")
        if not calls:
            for word in text.split(" "):
                chunk = {"model": name, "created_at": _now(), "message": {"role": "assistant", "content": word + " "}, "done": False}
                self._chunk(json.dumps(chunk).encode() + b"\n")
            final["message"] = {"role": "assistant", "content": ""}
        self._chunk(json.dumps(final).encode() + b"\n")
        self._stream_end()

    def _generate(self, body: dict) -> None:
        name = self._resolve(body)
        if name is None:
            return
        final = {"model": name, "created_at": _now(), "response": REPLY, "done": True, "done_reason": "stop", **self._stats(REPLY)}
        if body.get("stream", True) is False:
            self._json(200, final)
            return
        self._stream_start("application/x-ndjson")
        final["response"] = ""
        self._chunk(json.dumps({"model": name, "created_at": _now(), "response": REPLY, "done": False}).encode() + b"\n")
        self._chunk(json.dumps(final).encode() + b"\n")
        self._stream_end()

    def _openai_chat(self, body: dict) -> None:
        name = body.get("model") or ""
        if self.server.store.get(name) is None:
            self._json(404, {"error": {"message": f'model "{name}" not found, try pulling it first', "type": "api_error"}})
            return
        self.server.load(full_name(name))
        text, calls = canned_answer(body)
        cid, created = f"chatcmpl-{uuid.uuid4().hex[:12]}", int(time.time())
        oa_calls = [
            {
                "id": f"call_{uuid.uuid4().hex[:8]}",
                "index": i,
                "type": "function",
                "function": {"name": c["function"]["name"], "arguments": json.dumps(c["function"]["arguments"])},
            }
            for i, c in enumerate(calls)
        ]
        finish = "tool_calls" if calls else "stop"
        usage = {"prompt_tokens": 1, "completion_tokens": max(1, len(text.split())), "total_tokens": 1 + max(1, len(text.split()))}
        if not body.get("stream"):
            message: dict = {"role": "assistant", "content": text}
            if oa_calls:
                message["tool_calls"] = oa_calls
            self._json(
                200,
                {
                    "id": cid,
                    "object": "chat.completion",
                    "created": created,
                    "model": name,
                    "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                    "usage": usage,
                },
            )
            return
        self._stream_start("text/event-stream")

        def event(delta: dict, reason: str | None = None) -> None:
            chunk = {
                "id": cid,
                "object": "chat.completion.chunk",
                "created": created,
                "model": name,
                "choices": [{"index": 0, "delta": delta, "finish_reason": reason}],
            }
            self._chunk(b"data: " + json.dumps(chunk).encode() + b"\n\n")

        if oa_calls:
            event({"role": "assistant", "content": None, "tool_calls": oa_calls})
        else:
            for i, word in enumerate(text.split(" ")):
                event({"role": "assistant", "content": word + " "} if i == 0 else {"content": word + " "})
        event({}, finish)
        self._chunk(b"data: [DONE]\n\n")
        self._stream_end()


# ----- CLI -----
def _client() -> http.client.HTTPConnection:
    host, port = parse_host(os.environ.get("OLLAMA_HOST"))
    if host in ("0.0.0.0", ""):
        host = "127.0.0.1"
    return http.client.HTTPConnection(host, port, timeout=30)


def _call(method: str, path: str, body: dict | None = None) -> http.client.HTTPResponse:
    conn = _client()
    try:
        conn.request(method, path, body=json.dumps(body) if body is not None else None, headers={"Content-Type": "application/json"})
        return conn.getresponse()
    except OSError:
        raise SystemExit("Error: could not connect to ollama app, is it running?") from None


def _table(rows: list[list[str]], header: list[str]) -> None:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("    ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def main(argv: list[str] | None = None) -> int:
    """``ollama serve | pull | list | ps | show | rm | -v``."""
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in ("-h", "--help", "help"):
        print("Usage: ollama [serve|pull MODEL|list|ps|show MODEL|rm MODEL|-v]  (llmfleet lab STAND-IN)")
        return 0
    cmd, rest = args[0], args[1:]
    if cmd in ("-v", "--version"):
        try:
            resp = _call("GET", "/api/version")
            print(f"ollama version is {json.loads(resp.read())['version']}")
        except SystemExit:
            print(f"Warning: could not connect to a running Ollama instance\nWarning: client version is {VERSION}")
        return 0
    if cmd == "serve":
        host, port = parse_host(os.environ.get("OLLAMA_HOST"))
        server = Server((host, port), Store(models_dir()))
        print(f"Listening on {host}:{port} (version {VERSION}, llmfleet STAND-IN: no GPU, no models run)", file=sys.stderr, flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            server.serve_forever()
        return 0
    if cmd == "pull" and rest:
        resp = _call("POST", "/api/pull", {"model": rest[0], "stream": True})
        if resp.status != 200:
            print(f"Error: {resp.read().decode()}", file=sys.stderr)
            return 1
        for line in resp.read().decode().splitlines():
            print(json.loads(line)["status"])
        return 0
    if cmd in ("list", "ls"):
        models = json.loads(_call("GET", "/api/tags").read())["models"]
        _table([[m["name"], m["digest"][:12], f"{m['size']} B", m["modified_at"]] for m in models], ["NAME", "ID", "SIZE", "MODIFIED"])
        return 0
    if cmd == "ps":
        models = json.loads(_call("GET", "/api/ps").read())["models"]
        _table(
            [[m["name"], m["digest"][:12], f"{m['size']} B", "100% CPU", m["expires_at"]] for m in models],
            ["NAME", "ID", "SIZE", "PROCESSOR", "UNTIL"],
        )
        return 0
    if cmd == "show" and rest:
        resp = _call("POST", "/api/show", {"model": rest[0]})
        data = json.loads(resp.read())
        if resp.status != 200:
            print(f"Error: {data.get('error')}", file=sys.stderr)
            return 1
        print(json.dumps(data, indent=2))
        return 0
    if cmd == "rm" and rest:
        resp = _call("DELETE", "/api/delete", {"model": rest[0]})
        resp.read()
        if resp.status != 200:
            print(f"Error: model '{rest[0]}' not found", file=sys.stderr)
            return 1
        print(f"deleted '{rest[0]}'")
        return 0
    print(f"Error: unknown command {' '.join(args)!r}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
