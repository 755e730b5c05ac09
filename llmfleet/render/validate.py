"""Validation of rendered files: they parse, say what the inventory says, and hold no secret.

Every finding is a :class:`Problem` located at ``("rendered", relpath)``. Compose files are checked
by the real Docker Compose v2 binary when it is installed (a warning says when it is not).
"""

from __future__ import annotations

import configparser
import functools
import json
import os
import re
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath
from typing import Any

from llmfleet.inventory.litellm_keys import SETTINGS_SECTIONS, key_table
from llmfleet.inventory.llamacpp_flags import by_field, canonical
from llmfleet.inventory.model import WILDCARD_BINDS, Inventory
from llmfleet.inventory.problems import Problem
from llmfleet.inventory.secrets import looks_like_literal_secret
from llmfleet.inventory.yamlsource import YamlSourceError, load_plain_yaml
from llmfleet.layout import ROLE_TAGS
from llmfleet.programs import ComposeMissing, compose_command
from llmfleet.render.context import NO_KEY_PLACEHOLDER, headscale_unsupported, headscale_view, intended_acl, parse_args_file
from llmfleet.render.engine import RenderedFile

__all__ = ["HujsonError", "hujson_loads", "validate_rendered"]

HEADER = "Rendered by llmfleet from fleet {fleet} — do not edit"


def _problem(f: RenderedFile | str, message: str, severity: str = "error") -> Problem:
    rel = f if isinstance(f, str) else f.relpath
    return Problem(("rendered", rel), message, severity)  # type: ignore[arg-type]


def _load_yaml(f: RenderedFile) -> Any:
    """Parse as LiteLLM and Compose do (YAML 1.1, libyaml), refusing duplicate keys."""
    return load_plain_yaml(f.content, f.relpath)


# ----------------------------------------------------------------------------- HuJSON
class HujsonError(ValueError):
    """The text is not valid HuJSON (JSON with comments and trailing commas)."""


# A JSON string, a comment, or anything else up to the next quote or slash (strings come first, so
# "//" or "/*" inside a string is never a comment).
_HUJSON_TOKEN = re.compile(r'"(?:[^"\\\n]|\\.)*"|//[^\n]*|/\*.*?\*/|/\*|"|[^"/]+|/', re.DOTALL)
# A comma followed only by blanks before a closing bracket (comments are gone by then).
_TRAILING_COMMA = re.compile(r'"(?:[^"\\\n]|\\.)*"|,(?=\s*[}\]])')


def hujson_loads(text: str) -> Any:
    """Parse HuJSON: JSON plus ``//`` and ``/* */`` comments and trailing commas (Tailscale's policy format)."""
    kept: list[str] = []
    for token in _HUJSON_TOKEN.findall(text):
        if token == '"':
            raise HujsonError("unterminated string")
        if token == "/*":
            raise HujsonError("unterminated /* comment")
        if token.startswith("//"):
            continue
        kept.append(" " if token.startswith("/*") else token)
    cleaned = _TRAILING_COMMA.sub(lambda m: "" if m.group() == "," else m.group(), "".join(kept))
    try:
        return json.loads(cleaned)
    except json.JSONDecodeError as exc:
        raise HujsonError(str(exc)) from None


# ----------------------------------------------------------------------------- secrets
_INTERPOLATION = re.compile(r"\$\{[^}]*\}")
_SPLIT = re.compile(r"[\s\"'=,;\[\]{}()`]+")


def _scalars(value: Any, *, keys: bool = True) -> Iterator[str]:
    """Every string in ``value``: mapping keys too unless ``keys`` is false."""
    if isinstance(value, dict):
        for k, v in value.items():
            if keys:
                yield from _scalars(k)
            yield from _scalars(v, keys=keys)
    elif isinstance(value, list):
        for v in value:
            yield from _scalars(v, keys=keys)
    elif isinstance(value, str):
        yield value


def _candidates(f: RenderedFile, parsed: Any) -> Iterator[str]:
    """Every string in ``f`` a literal credential could hide in (compose interpolations removed)."""
    for line in f.content.splitlines():
        text = line.strip()
        if not text or text.startswith(("#", "//")):
            continue
        text = _INTERPOLATION.sub("", text)
        yield text
        yield from (t for t in _SPLIT.split(text) if t)
    for scalar in _scalars(parsed):
        scalar = _INTERPOLATION.sub("", scalar)
        yield scalar
        yield from (t for t in _SPLIT.split(scalar) if t)


