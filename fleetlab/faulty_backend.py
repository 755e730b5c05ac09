"""A PURPOSE-BUILT FAULTY STAND-IN for tests and benchmarks — not a model server, not for production.

It speaks just enough of the OpenAI chat-completions API (plus llama.cpp's ``/health`` and
``/props`` and Ollama's ``/api/tags``, ``/api/ps``) to produce, on demand and per model name, the
faults a real server will not produce when asked: a stall mid-stream, a hang before the headers,
HTTP 500, malformed or schema-invalid tool-call arguments, a call written into the text, prose
instead of a call, the wrong tool, over-calling, non-incremental streamed tool-call deltas, a
stream cut without ``[DONE]``, an error event mid-stream, an endless drip, and exact injected
delays (time to first token and per token). With ``gateway_auth`` it also answers like a LiteLLM
gateway (``/health/liveliness``, ``/health/readiness``, ``/v1/models``) with auth ``on``, ``off``
(an open gateway, which a check must fail) or ``error`` (500 instead of 401, as LiteLLM does
without prisma).

The second suite (issue 13; truths in ``tests/checks/fault_suite.py``) adds faults of the answer
itself — parallel calls (valid, a malformed second call, a call of a tool never offered), ``NaN``
arguments, calls without an id, calls written as a Python dict or ``tool(…)``, ``<think>`` blocks
mentioning calls, empty answers, ``finish_reason: tool_calls`` without a call, events after
``[DONE]``, invalid UTF-8, hostile characters in an error or an answer, list-shaped content — and
three orthogonal knobs: ``framing`` (every legal SSE framing: CRLF, CR, CRLF split across writes,
multi-line ``data:``, comments/``id:``/``retry:``, one byte per write, a BOM), ``cold_ms`` (a model
load started by the first request; every request waits silently until it ends, as Ollama does) and
``reasoning_ms`` (``reasoning_content`` streamed before the first visible output); ``event_bytes``
pads tokens for the parser benchmark.

Streaming is real: a stdlib ``ThreadingHTTPServer`` (HTTP/1.1, chunked transfer, Nagle disabled)
writes and flushes each chunk after a real ``sleep`` until its scheduled time (deadline-based, so
delays do not accumulate drift): token *i* leaves at ``ttft + i × tpot`` after the request was
read. That schedule is the ground truth the latency benchmark compares measurements with.

In-process::

    with serve({"m": Behaviour("stall")}) as fb:
        fb.url  # http://127.0.0.1:PORT  (OpenAI API under /v1)

As a process (benchmarks)::

    python -m fleetlab.faulty_backend --port 0 --model m=ok,ttft=200,tpot=20,tokens=16 [--gateway-auth on --master-key-env VAR]

prints ``READY http://127.0.0.1:PORT`` and serves until SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

FAULTS = (
    "ok",  # well-behaved: calls the right tool with valid arguments, answers text otherwise
    "stall",  # streams a role chunk and two tokens, then goes silent (non-streamed: silent before headers)
    "hang",  # never sends response headers
    "http500",  # HTTP 500 with an OpenAI-style error body
    "malformed_args",  # tool-call arguments that are not JSON
    "invalid_args",  # tool-call arguments that are JSON but violate the tool's schema
    "call_in_text",  # the call written into content as <tool_call>{...}</tool_call>
    "prose",  # answers in prose, never calls a tool
    "wrong_tool",  # always calls a tool other than the one the question needs
    "overcall",  # like ok, but also calls a tool when the question needs none
    "stream_broken",  # non-streamed ok; streamed tool-call deltas each repeat the whole arguments
    "truncated",  # the stream ends after a few tokens without finish_reason and [DONE]
    "error_event",  # an error event mid-stream, then the end
    "drip",  # streams a token every tpot_ms forever (never finishes)
    "leak_key",  # HTTP 500 whose message echoes the request's Authorization header (a careless upstream)
    # --- the second suite (issue 13): each has its truth in tests/checks/test_checks_fault_suite.py
    "parallel",  # two valid calls of the needed tool (Tokyo, then Paris): a legal parallel answer
    "parallel_bad",  # a valid call, then a second call of the same tool with arguments that are not JSON
    "parallel_unoffered",  # a valid call, then a call of search_web, which was never offered
    "nan_args",  # arguments with NaN (Python's json accepts it; no strict client does)
    "no_id",  # a valid call without an id (a client cannot send the result back)
    "dict_in_text",  # the call written into content as a Python dict
    "funcall_in_text",  # the call written into content as get_weather(city="Tokyo", days=3)
    "think_mentions",  # a <think> block that mentions get_weather(…) and a dict call, then a correct answer
    "empty",  # every answer is empty content with finish_reason stop
    "finish_mismatch",  # text answers with finish_reason tool_calls (and no call)
    "after_done",  # a correct answer, [DONE], then more events (a call, garbage) a client never reads
    "bad_utf8",  # an invalid UTF-8 byte inside the answer text
    "hostile_error",  # HTTP 500 whose message holds a lone surrogate, NUL, ESC sequences, bidi overrides, "]]>"
    "hostile_text",  # a correct answer whose text holds the same hostile characters
    "list_content",  # content sent as a list of text parts (non-streamed) / a correct answer otherwise
)

#: SSE framings the stream writer can use (all legal per the SSE specification).
FRAMINGS = ("lf", "crlf", "cr", "crlf_split", "multiline", "comments", "bytewise", "bom")

#: hostile characters as JSON escapes (for an error body) and as the string they decode to (for answer text)
HOSTILE = r"bad \ud800 lone surrogate, NUL \u0000, ESC \u001b[31mred\u001b[0m, bidi \u202etxt.exe, ]]> & <x>"
HOSTILE_TEXT = json.loads(f'"{HOSTILE}"')

CANONICAL_ARGS = {
    "get_weather": {"city": "Tokyo", "days": 3},
    "convert_currency": {"amount": 250, "from_currency": "USD", "to_currency": "EUR"},
}


@dataclass(frozen=True)
class Behaviour:
    """How one model name behaves."""

    fault: str = "ok"
    ttft_ms: float = 0.0
    tpot_ms: float = 0.0
    tokens: int = 8  # text tokens per answer (capped by max_tokens)
    ollama_placement: str | None = None  # "gpu", "cpu", "split" or None (not loaded) for /api/ps
    ollama_digest: str | None = None  # the digest /api/tags lists (default: sha256 of the name, like a real manifest digest)
    framing: str = "lf"  # how SSE events are written (FRAMINGS)
    cold_ms: float = 0.0  # the first chat request starts a load this long; until it ends, every request waits silently
    reasoning_ms: float = 0.0  # streams reasoning_content for this long before the first visible output
    event_bytes: int = 0  # pad each text token to this many bytes (large answers for the parser benchmark)

    def __post_init__(self) -> None:
        if self.fault not in FAULTS:
            raise ValueError(f"unknown fault {self.fault!r}; choose from {', '.join(FAULTS)}")
        if self.framing not in FRAMINGS:
            raise ValueError(f"unknown framing {self.framing!r}; choose from {', '.join(FRAMINGS)}")


def parse_behaviour(spec: str) -> tuple[str, Behaviour]:
    """``NAME=FAULT[,ttft=MS][,tpot=MS][,tokens=N][,placement=…][,framing=…][,cold=MS][,reasoning=MS][,event_bytes=N]``."""
    name, _, rest = spec.partition("=")
    parts = rest.split(",") if rest else ["ok"]
    b = Behaviour(parts[0] or "ok")
    for kv in parts[1:]:
        k, _, v = kv.partition("=")
        if k == "ttft":
            b = replace(b, ttft_ms=float(v))
        elif k == "tpot":
            b = replace(b, tpot_ms=float(v))
        elif k == "tokens":
            b = replace(b, tokens=int(v))
        elif k == "placement":
            b = replace(b, ollama_placement=v)
        elif k == "framing":
            b = replace(b, framing=v)
        elif k == "cold":
            b = replace(b, cold_ms=float(v))
        elif k == "reasoning":
            b = replace(b, reasoning_ms=float(v))
        elif k == "event_bytes":
            b = replace(b, event_bytes=int(v))
        else:
            raise ValueError(f"unknown key {k!r} in {spec!r}")
    return name, b


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, addr: tuple[str, int], behaviours: dict[str, Behaviour], gateway_auth: str | None, master_key: str | None) -> None:
        super().__init__(addr, _Handler)
        self.behaviours = behaviours
        self.gateway_auth = gateway_auth
        self.master_key = master_key
        self.stop = threading.Event()
        self.requests = 0
        self.log: list[dict[str, Any]] = []  # one entry per chat request: model, arrival, end, token write times
        self.loaded_at: dict[str, float] = {}  # model → when its cold load ends (set by its first chat request)
        self.lock = threading.Lock()


class _Gone(Exception):
    """The client went away (its timeout fired): stop writing."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def parse_request(self) -> bool:
        # Called right after the request line arrived: the schedule's origin (before header parsing).
        self.t_arrival = time.perf_counter()
        self.token_writes: list[float] = []
        return super().parse_request()

    # ------------------------------------------------------------------ plumbing
    def _send_json(self, status: int, payload: Any) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def _start_stream(self) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("cache-control", "no-cache")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        self.wfile.flush()

    def _chunk(self, data: bytes) -> None:
        try:
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, OSError):
            raise _Gone from None

    def _event(self, payload: Any, framing: str = "lf") -> None:
        data = payload if isinstance(payload, str) else json.dumps(payload)
        if framing == "multiline" and not isinstance(payload, str):
            # one data: line per line of indented JSON (newlines only between tokens); the parser joins them with LF
            lines = json.dumps(payload, indent=1).split("\n")
            self._chunk(("".join(f"data: {ln}\n" for ln in lines) + "\n").encode())
        elif framing == "comments":
            self._chunk(f": keep-alive\nid: {len(self.token_writes)}\nretry: 3000\nevent: message\ndata: {data}\n\n".encode())
        elif framing in ("crlf", "crlf_split"):
            raw = f"data: {data}\r\n\r\n".encode()
            if framing == "crlf":
                self._chunk(raw)
            else:  # every CRLF split across two writes
                for piece in raw.replace(b"\r\n", b"\r\0\n").split(b"\0"):
                    self._chunk(piece)
        elif framing == "cr":
            self._chunk(f"data: {data}\r\r".encode())
        elif framing == "bytewise":
            for byte in f"data: {data}\n\n".encode():
                self._chunk(bytes([byte]))
        else:
            self._chunk(f"data: {data}\n\n".encode())

    def _end_stream(self) -> None:
        try:
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, OSError):
            raise _Gone from None

    def _wait_until(self, t: float) -> None:
        delay = t - time.perf_counter()
        if delay > 0 and self.server.stop.wait(delay):
            raise _Gone

    def _block(self) -> None:
        self.server.stop.wait(3600)
        raise _Gone

    def _read_body(self) -> dict[str, Any]:
        n = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(n) if n else b""
        try:
            data = json.loads(raw or b"{}")
        except ValueError:
            data = {}
        return data if isinstance(data, dict) else {}

    def _authorized(self) -> bool | None:
        """None if fine; else the response has been sent."""
        mode = self.server.gateway_auth
        if mode is None or mode == "off":
            return True
        auth = self.headers.get("authorization", "")
        if auth == f"Bearer {self.server.master_key}":
            return True
        if mode == "error":
            self._send_json(500, {"error": {"message": "No module named 'prisma'", "type": "internal_server_error"}})
        else:
            self._send_json(
                401, {"error": {"message": "Authentication Error, invalid proxy server token passed.", "type": "auth_error", "code": "401"}}
            )
        return False

    # ------------------------------------------------------------------ routes
    def do_GET(self) -> None:
        self.server.requests += 1
        path = self.path.split("?", 1)[0]
        try:
            if path == "/health/liveliness" and self.server.gateway_auth is not None:
                self._send_json(200, "I'm alive!")
            elif path == "/health/readiness" and self.server.gateway_auth is not None:
                self._send_json(200, {"status": "healthy", "db": "Not connected", "litellm_version": "1.106.2"})
            elif path == "/health":
                self._send_json(200, {"status": "ok"})
            elif path == "/props":
                self._send_json(
                    200,
                    {
                        "chat_template_caps": {"supports_tools": True, "supports_tool_calls": True},
                        "default_generation_settings": {"n_ctx": 2048},
                        "total_slots": 4,
                        "model_path": "/faulty-backend/stand-in.gguf",
                    },
                )
            elif path in ("/v1/models", "/models"):
                if self._authorized():
                    self._send_json(
                        200,
                        {
                            "object": "list",
                            "data": [{"id": n, "object": "model", "owned_by": "faulty-backend"} for n in self.server.behaviours],
                        },
                    )
            elif path == "/_faulty/log":  # timing ground truth for benchmarks (perf_counter is system-wide)
                self._send_json(200, self.server.log)
            elif path == "/api/version":
                self._send_json(200, {"version": "0.0.0-faulty"})
            elif path == "/api/tags":
                models = [
                    {"name": n, "model": n, "size": 1000, "digest": b.ollama_digest or hashlib.sha256(n.encode()).hexdigest()}
                    for n, b in self.server.behaviours.items()
                ]
                self._send_json(200, {"models": models})
            elif path == "/api/ps":
                loaded = []
                for n, b in self.server.behaviours.items():
                    if b.ollama_placement:
                        vram = {"gpu": 1000, "cpu": 0, "split": 600}[b.ollama_placement]
                        loaded.append({"name": n, "model": n, "size": 1000, "size_vram": vram})
                self._send_json(200, {"models": loaded})
            else:
                self._send_json(404, {"error": {"message": f"no route {path}"}})
        except (_Gone, BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def do_POST(self) -> None:
        self.server.requests += 1
        t0 = self.t_arrival
        path = self.path.split("?", 1)[0]
        body = self._read_body()
        try:
            if not self._authorized():
                return
            if path.endswith("/chat/completions"):
                try:
                    self._chat(body, t0)
                finally:
                    w = self.token_writes
                    self.server.log.append(
                        {
                            "model": str(body.get("model")),
                            "arrival": t0,
                            "end": time.perf_counter(),
                            "first_token": w[0] if w else None,
                            "last_token": w[-1] if w else None,
                            "tokens": len(w),
                        }
                    )
            elif path.endswith("/embeddings"):
                b = self.server.behaviours.get(str(body.get("model")))
                if b is None:
                    self._send_json(404, {"error": {"message": f"model {body.get('model')!r} not found"}})
                elif b.fault == "http500":
                    self._send_json(500, {"error": {"message": "faulty backend: injected internal error", "type": "server_error"}})
                elif b.fault in ("hang", "stall"):
                    self._block()
                else:
                    self._wait_until(t0 + b.ttft_ms / 1000)
                    self._send_json(
                        200,
                        {
                            "object": "list",
                            "data": [{"object": "embedding", "index": 0, "embedding": [0.1] * 8}],
                            "model": body.get("model"),
                        },
                    )
            else:
                self._send_json(404, {"error": {"message": f"no route {path}"}})
        except (_Gone, BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    # ------------------------------------------------------------------ chat
    def _chat(self, body: dict[str, Any], t0: float) -> None:
        model = str(body.get("model"))
        b = self.server.behaviours.get(model)
        if b is None:
            self._send_json(404, {"error": {"message": f"The model `{model}` does not exist", "type": "invalid_request_error"}})
            return
        if b.fault == "http500":
            self._send_json(
                500, {"error": {"message": "faulty backend: injected internal error (CUDA out of memory)", "type": "server_error"}}
            )
            return
        if b.fault == "leak_key":
            self._send_json(
                500, {"error": {"message": f"upstream rejected credentials {self.headers.get('authorization')}", "type": "server_error"}}
            )
            return
        if b.fault == "hang":
            self._block()
        if b.fault == "hostile_error":
            body_text = '{"error": {"message": "upstream said: ' + HOSTILE + '", "type": "server_error"}}'
            raw = body_text.encode()
            self.send_response(500)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)
            self.wfile.flush()
            return
        if b.cold_ms:
            # the first request starts loading the model; every request until it is loaded waits, and nothing at
            # all (not even headers) is sent meanwhile, as Ollama does
            with self.server.lock:
                loaded = self.server.loaded_at.setdefault(model, t0 + b.cold_ms / 1000)
            if loaded > t0:
                self._wait_until(loaded)
                t0 = time.perf_counter()
        stream = bool(body.get("stream"))
        call, text = self._decide(b, body)
        max_tokens = int(body.get("max_tokens") or 10_000)
        if stream:
            self._stream(b, body, call, text, max_tokens, t0)
        else:
            if b.fault == "stall":
                self._block()
            n = len(text)
            self._wait_until(t0 + (b.ttft_ms + max(0, n - 1) * b.tpot_ms) / 1000)
            content: Any = "".join(text) if text else None
            if b.fault == "list_content" and content:
                content = [{"type": "text", "text": t} for t in text]
            message: dict[str, Any] = {"role": "assistant", "content": content}
            if b.fault == "empty":
                message["content"] = ""
            if call:
                message["tool_calls"] = [self._call_object(b, i, c) for i, c in enumerate(call)]
            if b.reasoning_ms:
                message["reasoning_content"] = "Let me think about which tool fits. "
            finish = "tool_calls" if call or b.fault == "finish_mismatch" else "stop"
            payload = {
                "id": "chatcmpl-faulty",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": model,
                "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                "usage": {"prompt_tokens": 10, "completion_tokens": max(1, n), "total_tokens": 10 + max(1, n)},
            }
            raw = json.dumps(payload).encode()
            if b.fault == "bad_utf8":
                raw = _break_utf8(raw)
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)
            self.wfile.flush()

    def _call_object(self, b: Behaviour, i: int, call: tuple[str, str]) -> dict[str, Any]:
        obj: dict[str, Any] = {"id": f"call_{i + 1}", "type": "function", "function": {"name": call[0], "arguments": call[1]}}
        if b.fault == "no_id":
            del obj["id"]
        return obj

    def _decide(self, b: Behaviour, body: dict[str, Any]) -> tuple[list[tuple[str, str]], list[str]]:
        """The calls (name, raw arguments) and the text tokens."""
        tools = [t.get("function", {}).get("name") for t in body.get("tools") or [] if isinstance(t, dict)]
        prompt = ""
        for msg in body.get("messages") or []:
            if isinstance(msg, dict) and msg.get("role") == "user" and isinstance(msg.get("content"), str):
                prompt = msg["content"].lower()
        choice = body.get("tool_choice")
        needed: str | None = None
        if isinstance(choice, dict):
            needed = (choice.get("function") or {}).get("name")
        elif tools and "weather" in prompt:
            needed = "get_weather"
        elif tools and "convert" in prompt:
            needed = "convert_currency"
        elif tools and choice == "required":
            needed = tools[0]
        max_tokens = int(body.get("max_tokens") or 10_000)
        words = [f"{i} " for i in range(1, min(b.tokens, max_tokens) + 1)] if b.fault != "drip" else []
        if b.event_bytes:
            words = [w.ljust(b.event_bytes, "x") for w in words]
        if b.fault == "empty":
            return [], []
        if b.fault == "hostile_text":
            words = [HOSTILE_TEXT, *words[1:]]
        if b.fault == "think_mentions":
            words = ["<think>I could call get_weather(city='Tokyo', days=3) or ", "{'name': 'get_weather'}; no.</think>", *words]
        if not tools:
            return [], words
        answer = ["Paris", "."]
        if b.fault == "think_mentions":
            answer = [
                "<think>Maybe get_weather(city='Paris')? ",
                '{"name": "get_weather", "arguments": {}} No tool is needed.</think>',
                *answer,
            ]
        if b.fault == "hostile_text":
            answer = [HOSTILE_TEXT, " Paris."]
        if b.fault == "prose":
            return [], ["I ", "cannot ", "check ", "that, ", "sorry."]
        if b.fault in ("call_in_text", "dict_in_text", "funcall_in_text"):
            args = CANONICAL_ARGS["get_weather"]
            if b.fault == "dict_in_text":
                payload = repr({"name": "get_weather", "arguments": args})
                return [], ["Calling: ", payload[:20], payload[20:]]
            if b.fault == "funcall_in_text":
                return [], ["I will run ", 'get_weather(city="Tokyo", ', "days=3)", " for you."]
            payload = json.dumps({"name": "get_weather", "arguments": args})
            return [], ["<tool_call>", "\n", payload[:20], payload[20:], "\n", "</tool_call>"]
        if b.fault == "wrong_tool":
            other = next((t for t in tools if t != needed), "search_web")
            return [(other, json.dumps(CANONICAL_ARGS.get(other, {"query": "x"})))], []
        if needed is None:
            if b.fault == "overcall":
                return [("get_weather", json.dumps(CANONICAL_ARGS["get_weather"]))], []
            if b.fault == "finish_mismatch":
                return [], answer
            return [], answer
        good = (needed, json.dumps(CANONICAL_ARGS.get(needed, {})))
        if b.fault == "malformed_args":
            return [(needed, good[1][:-3])], []
        if b.fault == "invalid_args":
            return [(needed, json.dumps({"city": "Berlin", "days": "three"}))], []
        if b.fault == "nan_args":
            bad = {
                "get_weather": '{"city": "Tokyo", "days": NaN}',
                "convert_currency": '{"amount": NaN, "from_currency": "USD", "to_currency": "EUR"}',
            }
            return [(needed, bad.get(needed, '{"x": NaN}'))], []
        if b.fault == "finish_mismatch":
            return [], ["I ", "would ", "call ", "a ", "tool."]
        if b.fault == "parallel":
            second = {
                "get_weather": {"city": "Paris", "days": 2},
                "convert_currency": {"amount": 10, "from_currency": "USD", "to_currency": "JPY"},
            }
            return [good, (needed, json.dumps(second.get(needed, {})))], []
        if b.fault == "parallel_bad":
            return [good, (needed, good[1][:-3])], []
        if b.fault == "parallel_unoffered":
            return [good, ("search_web", json.dumps({"query": "weather"}))], []
        return [good], []

    def _stream(
        self, b: Behaviour, body: dict[str, Any], calls: list[tuple[str, str]], text: list[str], max_tokens: int, t0: float
    ) -> None:
        model = str(body.get("model"))
        base = {"id": "chatcmpl-faulty", "object": "chat.completion.chunk", "created": int(time.time()), "model": model}
        framing = b.framing

        def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            return {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

        def send(payload: Any) -> None:
            if b.fault == "bad_utf8" and not isinstance(payload, str):
                raw = _break_utf8(f"data: {json.dumps(payload)}\n\n".encode())
                self._chunk(raw)
            else:
                self._event(payload, framing)

        self._start_stream()
        if framing == "bom":
            self._chunk(b"\xef\xbb\xbf")
        send(chunk({"role": "assistant", "content": ""}))  # sent at once: not a token
        deltas: list[dict[str, Any]] = []
        if b.reasoning_ms:
            steps = 4
            for k in range(steps):
                self._wait_until(t0 + (b.ttft_ms + k * b.reasoning_ms / steps) / 1000)
                self.token_writes.append(time.perf_counter())
                send(chunk({"reasoning_content": f"thinking {k} "}))
            t0 += b.reasoning_ms / 1000  # visible output starts after the reasoning
        for i, (name, args) in enumerate(calls):
            pieces = [args[k : k + 8] for k in range(0, len(args), 8)] or [""]
            if b.fault == "stream_broken":
                pieces = [args] * 3
            head: dict[str, Any] = {"index": i, "id": f"call_{i + 1}", "type": "function", "function": {"name": name, "arguments": ""}}
            if b.fault == "no_id":
                del head["id"]
            deltas.append({"tool_calls": [head]})
            deltas += [{"tool_calls": [{"index": i, "function": {"arguments": p}}]} for p in pieces]
        if not calls:
            deltas += [{"content": t} for t in text]
        if b.fault == "empty":
            deltas = [{"content": ""}]
        fault_at = min(2, len(deltas))  # stream faults strike after two deltas (or all, if fewer)
        i = 0
        while True:
            if i == fault_at and b.fault == "stall":
                self._block()
            if i == fault_at and b.fault == "truncated":
                self._end_stream()
                return
            if i == fault_at and b.fault == "error_event":
                self._event({"error": {"message": "faulty backend: injected error mid-stream", "type": "server_error"}})
                self._end_stream()
                return
            if b.fault == "drip":
                delta = {"content": f"{i} "}
            elif i < len(deltas):
                delta = deltas[i]
            else:
                break
            self._wait_until(t0 + (b.ttft_ms + i * b.tpot_ms) / 1000)
            self.token_writes.append(time.perf_counter())
            send(chunk(delta))
            i += 1
        finish = "tool_calls" if calls or b.fault == "finish_mismatch" else ("length" if len(text) >= max_tokens else "stop")
        send(chunk({}, finish))
        if (body.get("stream_options") or {}).get("include_usage"):
            n = len(deltas)
            send({**base, "choices": [], "usage": {"prompt_tokens": 10, "completion_tokens": n, "total_tokens": 10 + n}})
        self._event("[DONE]", framing)
        if b.fault == "after_done":  # a client stops at [DONE]; none of this may count
            self._event(chunk({"content": '<tool_call>{"name": "get_weather"}</tool_call>'}))
            self._event(chunk({"tool_calls": [{"index": 5, "function": {"name": "search_web", "arguments": "{"}}]}))
            self._event("not json at all")
            self._event(chunk({}, "tool_calls"))
        self._end_stream()


def _break_utf8(raw: bytes) -> bytes:
    """``raw`` with an invalid UTF-8 byte (0xFF) inside the first answer text or arguments."""
    for word in (b"Tokyo", b"Paris", b"USD", b"1 ", b"I "):
        if word in raw:
            return raw.replace(word, word[:1] + b"\xff" + word[1:], 1)
    return raw


class FaultyBackend:
    """A running stand-in: ``url`` is the base (OpenAI API under ``/v1``)."""

    def __init__(self, server: _Server, thread: threading.Thread) -> None:
        self._server = server
        self._thread = thread
        host, port = server.server_address[:2]
        self.host = str(host)
        self.port = int(port)
        self.url = f"http://{self.host}:{self.port}"

    @property
    def requests(self) -> int:
        """Requests served so far."""
        return self._server.requests

    @property
    def log(self) -> list[dict[str, Any]]:
        """Every chat request served: model, arrival, end, first_token, last_token (``time.perf_counter`` s), tokens."""
        return list(self._server.log)

    def release(self) -> None:
        """End every stalled/hanging response now (their connections close); keep serving nothing new."""
        self._server.stop.set()

    def close(self) -> None:
        """Release blocked handlers and stop serving."""
        self._server.stop.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@contextlib.contextmanager
def serve(
    behaviours: dict[str, Behaviour],
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    gateway_auth: str | None = None,
    master_key: str | None = None,
) -> Iterator[FaultyBackend]:
    """Run the stand-in in a background thread on loopback; stop it on exit (stalled handlers released)."""
    if gateway_auth not in (None, "on", "off", "error"):
        raise ValueError("gateway_auth must be None, 'on', 'off' or 'error'")
    if gateway_auth == "on" and not master_key:
        raise ValueError("gateway_auth='on' needs a master_key")
    server = _Server((host, port), dict(behaviours), gateway_auth, master_key)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True, name="faulty-backend")
    thread.start()
    fb = FaultyBackend(server, thread)
    try:
        yield fb
    finally:
        fb.close()


def main(argv: list[str] | None = None) -> int:
    """CLI: serve until SIGTERM/SIGINT; print ``READY <url>`` once listening."""
    ap = argparse.ArgumentParser(prog="python -m fleetlab.faulty_backend", description=__doc__.split("\n\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--model", action="append", default=[], metavar="NAME=FAULT[,ttft=MS,tpot=MS,tokens=N]")
    ap.add_argument("--gateway-auth", choices=["on", "off", "error"], default=None)
    ap.add_argument("--master-key-env", default=None, help="env var holding the key for --gateway-auth on")
    args = ap.parse_args(argv)
    if not args.host.startswith("127.") and args.host not in ("localhost", "::1"):
        ap.error("the faulty backend only listens on loopback")
    behaviours = dict(parse_behaviour(s) for s in args.model) or {"ok": Behaviour()}
    key = os.environ.get(args.master_key_env) if args.master_key_env else None
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    with serve(behaviours, host=args.host, port=args.port, gateway_auth=args.gateway_auth, master_key=key) as fb:
        print(f"READY {fb.url}", flush=True)
        done.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
