#!/usr/bin/env python3
"""STAND-IN for Headscale (``headscale``), used only in llmfleet's lab: no Headscale binary can be had there.

It is NOT Headscale: there is no Noise/DERP/WireGuard control protocol. It reproduces what
llmfleet's deploy and checks rely on:

* ``headscale serve -c CONFIG`` reads the rendered config.yaml (``listen_addr``,
  ``metrics_listen_addr``, ``unix_socket``, ``database.sqlite.path``, ``prefixes.v4``,
  ``policy.path``), loads the ACL policy (HuJSON) and REFUSES TO START on an invalid one, as
  Headscale does; SIGHUP reloads the policy (an invalid new one is refused, the old one stays);
* it listens on ``listen_addr`` (``GET /health``; ``POST /llmfleet-standin/register``: the
  tailscale stand-in's login with a pre-auth key) and on ``metrics_listen_addr`` (``/metrics``),
  and serves the CLI on ``unix_socket`` (so, as with Headscale, the CLI needs the server running);
* CLI: ``headscale users create|list``, ``headscale preauthkeys create --user U [--expiration 10m]
  [--reusable[=false]] [--ephemeral] [--tags ...] [-o json]`` (a fresh random 48-hex key, single use
  unless reusable), ``headscale preauthkeys list --user U``, ``headscale nodes list``,
  ``headscale configtest``, ``headscale version``; ``-c/--config`` and ``-o json`` everywhere.

State (users, keys, nodes) is a JSON file beside the configured sqlite path. Single file, Python 3
standard library only: the plumbing it shares with the Tailscale stand-in lives in ``_common.py`` and
is inlined into the shipped script (:func:`fleetlab.standins.script`).
"""

from __future__ import annotations

import http.server
import ipaddress
import json
import os
import re
import secrets
import signal
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fleetlab.standins._common import JsonHandler, ThreadingUnixServer, listen_unix, parse_flags, save_json, unix_request

VERSION = "0.23.0"
DEFAULT_CONFIG = "/etc/headscale/config.yaml"


class ConfigError(Exception):
    """The configuration or policy is invalid."""


# ----- a small YAML subset (what llmfleet renders: nested mappings, scalars, lists, {} and []) -----
def _scalar(text: str) -> object:
    text = text.strip()
    if text in ("{}",):
        return {}
    if text in ("[]",):
        return []
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1]
    if text in ("true", "false"):
        return text == "true"
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    if text in ("null", "~", ""):
        return None
    return text


def _strip_comment(line: str) -> str:
    out, quote = [], None
    for ch in line:
        if quote:
            quote = None if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch == "#":
            break
        out.append(ch)
    return "".join(out).rstrip()


def parse_yaml(text: str) -> dict:
    """Parse the YAML subset of llmfleet's rendered Headscale config; ConfigError on anything else."""
    lines = [(len(raw) - len(raw.lstrip(" ")), _strip_comment(raw).strip(), n) for n, raw in enumerate(text.splitlines(), 1)]
    lines = [item for item in lines if item[1]]
    pos = 0

    def block(indent: int) -> object:
        nonlocal pos
        if pos < len(lines) and lines[pos][1].startswith("- "):
            items = []
            while pos < len(lines) and lines[pos][0] == indent and lines[pos][1].startswith("- "):
                items.append(_scalar(lines[pos][1][2:]))
                pos += 1
            return items
        mapping: dict = {}
        while pos < len(lines) and lines[pos][0] == indent:
            ind, content, lineno = lines[pos]
            key, sep, value = content.partition(":")
            if not sep or key.startswith("- "):
                raise ConfigError(f"config line {lineno}: cannot parse {content!r}")
            pos += 1
            if value.strip():
                mapping[key.strip()] = _scalar(value)
            elif pos < len(lines) and (lines[pos][0] > ind or (lines[pos][0] == ind and lines[pos][1].startswith("- "))):
                mapping[key.strip()] = block(lines[pos][0])
            else:
                mapping[key.strip()] = None
        if pos < len(lines) and lines[pos][0] > indent:
            raise ConfigError(f"config line {lines[pos][2]}: unexpected indentation")
        return mapping

    result = block(0) if lines else {}
    if pos != len(lines) or not isinstance(result, dict):
        raise ConfigError("config: not a mapping")
    return result


