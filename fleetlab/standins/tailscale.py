#!/usr/bin/env python3
"""STAND-IN for Tailscale (``tailscale`` and ``tailscaled``), used only in llmfleet's lab.

It is NOT Tailscale: no WireGuard, no tun device, no DERP. In the lab the mesh's data plane is
stood in at L3 by the lab itself (a ``tailscale0`` dummy interface holding the host's mesh IP and
routes over the lab network). This program stands in for the control-plane side that llmfleet's
deploy and checks use. One file, installed twice: it acts as the daemon when called as
``tailscaled`` and as the CLI when called as ``tailscale`` (Python 3 standard library only).

``tailscaled --state=FILE --socket=PATH [--port=N]`` (``--cleanup`` exits 0): keeps the node's
state in FILE (a machine key, the last ``up`` settings, the node's IP; never an auth key), serves
the CLI on the unix socket, and tells systemd it is ready (``Type=notify``). After a restart a node
that was logged in is ``Running`` again without a new key, like the real one.

``tailscale [--socket=PATH] up --login-server=URL --auth-key=KEY|file:PATH --hostname=H
--advertise-tags=tag:a,tag:b [--accept-dns=false] [--accept-routes=false] [--reset]``: the daemon
logs in at the Headscale STAND-IN (``POST <URL>/llmfleet-standin/register``), which validates the
key (unknown, used or expired keys are refused) and assigns the IP (the address on ``tailscale0``
when there is one). In the lab, ``/etc/llmfleet-lab/tailscale-login-server`` names the URL that
reaches Headscale (the lab's relay, standing in for DNS + TLS proxy). The key is never printed,
logged or stored. ``up`` with unchanged settings on a running node is a no-op, as with the real CLI.

``tailscale status [--json]`` (``BackendState`` Running / NeedsLogin / Stopped, ``Self`` with
``TailscaleIPs`` and ``Online``), ``tailscale ip [-4]``, ``tailscale down``, ``tailscale logout``,
``tailscale version``. Without a running daemon the CLI fails like the real one.

The HTTP/state/flag plumbing it shares with the Headscale stand-in lives in ``_common.py`` and is
inlined into the shipped script (:func:`fleetlab.standins.script`).
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path

from fleetlab.standins._common import JsonHandler, listen_unix, parse_flags, save_json, unix_request

VERSION = "1.78.1"
DEFAULT_SOCKET = "/var/run/tailscale/tailscaled.sock"
DEFAULT_STATE = "/var/lib/tailscale/tailscaled.state"
LAB_LOGIN_SERVER_FILE = "/etc/llmfleet-lab/tailscale-login-server"
#: `tailscale up` settings the state remembers (the key is not one of them).
PREF_KEYS = ("login_server", "hostname", "advertise_tags", "accept_dns", "accept_routes")


def redact(text: str, key: str | None) -> str:
    """``text`` with ``key`` replaced (so no message ever carries an auth key)."""
    return text.replace(key, "[REDACTED]") if key else text


def mesh_interface_ip(name: str = "tailscale0") -> str | None:
    """The IPv4 address on the mesh interface, when the lab created one."""
    try:
        out = subprocess.run(["ip", "-4", "-o", "addr", "show", "dev", name], capture_output=True, text=True, timeout=5).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    for word in out.split():
        if "/" in word and word[0].isdigit():
            return word.split("/")[0]
    return None


class Daemon:
    """tailscaled's state and logic."""

    def __init__(self, state_path: Path) -> None:
        self.state_path = state_path
        self.lock = threading.Lock()
        try:
            self.state = json.loads(state_path.read_text())
        except (OSError, ValueError):
            self.state = {}
        self.state.setdefault("machine_key", secrets.token_hex(16))
        self.backend = (
            "Running"
            if self.state.get("logged_in") and self.state.get("want_running")
            else ("Stopped" if self.state.get("logged_in") else "NeedsLogin")
        )
        self.save()

    def save(self) -> None:
        """Persist the state (0600)."""
        save_json(self.state_path, self.state)

    def status(self) -> dict:
        """``tailscale status --json`` (the fields llmfleet reads, plus a STAND-IN marker)."""
        node = self.state.get("node") or {}
        ips = node.get("ip_addresses", []) if self.backend != "NeedsLogin" else []
        hostname = self.state.get("prefs", {}).get("hostname") or socket.gethostname()
        return {
            "Version": f"{VERSION}-llmfleet-standin",
            "BackendState": self.backend,
            "AuthURL": "",
            "TailscaleIPs": ips,
            "Self": {
                "ID": node.get("id", ""),
                "HostName": hostname,
                "DNSName": f"{hostname}." if ips else "",
                "OS": "linux",
                "TailscaleIPs": ips,
                "Tags": node.get("valid_tags", []),
                "Online": self.backend == "Running",
            },
            "Peer": {},
            "CurrentTailnet": {"Name": node.get("user", {}).get("name", "")} if ips else None,
            "Standin": True,
        }

    def up(self, req: dict) -> dict:
        """Log in (or just apply settings when already logged in with the same ones)."""
        prefs = {k: req.get(k) for k in PREF_KEYS}
        key = req.get("authkey") or ""
        with self.lock:
            same = self.state.get("logged_in") and self.state.get("prefs") == prefs
            if same and not req.get("force_reauth"):
                self.state["want_running"] = True
                self.backend = "Running"
                self.save()
                return {"ok": True, "changed": False}
            if not key:
                raise PermissionError("this node needs to log in: pass --auth-key (no interactive login in the stand-in)")
            url = prefs["login_server"] or "https://controlplane.tailscale.com"
            if Path(LAB_LOGIN_SERVER_FILE).is_file():
                url = Path(LAB_LOGIN_SERVER_FILE).read_text().strip()
            body = {
                "key": key,
                "hostname": prefs["hostname"] or socket.gethostname(),
                "tags": [t for t in (prefs["advertise_tags"] or "").split(",") if t],
                "machine_key": self.state["machine_key"],
                "requested_ip": mesh_interface_ip(),
            }
            request = urllib.request.Request(
                url.rstrip("/") + "/llmfleet-standin/register", data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
            )
            try:
                with urllib.request.urlopen(request, timeout=15) as resp:
                    node = json.loads(resp.read())["node"]
            except urllib.error.HTTPError as exc:
                detail = redact(exc.read().decode(errors="replace"), key)
                raise PermissionError(f"backend error: {detail}") from None
            except (OSError, ValueError) as exc:
                raise ConnectionError(redact(f"cannot reach the control server {url}: {exc}", key)) from None
            self.state.update(prefs=prefs, node=node, logged_in=True, want_running=True)
            self.backend = "Running"
            self.save()
            return {"ok": True, "changed": True}

    def down(self) -> dict:
        """``tailscale down``."""
        with self.lock:
            self.state["want_running"] = False
            self.backend = "Stopped" if self.state.get("logged_in") else "NeedsLogin"
            self.save()
        return {"ok": True}

    def logout(self) -> dict:
        """``tailscale logout``."""
        with self.lock:
            for k in ("node", "prefs", "logged_in", "want_running"):
                self.state.pop(k, None)
            self.backend = "NeedsLogin"
            self.save()
        return {"ok": True}


