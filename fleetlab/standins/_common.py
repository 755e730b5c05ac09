"""Plumbing the Headscale and Tailscale STAND-INs share: JSON over HTTP (also on a unix socket),
state files written atomically, Go-style command-line flags. Python 3 standard library only.

A stand-in ships as one file: where it imports this module
(``from fleetlab.standins._common import ...``), :func:`fleetlab.standins.script` puts this
module's code instead, so the shipped script needs nothing but Python 3.
"""

from __future__ import annotations

import http.client
import http.server
import json
import os
import socket
import socketserver
from collections.abc import Callable
from pathlib import Path


class JsonHandler(http.server.BaseHTTPRequestHandler):
    """A request handler that speaks JSON (HTTP/1.1, keep-alive), on TCP or a unix socket."""

    protocol_version = "HTTP/1.1"

    def address_string(self) -> str:
        """The client's address (unix sockets have none)."""
        return self.client_address[0] if isinstance(self.client_address, tuple) else "unix"

    def _json(self, status: int, payload: object) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _route(self, path: str, routes: dict[str, Callable[[], object]], errors: dict[type[Exception], int]) -> None:
        """Answer with the JSON of ``routes[path]()`` (404: no such route); an exception named in ``errors`` gets its status."""
        action = routes.get(path)
        if action is None:
            self._json(404, {"error": "not found"})
            return
        try:
            result = action()
        except tuple(errors) as exc:
            self._json(next(status for kind, status in errors.items() if isinstance(exc, kind)), {"error": str(exc)})
            return
        self._json(200, result)

    def _body(self) -> dict:
        length = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            return {}
        return body if isinstance(body, dict) else {}


class ThreadingUnixServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    """A threaded server on a unix socket (the CLI's local API)."""

    daemon_threads = True


def listen_unix(
    path: str, handler: type[http.server.BaseHTTPRequestHandler], mode: int, server_class: type[ThreadingUnixServer] = ThreadingUnixServer
) -> ThreadingUnixServer:
    """A server on the unix socket ``path`` (its directory created, a stale socket replaced), chmod ``mode``."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).unlink(missing_ok=True)
    server = server_class(path, handler)
    os.chmod(path, mode)
    return server


class UnixConnection(http.client.HTTPConnection):
    """An HTTP connection to a unix socket."""

    def __init__(self, path: str, timeout: float, host: str = "localhost") -> None:
        super().__init__(host, timeout=timeout)
        self.unix_path = path

    def connect(self) -> None:
        """Connect to the socket (OSError when nobody listens)."""
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.unix_path)


def unix_request(path: str, method: str, url: str, body: dict | None, timeout: float, host: str = "localhost") -> tuple[int, object]:
    """Send ``body`` as JSON to ``url`` on the unix socket ``path``: (HTTP status, decoded JSON or None).

    Raises:
        OSError: the socket cannot be reached (the daemon is not running).
    """
    conn = UnixConnection(path, timeout, host)
    try:
        conn.request(method, url, body=json.dumps(body) if body is not None else None, headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        raw = resp.read()
    finally:
        conn.close()
    return resp.status, json.loads(raw) if raw else None


def save_json(path: Path, data: object) -> None:
    """Write ``data`` as JSON to ``path`` atomically, mode 0600 (a reader never sees half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1))
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def parse_flags(
    args: list[str], booleans: set[str], short: dict[str, str] | None = None, need_value: bool = False
) -> tuple[dict[str, str], list[str]]:
    """Go-style flags: ``--name value``, ``--name=value``, ``-n value``, boolean ``--flag`` / ``--flag=false``.

    Returns ({long name: value}, positional arguments). A flag not in ``booleans`` takes the next
    argument as its value; when there is none, the value is ``""``, or with ``need_value`` it is an
    error (SystemExit), as Headscale's CLI has it. ``short`` maps one-letter names to long ones.
    """
    flags, positional, i = {}, [], 0
    while i < len(args):
        arg = args[i]
        if arg.startswith("-") and arg != "-":
            name, eq, value = arg.lstrip("-").partition("=")
            name = (short or {}).get(name, name)
            if not eq:
                if name in booleans:
                    value = "true"
                else:
                    i += 1
                    if i >= len(args) and need_value:
                        raise SystemExit(f"Error: flag needs an argument: --{name}")
                    value = args[i] if i < len(args) else ""
            flags[name] = value
        else:
            positional.append(arg)
        i += 1
    return flags, positional