# ----- policy (HuJSON) -----
def parse_hujson(text: str) -> object:
    """JSON with comments and trailing commas (HuJSON) -> Python; ValueError when invalid."""
    out, i, n = [], 0, len(text)
    while i < n:
        ch = text[i]
        if ch == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append(text[i : j + 1])
            i = j + 1
        elif text.startswith("//", i):
            i = text.find("\n", i) if "\n" in text[i:] else n
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            if end < 0:
                raise ValueError("unterminated /* comment")
            i = end + 2
        else:
            out.append(ch)
            i += 1
    return json.loads(re.sub(r",(\s*[}\]])", r"\1", "".join(out)))


def validate_policy(policy: object) -> list[str]:
    """Problems of an ACL policy, in the spirit of Headscale's policy loader (empty when valid)."""
    if not isinstance(policy, dict):
        return ["policy must be a JSON object"]
    problems = []
    known = {"acls", "groups", "hosts", "tagOwners", "ssh", "autoApprovers", "tests"}
    problems += [f"unknown field {k!r}" for k in policy if k not in known]
    hosts = policy.get("hosts", {})
    groups = policy.get("groups", {})
    tag_owners = policy.get("tagOwners", {})
    if not isinstance(hosts, dict) or not isinstance(groups, dict) or not isinstance(tag_owners, dict):
        return [*problems, "hosts, groups and tagOwners must be objects"]
    for name, cidr in hosts.items():
        try:
            ipaddress.ip_network(cidr, strict=False)
        except (ValueError, TypeError):
            problems.append(f"hosts: {name!r}: invalid address {cidr!r}")
    for tag in tag_owners:
        if not str(tag).startswith("tag:"):
            problems.append(f"tagOwners: {tag!r} is not a tag (tag:...)")
    for name in groups:
        if not str(name).startswith("group:"):
            problems.append(f"groups: {name!r} is not a group (group:...)")

    def alias_ok(alias: str) -> bool:
        if alias == "*" or alias in hosts or alias.endswith("@") or "@" in alias:
            return True
        if alias.startswith("tag:"):
            return alias in tag_owners
        if alias.startswith("group:"):
            return alias in groups
        if alias.startswith("autogroup:"):
            return alias in ("autogroup:internet", "autogroup:member", "autogroup:self", "autogroup:tagged")
        try:
            ipaddress.ip_network(alias, strict=False)
            return True
        except ValueError:
            return False

    acls = policy.get("acls", [])
    if not isinstance(acls, list):
        return [*problems, "acls must be a list"]
    for i, rule in enumerate(acls):
        if not isinstance(rule, dict):
            problems.append(f"acls[{i}]: not an object")
            continue
        if rule.get("action") != "accept":
            problems.append(f"acls[{i}]: action must be 'accept', got {rule.get('action')!r}")
        for src in rule.get("src", []) or [None]:
            if not isinstance(src, str) or not alias_ok(src):
                problems.append(f"acls[{i}].src: invalid or undefined alias {src!r}")
        for dst in rule.get("dst", []) or [None]:
            host, sep, ports = (dst or "").rpartition(":")
            if not sep or not host:
                problems.append(f"acls[{i}].dst: {dst!r} must be ALIAS:PORTS")
                continue
            if not alias_ok(host):
                problems.append(f"acls[{i}].dst: undefined alias {host!r}")
            for part in ports.split(","):
                if part != "*" and not re.fullmatch(r"\d{1,5}(-\d{1,5})?", part):
                    problems.append(f"acls[{i}].dst: invalid port {part!r}")
    return problems


def load_config(path: str) -> tuple[dict, dict]:
    """(config, policy) from ``path``; ConfigError naming the problem, like Headscale's start-up errors."""
    try:
        cfg = parse_yaml(Path(path).read_text())
    except OSError as exc:
        raise ConfigError(f"reading config {path}: {exc}") from None
    for key in ("server_url", "listen_addr"):
        if not cfg.get(key):
            raise ConfigError(f"config: {key} is required")
    policy: dict = {}
    pol = cfg.get("policy") or {}
    if isinstance(pol, dict) and pol.get("path"):
        policy = read_policy(str(pol["path"]))
    return cfg, policy


def read_policy(path: str) -> dict:
    """Read and validate a HuJSON ACL policy file; ConfigError if it is invalid."""
    try:
        policy = parse_hujson(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"loading ACL policy {path}: {exc}") from None
    problems = validate_policy(policy)
    if problems:
        raise ConfigError(f"loading ACL policy {path}: " + "; ".join(problems))
    return policy  # type: ignore[return-value]


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(ts: datetime) -> str:
    return ts.isoformat().replace("+00:00", "Z")


