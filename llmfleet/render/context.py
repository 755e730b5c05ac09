"""Pure functions from an :class:`Inventory` to the small per-file views templates render.

Templates see only these views (plain dataclasses, dicts, lists, strings and numbers): never the
inventory, never pyinfra host data. Every secret appears as a *name* (``os.environ/NAME``, a
compose ``${NAME:?...}`` interpolation, an env var to fill in), never as a value.

:func:`plan_fleet` decides which files each host gets; the host paths those files land on come from
:mod:`llmfleet.layout` (deploy installs binaries and data to the same places).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from llmfleet.inventory.llamacpp_flags import by_field
from llmfleet.inventory.model import Backend, Host, Inventory, Model
from llmfleet.inventory.secrets import SecretRef
from llmfleet.layout import (
    COMPOSE_PROJECT,
    FIREWALL_FILE,
    FIREWALL_SERVICE,
    FIREWALL_TABLE,
    HEADSCALE_BIN,
    HEADSCALE_ETC,
    HEADSCALE_SERVICE,
    HEADSCALE_STATE,
    LITELLM_SERVICE,
    LITELLM_VENV,
    LLAMA_SERVER_BIN,
    MESH_INTERFACE,
    MODELS_DIR,
    OLLAMA_DIR,
    OLLAMA_HOME,
    OLLAMA_LINK,
    OLLAMA_SERVICE,
    OLLAMA_USER,
    REQUEST_LOG_CALLBACK,
    REQUEST_LOG_DIR,
    REQUEST_LOG_FILE,
    REQUEST_LOG_MODULE,
    ROLE_TAGS,
    SECRETS_DIR,
    SYSTEMD_DIR,
    TAILSCALE_ARGS_FILE,
    TAILSCALE_PORT,
    TAILSCALE_STATE,
    TAILSCALED_LINK,
    TAILSCALED_SERVICE,
    llama_service,
)
from llmfleet.versions import (
    HEADSCALE_NODE_BLOCK,
    HEADSCALE_POLICY_V2,
    HEADSCALE_TAGGED_KEYS,
    LLAMA_FLASH_ATTN_VALUE_BUILD,
    headscale_version_problem,
    version_tuple,
)

#: The api_key of a local OpenAI-style model whose server needs none (not a secret; see _deployment_params).
NO_KEY_PLACEHOLDER = "llmfleet-no-key"

MODE_FILE = 0o644
MODE_UNIT = 0o644


@dataclass(frozen=True)
class FileSpec:
    """One file to render: which template with which view, and where it goes."""

    host: str
    relpath: str
    template: str
    view: Any
    dest: str
    mode: int = MODE_FILE
    service: str | None = None


# ----------------------------------------------------------------------------- helpers
def _num(value: float) -> int | float:
    """``600.0`` → ``600`` so rendered numbers read naturally; other floats unchanged."""
    return int(value) if float(value).is_integer() else value


def litellm_service(inv: Inventory) -> str:
    """What to restart when the gateway's files change: the compose project or the systemd unit."""
    return f"compose:{COMPOSE_PROJECT}" if inv.gateway.runtime == "compose" else LITELLM_SERVICE


def _served_by_gateway_host(inv: Inventory, host: Host) -> list[Backend]:
    """Backends on ``host`` bound to loopback that the gateway on ``host`` talks to."""
    return [b for b in inv.backends_on(host.name) if inv.backend_bind_ip(b) == "127.0.0.1" and inv.models_on(b.name)]


def _bundled_redis_host(inv: Inventory) -> str:
    """Where LiteLLM reaches a bundled Redis: its compose service name, or loopback when the project
    shares the host's network (a bundled Redis means a single gateway host; see :func:`compose_view`)."""
    gateways = inv.hosts_with("gateway")
    return "127.0.0.1" if gateways and _served_by_gateway_host(inv, gateways[0]) else "redis"


# ----------------------------------------------------------------------------- LiteLLM config
@dataclass(frozen=True)
class Deployment:
    """One entry of LiteLLM's ``model_list``."""

    model_name: str
    litellm_params: dict[str, Any]
    model_info: dict[str, Any]
    comment: str = ""


@dataclass(frozen=True)
class LitellmConfigView:
    """The view of ``litellm/config.yaml``."""

    fleet: str
    deployments: list[Deployment]
    litellm_settings: dict[str, Any]
    router_settings: dict[str, Any]
    fallback_mode: str
    fallbacks: list[tuple[str, list[str]]]
    context_window_fallbacks: list[tuple[str, list[str]]]
    general_settings: dict[str, Any]


#: Providers that send the gateway's OPENAI_API_KEY when a deployment has no api_key of its own.
OPENAI_KEYED_PROVIDERS = frozenset({"openai", "openai_like", "hosted_vllm", "lm_studio", "llamafile"})


def litellm_value(value: str) -> str:
    """``env:NAME`` → ``os.environ/NAME`` (LiteLLM reads it from its environment); anything else unchanged."""
    return f"os.environ/{value[4:]}" if value.startswith("env:") else value


