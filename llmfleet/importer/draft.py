"""Mapping a LiteLLM config (+ compose file, + units) onto a draft llmfleet inventory.

What a LiteLLM config cannot say (SSH addresses, GPUs, checksums, pinned versions) becomes a
placeholder that still passes the inventory schema, marked with a ``TODO`` comment and listed in
:attr:`Draft.todos`:

* addresses are ``TODO-<host>-address`` (a valid but unresolvable host name);
* URLs use the reserved ``.invalid`` domain (``https://todo.invalid/<file>``);
* a GGUF checksum is 64 zeros: it validates, and a deploy that reaches it fails the SHA-256 check;
* versions the source does not pin get llmfleet's default pins (``policy.DEFAULT_*``).

:func:`find_placeholders` lists every such value still left in an inventory.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from pydantic import BaseModel, ValidationError

from llmfleet.importer.checks import all_fallbacks, section
from llmfleet.importer.compose import ComposeFile, Service
from llmfleet.importer.coverage import Coverage
from llmfleet.importer.deployments import COST_MAP_MODES, Deployment, Endpoint, provider_env, secret_value, shell_vars
from llmfleet.importer.emit import Note
from llmfleet.importer.findings import make
from llmfleet.importer.policy import (
    DEFAULT_HEADSCALE_VERSION,
    DEFAULT_LITELLM_VERSION,
    DEFAULT_LLAMACPP_VERSION,
    DEFAULT_OLLAMA_VERSION,
    litellm_version_refusal,
    llamacpp_build_in,
    version_in,
    version_text,
)
from llmfleet.importer.source import YamlSource
from llmfleet.importer.units import UnitFile
from llmfleet.inventory.litellm_keys import key_table
from llmfleet.inventory.llamacpp_flags import BY_NAME, SWITCHES, LlamaFlag
from llmfleet.inventory.model import (
    KEYLESS_PROVIDERS,
    BundledPostgres,
    Gateway,
    LlamaCppTuning,
    Model,
    OllamaTuning,
    Redis,
    ResponseCache,
    Routing,
    UiLogin,
)

GATEWAY_HOST = "gw1"
ZERO_SHA256 = "0" * 64
ADDRESS_RE = re.compile(r"^[A-Za-z0-9.:-]+$")
HOSTNAME_RE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
PUBLIC_NAME_RE = re.compile(r"^[A-Za-z0-9*][A-Za-z0-9._:/*-]{0,127}$")
#: litellm_params keys mapped onto typed Model fields: source key -> inventory field.
TYPED_PARAMS = {
    "api_version": "api_version",
    "vertex_project": "vertex_project",
    "vertex_location": "vertex_location",
    "timeout": "timeout_s",
    "stream_timeout": "stream_timeout_s",
    "num_retries": "num_retries",
    "extra_headers": "extra_headers",
    "extra_body": "extra_body",
    "reasoning_effort": "reasoning_effort",
    "thinking": "thinking",
    "litellm_credential_name": "credential_name",
    "input_cost_per_token": "input_cost_per_token",
    "output_cost_per_token": "output_cost_per_token",
}
#: model_info keys mapped onto typed Model fields.
TYPED_INFO = {
    "base_model": "base_model",
    "description": "description",
    "access_groups": "access_groups",
    "input_cost_per_token": "input_cost_per_token",
    "output_cost_per_token": "output_cost_per_token",
}
#: Values LiteLLM resolves from its environment (``os.environ/NAME``), as inventory references.
ENV_VALUE_RE = re.compile(r"^os\.environ/([A-Za-z_][A-Za-z0-9_]*)$")


def field_ok(model: type[BaseModel], base: dict[str, Any], name: str, value: Any) -> bool:
    """True when ``value`` is acceptable for ``model.name`` (checked against the real schema)."""
    try:
        model.model_validate({**base, name: value})
    except ValidationError as exc:
        return not any(err["loc"][:1] == (name,) for err in exc.errors())
    return True


def public_name(raw: str) -> str:
    """A LiteLLM model_name turned into a valid inventory public name (wildcards kept)."""
    if PUBLIC_NAME_RE.match(raw):
        return raw
    name = re.sub(r"[^A-Za-z0-9._:/*-]+", "-", raw).strip("-._:/")[:128]
    return name if name and PUBLIC_NAME_RE.match(name) else "model"


def env_ref(value: Any) -> Any:
    """``os.environ/NAME`` → ``env:NAME`` (upper-cased as the inventory wants); anything else unchanged."""
    if isinstance(value, str):
        match = ENV_VALUE_RE.match(value.strip())
        if match:
            return f"env:{match[1].upper()}"
    return value


@dataclass
class HostDraft:
    """A host of the draft, before rendering."""

    name: str
    address: Any
    roles: list[str]
    mesh_ip: str | None = None
    notes: list[str] = field(default_factory=list)


@dataclass
class BackendDraft:
    """A backend of the draft, before rendering."""

    name: str
    kind: str
    host: str
    port: int
    bind: Any
    api_path: str | None = None
    api_key: Any = None
    tuning: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)


@dataclass
class Draft:
    """The draft inventory (with comments, see :mod:`~llmfleet.importer.emit`) and what is left to do."""

    data: dict[str, Any]
    header: list[str]
    todos: list[str]


class DraftBuilder:
    """Builds one :class:`Draft`."""

    def __init__(
        self,
        fleet: str,
        config: YamlSource,
        deployments: list[Deployment],
        compose: ComposeFile | None,
        units: list[UnitFile],
        included: Sequence[str] = (),
    ):
        self.fleet = fleet
        self.included = list(included)
        self.config = config
        self.deployments = deployments
        self.compose = compose
        self.units = units
        self.todos: list[str] = []
        self.hosts: dict[str, HostDraft] = {GATEWAY_HOST: HostDraft(GATEWAY_HOST, None, ["gateway"])}
        self.host_keys: dict[str, str] = {}
        self.backends: dict[tuple[str, int], BackendDraft] = {}
        self.names: dict[str, str] = {}  # source model_name -> public name
        self.taken: set[str] = set()
        self.coverage = Coverage(config, key_table(DEFAULT_LITELLM_VERSION))
        self.skipped_fallbacks: list[str] = []
        self.budget_mapped = False

    # ----- helpers -----
    def todo(self, where: str, text: str) -> str:
        """Record a TODO and return its comment text."""
        self.todos.append(f"{where}: {text}")
        return f"TODO: {text}"

    def unique(self, name: str) -> str:
        candidate, number = name, 2
        while candidate in self.taken:
            candidate = f"{name}-{number}"
            number += 1
        self.taken.add(candidate)
        return candidate

    # ----- the whole draft -----
    def build(self) -> Draft:
        models = self.models()
        data: dict[str, Any] = {"fleet": self.fleet}
        gateway = self.gateway()
        routing = self.routing(models["groups"])
        self.context_window_todos(models["models"], models["groups"])
        mesh = self.mesh()
        data["hosts"] = self.host_entries()
        if self.backends:
            data["backends"] = [self.backend_entry(b) for b in self.backends.values()]
        data["models"] = models["models"]
        if routing:
            data["routing"] = routing
        data["gateway"] = gateway
        if mesh is not None:
            data["mesh"] = mesh
        sources = [self.config.file, *(f"{f} (included)" for f in self.included)]
        sources += ([self.compose.source.file] if self.compose else []) + [u.file for u in self.units]
        header = [
            "Draft llmfleet inventory, written by `llmfleet import litellm` from:",
            *(f"  {source}" for source in sources),
            "Review every TODO comment: placeholders pass the schema but are not real values",
            "(TODO-* addresses, *.invalid URLs, all-zero checksums, default version pins).",
        ]
        return Draft(data=data, header=header, todos=self.todos)

    # ----- hosts and backends -----
    def host_for(self, endpoint: Endpoint) -> str:
        if endpoint.where in ("compose", "gateway-host"):
            return GATEWAY_HOST
        key = endpoint.host
        if key in self.host_keys:
            return self.host_keys[key]
        number = sum(1 for h in self.hosts if h != GATEWAY_HOST) + 1
        label = endpoint.host.split(".")[0]
        name = label if endpoint.ip is None and HOSTNAME_RE.match(label) and label not in self.hosts else f"gpu{number}"
        if endpoint.where == "mesh":
            host = HostDraft(name, None, ["gpu"], mesh_ip=endpoint.host)
        elif not ADDRESS_RE.match(endpoint.host):
            host = HostDraft(name, None, ["gpu"], notes=[f"its api_base was {endpoint.url}, which names no usable host"])
        else:
            host = HostDraft(name, Note(endpoint.host, f"from api_base {endpoint.url}: check it is the SSH address"), ["gpu"])
            if endpoint.where == "public":
                host.notes.append("its api_base is plain http to a public address: move it onto the mesh")
        self.hosts[name] = host
        self.host_keys[key] = name
        return name

    def backend_for(self, d: Deployment) -> BackendDraft:
        endpoint = d.endpoint
        assert endpoint is not None
        host = self.host_for(endpoint)
        service = endpoint.service
        if service is not None and service.kind in ("ollama", "llamacpp"):
            kind = service.kind
        elif d.prefix in ("ollama", "ollama_chat") or (service is None and endpoint.port == 11434):
            kind = "ollama"
        else:
            kind = "openai_compatible"
        default_port = {"ollama": 11434, "llamacpp": 8080}.get(kind, 443 if endpoint.scheme == "https" else 80)
        port = endpoint.port or default_port
        if (host, port) in self.backends:
            return self.backends[(host, port)]
        short = {"openai_compatible": "openai"}.get(kind, kind)
        name = f"{short}-{host}"
        if any(b.name == name for b in self.backends.values()):
            name = f"{name}-{port}"
        if host == GATEWAY_HOST:
            bind: Any = Note("loopback", "the gateway runs on the same host")
        else:
            bind = "mesh"
        backend = BackendDraft(name=name, kind=kind, host=host, port=port, bind=bind)
        if kind != "ollama" and endpoint.path and endpoint.path != "/v1":
            backend.api_path = endpoint.path
        elif kind != "ollama" and not endpoint.path:
            backend.notes.append(f"api_base {endpoint.url} has no path; llmfleet uses /v1")
        if kind == "ollama":
            backend.tuning = self.ollama_tuning(backend, service)
        elif kind == "llamacpp" and service is not None:
            backend.tuning = self.llamacpp_tuning(backend, service)
        if "gpu" not in self.hosts[host].roles:
            self.hosts[host].roles.append("gpu")  # backends run on gpu hosts
        self.backends[(host, port)] = backend
        return backend

    def ollama_tuning(self, backend: BackendDraft, service: Service | None) -> dict[str, Any]:
        where = f"backends.{backend.name}.ollama"
        version = None
        if service is not None and service.image and service.image.tag:
            found = version_in(service.image.tag)
            version = version_text(found) if found else None
        tuning: dict[str, Any] = {
            "version": version
            or Note(DEFAULT_OLLAMA_VERSION, self.todo(f"{where}.version", "pin the Ollama release you run (llmfleet's default pin shown)")),
        }
        env: dict[str, str] = {}
        for unit in self.units:
            if unit.kind == "ollama":
                env.update({k: v.value for k, v in unit.environment.items()})
        if service is not None:
            env.update({k: v.value for k, v in service.environment.items() if v.value is not None})
        mapping = {
            "OLLAMA_KEEP_ALIVE": ("keep_alive", str),
            "OLLAMA_NUM_PARALLEL": ("num_parallel", int),
            "OLLAMA_MAX_LOADED_MODELS": ("max_loaded_models", int),
            "OLLAMA_CONTEXT_LENGTH": ("context_length", int),
            "OLLAMA_KV_CACHE_TYPE": ("kv_cache_type", str),
            "OLLAMA_FLASH_ATTENTION": ("flash_attention", _truthy),
            "OLLAMA_MODELS": ("models_dir", str),
        }
        for var, (name, convert) in mapping.items():
            if var in env:
                try:
                    value = convert(env[var])
                except ValueError:
                    continue
                if field_ok(OllamaTuning, {"version": "0.0.0"}, name, value):
                    tuning[name] = Note(value, f"from {var}")
        tuning["binary"] = Note(
            {"url": f"https://todo.invalid/ollama-linux-amd64-{DEFAULT_OLLAMA_VERSION}.tgz", "sha256": ZERO_SHA256},
            self.todo(f"{where}.binary", "URL and SHA-256 of the Ollama release archive (deploy refuses to install without them)"),
        )
        return tuning

    def llamacpp_tuning(self, backend: BackendDraft, service: Service) -> dict[str, Any]:
        where = f"backends.{backend.name}.llamacpp"
        build = llamacpp_build_in(service.image.tag) if service.image and service.image.tag else None
        tuning: dict[str, Any] = {
            "version": build
            or Note(
                DEFAULT_LLAMACPP_VERSION,
                self.todo(f"{where}.version", f"the image tag '{service.image_raw}' names no build; pin the llama.cpp release you run"),
            ),
        }
        model_path = service.flag(*BY_NAME["--model"].names)
        filename = PurePosixPath(model_path).name if model_path else "model.gguf"
        tuning["model"] = Note(
            {"url": f"https://todo.invalid/{filename}", "sha256": ZERO_SHA256},
            self.todo(f"{where}.model", f"download URL and SHA-256 of {filename} (was {model_path or 'not given'})"),
        )
        ctx = _int(service.flag(*BY_NAME["--ctx-size"].names))
        tuning["ctx_size"] = (
            ctx
            if ctx and ctx >= 256
            else Note(4096, self.todo(f"{where}.ctx_size", "no --ctx-size in the source; set the context you serve"))
        )
        for name in ("parallel", "n_gpu_layers"):
            value = _int(service.flag(*BY_NAME[f"--{name.replace('_', '-')}"].names))
            if value is not None and field_ok(LlamaCppTuning, _LLAMACPP_BASE, name, value):
                tuning[name] = value
        tuning["jinja"] = True if service.has_flag("--jinja") else Note(False, "no --jinja in the source: tool calling needs it")
        if service.has_flag(*BY_NAME["--embedding"].names):
            tuning["embedding"] = True
        fa = service.flag(*BY_NAME["--flash-attn"].names)
        if service.has_flag(*BY_NAME["--flash-attn"].names) and (
            fa is None or fa.startswith("-") or fa.lower() not in ("off", "false", "0")
        ):
            tuning["flash_attn"] = True
        for name in ("cache_type_k", "cache_type_v"):
            value = service.flag(*BY_NAME[f"--{name.replace('_', '-')}"].names)
            if value in ("f16", "q8_0", "q4_0"):
                tuning[name] = value
        threads = _int(service.flag(*BY_NAME["--threads"].names))
        if threads is not None and field_ok(LlamaCppTuning, _LLAMACPP_BASE, "threads", threads):
            tuning["threads"] = threads
        extra, refused = _extra_args(service.entrypoint + service.command)
        if extra:
            tuning["extra_args"] = extra
        for flag in refused:
            backend.notes.append(f"{flag.flag} dropped: it {flag.why}")
        tuning["binary"] = Note(
            {"url": "https://todo.invalid/llama-server.zip", "sha256": ZERO_SHA256},
            self.todo(f"{where}.binary", "URL and SHA-256 of the llama-server build (the source used a container image)"),
        )
        return tuning

    def host_entries(self) -> list[Any]:
        entries = []
        for host in self.hosts.values():
            entry: dict[str, Any] = {"name": host.name}
            before = list(host.notes)
            if host.address is None:
                what = "the gateway's" if host.name == GATEWAY_HOST else "this host's"
                extra = f" (the gateway reaches it at the mesh IP {host.mesh_ip})" if host.mesh_ip else ""
                entry["address"] = Note(f"TODO-{host.name}-address", self.todo(f"hosts.{host.name}.address", f"{what} SSH address{extra}"))
            else:
                entry["address"] = host.address
            entry["roles"] = list(host.roles)
            if "gpu" in host.roles:
                before.append(
                    self.todo(f"hosts.{host.name}.gpu", "add gpu: {count, vram_gib, driver_branch} (a LiteLLM config does not say)")
                )
            if host.mesh_ip:
                entry["mesh"] = {"ip": Note(host.mesh_ip, "from the api_base the gateway used")}
            elif self.has_mesh():
                before.append(self.todo(f"hosts.{host.name}.mesh", "add mesh: {ip: 100.64.x.y} (this host's mesh IP is unknown)"))
            elif host.name != GATEWAY_HOST:
                before.append(
                    self.todo(f"hosts.{host.name}.mesh", "put it on the mesh (mesh: {ip: 100.64.x.y}): its backends bind to the mesh")
                )
            entries.append(Note(entry, before=tuple(before)) if before else entry)
        return entries

    def backend_entry(self, b: BackendDraft) -> Any:
        entry: dict[str, Any] = {"name": b.name, "kind": b.kind, "host": b.host, "port": b.port, "bind": b.bind}
        if b.api_path:
            entry["api_path"] = b.api_path
        if b.api_key is not None:
            entry["api_key"] = b.api_key
        if b.tuning is not None:
            entry["ollama" if b.kind == "ollama" else "llamacpp"] = b.tuning
        return Note(entry, before=tuple(b.notes)) if b.notes else entry

    def has_mesh(self) -> bool:
        return any(h.mesh_ip for h in self.hosts.values())

    def mesh(self) -> dict[str, Any] | None:
        if not self.has_mesh():
            return None
        if "headscale" not in self.hosts[GATEWAY_HOST].roles:
            self.hosts[GATEWAY_HOST].roles.append("headscale")
        return {
            "headscale_host": Note(GATEWAY_HOST, self.todo("mesh.headscale_host", "assumed the gateway host runs Headscale")),
            "headscale_version": Note(DEFAULT_HEADSCALE_VERSION, self.todo("mesh.headscale_version", "pin the Headscale release you run")),
            "server_url": Note("https://todo-headscale.invalid", self.todo("mesh.server_url", "public URL of the Headscale server")),
            "base_domain": Note("todo-mesh.invalid", self.todo("mesh.base_domain", "MagicDNS base domain")),
        }

    # ----- models and groups -----
    def models(self) -> dict[str, Any]:
        by_name: dict[str, list[Deployment]] = {}
        for d in self.deployments:
            by_name.setdefault(d.model_name, []).append(d)
        for name in by_name:
            self.names[name] = self.unique(public_name(name))
        models: list[Any] = []
        groups: list[Any] = []
        for name, deployments in by_name.items():
            if len(deployments) == 1:
                models.append(self.model(self.names[name], deployments[0]))
                continue
            members = []
            for d in deployments:
                member = self.unique(public_name(d.upstream.rsplit("/", 1)[-1]))
                models.append(self.model(member, d, group=self.names[name]))
                entry: dict[str, Any] = {"model": member}
                for key in ("tpm", "rpm", "weight"):
                    value = getattr(d, key)
                    if value is not None and value >= 1:
                        entry[key] = value
                members.append(entry)
            groups.append({"name": self.names[name], "members": members})
        if not models:
            models.append(
                Note(
                    {"name": "TODO-model", "provider": "openai", "upstream": "TODO-model-id", "api_key": "env:OPENAI_API_KEY"},
                    self.todo("models", "the config has no model_list"),
                )
            )
        return {"models": models, "groups": groups}

    def model(self, name: str, d: Deployment, group: str | None = None) -> Any:
        where = f"models.{name}"
        entry: dict[str, Any] = {"name": name}
        before = [f"model_list[{d.index}] ({d.model_name}: {d.model})" + (f", a member of group {group}" if group else "")]
        params_used = {"model", "api_key", "tpm", "rpm", "weight", "mode"} | {k for k, v in d.params.items() if v is None}
        if d.local and d.endpoint is not None and not self.deploys(d):
            self.external_model(d, entry, before)
            params_used |= {"api_base", "base_url"}
        elif d.local and d.endpoint is not None:
            backend = self.backend_for(d)
            entry["backend"] = backend.name
            entry["upstream"] = self.local_upstream(d, backend, where)
            params_used |= {"api_base", "base_url"}
            if d.prefix == "ollama" and d.mode != "embedding":
                before.append("was ollama/ (drops tools); llmfleet renders openai/ on Ollama's /v1 for Ollama backends (tools survive it)")
            elif d.prefix not in (None, "ollama_chat", "openai", "ollama"):
                entry["litellm_prefix"] = d.prefix
            self.local_key(d, backend)
        else:
            provider = d.provider
            model_from_env = ENV_VALUE_RE.match(d.model) is not None
            if model_from_env:
                entry["provider"] = Note("openai", self.todo(f"{where}.provider", f"the model id comes from {d.model}: set its provider"))
                entry["upstream"] = Note("TODO-model-id", self.todo(f"{where}.upstream", f"the model id is read from {d.model}"))
            else:
                entry["provider"] = (
                    provider if provider else Note("TODO-provider", self.todo(f"{where}.provider", f"which provider serves {d.model}?"))
                )
                entry["upstream"] = self.upstream(d, where)
            api_base = d.params.get("api_base") or d.params.get("base_url")
            if isinstance(api_base, str):
                value = env_ref(api_base)
                if field_ok(Model, _MODEL_BASE, "api_base", value):
                    entry["api_base"] = value
                    params_used |= {"api_base", "base_url"}
            key = self.cloud_key(d, provider, where, has_base="api_base" in entry)
            if key is not None:
                entry["api_key"] = key
        mode = d.mode
        explicit = d.model_info.get("mode", d.params.get("mode"))
        if isinstance(explicit, str) and explicit != mode:
            where_ = ("model_list", d.index, "model_info" if "mode" in d.model_info else "litellm_params", "mode")
            self.coverage.drop(
                where_,
                f"mode '{explicit}' is not a LiteLLM mode: its health check of this model fails ('Mode {explicit} not supported'); "
                f"the draft uses LiteLLM's name for it, {mode}.",
                f"write mode: {mode}.",
                code="unknown-key",
            )
        if mode not in key_table(DEFAULT_LITELLM_VERSION).modes:
            self.coverage.drop(
                ("model_list", d.index),
                f"mode '{mode}' is not a LiteLLM mode; the draft leaves the model as chat.",
                "set models[].mode by hand.",
                code="unknown-key",
            )
            mode = "chat"
        if mode != "chat":
            known = mode in (COST_MAP_MODES.get(d.model), COST_MAP_MODES.get(d.upstream))
            entry["mode"] = mode if explicit else Note(mode, "LiteLLM's cost map says so" if known else "inferred from the name")
            if not explicit and not known:
                self.coverage.drop(
                    ("model_list", d.index, "model_info", "mode"),
                    f"'{d.model_name}' sets no mode and LiteLLM does not know {d.model}: it treats it as a chat model (its health "
                    f"check sends a chat request, which a {mode} model fails); the name says {mode}, so the draft sets mode: {mode}.",
                    f"check it; in LiteLLM: model_info: {{mode: {mode}}}.",
                    code="inferred-mode",
                )
        window = d.model_info.get("max_input_tokens")
        info_used = {"mode", "max_input_tokens", "supports_function_calling"}
        if isinstance(window, int) and window >= 256:
            entry["context_window"] = window
        if mode != "chat":
            entry["tools"] = "none"
        elif d.model_info.get("supports_function_calling") is True:
            entry["tools"] = Note("required", "model_info.supports_function_calling")
        if group is None:
            for key in ("tpm", "rpm"):
                value = getattr(d, key)
                if value is not None and value >= 1:
                    entry[key] = value
        base = {**_MODEL_BASE, **({"backend": "x", "provider": None} if "backend" in entry else {})}
        for source, fields, used in ((d.params, TYPED_PARAMS, params_used), (d.model_info, TYPED_INFO, info_used)):
            for key, name_ in fields.items():
                if key not in source or name_ in entry:
                    continue
                value = env_ref(source[key])
                if name_ in ("timeout_s", "stream_timeout_s") and isinstance(value, str) and _int(value) is not None:
                    value = _int(value)
                if field_ok(Model, base, name_, value):
                    entry[name_] = value
                    used.add(key)
        entry_path = ("model_list", d.index)
        passthrough = self.coverage.entry_rest(entry_path, "litellm_params", d.params, params_used)
        if passthrough:
            entry["litellm_params"] = passthrough
        info_used |= {k for k, v in d.model_info.items() if v is None}
        info = self.coverage.entry_rest(entry_path, "model_info", d.model_info, info_used | {"id"})
        if "id" in d.model_info:
            self.coverage.drop(
                (*entry_path, "model_info", "id"),
                f"model_info.id '{d.model_info['id']}' is not carried over: LiteLLM derives deployment ids, and llmfleet renders a "
                "model once more in each group it belongs to (ids must be unique).",
                "nothing to do unless something outside LiteLLM looks deployments up by this id.",
            )
        if info:
            entry["model_info"] = info
        if d.model_name != name and group is None:
            self.coverage.drop(
                (*entry_path, "model_name"),
                f"model_name '{d.model_name}' is not a valid public name in the inventory; the draft calls it '{name}'.",
                f"clients that ask for '{d.model_name}' must ask for '{name}'.",
                code="renamed-model",
            )
        return Note(entry, before=tuple(before))

    def deploys(self, d: Deployment) -> bool:
        """True when llmfleet can run the server behind ``d`` (a compose service, the gateway host, a mesh host, a unit)."""
        assert d.endpoint is not None
        return d.endpoint.where in ("compose", "gateway-host", "mesh") or bool(self.units)

    def external_model(self, d: Deployment, entry: dict[str, Any], before: list[str]) -> None:
        """A server llmfleet does not deploy (another host on the LAN, a name only its network resolves): a provider model."""
        assert d.endpoint is not None
        ollama = "ollama" if d.mode == "embedding" else "ollama_chat"
        provider = ollama if d.prefix in ("ollama", "ollama_chat") else d.prefix or "openai"
        entry["provider"] = provider
        entry["upstream"] = self.upstream(d, f"models.{entry['name']}")
        if "${" in d.endpoint.url or not ADDRESS_RE.match(d.endpoint.host):
            entry["api_base"] = Note(
                "https://todo.invalid/v1",
                self.todo(
                    f"models.{entry['name']}.api_base", f"the config's api_base {d.endpoint.url} names no usable host; put the real URL"
                ),
            )
        elif d.endpoint.where == "public":
            entry["api_base"] = Note(d.endpoint.url, "plain http to a public address: move this server onto the mesh")
        else:
            entry["api_base"] = Note(d.endpoint.url, "a server llmfleet does not deploy: the gateway keeps calling it here")
        value = secret_value(d.params.get("api_key"), "LLAMA_API_KEY")
        if value.kind in ("env", "env-syntax"):
            entry["api_key"] = value.ref
        elif value.kind == "literal" and not (len(str(d.params["api_key"])) < 16):
            entry["api_key"] = Note("env:LLAMA_API_KEY", "was a literal key in the config: export it as LLAMA_API_KEY")
        if d.prefix == "ollama" and d.mode != "embedding":
            before.append("was ollama/ (drops tools); the draft uses ollama_chat/")

    def upstream(self, d: Deployment, where: str) -> Any:
        """The model id as the config names it; a TODO where it is shell syntax (LiteLLM does not expand it, a human must)."""
        names = shell_vars(d.upstream)
        if not names:
            return d.upstream
        return Note(
            "TODO-model-id",
            self.todo(
                f"{where}.upstream", f"the config's model id {d.upstream} is ${{{names[0]}}}, which LiteLLM never expands: put the id"
            ),
        )

    def local_upstream(self, d: Deployment, backend: BackendDraft, where: str) -> Any:
        if d.prefix is not None:
            return self.upstream(d, where)
        if backend.kind == "llamacpp" and d.endpoint and d.endpoint.service:
            path = d.endpoint.service.flag(*BY_NAME["--model"].names)
            if path:
                stem = PurePosixPath(path).name.removesuffix(".gguf")
                return Note(
                    stem, self.todo(f"{where}.upstream", f"was '{d.model}' (an OpenAI name); the GGUF's name is a guess: check /v1/models")
                )
        return Note(
            d.model_name, self.todo(f"{where}.upstream", f"was '{d.model}' (an OpenAI name); put the id the server reports at /v1/models")
        )

    def local_key(self, d: Deployment, backend: BackendDraft) -> None:
        if "api_key" not in d.params or backend.api_key is not None:
            return
        value = secret_value(d.params["api_key"], "LLAMA_API_KEY")
        if value.kind in ("env", "env-syntax"):
            backend.api_key = value.ref
        elif value.kind == "literal":
            backend.api_key = Note("env:LLAMA_API_KEY", "was a literal key in the config: export it as LLAMA_API_KEY")

    def cloud_key(self, d: Deployment, provider: str | None, where: str, has_base: bool = False) -> Any:
        default = provider_env(provider or "provider")
        value = secret_value(d.params.get("api_key"), default)
        if value.kind == "env":
            return value.ref
        if value.kind == "env-syntax":
            return Note(value.ref, "was ${...} in the config (which LiteLLM does not expand)")
        if value.kind == "literal":
            return Note(value.ref, f"was a literal key in the config: export it as {default} (and rotate it)")
        if provider in KEYLESS_PROVIDERS or "litellm_credential_name" in d.params:
            return None
        if value.kind == "placeholder" or (has_base and value.kind == "missing"):
            return None  # a server that checks no key: the render pins a harmless placeholder
        return Note(
            f"env:{default}",
            self.todo(f"{where}.api_key", f"no api_key in the config (LiteLLM read its default variable); check the name {default}"),
        )

    # ----- routing -----
    def routing(self, groups: list[Any]) -> dict[str, Any]:
        routing: dict[str, Any] = {}
        moved: list[str] = []
        for kind in ("fallbacks", "context_window_fallbacks"):
            mapped: dict[str, Any] = {}
            for key, targets, where in all_fallbacks(self.config, kind):
                name = self.names.get(key, public_name(key))
                if name in mapped:
                    continue
                if where[0] == "general_settings" and kind not in moved:
                    moved.append(kind)
                known = [t for t in targets if t in self.names or public_name(t) in self.taken]
                values = [self.names.get(t, public_name(t)) for t in known]
                missing = [n for n in [key, *targets] if n not in self.names and public_name(n) not in self.taken]
                members = [t for t in known if t not in self.names]
                comment = None
                if key in missing or not values:
                    self.skipped_fallbacks.append(f"{kind} rule for {key}: names no model or group here ({', '.join(missing)}); left out")
                    continue
                if missing:
                    comment = self.todo(
                        f"routing.{kind}.{name}", f"left out, not a model or group here: {', '.join(missing)} (add them, or drop this note)"
                    )
                elif members:
                    comment = self.todo(
                        f"routing.{kind}.{name}",
                        f"{', '.join(members)} now name models imported from group members (LiteLLM had no such model_name); confirm",
                    )
                mapped[name] = Note(values, comment) if comment else values
            if mapped:
                routing[kind] = mapped
        if routing:
            notes = tuple(f"{kind} were under general_settings, where LiteLLM never read them" for kind in moved)
            notes += tuple(self.skipped_fallbacks)
            routing = {"fallback_mode": Note("auto", "the source had fallbacks; manual switches them off", notes), **routing}
        if groups:
            routing["groups"] = groups
        routing.update(self.routing_settings())
        return routing

    def context_window_todos(self, models: list[Any], groups: list[Any]) -> None:
        """Ask for context_window on every model a context-window fallback involves (the rules need it)."""
        members = {g["name"]: [m["model"] for m in g["members"]] for g in groups}
        needed: set[str] = set()
        for key, targets, _ in all_fallbacks(self.config, "context_window_fallbacks"):
            for source in (key, *targets):
                name = self.names.get(source, public_name(source))
                needed.update(members.get(name, [name]))
        for index, item in enumerate(models):
            note = item if isinstance(item, Note) else Note(item)
            entry = note.value
            if entry.get("name") in needed and "context_window" not in entry:
                todo = self.todo(
                    f"models.{entry['name']}.context_window", "set context_window (tokens): a context-window fallback needs it"
                )
                models[index] = Note(entry, note.comment, (*note.before, todo))

    def routing_settings(self) -> dict[str, Any]:
        router = section(self.config, "router_settings")
        settings = section(self.config, "litellm_settings")
        candidates = {
            "strategy": ("routing_strategy", router.get("routing_strategy")),
            "num_retries": ("num_retries", router.get("num_retries", settings.get("num_retries"))),
            "timeout_s": ("timeout", router.get("timeout", settings.get("request_timeout"))),
            "stream_timeout_s": ("stream_timeout", router.get("stream_timeout")),
            "cooldown_s": ("cooldown_time", router.get("cooldown_time")),
            "allowed_fails": ("allowed_fails", router.get("allowed_fails", settings.get("allowed_fails"))),
            "retry_policy": ("retry_policy", router.get("retry_policy")),
            "pre_call_checks": ("enable_pre_call_checks", router.get("enable_pre_call_checks")),
            "allowed_fails_policy": ("allowed_fails_policy", router.get("allowed_fails_policy")),
        }
        out: dict[str, Any] = {}
        timeout, request_timeout = router.get("timeout"), settings.get("request_timeout")
        if timeout is not None and request_timeout is not None and timeout != request_timeout:
            self.coverage.drop(
                ("litellm_settings", "request_timeout"),
                f"the inventory has one request timeout: routing.timeout_s takes router_settings.timeout ({timeout}) and renders "
                f"it for both, so litellm_settings.request_timeout ({request_timeout}) is not kept.",
                "check that one timeout suits every request.",
            )
        for name, (key, value) in candidates.items():
            if value is None:
                continue
            if (not isinstance(value, bool) or name == "pre_call_checks") and field_ok(Routing, {}, name, value):
                out[name] = value
                continue
            section_name = "router_settings" if key in router else "litellm_settings"
            self.coverage.drop(
                (section_name, key if key in router or key != "timeout" else "request_timeout"),
                f"{key} = {value!r} is not carried over: routing.{name} does not accept it.",
                f"set routing.{name} by hand (see the inventory reference).",
            )
        defaults = key_table(DEFAULT_LITELLM_VERSION).router_defaults
        for name, key in (
            ("strategy", "routing_strategy"),
            ("num_retries", "num_retries"),
            ("timeout_s", "timeout"),
            ("cooldown_s", "cooldown_time"),
            ("allowed_fails", "allowed_fails"),
        ):
            value = defaults.get(key)
            if name in out or value is None or getattr(Routing.model_fields[name], "default", None) == value:
                continue
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            if field_ok(Routing, {}, name, value):
                out[name] = Note(value, f"what LiteLLM used: the source does not set {key}")
        return out

    # ----- gateway -----
    def gateway(self) -> dict[str, Any]:
        service = self.compose.litellm if self.compose else None
        gateway: dict[str, Any] = {"litellm_version": self.litellm_version(service)}
        if service is not None and service.image is not None:
            repository = service.image.repository
            if (
                repository != "ghcr.io/berriai/litellm"
                and "litellm" in repository
                and field_ok(Gateway, _GATEWAY_BASE, "image", repository)
            ):
                gateway["image"] = repository
            port = _int(service.flag("--port"))
            if port and port != 4000:
                gateway["port"] = port
            workers = _int(service.flag("--num_workers"))
            if workers and field_ok(Gateway, _GATEWAY_BASE, "workers", workers):
                gateway["workers"] = workers
        gateway["master_key"] = self.master_key(service)
        settings = section(self.config, "litellm_settings")
        general = section(self.config, "general_settings")
        if isinstance(settings.get("drop_params"), bool) and settings["drop_params"] is not True:
            gateway["drop_params"] = settings["drop_params"]
        elif "drop_params" not in settings:
            gateway["drop_params"] = Note(False, "what LiteLLM used: the source does not set drop_params")
        database = self.database(service)
        if database is not None:
            gateway["database"] = database
        redis = self.redis(service)
        if redis is not None:
            gateway["redis"] = redis
        health: dict[str, Any] = {}
        if isinstance(general.get("background_health_checks"), bool):
            health["background"] = general["background_health_checks"]
        if isinstance(general.get("health_check_interval"), int) and general["health_check_interval"] >= 10:
            health["interval_s"] = general["health_check_interval"]
        if health:
            gateway["health"] = health
        logging: dict[str, Any] = {}
        callbacks = []
        for item in _names(settings.get("callbacks")):
            if item not in callbacks:
                callbacks.append(item)
        if callbacks:
            logging["callbacks"] = callbacks
        if isinstance(settings.get("json_logs"), bool):
            logging["json_logs"] = settings["json_logs"]
        elif "json_logs" not in settings:
            logging["json_logs"] = Note(False, "what LiteLLM used: the source does not set json_logs")
        loggers = [c for c in _names(settings.get("callbacks")) if "." not in c]  # a module.instance there is usually a hook
        loggers += _names(settings.get("success_callback")) + _names(settings.get("failure_callback"))
        sent = sorted({c for c in loggers if c not in ("prometheus", "prometheus_system")})
        if sent and settings.get("turn_off_message_logging") is not True and general.get("store_prompts_in_spend_logs") is not True:
            self.coverage.drop(
                ("litellm_settings",),
                f"the source sends prompts and responses to its logging callbacks ({', '.join(sent)}): LiteLLM logs messages "
                "unless turn_off_message_logging is set. llmfleet renders turn_off_message_logging: true unless "
                "gateway.logging.store_prompts is true (which also keeps them in the spend logs).",
                "set gateway.logging.store_prompts: true if the callbacks must keep receiving prompts; else nothing to do.",
            )
        if general.get("store_prompts_in_spend_logs") is True:
            logging["store_prompts"] = Note(True, "store_prompts_in_spend_logs: prompts are kept in the database")
        for key, name in (
            ("success_callback", "success_callbacks"),
            ("failure_callback", "failure_callbacks"),
            ("service_callback", "service_callbacks"),
        ):
            value = settings.get(key)
            items = [i for i in (value if isinstance(value, list) else [value] if isinstance(value, str) else []) if isinstance(i, str)]
            if items:
                logging[name] = items
        if logging:
            gateway["logging"] = logging
        salt = self.salt_key(service, database is not None)
        if salt is not None:
            gateway["salt_key"] = salt
        ui = self.ui_login(service)
        if ui is not None:
            gateway["ui"] = ui
        cache = self.response_cache(settings)
        if cache is not None:
            gateway["cache"] = cache
        budget = settings.get("max_budget")
        self.budget_mapped = isinstance(budget, (int, float)) and not isinstance(budget, bool) and budget > 0
        if self.budget_mapped:
            gateway["budget"] = {"max_usd": budget}
            duration = settings.get("budget_duration")
            if isinstance(duration, str) and re.match(r"^[0-9]+(s|m|h|d|mo)$", duration):
                gateway["budget"]["duration"] = duration
        self.settings_passthrough(gateway)
        return gateway

    def settings_passthrough(self, gateway: dict[str, Any]) -> None:
        """Everything else of the three settings sections: passthrough when LiteLLM reads it there, else a finding."""
        consumed = {
            "router_settings": {
                "routing_strategy",
                "num_retries",
                "timeout",
                "stream_timeout",
                "cooldown_time",
                "allowed_fails",
                "retry_policy",
                "allowed_fails_policy",
                "fallbacks",
                "context_window_fallbacks",
                "redis_host",
                "redis_port",
                "redis_password",
            },
            "litellm_settings": {
                "num_retries",
                "request_timeout",
                "drop_params",
                "callbacks",
                "success_callback",
                "failure_callback",
                "service_callback",
                "json_logs",
                "cache",
                "cache_params",
                "max_budget",
                "allowed_fails",
                "fallbacks",
                "context_window_fallbacks",
                "master_key",
                "database_url",
                "set_verbose",
                "detailed_debug",
            },
            "general_settings": {
                "master_key",
                "database_url",
                "background_health_checks",
                "health_check_interval",
                "store_prompts_in_spend_logs",
                "fallbacks",
                "context_window_fallbacks",
                "content_policy_fallbacks",
                "set_verbose",
                "detailed_debug",
            },
        }
        if self.budget_mapped:
            consumed["litellm_settings"].add("budget_duration")
        store = gateway.get("logging", {}).get("store_prompts", False)
        store = store.value if isinstance(store, Note) else store
        if section(self.config, "litellm_settings").get("turn_off_message_logging") is (not store):
            consumed["litellm_settings"].add("turn_off_message_logging")
        consumed["router_settings"].add("enable_pre_call_checks")
        for name, keys in consumed.items():
            rest = self.coverage.settings_rest(name, keys)
            if rest:
                gateway[name] = rest
        self.coverage.sections()

    def salt_key(self, service: Service | None, has_database: bool) -> Any:
        raw = service.env("LITELLM_SALT_KEY") if service is not None else None
        if raw is not None:
            value = secret_value(raw, "LITELLM_SALT_KEY")
            if value.kind == "literal":
                return Note("env:LITELLM_SALT_KEY", "was a literal in the compose file: export it as LITELLM_SALT_KEY, unchanged")
            return "env:LITELLM_SALT_KEY"
        if not has_database:
            return None
        others = (
            [s.name for s in self.compose.services.values() if s is not service and "LITELLM_SALT_KEY" in s.environment]
            if self.compose
            else []
        )
        in_compose = self.compose is not None and service is not None
        source = self.compose.source if in_compose else self.config
        path = service.path if in_compose else ("general_settings",)
        if in_compose:
            lead = "the proxy has a database but no LITELLM_SALT_KEY" + (
                f" (only {', '.join(others)} sets one, not the proxy)" if others else ""
            )
        else:
            lead = "the proxy has a database, and only its environment can set LITELLM_SALT_KEY (the config cannot); unless it is set there"
        self.coverage.findings.append(
            make(
                "salt-key-missing",
                source.file,
                source.line(path),
                path,
                lead + ": LiteLLM has encrypted the provider credentials it stored there (models and credentials added in the UI) "
                "with the master key, and they can no longer be decrypted once that key changes.",
                "before the migration set LITELLM_SALT_KEY to the current master key's value and never change it again "
                "(inventory: gateway.salt_key: env:LITELLM_SALT_KEY, the draft has it); then the master key can be rotated.",
                None if in_compose else "warning",
            )
        )
        return Note(
            "env:LITELLM_SALT_KEY",
            self.todo(
                "gateway.salt_key", "the source sets none: give LITELLM_SALT_KEY the current master key's value, then never change it"
            ),
        )

    def ui_login(self, service: Service | None) -> dict[str, Any] | None:
        if service is None or "UI_PASSWORD" not in service.environment:
            return None
        ui: dict[str, Any] = {"password": "env:UI_PASSWORD"}
        username = service.env("UI_USERNAME")
        if username:
            text = str(username)
            match = re.fullmatch(r"\$\{[A-Za-z_][A-Za-z0-9_]*(:?-([^}]*))?\}", text)
            name = match[2] if match and match[2] else (None if match else text)
            if name and field_ok(UiLogin, {"password": "env:X"}, "username", name):
                ui["username"] = name
        return ui

    def response_cache(self, settings: dict[str, Any]) -> dict[str, Any] | None:
        if settings.get("cache") is not True:
            return None
        params = settings.get("cache_params") if isinstance(settings.get("cache_params"), dict) else {}
        cache: dict[str, Any] = {"type": params.get("type", "redis")}
        if not field_ok(ResponseCache, {}, "type", cache["type"]):
            self.coverage.drop(
                ("litellm_settings", "cache_params", "type"),
                f"cache type {cache['type']!r} is not one the inventory knows.",
                "set gateway.cache by hand.",
            )
            return None
        if isinstance(params.get("ttl"), int) and params["ttl"] >= 1:
            cache["ttl_s"] = params["ttl"]
        if isinstance(params.get("namespace"), str) and field_ok(ResponseCache, {}, "namespace", params["namespace"]):
            cache["namespace"] = params["namespace"]
        rest = {k: v for k, v in params.items() if k not in ("type", "ttl", "namespace", "host", "port", "password")}
        if rest:
            cache["params"] = rest
        return cache

    def litellm_version(self, service: Service | None) -> Any:
        tag = service.image.tag if service is not None and service.image is not None else None
        found = version_in(tag) if tag else None
        if found and litellm_version_refusal(found) is None:
            return version_text(found)
        if found:
            why = f"the source ran {version_text(found)}, which policy refuses"
        elif service is not None and service.image_raw:
            why = f"the image '{service.image_raw}' pins no release"
        else:
            why = "the source does not say which LiteLLM release runs"
        return Note(
            DEFAULT_LITELLM_VERSION,
            self.todo("gateway.litellm_version", f"{why}; llmfleet's default pin {DEFAULT_LITELLM_VERSION} shown — confirm"),
        )

    def master_key(self, service: Service | None) -> Any:
        general = section(self.config, "general_settings")
        raw = general.get("master_key")
        value = secret_value(raw, "LITELLM_MASTER_KEY")
        if value.kind in ("env", "env-syntax") and value.ref:
            return value.ref
        if service is not None:
            env = service.env("LITELLM_MASTER_KEY")
            ref = secret_value(env, "LITELLM_MASTER_KEY") if env else None
            if ref is not None and ref.kind == "env-syntax" and ref.ref:
                return ref.ref
        if raw is not None or section(self.config, "litellm_settings").get("master_key") is not None:
            return Note(
                "env:LITELLM_MASTER_KEY", "the source had a literal or misplaced key: generate a new one (echo sk-$(openssl rand -hex 24))"
            )
        return "env:LITELLM_MASTER_KEY"

    def database(self, service: Service | None) -> dict[str, Any] | None:
        general = section(self.config, "general_settings")
        settings = section(self.config, "litellm_settings")
        postgres = self.compose.of_kind("postgres") if self.compose else []
        if postgres:
            pg = postgres[0]
            password = secret_value(pg.env("POSTGRES_PASSWORD"), "POSTGRES_PASSWORD")
            bundled: dict[str, Any] = {}
            if (
                pg.image is not None
                and pg.image.pinned
                and pg.image_raw
                and field_ok(BundledPostgres, {"password": "env:X"}, "image", pg.image_raw)
            ):
                bundled["image"] = pg.image_raw
            bundled["password"] = password.ref if password.kind in ("env", "env-syntax") else "env:POSTGRES_PASSWORD"
            return {"bundled": Note(bundled, f"from compose service {pg.name}")}
        sources = [
            (general.get("database_url"), "general_settings.database_url"),
            (settings.get("database_url"), "litellm_settings.database_url (ignored there by LiteLLM)"),
            (service.env("DATABASE_URL") if service else None, "DATABASE_URL in the compose file"),
        ]
        for raw, origin in sources:
            if not raw:
                continue
            value = secret_value(raw, "DATABASE_URL")
            ref = value.ref if value.kind in ("env", "env-syntax") and value.ref else "env:DATABASE_URL"
            comment = f"from {origin}" + ("; it held the URL itself: export it as DATABASE_URL" if value.kind == "literal" else "")
            return {"url": Note(ref, comment)}
        return None

    def redis(self, service: Service | None) -> dict[str, Any] | None:
        router = section(self.config, "router_settings")
        cache = section(self.config, "litellm_settings").get("cache_params")
        cache = cache if isinstance(cache, dict) and cache.get("type", "redis") == "redis" else {}
        env = service.environment if service else {}
        host = router.get("redis_host") or cache.get("host") or (env["REDIS_HOST"].value if "REDIS_HOST" in env else None)
        port = router.get("redis_port") or cache.get("port") or (env["REDIS_PORT"].value if "REDIS_PORT" in env else None)
        password = (
            router.get("redis_password") or cache.get("password") or (env["REDIS_PASSWORD"].value if "REDIS_PASSWORD" in env else None)
        )
        bundled_services = self.compose.of_kind("redis") if self.compose else []
        settings = section(self.config, "litellm_settings")
        cache_type = (
            (settings.get("cache_params") or {}).get("type", "redis") if isinstance(settings.get("cache_params"), dict) else "redis"
        )
        if host is None and not bundled_services and settings.get("cache") is True and cache_type in ("redis", "redis-semantic"):
            host = "os.environ/REDIS_HOST"  # LiteLLM's redis cache without host reads REDIS_HOST
        if host is None and not bundled_services:
            return None
        redis: dict[str, Any] = {}
        host_text = str(host) if host is not None else None
        if bundled_services and (host_text is None or host_text in {s.name for s in bundled_services}):
            redis["bundled"] = Note(True, f"from compose service {bundled_services[0].name}")
            image = bundled_services[0].image
            if image is not None and image.pinned and bundled_services[0].image_raw:
                redis["image"] = bundled_services[0].image_raw
        elif host_text is not None and (host_text.startswith("os.environ/") or "${" in host_text):
            redis["host"] = Note("TODO-redis-host", self.todo("gateway.redis.host", f"the config read it from {host_text}"))
        else:
            redis["host"] = host_text
        port_number = _int(str(port)) if port is not None else None
        if port_number and port_number != 6379 and field_ok(Redis, {"password": "env:X", "bundled": True}, "port", port_number):
            redis["port"] = port_number
        value = secret_value(password, "REDIS_PASSWORD")
        if value.kind in ("env", "env-syntax") and value.ref:
            redis["password"] = value.ref
        elif value.kind == "literal":
            redis["password"] = Note("env:REDIS_PASSWORD", "was a literal in the source: export it as REDIS_PASSWORD (and rotate it)")
        else:
            redis["password"] = Note(
                "env:REDIS_PASSWORD", self.todo("gateway.redis.password", "the source sets no Redis password; set one")
            )
        return redis


_MODEL_BASE = {"name": "x", "provider": "openai", "upstream": "x"}
_GATEWAY_BASE = {"litellm_version": DEFAULT_LITELLM_VERSION, "master_key": "env:LITELLM_MASTER_KEY"}
_LLAMACPP_BASE = {
    "version": DEFAULT_LLAMACPP_VERSION,
    "model": {"url": "https://x.invalid/m.gguf", "sha256": ZERO_SHA256},
    "ctx_size": 4096,
}


def _names(value: Any) -> list[str]:
    """A callback setting (one name or a list) as a list of names."""
    items = value if isinstance(value, list) else [value] if isinstance(value, str) else []
    return [i for i in items if isinstance(i, str)]


def _truthy(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(value)


def _int(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(str(value).strip())
    except ValueError:
        return None


def _extra_args(args: list[str]) -> tuple[list[str], list[LlamaFlag]]:
    """llama-server flags that have no field of their own (kept in ``extra_args``), and the refused ones (dropped)."""
    out: list[str] = []
    refused: list[LlamaFlag] = []
    start = next((i for i, a in enumerate(args) if a.startswith("-")), len(args))
    args = args[start:]
    index = 0
    while index < len(args):
        flag = args[index]
        name = flag.split("=", 1)[0]
        known = BY_NAME.get(name)
        takes_value = name not in SWITCHES and "=" not in flag and index + 1 < len(args) and not args[index + 1].startswith("-")
        if known is not None and not known.takes_value:
            takes_value = False
        group = [flag] + ([args[index + 1]] if takes_value else [])
        index += len(group)
        if not flag.startswith("-"):
            continue
        if known is not None:
            if known.field is None and known not in refused:
                refused.append(known)
            continue  # a field renders it (ctx_size, threads, ...), or it is refused
        out += group
    return out, refused