def parse_expiration(value: str) -> timedelta:
    """Go-style durations as Headscale takes them (90s, 10m, 1h, 24h)."""
    total = 0.0
    for number, unit in re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)", value):
        total += float(number) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}[unit]
    if total <= 0:
        raise ValueError(f"invalid duration {value!r}")
    return timedelta(seconds=total)


class State:
    """Users, pre-auth keys and nodes, persisted as JSON beside the configured database path."""

    def __init__(self, path: Path, prefix: str) -> None:
        self.path = path
        self.prefix = ipaddress.ip_network(prefix)
        self.lock = threading.Lock()
        try:
            self.data = json.loads(path.read_text())
        except (OSError, ValueError):
            self.data = {"users": [], "keys": [], "nodes": [], "next_id": 1}

    def save(self) -> None:
        """Persist atomically."""
        save_json(self.path, self.data)

    def _id(self) -> str:
        self.data["next_id"] += 1
        return str(self.data["next_id"] - 1)

    def user(self, name: str) -> dict | None:
        """The user called ``name``."""
        return next((u for u in self.data["users"] if u["name"] == name), None)


class Handler(JsonHandler):
    """TCP API (health, register, metrics) and unix-socket CLI API."""

    server_version = f"headscale-standin/{VERSION}"

    def log_message(self, format: str, *args: object) -> None:
        sys.stderr.write(f"[headscale-standin] {self.address_string()} {format % args}\n")

    def do_GET(self) -> None:
        """Health and metrics (TCP); list endpoints (unix socket)."""
        app: App = self.server.app  # type: ignore[attr-defined]
        path = self.path.split("?", 1)[0]
        if path == "/health":
            self._json(200, {"status": "pass"})
        elif path == "/metrics":
            data = f"# STAND-IN metrics\nheadscale_standin_nodes {len(app.state.data['nodes'])}\n".encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        elif path == "/cli/users" and self.server.local:  # type: ignore[attr-defined]
            self._json(200, app.state.data["users"])
        elif path == "/cli/nodes" and self.server.local:  # type: ignore[attr-defined]
            self._json(200, app.nodes_view())
        elif path == "/cli/keys" and self.server.local:  # type: ignore[attr-defined]
            self._json(200, app.state.data["keys"])
        else:
            self._json(404, {"error": "not found"})

    def do_POST(self) -> None:
        """Register (TCP); CLI mutations (unix socket only)."""
        app: App = self.server.app  # type: ignore[attr-defined]
        body = self._body()
        path = self.path.split("?", 1)[0]
        routes: dict[str, Callable[[], object]] = {"/llmfleet-standin/register": lambda: app.register(body)}
        if self.server.local:  # type: ignore[attr-defined]
            routes["/cli/users"] = lambda: app.create_user(body.get("name", ""))
            routes["/cli/keys"] = lambda: app.create_key(body)
        self._route(path, routes, {PermissionError: 401, ValueError: 400})