def _deployment_params(inv: Inventory, model: Model) -> dict[str, Any]:
    params: dict[str, Any] = {"model": f"{inv.model_prefix(model)}/{model.upstream}"}
    api_base = inv.model_api_base(model)
    if api_base is not None:
        params["api_base"] = litellm_value(api_base)
    key = inv.model_key_ref(model)
    if key is not None:
        params["api_key"] = key.litellm
    elif model.credential_name is not None:
        params["litellm_credential_name"] = model.credential_name
    elif (model.backend is not None and not inv.model_prefix(model).startswith("ollama")) or (
        model.api_base is not None and model.provider in OPENAI_KEYED_PROVIDERS
    ):
        # Without an api_key LiteLLM's OpenAI route sends the gateway's own OPENAI_API_KEY to this
        # server (measured with 1.106.2): pin a harmless placeholder instead.
        params["api_key"] = NO_KEY_PLACEHOLDER
    for name in ("api_version", "vertex_project", "vertex_location"):
        value = getattr(model, name)
        if value is not None:
            params[name] = litellm_value(value)
    for key in ("tpm", "rpm"):  # a group member's own values replace these in _deployments
        if getattr(model, key) is not None:
            params[key] = getattr(model, key)
    for name, key in (("timeout_s", "timeout"), ("stream_timeout_s", "stream_timeout")):
        if getattr(model, name) is not None:
            params[key] = _num(getattr(model, name))
    for name in ("num_retries", "reasoning_effort", "thinking"):
        if getattr(model, name) is not None:
            params[name] = getattr(model, name)
    for name in ("extra_headers", "extra_body"):
        if getattr(model, name):
            params[name] = dict(getattr(model, name))
    params.update(model.litellm_params)
    return params


def _model_info(inv: Inventory, model: Model) -> dict[str, Any]:
    info: dict[str, Any] = {"mode": model.mode}
    if model.context_window is not None:
        info["max_input_tokens"] = model.context_window
    if model.mode == "chat":
        # LiteLLM 1.106.2 proxy/health_check.py: model_info.health_check_max_tokens overrides the
        # default of 16 tokens per health-check probe (embedding probes get no max_tokens).
        info["health_check_max_tokens"] = inv.gateway.health.max_tokens
    for name in ("base_model", "description", "input_cost_per_token", "output_cost_per_token"):
        if getattr(model, name) is not None:
            info[name] = getattr(model, name)
    if model.access_groups:
        info["access_groups"] = list(model.access_groups)
    info.update(model.model_info)
    info["llmfleet_tools"] = model.tools
    if model.tags:
        info["llmfleet_tags"] = list(model.tags)
    info["llmfleet_source"] = f"backend:{model.backend}" if model.backend else f"provider:{model.provider}"
    return info


def _deployments(inv: Inventory) -> list[Deployment]:
    out = [Deployment(m.name, _deployment_params(inv, m), _model_info(inv, m)) for m in inv.models]
    for group in inv.routing.groups:
        for member in group.members:
            model = inv.model_by_name[member.model]
            params = _deployment_params(inv, model)
            for key in ("tpm", "rpm", "weight"):
                value = getattr(member, key)
                if value is not None:
                    params[key] = value
            info = {**_model_info(inv, model), "llmfleet_member_of": group.name, "llmfleet_member": model.name}
            out.append(Deployment(group.name, params, info, comment=f"group {group.name}: {model.name}"))
    return out


def litellm_config_view(inv: Inventory) -> LitellmConfigView:
    """Everything ``litellm/config.yaml`` says, in LiteLLM's own section and key names."""
    gw, routing = inv.gateway, inv.routing
    litellm_settings: dict[str, Any] = {
        "drop_params": gw.drop_params,
        "json_logs": gw.logging.json_logs,
        "request_timeout": _num(routing.timeout_s),
        # Prompts and responses stay out of every logging callback unless the inventory asks.
        "turn_off_message_logging": not gw.logging.store_prompts,
    }
    for name, key in (
        ("callbacks", "callbacks"),
        ("success_callbacks", "success_callback"),
        ("failure_callbacks", "failure_callback"),
        ("service_callbacks", "service_callback"),
    ):
        if getattr(gw.logging, name):
            litellm_settings[key] = list(getattr(gw.logging, name))
    if gw.logging.request_log:
        # llmfleet's per-request records (templates/litellm/llmfleet_request_log.py.j2), beside config.yaml.
        litellm_settings["callbacks"] = [*litellm_settings.get("callbacks", []), REQUEST_LOG_CALLBACK]
    if gw.cache is not None:
        litellm_settings["cache"] = True
        litellm_settings["cache_params"] = _cache_params(inv)
    if gw.budget is not None:
        litellm_settings["max_budget"] = _num(gw.budget.max_usd)
        if gw.budget.duration is not None:
            litellm_settings["budget_duration"] = gw.budget.duration
    litellm_settings.update(gw.litellm_settings)

    router: dict[str, Any] = {
        "routing_strategy": routing.strategy,
        "num_retries": routing.num_retries,
        "timeout": _num(routing.timeout_s),
    }
    if routing.stream_timeout_s is not None:
        router["stream_timeout"] = _num(routing.stream_timeout_s)
    router["cooldown_time"] = routing.cooldown_s
    router["allowed_fails"] = routing.allowed_fails
    if routing.pre_call_checks or any(m.context_window is not None for m in inv.models):
        # Refuse (or, in a group, route around) a prompt larger than a deployment's declared
        # max_input_tokens before sending it: Ollama would silently truncate it instead.
        router["enable_pre_call_checks"] = True
    if gw.redis is not None:
        router["redis_host"] = _bundled_redis_host(inv) if gw.redis.bundled else gw.redis.host
        router["redis_port"] = 6379 if gw.redis.bundled else gw.redis.port
        router["redis_password"] = gw.redis.password.litellm
    for name in ("retry_policy", "allowed_fails_policy"):
        if getattr(routing, name):
            router[name] = dict(getattr(routing, name))
    router.update(gw.router_settings)

    auto = routing.fallback_mode == "auto"
    fallbacks = sorted((k, list(v)) for k, v in routing.fallbacks.items()) if auto else []
    cw_fallbacks = sorted((k, list(v)) for k, v in routing.context_window_fallbacks.items()) if auto else []

    general: dict[str, Any] = {"master_key": gw.master_key.litellm}
    if gw.database is not None:
        general["database_url"] = f"os.environ/{database_url_env(inv)}"
        general["store_prompts_in_spend_logs"] = gw.logging.store_prompts
    general["background_health_checks"] = gw.health.background
    if gw.health.background:
        general["health_check_interval"] = gw.health.interval_s
    general.update(gw.general_settings)
    return LitellmConfigView(
        fleet=inv.fleet,
        deployments=_deployments(inv),
        litellm_settings=litellm_settings,
        router_settings=router,
        fallback_mode=routing.fallback_mode,
        fallbacks=fallbacks,
        context_window_fallbacks=cw_fallbacks,
        general_settings=general,
    )


