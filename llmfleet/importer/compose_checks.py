"""Findings in a docker compose file and in systemd units of model servers.

Compose expands ``${VAR}`` itself (from the shell or a ``.env`` file), so unlike in a LiteLLM
config such references are correct here; a literal credential is not.
"""

from __future__ import annotations

import re

from llmfleet.importer.compose import ALL_INTERFACES, BACKEND_KINDS, ComposeFile, Service
from llmfleet.importer.findings import Finding, describe_literal, make, mask_url, url_password
from llmfleet.importer.policy import (
    DEFAULT_LITELLM_VERSION,
    DEFAULT_LLAMACPP_VERSION,
    DEFAULT_OLLAMA_VERSION,
    litellm_version_refusal,
    version_in,
)
from llmfleet.importer.units import UnitFile
from llmfleet.inventory.problems import FieldPath
from llmfleet.inventory.secrets import PUBLIC_EXAMPLE_KEYS, looks_like_literal_secret

SECRET_NAME = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD|PASSWD|PASS)$")
DEFAULTED_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*):?-([^}]+)\}")
SERVER_NAMES = {"ollama": "Ollama server", "llamacpp": "llama.cpp server", "vllm": "vLLM server"}
BIND_SETTING = {"ollama": "OLLAMA_HOST=100.64.x.y:11434", "llamacpp": "llama-server --host 100.64.x.y"}


def bind_fix(kind: str) -> str:
    """How to bind a model server of ``kind`` safely, in its own terms and in llmfleet's."""
    setting = BIND_SETTING.get(kind, "--host 100.64.x.y")
    return (
        f"bind it to the host's mesh IP or to 127.0.0.1 ({setting}); inventory: backends[].bind: mesh "
        "(or loopback when the gateway runs on the same host)."
    )


def bind_host(value: str) -> str:
    """The host part of an OLLAMA_HOST-style value (``0.0.0.0:11434`` → ``0.0.0.0``)."""
    text = value.strip().removeprefix("http://").removeprefix("https://").rstrip("/")
    if text.startswith("["):
        return text[1:].split("]", 1)[0]
    if text.count(":") == 1:
        return text.split(":", 1)[0]
    return text