def _mapping_keys(value: Any) -> Iterator[str]:
    """Every key of a mapping in ``value`` (a word such as ``password`` names a field there, it is no value)."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield str(k)
            yield from _mapping_keys(v)
    elif isinstance(value, list):
        for v in value:
            yield from _mapping_keys(v)


def _check_secrets(f: RenderedFile, parsed: Any, secret_kind: Callable[[str], str | None]) -> Iterator[Problem]:
    reported: set[str] = set()
    # A flow mapping ({"password": "os.environ/X"}) splits into its keys too: only a value can be an example key.
    keys_only = set(_mapping_keys(parsed)) - set(_scalars(parsed, keys=False))
    for candidate in set(_candidates(f, parsed)):
        kind = secret_kind(candidate)
        if kind == "a public example key" and candidate in keys_only:
            continue
        if kind and kind not in reported:
            reported.add(kind)
            yield _problem(f, f"contains what looks like {kind}: rendered files must only name secrets (os.environ/NAME, ${{NAME}})")
    if "BEGIN" in f.content and "PRIVATE KEY" in f.content and "a private key" not in reported:
        yield _problem(f, "contains a private key")


# ----------------------------------------------------------------------------- LiteLLM config
def _check_litellm_config(f: RenderedFile, cfg: Any, inv: Inventory) -> Iterator[Problem]:
    if not isinstance(cfg, dict) or not isinstance(cfg.get("model_list"), list):
        yield _problem(f, "has no model_list")
        return
    if "${" in f.content:
        yield _problem(f, "contains ${...}: LiteLLM does not expand shell syntax; secrets must be os.environ/NAME")
    names = {d.get("model_name") for d in cfg["model_list"] if isinstance(d, dict)}
    expected = set(inv.public_names())
    if names != expected:
        missing, extra = sorted(expected - names), sorted(str(n) for n in names - expected)
        yield _problem(f, f"model names differ from the inventory's public names (missing: {missing}, unexpected: {extra})")
    for i, d in enumerate(cfg["model_list"]):
        params = d.get("litellm_params") if isinstance(d, dict) else None
        if not isinstance(params, dict) or not isinstance(params.get("model"), str):
            yield _problem(f, f"model_list[{i}] has no litellm_params.model")
            continue
        key = params.get("api_key")
        if key is not None and key != NO_KEY_PLACEHOLDER and not (isinstance(key, str) and key.startswith("os.environ/")):
            yield _problem(f, f"model_list[{i}] ({d.get('model_name')}): api_key is not an os.environ/ reference")
        info = d.get("model_info") or {}
        if info.get("mode") == "embedding" and params["model"].startswith("ollama_chat/"):
            yield _problem(f, f"model_list[{i}] ({d.get('model_name')}): LiteLLM embeds with Ollama only through ollama/, not ollama_chat/")
        if key is None and params["model"].split("/", 1)[0] in ("openai", "hosted_vllm"):
            yield _problem(
                f, f"model_list[{i}] ({d.get('model_name')}): an OpenAI-style route without api_key sends OPENAI_API_KEY upstream"
            )
    # Every key must be one the pinned LiteLLM reads in its section (the generated key table): a typo is silently ignored there.
    table = key_table(inv.gateway.litellm_version)
    for section in SETTINGS_SECTIONS:
        body = cfg.get(section) or {}
        if not isinstance(body, dict):
            yield _problem(f, f"{section} is not a mapping")
            continue
        for key in sorted(str(k) for k in body):
            problem = table.key_problem(section, key)
            if problem:
                yield _problem(f, f"{section}: {problem}")
        for key, value in body.items():
            if key in ("master_key", "database_url", "redis_password") and not str(value).startswith("os.environ/"):
                yield _problem(f, f"{section}.{key} is not an os.environ/ reference")
    general = cfg.get("general_settings") or {}
    if general.get("master_key") != inv.gateway.master_key.litellm:
        yield _problem(f, f"general_settings.master_key must be {inv.gateway.master_key.litellm} (LiteLLM reads it only there)")
    for section in ("litellm_settings", "router_settings"):
        if "master_key" in (cfg.get(section) or {}):
            yield _problem(f, f"master_key under {section} is ignored by LiteLLM: the proxy would run without auth")
    router = cfg.get("router_settings") or {}
    auto = inv.routing.fallback_mode == "auto"
    for key in ("fallbacks", "context_window_fallbacks"):
        defined = getattr(inv.routing, key)
        wanted = bool(defined) and auto
        if (key in router) != wanted:
            why = "fallback_mode is manual: no model may be switched silently" if not auto else "the inventory defines them"
            yield _problem(f, f"router_settings.{key} is {'present' if key in router else 'missing'} but {why}")
        elif wanted and router[key] != [{k: list(v)} for k, v in sorted(defined.items())]:
            yield _problem(f, f"router_settings.{key} differs from the inventory's routing.{key}")


# ----------------------------------------------------------------------------- compose
def _compose_vars(content: str) -> set[str]:
    return set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)", content))


def _check_compose_structure(f: RenderedFile, doc: Any) -> Iterator[Problem]:
    services = doc.get("services") if isinstance(doc, dict) else None
    if not isinstance(services, dict) or "litellm" not in services:
        yield _problem(f, "has no litellm service")
        return
    for name, svc in services.items():
        if name != "litellm" and isinstance(svc, dict) and svc.get("ports"):
            yield _problem(f, f"service {name} publishes ports: only the gateway may be reachable")
        image = svc.get("image", "") if isinstance(svc, dict) else ""
        if not re.search(r":[A-Za-z0-9._-]+(@sha256:[0-9a-f]{64})?$", str(image)) or str(image).endswith((":latest", ":main-latest")):
            yield _problem(f, f"service {name} image {image!r} is not pinned")


def _run_compose(command: list[str], f: RenderedFile, siblings: list[RenderedFile]) -> Problem | None:
    with tempfile.TemporaryDirectory(prefix="llmfleet-compose-") as tmp:
        root = Path(tmp)
        names = _compose_vars(f.content)
        for s in siblings:
            (root / PurePosixPath(s.relpath).name).write_text(s.content, encoding="utf-8")
            if s.relpath.endswith(".env.example"):
                names |= {line.split("=", 1)[0] for line in s.content.splitlines() if line and not line.startswith("#") and "=" in line}
        dummies = {n: f"llmfleet-validate-{n.lower()}" for n in sorted(names)}
        (root / ".env").write_text("".join(f"{k}={v}\n" for k, v in dummies.items()), encoding="utf-8")
        compose = root / "docker-compose.yml"
        compose.write_text(f.content, encoding="utf-8")
        # HOME is a scratch directory; DOCKER_CONFIG keeps the operator's `docker compose` plugin findable.
        docker_config = os.environ.get("DOCKER_CONFIG") or str(Path.home() / ".docker")
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": tmp, "DOCKER_CONFIG": docker_config, **dummies}
        try:
            proc = subprocess.run(
                [*command, "-f", str(compose), "--project-directory", tmp, "config", "-q"],
                capture_output=True, text=True, env=env, cwd=tmp, timeout=60, check=False,
            )  # fmt: skip
        except (OSError, subprocess.TimeoutExpired) as exc:
            return _problem(f, f"docker compose could not be run: {exc}")
        if proc.returncode != 0:
            return _problem(f, f"docker compose rejects it: {(proc.stderr or proc.stdout).strip()}")
    return None


def _check_compose_files(compose_files: list[RenderedFile], files: list[RenderedFile]) -> Iterator[Problem]:
    if not compose_files:
        return
    try:
        command = compose_command()
    except ComposeMissing as exc:
        for f in compose_files:
            yield _problem(f, f"not checked with docker compose: {exc}", "warning")
        return
    for f in compose_files:
        directory = PurePosixPath(f.relpath).parent
        siblings = [s for s in files if PurePosixPath(s.relpath).parent == directory and s is not f]
        problem = _run_compose(command, f, siblings)
        if problem is not None:
            yield problem


# ----------------------------------------------------------------------------- Headscale
def _check_headscale_config(f: RenderedFile, cfg: Any, inv: Inventory) -> Iterator[Problem]:
    mesh = inv.mesh
    if mesh is None or not isinstance(cfg, dict):
        return
    why = headscale_unsupported(mesh.headscale_version)
    if why:
        yield _problem(f, why)
    derp = cfg.get("derp") or {}
    if not (derp.get("server") or {}).get("enabled") and not derp.get("urls") and not derp.get("paths"):
        yield _problem(f, "has no DERP relay (embedded server off, no DERP map): Headscale refuses to start")
    if "randomize_client_port" in cfg and headscale_view(inv).node_block:
        yield _problem(f, "sets randomize_client_port, which Headscale 0.29 refuses (it is randomizeClientPort in the policy)")


# ----------------------------------------------------------------------------- ACL
def _check_acl(f: RenderedFile, policy: Any, inv: Inventory) -> Iterator[Problem]:
    if not isinstance(policy, dict):
        yield _problem(f, "is not a JSON object")
        return
    intended = intended_acl(inv)
    for key in sorted(set(policy) | set(intended)):
        if policy.get(key) != intended.get(key):
            yield _problem(f, f"{key} differs from the policy the inventory implies: {policy.get(key)!r} != {intended.get(key)!r}")
    hosts = policy.get("hosts") or {}
    for i, rule in enumerate(policy.get("acls") or []):
        if rule.get("action") != "accept" or rule.get("src") != [ROLE_TAGS["gateway"]]:
            yield _problem(f, f"acls[{i}] lets something other than {ROLE_TAGS['gateway']} connect")
        for dst in rule.get("dst", []):
            alias, _, ports = str(dst).rpartition(":")
            if "*" in dst or alias not in hosts or not ports:
                yield _problem(f, f"acls[{i}] destination {dst!r} is not one named host with explicit ports")
    allowed = {(d.split(":")[0], int(p)) for r in policy.get("acls") or [] for d in r.get("dst", []) for p in d.rpartition(":")[2].split(",") if p.isdigit()}  # fmt: skip
    for b in inv.backends:
        host = inv.host_by_name.get(b.host)
        if b.bind != "loopback" and host is not None and host.mesh is not None and (b.host, b.port) not in allowed:
            yield _problem(f, f"the gateway cannot reach backend {b.name} ({b.host}:{b.port})")


# ----------------------------------------------------------------------------- systemd units
def _unit_parser(content: str) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(strict=False, interpolation=None, delimiters=("=",), comment_prefixes=("#", ";"))
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(content)
    return parser


def _unit_values(content: str, key: str) -> list[str]:
    return [line.split("=", 1)[1] for line in content.splitlines() if line.startswith(f"{key}=")]


def _listen_address(args: list[str]) -> str | None:
    for k, arg in enumerate(args):
        if canonical(arg) == by_field("backend.bind").flag and k + 1 < len(args):
            return args[k + 1]
    return None


def _check_unit(f: RenderedFile) -> Iterator[Problem]:
    try:
        unit = _unit_parser(f.content)
    except configparser.Error as exc:
        yield _problem(f, f"is not a valid unit file: {exc}")
        return
    if f.relpath.endswith(".conf"):  # a drop-in
        if not unit.has_section("Service"):
            yield _problem(f, "drop-in has no [Service] section")
        for value in _unit_values(f.content, "Environment"):
            name, _, val = value.strip('"').partition("=")
            if name == "OLLAMA_HOST" and val.rpartition(":")[0] in WILDCARD_BINDS:
                yield _problem(f, f"OLLAMA_HOST={val} exposes Ollama (no authentication) on every interface")
        return
    for section, key in (("Unit", "Description"), ("Service", "ExecStart"), ("Install", "WantedBy")):
        if not unit.has_option(section, key):
            yield _problem(f, f"has no {key}= in [{section}]")
    execs = _unit_values(f.content, "ExecStart")
    if len(execs) != 1:
        yield _problem(f, f"has {len(execs)} ExecStart= lines (expected 1)")
        return
    args = execs[0].replace('"', "").split()
    if not args or not args[0].startswith("/"):
        yield _problem(f, "ExecStart= does not start with an absolute path")
    listen = _listen_address(args)
    if "llama-server" in f.relpath and listen in WILDCARD_BINDS:
        yield _problem(f, f"llama-server listens on {listen!r}: bind it to the mesh IP or loopback")
    if any(a.startswith(("--api-key=",)) or a == "--api-key" for a in args):
        yield _problem(f, "passes an API key on the command line (use --api-key-file with a credential)")
    if unit.get("Service", "NoNewPrivileges", fallback="no") != "yes" or unit.get("Service", "ProtectSystem", fallback="") != "strict":
        yield _problem(f, "lacks the hardening every llmfleet unit has (NoNewPrivileges=yes, ProtectSystem=strict)")


# ----------------------------------------------------------------------------- other files
def _check_tailscale(f: RenderedFile) -> Iterator[Problem]:
    args = parse_args_file(f.content)
    if any(a.split("=", 1)[0] in ("--auth-key", "--authkey") for a in args):
        yield _problem(f, "contains an auth key argument: deploy passes the key at run time only")
    for required in ("--login-server", "--hostname"):
        if not any(a.startswith(required + "=") for a in args):
            yield _problem(f, f"has no {required}=")


def _check_env_example(f: RenderedFile) -> Iterator[Problem]:
    for line in f.content.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, sep, value = line.partition("=")
        if not sep or not re.fullmatch(r"[A-Z_][A-Z0-9_]*", name):
            yield _problem(f, f"line {line!r} is not NAME=")
        elif value:
            yield _problem(f, f"{name} has a value: .env.example only names variables")


def _check_header(f: RenderedFile, inv: Inventory) -> Iterator[Problem]:
    first = f.content.splitlines()[0] if f.content else ""
    if HEADER.format(fleet=inv.fleet) not in first:
        yield _problem(f, "does not start with the llmfleet header comment")


def _check_fleet(files: list[RenderedFile], inv: Inventory) -> Iterator[Problem]:
    rels = {f.relpath for f in files}
    for host in inv.hosts_with("gateway"):
        if f"{host.name}/litellm/config.yaml" not in rels:
            yield _problem(f"{host.name}/litellm/config.yaml", "is missing: every gateway host needs the LiteLLM config")
    for host in inv.hosts:
        ollama = [b.name for b in inv.backends_on(host.name) if b.kind == "ollama"]
        if len(ollama) > 1:
            yield _problem(
                f"{host.name}/systemd/ollama.service.d/llmfleet.conf",
                f"host {host.name} has {len(ollama)} Ollama backends ({', '.join(ollama)}) but runs one ollama.service; "
                f"only {ollama[0]} is rendered: serve every model from one Ollama backend",
            )


# ----------------------------------------------------------------------------- entry point
def validate_rendered(files: list[RenderedFile], inv: Inventory) -> list[Problem]:
    """Check every rendered file; return all problems found (errors and warnings)."""
    problems: list[Problem] = []
    compose_files: list[RenderedFile] = []
    # A fleet's files repeat the same strings host after host: judge each string once per run.
    secret_kind = functools.lru_cache(maxsize=None)(looks_like_literal_secret)
    for f in files:
        parsed: Any = None
        name = PurePosixPath(f.relpath).name
        problems.extend(_check_header(f, inv))
        if name.endswith((".yaml", ".yml")):
            try:
                parsed = _load_yaml(f)
            except YamlSourceError as exc:
                problems.append(_problem(f, f"is not valid YAML: line {exc.problem.line}: {exc.problem.message}"))
                continue
            if f.relpath.endswith("/litellm/config.yaml"):
                problems.extend(_check_litellm_config(f, parsed, inv))
            elif f.relpath.endswith("/headscale/config.yaml"):
                problems.extend(_check_headscale_config(f, parsed, inv))
            elif name == "docker-compose.yml":
                problems.extend(_check_compose_structure(f, parsed))
                compose_files.append(f)
        elif name.endswith(".hujson"):
            try:
                parsed = hujson_loads(f.content)
            except HujsonError as exc:
                problems.append(_problem(f, f"is not valid HuJSON: {exc}"))
            else:
                problems.extend(_check_acl(f, parsed, inv))
        elif name.endswith((".service", ".conf")):
            problems.extend(_check_unit(f))
        elif name == "up.args":
            problems.extend(_check_tailscale(f))
        elif name == ".env.example":
            problems.extend(_check_env_example(f))
        elif name.endswith(".py"):  # a LiteLLM callback module: LiteLLM imports it at start
            try:
                compile(f.content, f.relpath, "exec")
            except SyntaxError as exc:
                problems.append(_problem(f, f"is not valid Python: line {exc.lineno}: {exc.msg}"))
        problems.extend(_check_secrets(f, parsed, secret_kind))
    problems.extend(_check_compose_files(compose_files, files))
    problems.extend(_check_fleet(files, inv))
    return problems