def _cache_params(inv: Inventory) -> dict[str, Any]:
    """``litellm_settings.cache_params``: the cache's own settings; a Redis cache uses ``gateway.redis``."""
    cache, redis = inv.gateway.cache, inv.gateway.redis
    assert cache is not None
    params: dict[str, Any] = {"type": cache.type}
    if cache.type in ("redis", "redis-semantic") and redis is not None:
        params["host"] = "redis" if redis.bundled else redis.host
        params["port"] = 6379 if redis.bundled else redis.port
        params["password"] = redis.password.litellm
    if cache.ttl_s is not None:
        params["ttl"] = cache.ttl_s
    if cache.namespace is not None:
        params["namespace"] = cache.namespace
    params.update(cache.params)
    return params


def database_url_env(inv: Inventory) -> str:
    """The variable LiteLLM reads the database URL from (compose builds ``DATABASE_URL`` for a bundled Postgres)."""
    db = inv.gateway.database
    if db is not None and db.url is not None:
        return db.url.env_name
    return "DATABASE_URL"


# ----------------------------------------------------------------------------- gateway runtime
@dataclass(frozen=True)
class BundledService:
    """A container beside LiteLLM (Postgres or Redis) and the variable holding its password."""

    image: str
    password_var: str


@dataclass(frozen=True)
class RequestLogView:
    """The view of ``litellm/llmfleet_request_log.py`` (``gateway.logging.request_log``)."""

    fleet: str
    callback: str
    path: str


@dataclass(frozen=True)
class ComposeView:
    """The view of ``litellm/docker-compose.yml``."""

    fleet: str
    project: str
    image: str
    port: int
    bind: str
    workers: int
    host_network: bool
    command: list[str]
    health_test: list[str]
    postgres: BundledService | None
    redis: BundledService | None
    database_url: str | None
    postgres_command: list[str] | None
    redis_command: list[str] | None
    environment: list[tuple[str, str]] = field(default_factory=list)
    #: (host path, container path, read-only) bind mounts besides config.yaml.
    mounts: list[tuple[str, str, bool]] = field(default_factory=list)


def compose_view(inv: Inventory, host: Host) -> ComposeView:
    """The compose project of one gateway host.

    The container uses the default bridge network (it reaches mesh IPs through the host's routes)
    unless a backend it serves listens on the host's loopback: then every service runs with
    ``network_mode: host`` and binds to loopback, since a bridged container cannot reach the
    host's 127.0.0.1.
    """
    gw = inv.gateway
    host_network = bool(_served_by_gateway_host(inv, host))
    postgres = None
    database_url = None
    if gw.database is not None and gw.database.bundled is not None:
        postgres = BundledService(gw.database.bundled.image, gw.database.bundled.password.env_name)
        pg_host = "127.0.0.1" if host_network else "postgres"
        var = postgres.password_var
        database_url = f"postgresql://litellm:${{{var}:?set {var} in .env}}@{pg_host}:5432/litellm"
    redis = None
    if gw.redis is not None and gw.redis.bundled:
        redis = BundledService(gw.redis.image, gw.redis.password.env_name)
    listen_host = gw.bind if host_network else "0.0.0.0"
    health_host = gw.local_address if host_network else "127.0.0.1"
    health_url = f"http://{health_host}:{gw.port}/health/liveliness"
    command = ["--config", "/app/config.yaml", "--host", listen_host, "--port", str(gw.port), "--num_workers", str(gw.workers)]
    redis_command = None
    if redis is not None:
        # The password goes into a config file on the container's tmpfs, never onto a command line.
        conf = 'requirepass "%s"\\nappendonly yes\\n' + ("bind 127.0.0.1\\n" if host_network else "")
        redis_command = [
            "sh",
            "-c",
            f"umask 077 && printf '{conf}' \"$$REDIS_PASSWORD\" > /tmp/redis.conf && exec redis-server /tmp/redis.conf",
        ]
    return ComposeView(
        fleet=inv.fleet,
        project=COMPOSE_PROJECT,
        image=gw.image_ref,
        port=gw.port,
        bind=gw.bind,
        workers=gw.workers,
        host_network=host_network,
        command=command,
        # CMD-SHELL, one string: podman's Docker API (4.3) splits exec-form arguments at spaces.
        health_test=["CMD-SHELL", f"python3 -c \"import urllib.request; urllib.request.urlopen('{health_url}', timeout=5)\""],
        postgres=postgres,
        redis=redis,
        database_url=database_url,
        environment=gateway_environment(inv),
        postgres_command=["postgres", "-c", "listen_addresses=127.0.0.1"] if postgres and host_network else None,
        redis_command=redis_command,
        mounts=(
            [(f"./{REQUEST_LOG_MODULE}.py", f"/app/{REQUEST_LOG_MODULE}.py", True), (REQUEST_LOG_DIR, REQUEST_LOG_DIR, False)]
            if gw.logging.request_log
            else []
        ),
    )