class ComposeChecker:
    """Collects the findings of one compose file."""

    def __init__(self, compose: ComposeFile, used: set[str] | None = None):
        self.compose = compose
        self.used = used
        self.source = compose.source
        self.findings: list[Finding] = []

    def add(self, code: str, path: FieldPath, problem: str, fix: str, line: int | None = None) -> None:
        self.findings.append(make(code, self.source.file, line or self.source.line(path), path, problem, fix))

    def run(self) -> list[Finding]:
        """All findings of the compose file."""
        for dup in self.source.duplicates:
            self.add(
                "duplicate-key",
                dup.path,
                f"'{dup.path[-1]}' is given twice (first at line {dup.first_line}): docker compose refuses the file.",
                f"merge the two '{dup.path[-1]}' entries into one.",
                line=dup.line,
            )
        for service in self.compose.services.values():
            if self.used is not None and service.name not in self.used:
                continue  # not part of the proxy's setup: neither judged nor drafted
            self.image(service)
            self.environment(service)
            self.debug(service)
            if service.kind in BACKEND_KINDS:
                self.exposure(service)
            elif service.kind in ("postgres", "redis"):
                self.state_exposure(service)
        return self.findings

    def state_exposure(self, service: Service) -> None:
        what = {"postgres": "Postgres (LiteLLM's keys, spend logs and stored credentials)", "redis": "Redis (routing state and cache)"}
        for port in (p for p in service.ports if p.all_interfaces):
            self.add(
                "service-exposed",
                port.path,
                f"ports '{port.raw}' publishes {what[service.kind]} on every interface of the host: only its password "
                "stands between the network and the data.",
                "remove the ports entry (LiteLLM reaches it over the compose network) or publish it on 127.0.0.1 only "
                "('127.0.0.1:" + (port.published or port.target) + ":" + port.target + "'); inventory: a bundled database/redis "
                "is never published.",
            )

    def image(self, service: Service) -> None:
        image = service.image
        if image is None or service.image_raw is None:
            return
        path = (*service.path, "image")
        kind = service.kind
        if not image.pinned:
            tag = f"the floating tag '{image.tag}'" if image.tag else "no tag (i.e. latest)"
            risk = " Compromised LiteLLM releases (1.82.7, 1.82.8) were pulled exactly this way." if kind == "litellm" else ""
            fixes = {
                "litellm": f"pin a release: {image.repository}:main-v{DEFAULT_LITELLM_VERSION}; inventory: "
                f"gateway.litellm_version: {DEFAULT_LITELLM_VERSION} (optionally gateway.image_digest).",
                "llamacpp": f"pin a build tag such as server-cuda-{DEFAULT_LLAMACPP_VERSION}; inventory: "
                f"backends[].llamacpp.version: {DEFAULT_LLAMACPP_VERSION} (llmfleet installs the pinned build).",
                "ollama": f"pin a release such as {image.repository}:{DEFAULT_OLLAMA_VERSION}; inventory: "
                f"backends[].ollama.version: {DEFAULT_OLLAMA_VERSION}.",
            }
            self.add(
                "unpinned-image",
                path,
                f"image '{service.image_raw}' has {tag}: every pull may run a different build, so a redeploy "
                f"silently changes what runs.{risk}",
                fixes.get(kind, f"pin a release tag (e.g. {image.repository}:<x.y.z>) or a digest (@sha256:...)."),
            )
        if kind == "litellm" and image.tag:
            version = version_in(image.tag)
            refusal = litellm_version_refusal(version) if version else None
            if refusal:
                self.add(
                    "litellm-version-refused",
                    path,
                    f"{refusal}; llmfleet refuses to deploy it.",
                    f"upgrade to {DEFAULT_LITELLM_VERSION} or later (inventory: gateway.litellm_version: "
                    f"{DEFAULT_LITELLM_VERSION}); if 1.82.7/1.82.8 ever ran, rotate every key the proxy held.",
                )

    def environment(self, service: Service) -> None:
        for var in service.environment.values():
            value = var.value
            if not value:
                continue
            path = (*service.path, "environment", var.name)
            line = self.source.line(var.path)
            defaulted = DEFAULTED_VAR.search(value)
            if defaulted and defaulted[2].startswith("${"):
                defaulted = None  # ${A:-${B}}: the default is another variable, not a literal
            if defaulted and SECRET_NAME.search(defaulted[1].upper()):
                self.add(
                    "literal-secret",
                    path,
                    f"{var.name} falls back to a literal default when ${{{defaulted[1]}}} is unset: the secret is in the file.",
                    f"drop the default (${{{defaulted[1]}:?set it}} makes compose fail instead); inventory: env:{defaulted[1]}.",
                    line=line,
                )
                continue
            if "${" in value:
                continue  # compose substitutes it: correct here
            self.literal_env(var.name, value, path, line)
        key = service.flag("--api-key")
        if key and "${" not in key:
            command_path = (*service.path, "command")
            self.add(
                "literal-secret",
                command_path,
                f"--api-key is {describe_literal(key)} on the command line (visible in the file and in `ps`).",
                "pass it from the environment (llama-server reads LLAMA_API_KEY); inventory: backends[].api_key: "
                "env:LLAMA_API_KEY. Rotate it.",
                line=self.source.find_line(command_path, "--api-key"),
            )

    def literal_env(self, name: str, value: str, path: FieldPath, line: int | None) -> None:
        password = url_password(value)
        if name == "LITELLM_MASTER_KEY" and value in PUBLIC_EXAMPLE_KEYS:
            self.add(
                "public-example-key",
                path,
                f"LITELLM_MASTER_KEY is the public example key {value}: anyone who has read LiteLLM's docs has admin access to the proxy.",
                "generate a key (echo sk-$(openssl rand -hex 24)) and pass it from the environment: "
                "LITELLM_MASTER_KEY: ${LITELLM_MASTER_KEY}; inventory: gateway.master_key: env:LITELLM_MASTER_KEY.",
                line=line,
            )
        elif password is not None:
            self.add(
                "literal-secret",
                path,
                f"{name} is {describe_literal(value)}: the database password is in the compose file.",
                f"take the password from the environment: {name}: {mask_url(value).replace('****', '${POSTGRES_PASSWORD}')}; "
                f"inventory: gateway.database.bundled.password: env:POSTGRES_PASSWORD or gateway.database.url: env:{name}. "
                "Change the password: it has been in a file.",
                line=line,
            )
        elif SECRET_NAME.search(name.upper()) or looks_like_literal_secret(value):
            self.add(
                "public-example-key" if value in PUBLIC_EXAMPLE_KEYS else "literal-secret",
                path,
                f"{name} is {describe_literal(value)} in the compose file (and so in the repository and in `docker inspect`).",
                f"pass it from the environment: {name}: ${{{name}}} (a 0600 .env next to the compose file, not "
                f"committed); inventory: env:{name} — deploy writes it into a 0600 .env. Rotate it.",
                line=line,
            )

    def debug(self, service: Service) -> None:
        command_path = (*service.path, "command")
        if service.kind == "litellm":
            for flag in ("--detailed_debug", "--debug"):
                if service.has_flag(flag):
                    self.add(
                        "debug-logging",
                        command_path,
                        f"{flag} makes LiteLLM log every request in full (bodies with prompts, headers): private data "
                        "ends up in the container logs.",
                        f"remove {flag} in production; inventory: gateway.logging.json_logs: true for structured logs.",
                        line=self.source.find_line(command_path, flag),
                    )
            level = (service.env("LITELLM_LOG") or "").upper()
            if level == "DEBUG":
                var = service.environment["LITELLM_LOG"]
                self.add(
                    "debug-logging",
                    (*service.path, "environment", "LITELLM_LOG"),
                    "LITELLM_LOG=DEBUG logs every request in full (prompts included).",
                    "use LITELLM_LOG=INFO (or leave it unset) in production.",
                    line=self.source.line(var.path),
                )
        if service.kind == "llamacpp":
            for flag in ("--verbose", "-v"):
                if service.has_flag(flag):
                    self.add(
                        "debug-logging",
                        command_path,
                        f"llama-server {flag} logs prompts and generated text: private data ends up in the logs.",
                        f"remove {flag}; llmfleet renders llama-server without it.",
                        line=self.source.find_line(command_path, flag),
                    )

    def exposure(self, service: Service) -> None:
        server = SERVER_NAMES.get(service.kind, "model server")
        exposed_ports = [p for p in service.ports if p.all_interfaces]
        for port in exposed_ports:
            self.add(
                "backend-exposed",
                port.path,
                f"ports '{port.raw}' publishes the {server} on every interface of the host; it has no authentication, "
                "so anyone who can reach the host can use it" + (" (and pull or delete models)." if service.kind == "ollama" else "."),
                "remove the ports entry (the gateway reaches it over the compose network) or publish it on "
                "127.0.0.1 or the mesh IP only ('127.0.0.1:" + (port.published or port.target) + ":" + port.target + "'); "
                "inventory: backends[].bind: mesh (or loopback).",
            )
        if not (service.host_network or exposed_ports):
            return  # 0.0.0.0 inside a container is reachable only from its compose network
        reach = (
            "with network_mode: host, that is every interface of the host"
            if service.host_network
            else f"and port '{exposed_ports[0].raw}' is published on every host interface"
        )
        command_path = (*service.path, "command")
        host = service.flag("--host")
        if host is not None and bind_host(host) in ALL_INTERFACES:
            self.add(
                "backend-exposed",
                command_path,
                f"the {server} listens on --host {host} {reach}; it has no authentication.",
                bind_fix(service.kind),
                line=self.source.find_line(command_path, "--host"),
            )
        if service.kind == "ollama":
            var = service.environment.get("OLLAMA_HOST")
            if var is not None and var.value is not None and bind_host(var.value) in ALL_INTERFACES:
                self.add(
                    "backend-exposed",
                    (*service.path, "environment", "OLLAMA_HOST"),
                    f"OLLAMA_HOST={var.value}: Ollama listens on 0.0.0.0 {reach}; it has no authentication.",
                    bind_fix("ollama"),
                    line=self.source.line(var.path),
                )
            elif var is None and service.host_network:
                self.add(
                    "backend-exposed",
                    (*service.path, "network_mode"),
                    "the ollama/ollama image listens on 0.0.0.0:11434 by default, and with network_mode: host that is "
                    "every interface of the host; Ollama has no authentication.",
                    bind_fix("ollama"),
                )


