"""Reading a docker compose file (or a doc excerpt of one) into the facts the importer needs.

Accepted: a full compose file (``services:``) and a bare excerpt whose top-level keys are services
(design docs often quote only those; ``docker compose`` itself would refuse it, so the result says
so in :attr:`ComposeFile.notes`). Compose expands ``${VAR}`` itself, so such values here are fine.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llmfleet.importer.policy import ImageRef, parse_image
from llmfleet.importer.source import ImportInputError, YamlSource, load_yaml
from llmfleet.inventory.problems import FieldPath

SERVICE_KEYS = frozenset({"image", "build", "command", "entrypoint", "environment", "ports", "volumes"})
ALL_INTERFACES = frozenset({None, "", "0.0.0.0", "::", "[::]"})
BACKEND_KINDS = frozenset({"ollama", "llamacpp", "vllm"})


@dataclass(frozen=True)
class EnvVar:
    """One ``environment:`` entry; ``value`` is ``None`` when passed through from the shell."""

    name: str
    value: str | None
    path: FieldPath


@dataclass(frozen=True)
class PortMapping:
    """One ``ports:`` entry."""

    raw: str
    path: FieldPath
    host_ip: str | None
    published: str | None
    target: str

    @property
    def all_interfaces(self) -> bool:
        """True when the port is published on every interface of the host."""
        return self.host_ip in ALL_INTERFACES


@dataclass
class Service:
    """The parts of a compose service the importer reads."""

    name: str
    path: FieldPath
    image_raw: str | None = None
    command: list[str] = field(default_factory=list)
    entrypoint: list[str] = field(default_factory=list)
    environment: dict[str, EnvVar] = field(default_factory=dict)
    ports: list[PortMapping] = field(default_factory=list)
    network_mode: str | None = None
    env_files: list[str] = field(default_factory=list)

    @property
    def image(self) -> ImageRef | None:
        """The parsed image reference, if the service names one."""
        return parse_image(self.image_raw) if self.image_raw else None

    @property
    def kind(self) -> str:
        """What the service runs: litellm, ollama, llamacpp, vllm, postgres, redis or other."""
        repo = self.image.repository if self.image else ""
        words = " ".join(self.entrypoint + self.command)
        if "litellm" in repo:
            return "litellm"
        if "ollama" in repo:
            return "ollama"
        if "llama.cpp" in repo or "llama-server" in words or "llamacpp" in repo:
            return "llamacpp"
        if "vllm" in repo:
            return "vllm"
        if "postgres" in repo:
            return "postgres"
        if "redis" in repo or "valkey" in repo:
            return "redis"
        if "litellm" in words:
            return "litellm"
        if not repo and self.name in ("ollama", "llamacpp", "litellm"):
            return self.name
        return "other"

    @property
    def host_network(self) -> bool:
        """True with ``network_mode: host`` (ports are the host's own)."""
        return self.network_mode == "host"

    def flag(self, *names: str) -> str | None:
        """The value of a command-line flag (``--port 8080`` or ``--port=8080``), or ``None``."""
        args = self.entrypoint + self.command
        for index, arg in enumerate(args):
            for name in names:
                if arg == name and index + 1 < len(args):
                    return args[index + 1]
                if arg.startswith(name + "="):
                    return arg.split("=", 1)[1]
        return None

    def has_flag(self, *names: str) -> bool:
        """True when any of ``names`` is on the command line."""
        args = self.entrypoint + self.command
        return any(arg in names or arg.split("=", 1)[0] in names for arg in args)

    def env(self, name: str) -> str | None:
        """An environment value set in the compose file, or ``None``."""
        var = self.environment.get(name)
        return var.value if var else None


@dataclass
class ComposeFile:
    """A parsed compose file."""

    source: YamlSource
    services: dict[str, Service]
    notes: list[str] = field(default_factory=list)

    def of_kind(self, kind: str) -> list[Service]:
        """Services running ``kind`` (see :attr:`Service.kind`)."""
        return [s for s in self.services.values() if s.kind == kind]

    @property
    def litellm(self) -> Service | None:
        """The LiteLLM service, if any."""
        found = self.of_kind("litellm")
        return found[0] if found else None


def load_compose(path: Path) -> ComposeFile:
    """Read a compose file; raise :class:`ImportInputError` when it has no services."""
    source = load_yaml(path, what="docker compose file")
    data = source.data
    notes: list[str] = []
    if isinstance(data.get("services"), dict):
        base: FieldPath = ("services",)
        entries = data["services"]
    else:
        entries = {k: v for k, v in data.items() if isinstance(v, dict) and SERVICE_KEYS & set(v)}
        if not entries:
            raise ImportInputError(source.file, 1, "no `services:` mapping and no service definitions found")
        base = ()
        notes.append(
            f"{source.file}: an excerpt without `services:` (docker compose would refuse it); read {', '.join(entries)} as services"
        )
    services = {}
    for name, body in entries.items():
        if not isinstance(body, dict):
            raise ImportInputError(source.file, source.line((*base, name)), f"service {name!r} is not a mapping")
        services[str(name)] = _service(source, str(name), (*base, str(name)), body)
    return ComposeFile(source=source, services=services, notes=notes)


def _service(source: YamlSource, name: str, path: FieldPath, body: dict[str, Any]) -> Service:
    service = Service(name=name, path=path)
    image = body.get("image")
    service.image_raw = str(image) if image is not None else None
    service.command = _words(body.get("command"))
    service.entrypoint = _words(body.get("entrypoint"))
    mode = body.get("network_mode")
    service.network_mode = str(mode) if mode is not None else None
    env_file = body.get("env_file")
    if env_file:
        service.env_files = [str(e.get("path", e)) if isinstance(e, dict) else str(e) for e in _as_list(env_file)]
    service.environment = _environment(body.get("environment"), (*path, "environment"))
    for index, port in enumerate(_as_list(body.get("ports"))):
        mapping = _port(port, (*path, "ports", index))
        if mapping is not None:
            service.ports.append(mapping)
    return service


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _words(value: Any) -> list[str]:
    """A command as compose runs it: a list as is, a string split like a shell would."""
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v) for v in value]
    try:
        return shlex.split(str(value))
    except ValueError:
        return str(value).split()


def _environment(value: Any, path: FieldPath) -> dict[str, EnvVar]:
    env: dict[str, EnvVar] = {}
    if isinstance(value, dict):
        for key, raw in value.items():
            text = None if raw is None else (str(raw).lower() if isinstance(raw, bool) else str(raw))
            env[str(key)] = EnvVar(str(key), text, (*path, str(key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            name, sep, raw = str(item).partition("=")
            env[name.strip()] = EnvVar(name.strip(), raw if sep else None, (*path, index))
    return env


def _port(value: Any, path: FieldPath) -> PortMapping | None:
    if isinstance(value, dict):
        target = value.get("target")
        if target is None:
            return None
        published = value.get("published")
        return PortMapping(
            raw=str(value),
            path=path,
            host_ip=value.get("host_ip"),
            published=None if published is None else str(published),
            target=str(target),
        )
    raw = str(value)
    spec = raw.split("/", 1)[0]
    host_ip = None
    if spec.startswith("["):
        host_ip, _, spec = spec[1:].partition("]")
        spec = spec.lstrip(":")
        parts = spec.split(":")
    else:
        parts = spec.split(":")
        if len(parts) == 3:
            host_ip = parts.pop(0)
    if len(parts) == 1:
        return PortMapping(raw, path, host_ip, None, parts[0])
    return PortMapping(raw, path, host_ip, parts[0], parts[-1])