@dataclass(frozen=True)
class LitellmUnitView:
    """The view of ``systemd/litellm.service`` (systemd-venv runtime)."""

    fleet: str
    version: str
    exec_args: list[str]
    install_dir: str
    after: list[str]
    environment: list[tuple[str, str]]
    low_port: bool
    #: ``LogsDirectory=`` (the per-request records' directory under /var/log), or None.
    logs_directory: str | None = None


def _after(inv: Inventory, host: Host) -> list[str]:
    after = ["network-online.target"]
    if inv.mesh is not None and host.mesh is not None:
        after.append(TAILSCALED_SERVICE)
    return after


def litellm_unit_view(inv: Inventory, host: Host) -> LitellmUnitView:
    """The LiteLLM proxy as a hardened systemd service running from the pinned venv."""
    gw = inv.gateway
    args = [
        f"{LITELLM_VENV}/bin/litellm",
        "--config",
        f"{gw.install_dir}/config.yaml",
        "--host",
        gw.bind,
        "--port",
        str(gw.port),
        "--num_workers",
        str(gw.workers),
    ]
    return LitellmUnitView(
        fleet=inv.fleet,
        version=gw.litellm_version,
        exec_args=args,
        install_dir=gw.install_dir,
        after=_after(inv, host),
        environment=gateway_environment(inv),
        low_port=gw.port < 1024,
        logs_directory=REQUEST_LOG_DIR.removeprefix("/var/log/") if gw.logging.request_log else None,
    )


def gateway_environment(inv: Inventory) -> list[tuple[str, str]]:
    """Non-secret environment of the proxy in both runtimes."""
    # The pinned release's bundled cost map: no fetch from GitHub at start (offline, air-gapped,
    # deterministic); prices update with the pinned version.
    env = [("LITELLM_LOCAL_MODEL_COST_MAP", "True")]
    if inv.gateway.logging.request_log:
        env.append(("LLMFLEET_REQUEST_LOG", REQUEST_LOG_FILE))
    if inv.gateway.ui is not None:
        env.append(("UI_USERNAME", inv.gateway.ui.username))
    return env


@dataclass(frozen=True)
class EnvVar:
    """One secret variable the gateway's ``.env`` must define."""

    name: str
    sources: list[str]
    purpose: str


@dataclass(frozen=True)
class EnvExampleView:
    """The view of ``litellm/.env.example``."""

    fleet: str
    install_dir: str
    variables: list[EnvVar]


def gateway_secrets(inv: Inventory) -> list[EnvVar]:
    """Every secret variable the gateway needs, sorted by name, one entry per name."""
    found: dict[str, tuple[set[str], list[str]]] = {}

    def add(ref: SecretRef | None, purpose: str) -> None:
        if ref is None:
            return
        refs, purposes = found.setdefault(ref.env_name, (set(), []))
        refs.add(str(ref))
        if purpose not in purposes:
            purposes.append(purpose)

    gw = inv.gateway
    add(gw.master_key, "LiteLLM master key (general_settings.master_key)")
    add(gw.salt_key, "LiteLLM salt key (LITELLM_SALT_KEY): encrypts credentials stored in the database; never change it")
    if gw.ui is not None:
        add(gw.ui.password, "LiteLLM admin UI password (UI_PASSWORD)")
    for m in inv.models:
        if m.backend is None:
            add(inv.model_key_ref(m), f"{m.provider} API key")
        else:
            add(inv.model_key_ref(m), f"API key of backend {m.backend}")
    if gw.database is not None:
        if gw.database.url is not None:
            add(gw.database.url, "Postgres connection URL (general_settings.database_url)")
        elif gw.database.bundled is not None:
            add(gw.database.bundled.password, "password of the bundled Postgres (compose builds DATABASE_URL from it)")
    if gw.redis is not None:
        add(gw.redis.password, "Redis password (router_settings.redis_password)")
    return [EnvVar(name, sorted(refs), "; ".join(purposes)) for name, (refs, purposes) in sorted(found.items())]


def env_example_view(inv: Inventory) -> EnvExampleView:
    """The documented list of secret variables for the gateway's ``.env`` (names only)."""
    return EnvExampleView(inv.fleet, inv.gateway.install_dir, gateway_secrets(inv))


# ----------------------------------------------------------------------------- GPU backends
@dataclass(frozen=True)
class OllamaDropInView:
    """The view of ``systemd/ollama.service.d/llmfleet.conf``."""

    fleet: str
    backend: str
    after: list[str]
    environment: list[tuple[str, str]]