def check_compose(compose: ComposeFile, used: set[str] | None = None) -> list[Finding]:
    """Every finding in a compose file (only of the ``used`` services, when given)."""
    return ComposeChecker(compose, used).run()


def check_unit(unit: UnitFile) -> list[Finding]:
    """Findings in a systemd unit of a model server (bind address)."""
    findings = []
    host = unit.environment.get("OLLAMA_HOST")
    if host is not None and bind_host(host.value) in ALL_INTERFACES:
        findings.append(
            make(
                "backend-exposed",
                unit.file,
                host.line,
                ("Service", "Environment", "OLLAMA_HOST"),
                f"OLLAMA_HOST={host.value}: Ollama listens on every interface of the host, and it has no authentication. "
                "The mesh does not protect it: the public interface and any LAN are included.",
                "OLLAMA_HOST=<the host's mesh IP>:11434 (e.g. 100.64.0.2:11434) or 127.0.0.1:11434; inventory: "
                "backends[].bind: mesh (llmfleet renders the systemd drop-in).",
            )
        )
    for words, line in unit.exec_start:
        for index, word in enumerate(words):
            value = (
                words[index + 1]
                if word == "--host" and index + 1 < len(words)
                else (word.split("=", 1)[1] if word.startswith("--host=") else None)
            )
            if value is not None and bind_host(value) in ALL_INTERFACES:
                findings.append(
                    make(
                        "backend-exposed",
                        unit.file,
                        line,
                        ("Service", "ExecStart"),
                        f"the server listens on --host {value}: every interface of the host, without authentication.",
                        bind_fix(unit.kind),
                    )
                )
    return findings