class Handler(JsonHandler):
    """The local API on the unix socket."""

    def log_message(self, format: str, *args: object) -> None:
        sys.stderr.write(f"[tailscaled-standin] {self.command} {self.path.split('?')[0]}\n")

    def do_GET(self) -> None:
        """GET /status."""
        daemon: Daemon = self.server.daemon  # type: ignore[attr-defined]
        self._json(200, daemon.status()) if self.path == "/status" else self._json(404, {"error": "not found"})

    def do_POST(self) -> None:
        """POST /up, /down, /logout."""
        daemon: Daemon = self.server.daemon  # type: ignore[attr-defined]
        body = self._body()
        routes = {"/up": lambda: daemon.up(body), "/down": daemon.down, "/logout": daemon.logout}
        self._route(self.path, routes, {PermissionError: 401, ConnectionError: 502})


def sd_notify(message: str) -> None:
    """Tell systemd (Type=notify) that we are ready, when started by it."""
    addr = os.environ.get("NOTIFY_SOCKET")
    if not addr:
        return
    if addr.startswith("@"):
        addr = "\0" + addr[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.connect(addr)
        sock.sendall(message.encode())


def _flags(args: list[str]) -> tuple[dict[str, str], list[str]]:
    return parse_flags(args, {"reset", "json", "accept-dns", "accept-routes", "cleanup", "force-reauth", "4", "6", "help", "verbose"})


def daemon_main(args: list[str]) -> int:
    """``tailscaled``."""
    flags, _ = _flags(args)
    if "cleanup" in flags:
        return 0
    if "version" in flags:
        print(VERSION)
        return 0
    sock = flags.get("socket", DEFAULT_SOCKET)
    daemon = Daemon(Path(flags.get("state", DEFAULT_STATE)))
    server = listen_unix(sock, Handler, 0o666)
    server.daemon = daemon  # type: ignore[attr-defined]
    print(f"tailscaled STAND-IN {VERSION}: state {daemon.state_path}, socket {sock}, backend {daemon.backend}", file=sys.stderr, flush=True)
    sd_notify("READY=1")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        Path(sock).unlink(missing_ok=True)
    return 0


def _call(sock: str, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
    try:
        status, data = unix_request(sock, method, path, body, timeout=30, host="local-tailscaled.sock")
    except OSError:
        raise SystemExit(
            "failed to connect to local tailscaled; it doesn't appear to be running (sudo systemctl start tailscaled ?)"
        ) from None
    return status, data if isinstance(data, dict) else {}


def _read_key(value: str) -> str:
    if value.startswith("file:"):
        try:
            return Path(value[5:]).read_text().strip()
        except OSError as exc:
            raise SystemExit(f"reading auth key file: {exc.strerror}") from None
    return value


def cli_main(args: list[str]) -> int:
    """``tailscale``."""
    flags, pos = _flags(args)
    sock = flags.get("socket", DEFAULT_SOCKET)
    if not pos or "help" in flags:
        print("Usage: tailscale [up|down|logout|status [--json]|ip [-4]|version]  (llmfleet lab STAND-IN)")
        return 0
    cmd = pos[0]
    if cmd == "version":
        print(f"{VERSION}\n  tailscale commit: llmfleet-standin\n  other commit: llmfleet-standin\n  go version: none (STAND-IN)")
        return 0
    if cmd == "up":
        key = _read_key(flags.get("auth-key") or flags.get("authkey") or "")
        req = {
            "login_server": flags.get("login-server", ""),
            "hostname": flags.get("hostname", ""),
            "advertise_tags": flags.get("advertise-tags", ""),
            "accept_dns": flags.get("accept-dns", "true"),
            "accept_routes": flags.get("accept-routes", "false"),
            "authkey": key,
            "force_reauth": "force-reauth" in flags,
        }
        status, out = _call(sock, "POST", "/up", req)
        if status != 200:
            print(redact(f"backend error: {out.get('error')}", key), file=sys.stderr)
            return 1
        return 0
    if cmd in ("down", "logout"):
        _call(sock, "POST", f"/{cmd}")
        return 0
    status, st = _call(sock, "GET", "/status")
    if cmd == "status":
        if "json" in flags:
            print(json.dumps(st, indent=2))
            return 0
        if st["BackendState"] != "Running":
            print("Logged out." if st["BackendState"] == "NeedsLogin" else "Tailscale is stopped.")
            return 1
        me = st["Self"]
        print(f"{(me['TailscaleIPs'] or ['-'])[0]:<16} {me['HostName']:<20} {st['CurrentTailnet']['Name']:<12} linux   -")
        return 0
    if cmd == "ip":
        if st["BackendState"] == "NeedsLogin" or not st["TailscaleIPs"]:
            print("no current Tailscale IPs; state: " + st["BackendState"], file=sys.stderr)
            return 1
        for ip in st["TailscaleIPs"]:
            if "6" not in flags or ":" in ip:
                print(ip)
        return 0
    print(f"tailscale: unknown command {cmd!r}", file=sys.stderr)
    return 2


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    """Dispatch on the program name: ``tailscaled`` is the daemon, anything else the CLI."""
    args = sys.argv[1:] if argv is None else argv
    name = Path(prog or sys.argv[0]).name
    return daemon_main(args) if name.startswith("tailscaled") else cli_main(args)


if __name__ == "__main__":
    sys.exit(main())