def ollama_dropin_view(inv: Inventory, host: Host, backend: Backend) -> OllamaDropInView:
    """Ollama's settings as a drop-in for its systemd unit; it listens on the bind IP only."""
    t = backend.ollama
    assert t is not None
    env = [
        ("OLLAMA_HOST", f"{inv.backend_bind_ip(backend)}:{backend.port}"),
        ("OLLAMA_KEEP_ALIVE", t.keep_alive),
        ("OLLAMA_NUM_PARALLEL", str(t.num_parallel)),
        ("OLLAMA_MAX_LOADED_MODELS", str(t.max_loaded_models)),
        ("OLLAMA_CONTEXT_LENGTH", str(t.context_length)),
        ("OLLAMA_KV_CACHE_TYPE", t.kv_cache_type),
        ("OLLAMA_FLASH_ATTENTION", "1" if t.flash_attention else "0"),
    ]
    if t.models_dir is not None:
        env.append(("OLLAMA_MODELS", t.models_dir))
    after = _after(inv, host) if backend.bind == "mesh" else ["network-online.target"]
    return OllamaDropInView(inv.fleet, backend.name, after, env)


@dataclass(frozen=True)
class OllamaModelsView:
    """The view of ``ollama/models.txt``: upstream models deploy pulls."""

    fleet: str
    models: list[str]


def ollama_models_view(inv: Inventory, backends: list[Backend]) -> OllamaModelsView:
    """The upstream model ids deploy pulls into Ollama on one host (those not created from a GGUF), sorted and unique."""
    names = sorted({m.upstream for b in backends for m in inv.models_on(b.name) if m.ollama is None})
    return OllamaModelsView(inv.fleet, names)


@dataclass(frozen=True)
class ModelfileView:
    """The view of ``ollama/<model>.Modelfile``: what ``ollama create`` builds the model from."""

    fleet: str
    model: str
    upstream: str
    backend: str
    gguf_path: str
    gguf_sha256: str
    parameters: list[tuple[str, str]]
    template: str | None
    system: str | None


def modelfile_name(upstream: str) -> str:
    """The file name of a model's Modelfile (``qwen2.5:0.5b`` → ``qwen2.5_0.5b.Modelfile``)."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", upstream) + ".Modelfile"


def _parameter_value(value: Any) -> str:
    return f'"{value}"' if isinstance(value, str) else json_number(value)


def json_number(value: Any) -> str:
    """A Modelfile number (``0.2``, ``4096``; booleans refused by the model)."""
    return repr(value) if isinstance(value, float) else str(int(value))


def modelfile_view(inv: Inventory, model: Model) -> ModelfileView:
    """``FROM`` the GGUF deploy places in the model directory, then parameters, template and system prompt."""
    src = model.ollama
    assert src is not None and src.gguf is not None and model.backend is not None
    params: dict[str, Any] = {}
    if model.context_window:
        params["num_ctx"] = model.context_window
    params.update(src.parameters)
    lines = [(name, _parameter_value(v)) for name, value in params.items() for v in (value if isinstance(value, list) else [value])]
    return ModelfileView(
        inv.fleet,
        model.name,
        model.upstream,
        model.backend,
        f"{MODELS_DIR}/{src.gguf.filename}",
        src.gguf.sha256,
        lines,
        src.template,
        src.system,
    )


@dataclass(frozen=True)
class LlamaUnitView:
    """The view of ``systemd/llama-server-<backend>.service``."""

    fleet: str
    backend: str
    version: str
    model_file: str
    exec_args: list[str]
    api_key_credential: str | None
    after: list[str]


def _llama_build(version: str) -> int:
    match = re.fullmatch(r"b(\d+)", version)
    return int(match.group(1)) if match else 0


def llama_unit_view(inv: Inventory, host: Host, backend: Backend) -> LlamaUnitView:
    """One llama-server instance serving one GGUF on the backend's bind IP.

    The API key (when set) reaches the server as a systemd credential read with
    ``--api-key-file``: never on the command line, never in the unit.
    """
    t = backend.llamacpp
    assert t is not None
    model_file = f"{MODELS_DIR}/{t.model.filename}"
    flag = lambda field: by_field(field).flag  # noqa: E731 - the one table's name of each managed flag
    args = [
        LLAMA_SERVER_BIN.format(version=t.version),
        flag("llamacpp.model"),
        model_file,
        flag("backend.bind"),
        inv.backend_bind_ip(backend),
        flag("backend.port"),
        str(backend.port),
        flag("llamacpp.ctx_size"),
        str(t.ctx_size),
        flag("llamacpp.parallel"),
        str(t.parallel),
        flag("llamacpp.n_gpu_layers"),
        str(t.n_gpu_layers),
    ]
    if t.jinja:
        args.append(flag("llamacpp.jinja"))
    if t.embedding:
        args.append(flag("llamacpp.embedding"))
    if _llama_build(t.version) >= LLAMA_FLASH_ATTN_VALUE_BUILD:
        args += [flag("llamacpp.flash_attn"), "on" if t.flash_attn else "off"]
    elif t.flash_attn:
        args.append(flag("llamacpp.flash_attn"))
    args += [flag("llamacpp.cache_type_k"), t.cache_type_k, flag("llamacpp.cache_type_v"), t.cache_type_v]
    if t.threads is not None:
        args += [flag("llamacpp.threads"), str(t.threads)]
    aliases = sorted({m.upstream for m in inv.models_on(backend.name)})
    if aliases:
        args += [flag("models.upstream"), aliases[0]]
    args += list(t.extra_args)
    credential = f"{SECRETS_DIR}/{backend.name}.key" if backend.api_key is not None else None
    after = _after(inv, host) if backend.bind == "mesh" else ["network-online.target"]
    return LlamaUnitView(inv.fleet, backend.name, t.version, model_file, args, credential, after)


# ----------------------------------------------------------------------------- mesh
#: Where systemd hands Headscale its TLS certificate and key (``LoadCredential=``; DynamicUser reads them there).
HEADSCALE_CREDENTIALS = f"/run/credentials/{HEADSCALE_SERVICE}"
#: The embedded DERP server's STUN port (UDP).
HEADSCALE_STUN_PORT = 3478


@dataclass(frozen=True)
class HeadscaleView:
    """The view of ``headscale/config.yaml`` and ``systemd/headscale.service``."""

    fleet: str
    version: str
    server_url: str
    listen_addr: str
    prefix_v4: str
    base_domain: str
    policy_path: str
    state_dir: str
    config_path: str
    binary: str
    node_block: bool
    stun_listen_addr: str
    tls_cert: str | None = None
    tls_key: str | None = None
    credentials: list[str] = field(default_factory=list)
    bind_privileged_port: bool = False


def headscale_view(inv: Inventory) -> HeadscaleView:
    """Headscale on loopback behind the TLS-terminating proxy that serves ``server_url``, or, with
    ``mesh.tls``, serving ``server_url`` itself (certificate and key handed over by systemd).

    Either way the embedded DERP relay and its STUN server run: no dependency on Tailscale's public
    DERP map, so a fleet without internet access still meshes.
    """
    mesh = inv.mesh
    assert mesh is not None
    tls = mesh.tls
    port = urlsplit(mesh.server_url).port or 443
    return HeadscaleView(
        fleet=inv.fleet,
        version=mesh.headscale_version,
        server_url=mesh.server_url.rstrip("/"),
        listen_addr=f"0.0.0.0:{port}" if tls is not None else f"127.0.0.1:{mesh.listen_port}",
        prefix_v4=str(mesh.prefix_v4),
        base_domain=mesh.base_domain,
        policy_path=f"{HEADSCALE_ETC}/acl.hujson",
        state_dir=HEADSCALE_STATE,
        config_path=f"{HEADSCALE_ETC}/config.yaml",
        binary=HEADSCALE_BIN,
        node_block=version_tuple(mesh.headscale_version) >= HEADSCALE_NODE_BLOCK,
        stun_listen_addr=f"0.0.0.0:{HEADSCALE_STUN_PORT}",
        tls_cert=f"{HEADSCALE_CREDENTIALS}/tls.crt" if tls else None,
        tls_key=f"{HEADSCALE_CREDENTIALS}/tls.key" if tls else None,
        credentials=[f"tls.crt:{tls.cert_path}", f"tls.key:{tls.key_path}"] if tls else [],
        bind_privileged_port=tls is not None and port < 1024,
    )


def headscale_unsupported(version: str) -> str | None:
    """Why llmfleet cannot render for Headscale ``version`` (None when it can): see
    :func:`llmfleet.versions.headscale_version_problem` (only the minors run in the lab)."""
    return headscale_version_problem(version)


def policy_owner(inv: Inventory) -> str:
    """How the policy names the fleet's Headscale user: ``name@`` from 0.26 (policy v2), else ``name``."""
    mesh = inv.mesh
    assert mesh is not None
    return f"{mesh.user}@" if version_tuple(mesh.headscale_version) >= HEADSCALE_POLICY_V2 else mesh.user