class App:
    """The stand-in server's logic (shared by the TCP and the unix-socket listeners)."""

    def __init__(self, config_path: str) -> None:
        self.config_path = config_path
        self.config, self.policy = load_config(config_path)
        db = ((self.config.get("database") or {}).get("sqlite") or {}).get("path") or "/var/lib/headscale/db.sqlite"
        prefix = (self.config.get("prefixes") or {}).get("v4") or "100.64.0.0/10"
        self.state = State(Path(db).parent / "standin-state.json", prefix)
        noise = (self.config.get("noise") or {}).get("private_key_path")
        if noise and not Path(noise).exists():
            Path(noise).parent.mkdir(parents=True, exist_ok=True)
            Path(noise).write_text(f"privkey:{secrets.token_hex(32)}\n")
            os.chmod(noise, 0o600)

    def reload_policy(self) -> None:
        """SIGHUP: reload the ACL; keep the old one if the new one is invalid."""
        try:
            _, self.policy = load_config(self.config_path)
            print("[headscale-standin] policy reloaded", file=sys.stderr, flush=True)
        except ConfigError as exc:
            print(f"[headscale-standin] ERR policy reload refused: {exc}", file=sys.stderr, flush=True)

    def create_user(self, name: str) -> dict:
        """``users create``."""
        if not re.fullmatch(r"[a-z0-9][a-z0-9._@-]*", name or ""):
            raise ValueError(f"invalid user name {name!r}")
        with self.state.lock:
            if self.state.user(name):
                raise ValueError("user already exists")
            user = {"id": self.state._id(), "name": name, "created_at": _iso(_now())}
            self.state.data["users"].append(user)
            self.state.save()
        return user

    def create_key(self, body: dict) -> dict:
        """``preauthkeys create``: a fresh random key."""
        with self.state.lock:
            user = self.state.user(body.get("user", ""))
            if user is None:
                raise ValueError(f"user not found: {body.get('user')!r}")
            expiration = _now() + parse_expiration(body.get("expiration") or "1h")
            key = {
                "id": self.state._id(),
                "user": user["name"],
                "key": secrets.token_hex(24),
                "reusable": bool(body.get("reusable")),
                "ephemeral": bool(body.get("ephemeral")),
                "used": False,
                "expiration": _iso(expiration),
                "created_at": _iso(_now()),
                "acl_tags": list(body.get("tags") or []),
            }
            self.state.data["keys"].append(key)
            self.state.save()
        return key

    def register(self, body: dict) -> dict:
        """A node logs in with a pre-auth key (the tailscale stand-in's ``up``)."""
        with self.state.lock:
            key = next((k for k in self.state.data["keys"] if secrets.compare_digest(k["key"], str(body.get("key", "")))), None)
            if key is None:
                raise PermissionError("invalid pre-auth key")
            if datetime.fromisoformat(key["expiration"].replace("Z", "+00:00")) < _now():
                raise PermissionError("pre-auth key expired")
            if key["used"] and not key["reusable"]:
                raise PermissionError("pre-auth key already used")
            owned = {t for t, owners in (self.policy.get("tagOwners") or {}).items() if key["user"] in owners}
            asked = list(body.get("tags") or []) + key["acl_tags"]
            nodes = self.state.data["nodes"]
            node = next((n for n in nodes if n["machine_key"] == body.get("machine_key")), None)
            ip = body.get("requested_ip") or (node or {}).get("ip") or self._next_ip()
            if ip and any(n["ip"] == ip and n is not node for n in nodes):
                raise ValueError(f"address {ip} is taken")
            if node is None:
                node = {"id": self.state._id(), "machine_key": body.get("machine_key") or secrets.token_hex(16), "created_at": _iso(_now())}
                nodes.append(node)
            node.update(
                name=body.get("hostname") or "node",
                user=key["user"],
                ip=ip,
                valid_tags=sorted(t for t in asked if t in owned),
                invalid_tags=sorted(t for t in asked if t not in owned),
                last_seen=_iso(_now()),
                online=True,
            )
            key["used"] = True
            self.state.save()
            return {"node": self.node_view(node)}

    def _next_ip(self) -> str:
        taken = {n["ip"] for n in self.state.data["nodes"]}
        for host in self.state.prefix.hosts():
            if str(host) not in taken:
                return str(host)
        raise ValueError("address space exhausted")

    def node_view(self, node: dict) -> dict:
        """A node as ``nodes list -o json`` shows it."""
        return {
            "id": node["id"],
            "machine_key": f"mkey:{node['machine_key']}",
            "name": node["name"],
            "given_name": node["name"],
            "user": {"name": node["user"]},
            "ip_addresses": [node["ip"]],
            "online": node.get("online", False),
            "forced_tags": [],
            "valid_tags": node["valid_tags"],
            "invalid_tags": node["invalid_tags"],
            "last_seen": node["last_seen"],
            "created_at": node["created_at"],
            "register_method": "REGISTER_METHOD_AUTH_KEY",
        }

    def nodes_view(self) -> list[dict]:
        """Every node."""
        return [self.node_view(n) for n in self.state.data["nodes"]]


class TcpServer(http.server.ThreadingHTTPServer):
    """TCP listener (health, register, metrics)."""

    daemon_threads = True
    local = False


class UnixServer(ThreadingUnixServer):
    """The CLI's unix socket."""

    local = True