@dataclass(frozen=True)
class AclView:
    """The view of ``headscale/acl.hujson``."""

    fleet: str
    policy: dict[str, Any]
    notes: list[str] = field(default_factory=list)


def intended_acl(inv: Inventory) -> dict[str, Any]:
    """The one ACL policy the inventory implies.

    Only ``tag:gateway`` may open connections, and only to the ports the gateway needs: each
    backend's port on its host (one rule per host listing its ports) and an external Redis on the
    mesh. Nothing else is allowed (the tailnet denies by default; there is no ``*:*``).
    """
    mesh = inv.mesh
    assert mesh is not None
    owner = policy_owner(inv)
    tags = sorted({ROLE_TAGS[r] for h in inv.hosts for r in h.roles})
    hosts: dict[str, str] = {}
    ports: dict[str, set[int]] = {}
    for b in inv.backends:
        host = inv.host_by_name[b.host]
        if b.bind == "loopback" or host.mesh is None:
            continue  # reached over the host's loopback, not the mesh
        hosts[host.name] = f"{inv.backend_bind_ip(b)}/32"
        ports.setdefault(host.name, set()).add(b.port)
    redis = inv.gateway.redis
    if redis is not None and redis.host is not None:
        try:
            ip = ipaddress.ip_address(redis.host)
        except ValueError:
            ip = None
        if ip is not None and ip in mesh.prefix_v4:
            owner_host = next((h.name for h in inv.hosts if h.mesh and h.mesh.ip == ip), "redis")
            hosts[owner_host] = f"{ip}/32"
            ports.setdefault(owner_host, set()).add(redis.port)
    acls = [
        {"action": "accept", "src": [ROLE_TAGS["gateway"]], "dst": [f"{name}:{','.join(str(p) for p in sorted(ports[name]))}"]}
        for name in sorted(ports)
    ]
    return {"tagOwners": {tag: [owner] for tag in tags}, "hosts": hosts, "acls": acls}


def acl_view(inv: Inventory) -> AclView:
    """The derived ACL policy (deterministic JSON)."""
    return AclView(inv.fleet, intended_acl(inv))


@dataclass(frozen=True)
class TailscaleView:
    """The view of ``tailscale/up.args``."""

    fleet: str
    host: str
    args: list[str]


def tailscale_up_args(inv: Inventory, host: Host) -> list[str]:
    """The complete ``tailscale up`` arguments of ``host`` (no auth key: deploy passes one at run time).

    ``--reset`` makes each run declarative: settings not listed return to their defaults, so the
    same arguments give the same node state however it was configured before.
    From Headscale 0.28 the node's tags come with its pre-auth key (:func:`key_carries_tags`), and
    0.29 refuses a key join that also asks for tags: ``--advertise-tags`` is rendered only before 0.28.
    """
    mesh = inv.mesh
    assert mesh is not None
    advertise = [] if key_carries_tags(mesh.headscale_version) else [f"--advertise-tags={','.join(node_tags(host))}"]
    return [
        f"--login-server={mesh.server_url.rstrip('/')}",
        f"--hostname={host.mesh_name}",
        *advertise,
        "--accept-dns=false",
        "--accept-routes=false",
        "--reset",
    ]


def node_tags(host: Host) -> list[str]:
    """The ACL tags of ``host`` on the mesh (one per role, sorted by role)."""
    return [ROLE_TAGS[r] for r in sorted(host.roles)]


def key_carries_tags(headscale_version: str) -> bool:
    """Whether a node's tags are given by its pre-auth key (Headscale 0.28+) rather than ``--advertise-tags``."""
    return version_tuple(headscale_version) >= HEADSCALE_TAGGED_KEYS


def parse_args_file(content: str) -> list[str]:
    """Read an ``up.args``-style file: one argument per line, ``#`` comment lines and blank lines skipped."""
    return [line for line in (raw.strip() for raw in content.splitlines()) if line and not line.startswith("#")]


@dataclass(frozen=True)
class TailscaledUnitView:
    """The view of ``systemd/tailscaled.service``."""

    fleet: str
    version: str
    daemon: str
    state_dir: str
    port: int
    interface: str
    args_file: str
    firewall_mode: str | None = None


def tailscale_firewall_mode(inv: Inventory, host: Host) -> str | None:
    """``iptables`` on a compose gateway host, else None (Tailscale's own choice).

    The container engine (netavark, Docker) writes its rules with iptables; tailscaled, started
    before the engine is installed, finds no iptables and takes nftables, and its nft rules in the
    ``filter``/``nat`` tables make iptables-nft refuse those tables, so the engine's second network
    setup fails ("netavark: iptables: Chain already exists", seen on a lab host). Deploy installs
    iptables before tailscaled starts on such a host.
    """
    return "iptables" if "gateway" in host.roles and inv.gateway.runtime == "compose" else None


def tailscaled_unit_view(inv: Inventory, host: Host) -> TailscaledUnitView:
    """tailscaled in kernel TUN mode on the mesh interface."""
    assert inv.mesh is not None
    return TailscaledUnitView(
        inv.fleet,
        inv.mesh.tailscale_version,
        TAILSCALED_LINK,
        TAILSCALE_STATE,
        TAILSCALE_PORT,
        MESH_INTERFACE,
        TAILSCALE_ARGS_FILE,
        tailscale_firewall_mode(inv, host),
    )


@dataclass(frozen=True)
class OllamaUnitView:
    """The view of ``systemd/ollama.service`` (its settings live in the drop-in)."""

    fleet: str
    version: str
    user: str
    home: str
    binary: str
    writable: list[str]


def ollama_unit_view(inv: Inventory, backend: Backend) -> OllamaUnitView:
    """Ollama as its own user; it may write only its home and its model directory."""
    t = backend.ollama
    assert t is not None
    writable = [OLLAMA_HOME] + ([t.models_dir] if t.models_dir and t.models_dir != OLLAMA_HOME else [])
    return OllamaUnitView(inv.fleet, t.version, OLLAMA_USER, OLLAMA_HOME, OLLAMA_LINK, writable)


def mesh_ports(inv: Inventory, host: Host) -> list[int]:
    """Ports of ``host``'s backends that listen on a non-loopback (mesh) address: the firewall guards them."""
    return sorted({b.port for b in inv.backends_on(host.name) if inv.backend_bind_ip(b) != "127.0.0.1"})


@dataclass(frozen=True)
class FirewallView:
    """The view of ``nftables/llmfleet.nft`` and ``systemd/llmfleet-firewall.service``."""

    fleet: str
    host: str
    ports: list[int]
    interface: str
    table: str
    rules_file: str


def firewall_view(inv: Inventory, host: Host) -> FirewallView:
    """Backend ports admitted only on the mesh interface and loopback."""
    return FirewallView(inv.fleet, host.name, mesh_ports(inv, host), MESH_INTERFACE, FIREWALL_TABLE, FIREWALL_FILE)