def _addr(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    return host or "0.0.0.0", int(port)


def serve(config_path: str) -> int:
    """``headscale serve``: exit 1 with the reason on an invalid config or policy."""
    try:
        app = App(config_path)
    except ConfigError as exc:
        print(f'FTL Error initializing error="{exc}"', file=sys.stderr)
        return 1
    servers: list = []
    tcp = TcpServer(_addr(app.config["listen_addr"]), Handler)
    servers.append(tcp)
    if app.config.get("metrics_listen_addr"):
        servers.append(TcpServer(_addr(app.config["metrics_listen_addr"]), Handler))
    sock = app.config.get("unix_socket") or "/var/run/headscale/headscale.sock"
    servers.append(listen_unix(sock, Handler, int(str(app.config.get("unix_socket_permission") or "0770"), 8), UnixServer))
    for srv in servers:
        srv.app = app
    signal.signal(signal.SIGHUP, lambda *_: app.reload_policy())
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    for srv in servers[1:]:
        threading.Thread(target=srv.serve_forever, daemon=True).start()
    print(
        f"INF listening and serving HTTP on: {app.config['listen_addr']} (llmfleet Headscale STAND-IN {VERSION})",
        file=sys.stderr,
        flush=True,
    )
    try:
        tcp.serve_forever()
    finally:
        Path(sock).unlink(missing_ok=True)
    return 0


# ----- CLI -----
def _cli_call(config: dict, method: str, path: str, body: dict | None = None) -> object:
    sock = config.get("unix_socket") or "/var/run/headscale/headscale.sock"
    try:
        status, data = unix_request(sock, method, path, body, timeout=10)
    except OSError as exc:
        raise SystemExit(f"Error: could not connect to headscale at {sock}: {exc} (is `headscale serve` running?)") from None
    if status != 200:
        raise SystemExit(f"Error: {data.get('error') if isinstance(data, dict) else data}")
    return data


def _flags(args: list[str]) -> tuple[dict[str, str], list[str]]:
    """Go-style flags as Headscale's CLI takes them (a flag without its value is an error)."""
    short = {"c": "config", "o": "output", "u": "user", "e": "expiration", "f": "file"}
    return parse_flags(args, {"reusable", "ephemeral", "force", "help"}, short, need_value=True)


def _truthy(value: str | None) -> bool:
    return (value or "false").lower() in ("1", "true", "yes")


def main(argv: list[str] | None = None) -> int:
    """``headscale serve | configtest | version | users | preauthkeys | nodes``."""
    flags, pos = _flags(sys.argv[1:] if argv is None else argv)
    config_path = flags.get("config", DEFAULT_CONFIG)
    as_json = flags.get("output", "").startswith("json")
    if not pos or flags.get("help"):
        print("Usage: headscale [serve|configtest|version|users|preauthkeys|nodes] [-c CONFIG] [-o json]  (llmfleet lab STAND-IN)")
        return 0
    if pos[0] == "version":
        print(json.dumps({"version": VERSION, "standin": True}) if as_json else f"{VERSION} (llmfleet STAND-IN)")
        return 0
    if pos[0] == "serve":
        return serve(config_path)
    try:
        config, _ = load_config(config_path)
    except ConfigError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    if pos[0] == "configtest":
        print("configuration and policy are valid")
        return 0
    out: object
    if pos[:2] == ["users", "create"] and len(pos) > 2:
        out = _cli_call(config, "POST", "/cli/users", {"name": pos[2]})
        if not as_json:
            print("User created")
            return 0
    elif pos[:2] in (["users", "list"], ["users", "ls"]):
        out = _cli_call(config, "GET", "/cli/users")
        if not as_json:
            for u in out:  # type: ignore[union-attr]
                print(f"{u['id']} | {u['name']} | {u['created_at']}")
            return 0
    elif pos[:2] == ["preauthkeys", "create"]:
        body = {
            "user": flags.get("user", ""),
            "expiration": flags.get("expiration", "1h"),
            "reusable": _truthy(flags.get("reusable")),
            "ephemeral": _truthy(flags.get("ephemeral")),
            "tags": [t for t in flags.get("tags", "").split(",") if t],
        }
        out = _cli_call(config, "POST", "/cli/keys", body)
        if not as_json:
            print(out["key"])  # type: ignore[index]
            return 0
    elif pos[:2] in (["preauthkeys", "list"], ["preauthkeys", "ls"]):
        keys = [k for k in _cli_call(config, "GET", "/cli/keys") if k["user"] == flags.get("user", k["user"])]  # type: ignore[union-attr]
        out = [{**k, "key": k["key"] if not k["used"] else k["key"][:8] + "***"} for k in keys]
    elif pos[:2] in (["nodes", "list"], ["nodes", "ls"]):
        out = _cli_call(config, "GET", "/cli/nodes")
        if not as_json:
            for n in out:  # type: ignore[union-attr]
                print(
                    f"{n['id']} | {n['name']} | {n['user']['name']} | {','.join(n['ip_addresses'])} | {'online' if n['online'] else 'offline'}"
                )
            return 0
    else:
        print(f"Error: unknown command {' '.join(pos)!r}", file=sys.stderr)
        return 2
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