# ----------------------------------------------------------------------------- the plan
def plan_fleet(inv: Inventory) -> list[FileSpec]:
    """Every file each host needs, with its template, view, destination and service."""
    specs: list[FileSpec] = []
    gw = inv.gateway
    for host in inv.hosts:
        h = host.name
        if "gateway" in host.roles:
            service = litellm_service(inv)
            specs.append(
                FileSpec(
                    h,
                    f"{h}/litellm/config.yaml",
                    "litellm/config.yaml.j2",
                    litellm_config_view(inv),
                    f"{gw.install_dir}/config.yaml",
                    service=service,
                )
            )
            specs.append(
                FileSpec(h, f"{h}/litellm/.env.example", "litellm/env.example.j2", env_example_view(inv), f"{gw.install_dir}/.env.example")
            )
            if gw.logging.request_log:
                specs.append(
                    FileSpec(
                        h,
                        f"{h}/litellm/{REQUEST_LOG_MODULE}.py",
                        "litellm/llmfleet_request_log.py.j2",
                        RequestLogView(inv.fleet, REQUEST_LOG_CALLBACK, REQUEST_LOG_FILE),
                        f"{gw.install_dir}/{REQUEST_LOG_MODULE}.py",
                        service=service,
                    )
                )
            if gw.runtime == "compose":
                specs.append(
                    FileSpec(
                        h,
                        f"{h}/litellm/docker-compose.yml",
                        "litellm/docker-compose.yml.j2",
                        compose_view(inv, host),
                        f"{gw.install_dir}/docker-compose.yml",
                        service=service,
                    )
                )
            else:
                specs.append(
                    FileSpec(
                        h,
                        f"{h}/systemd/{LITELLM_SERVICE}",
                        "systemd/litellm.service.j2",
                        litellm_unit_view(inv, host),
                        f"{SYSTEMD_DIR}/{LITELLM_SERVICE}",
                        MODE_UNIT,
                        service,
                    )
                )
        backends = inv.backends_on(h) if "gpu" in host.roles else []
        ollama = [b for b in backends if b.kind == "ollama"]
        if "gpu" in host.roles and mesh_ports(inv, host):
            fw = firewall_view(inv, host)
            specs.append(FileSpec(h, f"{h}/nftables/llmfleet.nft", "nftables/llmfleet.nft.j2", fw, FIREWALL_FILE, service=FIREWALL_SERVICE))
            specs.append(
                FileSpec(
                    h,
                    f"{h}/systemd/{FIREWALL_SERVICE}",
                    "systemd/llmfleet-firewall.service.j2",
                    fw,
                    f"{SYSTEMD_DIR}/{FIREWALL_SERVICE}",
                    MODE_UNIT,
                    FIREWALL_SERVICE,
                )
            )
        if ollama:
            # One Ollama server per host (its systemd unit is `ollama.service`); validation reports extras.
            specs.append(
                FileSpec(
                    h,
                    f"{h}/systemd/{OLLAMA_SERVICE}",
                    "systemd/ollama.service.j2",
                    ollama_unit_view(inv, ollama[0]),
                    f"{SYSTEMD_DIR}/{OLLAMA_SERVICE}",
                    MODE_UNIT,
                    OLLAMA_SERVICE,
                )
            )
            specs.append(
                FileSpec(
                    h,
                    f"{h}/systemd/ollama.service.d/llmfleet.conf",
                    "systemd/ollama-dropin.conf.j2",
                    ollama_dropin_view(inv, host, ollama[0]),
                    f"{SYSTEMD_DIR}/ollama.service.d/llmfleet.conf",
                    MODE_UNIT,
                    OLLAMA_SERVICE,
                )
            )
            specs.append(
                FileSpec(
                    h, f"{h}/ollama/models.txt", "ollama/models.txt.j2", ollama_models_view(inv, ollama[:1]), f"{OLLAMA_DIR}/models.txt"
                )
            )
            for m in sorted((m for m in inv.models_on(ollama[0].name) if m.ollama is not None and m.ollama.gguf), key=lambda m: m.upstream):
                name = modelfile_name(m.upstream)
                specs.append(
                    FileSpec(h, f"{h}/ollama/{name}", "ollama/Modelfile.j2", modelfile_view(inv, m), f"{OLLAMA_DIR}/modelfiles/{name}")
                )
        for b in backends:
            if b.kind == "llamacpp":
                unit = llama_service(b.name)
                specs.append(
                    FileSpec(
                        h,
                        f"{h}/systemd/{unit}",
                        "systemd/llama-server.service.j2",
                        llama_unit_view(inv, host, b),
                        f"{SYSTEMD_DIR}/{unit}",
                        MODE_UNIT,
                        unit,
                    )
                )
        if inv.mesh is not None and inv.mesh.headscale_host == h:
            view = headscale_view(inv)
            specs.append(
                FileSpec(
                    h,
                    f"{h}/headscale/config.yaml",
                    "headscale/config.yaml.j2",
                    view,
                    f"{HEADSCALE_ETC}/config.yaml",
                    service=HEADSCALE_SERVICE,
                )
            )
            specs.append(
                FileSpec(
                    h,
                    f"{h}/headscale/acl.hujson",
                    "headscale/acl.hujson.j2",
                    acl_view(inv),
                    f"{HEADSCALE_ETC}/acl.hujson",
                    service=HEADSCALE_SERVICE,
                )
            )
            specs.append(
                FileSpec(
                    h,
                    f"{h}/systemd/{HEADSCALE_SERVICE}",
                    "systemd/headscale.service.j2",
                    view,
                    f"{SYSTEMD_DIR}/{HEADSCALE_SERVICE}",
                    MODE_UNIT,
                    HEADSCALE_SERVICE,
                )
            )
        if inv.mesh is not None and host.mesh is not None:
            specs.append(
                FileSpec(
                    h,
                    f"{h}/systemd/{TAILSCALED_SERVICE}",
                    "systemd/tailscaled.service.j2",
                    tailscaled_unit_view(inv, host),
                    f"{SYSTEMD_DIR}/{TAILSCALED_SERVICE}",
                    MODE_UNIT,
                    TAILSCALED_SERVICE,
                )
            )
            specs.append(
                FileSpec(
                    h,
                    f"{h}/tailscale/up.args",
                    "tailscale/up.args.j2",
                    TailscaleView(inv.fleet, h, tailscale_up_args(inv, host)),
                    TAILSCALE_ARGS_FILE,
                )
            )
    return specs
