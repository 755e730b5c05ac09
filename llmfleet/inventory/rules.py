"""Cross-object rules the schema alone cannot express.

Each rule is a generator of :class:`Problem` objects over a validated :class:`Inventory`. The
loader runs every rule and reports all problems at once. When parts of an inventory failed the
schema, rules run on what did validate; reference checks then use the names written in the file
(``Names``), so a broken item does not also show up as a dangling reference.
"""

from __future__ import annotations

import ipaddress
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlparse

from llmfleet.inventory.gotemplate import uses_tools
from llmfleet.inventory.litellm_keys import ENTRY_SECTIONS, MANAGED_KEYS, SETTINGS_SECTIONS, key_table
from llmfleet.inventory.model import CLOUD_PROVIDERS, KEYLESS_PROVIDERS, PREFIXES_BY_KIND, Inventory
from llmfleet.inventory.problems import Problem, did_you_mean
from llmfleet.inventory.vram import backend_need
from llmfleet.versions import CALLBACK_REQUIREMENTS, headscale_version_problem

#: Prefixes whose route drops the `tools` parameter, and the prefix to use instead.
TOOL_DROPPING_PREFIXES = {"ollama": "openai"}


@dataclass
class Names:
    """Names and data as written in the file (also of items that failed the schema)."""

    hosts: set[str] = field(default_factory=set)
    backends: set[str] = field(default_factory=set)
    models: set[str] = field(default_factory=set)
    groups: set[str] = field(default_factory=set)
    data: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_data(cls, data: object) -> Names:
        """Collect the names of hosts, backends, models and groups from raw inventory data."""

        def names(items: object) -> set[str]:
            if not isinstance(items, list):
                return set()
            return {i["name"] for i in items if isinstance(i, dict) and isinstance(i.get("name"), str)}

        d = data if isinstance(data, dict) else {}
        routing = d.get("routing") if isinstance(d.get("routing"), dict) else {}
        return cls(names(d.get("hosts")), names(d.get("backends")), names(d.get("models")), names(routing.get("groups")), d)

    @classmethod
    def from_inventory(cls, inv: Inventory) -> Names:
        """The names (and data) of a validated inventory."""
        return cls.from_data(inv.model_dump(mode="json"))


Rule = Callable[[Inventory, Names], Iterable[Problem]]


def _unknown(kind: str, name: str, known: Iterable[str]) -> str:
    return f"unknown {kind} '{name}'{did_you_mean(name, known)}"


# ---------------------------------------------------------------- names and references
def duplicate_names(inv: Inventory, names: Names) -> Iterator[Problem]:
    """Names must be unique per kind; a group may not shadow a model."""
    for section, items in (("hosts", inv.hosts), ("backends", inv.backends), ("models", inv.models)):
        seen: set[str] = set()
        for i, item in enumerate(items):
            if item.name in seen:
                yield Problem((section, i, "name"), f"duplicate name '{item.name}'")
            seen.add(item.name)
    seen_groups: set[str] = set()
    for i, group in enumerate(inv.routing.groups):
        if group.name in seen_groups:
            yield Problem(("routing", "groups", i, "name"), f"duplicate group name '{group.name}'")
        if group.name in names.models:
            yield Problem(("routing", "groups", i, "name"), f"group '{group.name}' has the same name as a model")
        seen_groups.add(group.name)


def references(inv: Inventory, names: Names) -> Iterator[Problem]:
    """Every reference names something that exists.

    Runs over the data as written, so that an item failing the schema still has its
    references checked (and reported in the same run).
    """
    data = names.data

    def items(section: list[Any] | Any) -> Iterator[tuple[int, dict[str, Any]]]:
        return ((i, item) for i, item in enumerate(section if isinstance(section, list) else []) if isinstance(item, dict))

    def ref(value: Any) -> str | None:
        return value if isinstance(value, str) else None

    for i, b in items(data.get("backends")):
        if (host := ref(b.get("host"))) and host not in names.hosts:
            yield Problem(("backends", i, "host"), _unknown("host", host, names.hosts))
    for i, m in items(data.get("models")):
        if (backend := ref(m.get("backend"))) and backend not in names.backends:
            yield Problem(("models", i, "backend"), _unknown("backend", backend, names.backends))
    routing = data.get("routing") if isinstance(data.get("routing"), dict) else {}
    for gi, g in items(routing.get("groups")):
        for mi, member in items(g.get("members")):
            if (model := ref(member.get("model"))) and model not in names.models:
                yield Problem(("routing", "groups", gi, "members", mi, "model"), _unknown("model", model, names.models))
    targets = names.models | names.groups
    for section in ("fallbacks", "context_window_fallbacks"):
        chains = routing.get(section) if isinstance(routing.get(section), dict) else {}
        for source, chain in chains.items():
            if str(source) not in targets:
                yield Problem(("routing", section, source), _unknown("model or group", str(source), targets))
            for k, target in enumerate(chain if isinstance(chain, list) else []):
                if not isinstance(target, str):
                    continue
                if target not in targets:
                    yield Problem(("routing", section, source, k), _unknown("model or group", target, targets))
                elif target == source:
                    yield Problem(("routing", section, source, k), f"'{source}' falls back to itself")
    mesh = data.get("mesh") if isinstance(data.get("mesh"), dict) else {}
    if (hs := ref(mesh.get("headscale_host"))) and hs not in names.hosts:
        yield Problem(("mesh", "headscale_host"), _unknown("host", hs, names.hosts))


# ---------------------------------------------------------------- roles and mesh
def roles(inv: Inventory, names: Names) -> Iterator[Problem]:
    """Hosts have the roles their services need."""
    if not inv.hosts_with("gateway"):
        yield Problem(("hosts",), "no host has the `gateway` role: nothing would run LiteLLM")
    for i, b in enumerate(inv.backends):
        host = inv.host_by_name.get(b.host)
        if host is not None and "gpu" not in host.roles:
            yield Problem(("backends", i, "host"), f"host '{host.name}' runs a model backend but lacks the `gpu` role")
    for i, h in enumerate(inv.hosts):
        if "headscale" in h.roles and (inv.mesh is None or inv.mesh.headscale_host != h.name):
            yield Problem(("hosts", i, "roles"), "has the `headscale` role but is not `mesh.headscale_host`")
        if h.gpu is not None and "gpu" not in h.roles:
            yield Problem(("hosts", i, "gpu"), "GPU hardware is described but the host lacks the `gpu` role")
    if inv.mesh is not None:
        hs = inv.host_by_name.get(inv.mesh.headscale_host)
        if hs is not None and "headscale" not in hs.roles:
            yield Problem(("mesh", "headscale_host"), f"host '{hs.name}' lacks the `headscale` role")


def mesh_identity(inv: Inventory, names: Names) -> Iterator[Problem]:
    """With a mesh, every host has a unique mesh IP and name inside the tailnet prefix."""
    if inv.mesh is None:
        for i, h in enumerate(inv.hosts):
            if h.mesh is not None:
                yield Problem(("hosts", i, "mesh"), "a mesh IP is set but the fleet has no `mesh:` section")
        return
    ips: Counter[str] = Counter(str(h.mesh.ip) for h in inv.hosts if h.mesh)
    mesh_names: Counter[str] = Counter(h.mesh_name for h in inv.hosts if h.mesh)
    for i, h in enumerate(inv.hosts):
        if h.mesh is None:
            yield Problem(("hosts", i), "the fleet has a mesh: every host needs `mesh.ip`")
            continue
        if h.mesh.ip not in inv.mesh.prefix_v4:
            yield Problem(("hosts", i, "mesh", "ip"), f"{h.mesh.ip} is outside the tailnet prefix {inv.mesh.prefix_v4}")
        if ips[str(h.mesh.ip)] > 1:
            yield Problem(("hosts", i, "mesh", "ip"), f"mesh IP {h.mesh.ip} is used by more than one host")
        if mesh_names[h.mesh_name] > 1:
            yield Problem(("hosts", i, "mesh"), f"mesh name '{h.mesh_name}' is used by more than one host")
    server_host = urlparse(inv.mesh.server_url).hostname or ""
    base = inv.mesh.base_domain
    if server_host == base or server_host.endswith("." + base):
        yield Problem(
            ("mesh", "base_domain"), f"Headscale refuses a base_domain ({base}) that contains the server URL's host ({server_host})"
        )


def headscale_release(inv: Inventory, names: Names) -> Iterator[Problem]:
    """The pinned Headscale belongs to a minor llmfleet has run in its lab (``versions.HEADSCALE_LAB_RELEASES``)."""
    if inv.mesh is not None and (why := headscale_version_problem(inv.mesh.headscale_version)):
        yield Problem(("mesh", "headscale_version"), why)


# ---------------------------------------------------------------- network exposure
def backend_binds(inv: Inventory, names: Names) -> Iterator[Problem]:
    """Backends have no authentication: they listen on the mesh IP or loopback only."""
    gateway_hosts = {h.name for h in inv.hosts_with("gateway")}
    for i, b in enumerate(inv.backends):
        path = ("backends", i, "bind")
        host = inv.host_by_name.get(b.host)
        if b.bind == "mesh":
            if host is not None and host.mesh is None:
                yield Problem(path, f"binds to the mesh, but host '{host.name}' has no mesh IP (set hosts[].mesh.ip, or bind: loopback)")
            continue
        if b.bind == "loopback":
            ip = ipaddress.ip_address("127.0.0.1")
        else:
            try:
                ip = ipaddress.ip_address(b.bind)
            except ValueError:
                yield Problem(path, f"'{b.bind}' is not `mesh`, `loopback` or an IP address")
                continue
        if ip.is_unspecified:
            yield Problem(path, f"{b.kind} has no authentication: binding {ip} exposes it on every interface; use `mesh` or `loopback`")
        elif host is None:
            continue
        elif ip.is_loopback:
            far = sorted(gateway_hosts - {b.host})
            if far:
                yield Problem(path, f"bound to loopback on '{b.host}', so the gateway on {', '.join(far)} cannot reach it; use `mesh`")
        elif host.mesh is None or ip != host.mesh.ip:
            yield Problem(
                path,
                f"{ip} is neither loopback nor this host's mesh IP: {b.kind} has no authentication, "
                "it must not listen on a LAN or public address; use `mesh` or `loopback`",
            )


def port_conflicts(inv: Inventory, names: Names) -> Iterator[Problem]:
    """No two services of a host share a port."""
    used: dict[tuple[str, int], str] = {}

    def claim(host: str, port: int, what: str, path: tuple) -> Iterator[Problem]:
        key = (host, port)
        if key in used:
            yield Problem(path, f"port {port} on host '{host}' is already used by {used[key]}")
        else:
            used[key] = what

    for i, h in enumerate(inv.hosts):
        yield from claim(h.name, h.ssh.port, "sshd", ("hosts", i, "ssh", "port"))
    for h in inv.hosts_with("gateway"):
        yield from claim(h.name, inv.gateway.port, "the LiteLLM gateway", ("gateway", "port"))
    if inv.mesh is not None:
        yield from claim(inv.mesh.headscale_host, inv.mesh.listen_port, "Headscale", ("mesh", "listen_port"))
    for i, b in enumerate(inv.backends):
        yield from claim(b.host, b.port, f"backend '{b.name}'", ("backends", i, "port"))


# ---------------------------------------------------------------- gateway
def gateway_settings(inv: Inventory, names: Names) -> Iterator[Problem]:
    """Pinned, safe LiteLLM; shared state when there is more than one gateway host."""
    gateways = inv.hosts_with("gateway")
    if len(gateways) > 1:
        if inv.gateway.redis is None:
            yield Problem(
                ("gateway", "redis"), f"{len(gateways)} gateway hosts share routing state (cooldowns, tpm/rpm): configure an external Redis"
            )
        elif inv.gateway.redis.bundled:
            yield Problem(("gateway", "redis", "bundled"), "a bundled Redis is per host; with several gateway hosts use an external one")
        if inv.gateway.database is not None and inv.gateway.database.bundled is not None:
            yield Problem(("gateway", "database", "bundled"), "a bundled Postgres is per host; with several gateway hosts use `url`")
    if inv.gateway.runtime == "systemd-venv":
        for section in ("database", "redis"):
            value = getattr(inv.gateway, section)
            if value is not None and getattr(value, "bundled", None):
                yield Problem(("gateway", section, "bundled"), "bundled services need the compose runtime; use an external one")
        for j, callback in enumerate(inv.gateway.logging.callbacks):
            if callback not in CALLBACK_REQUIREMENTS:
                yield Problem(
                    ("gateway", "logging", "callbacks", j),
                    f"callback '{callback}' may need a Python package that `litellm[proxy]` does not bring; the "
                    f"systemd-venv runtime adds only the ones llmfleet pins ({', '.join(sorted(CALLBACK_REQUIREMENTS))}), and "
                    "LiteLLM exits at startup when one is missing. Use the compose runtime (the official image has them)",
                    severity="warning",
                )
    loaded = {a.ref for a in inv.gateway.engine.images if a.image_id}  # loaded from an archive, its image ID checked
    if inv.gateway.runtime == "compose" and inv.gateway.image_digest is None and inv.gateway.image_ref not in loaded:
        yield Problem(
            ("gateway", "image_digest"),
            f"the image {inv.gateway.image_ref} is pinned by tag only; set image_digest (or load it from an archive in gateway.engine.images with its image_id) to verify it",
            severity="warning",
        )


# ---------------------------------------------------------------- models
def model_routes(inv: Inventory, names: Names) -> Iterator[Problem]:
    """Providers exist, keys are referenced, prefixes fit the backend and keep tools."""
    for i, m in enumerate(inv.models):
        if m.provider is not None:
            providers = key_table(inv.gateway.litellm_version).providers | _custom_providers(inv)
            if m.provider not in providers or (m.provider in ("ollama", "ollama_chat") and m.api_base is None):
                hint = " (a local model uses `backend:`)" if m.provider in ("ollama", "ollama_chat", "llamacpp") else ""
                yield Problem(("models", i, "provider"), _unknown("provider", m.provider, providers or CLOUD_PROVIDERS) + hint)
            elif m.api_key is None and m.credential_name is None and m.api_base is None and m.provider not in KEYLESS_PROVIDERS:
                yield Problem(
                    ("models", i, "api_key"), f"a {m.provider} model needs an API key reference, e.g. env:{m.provider.upper()}_API_KEY"
                )
            continue
        backend = inv.backend_by_name.get(m.backend or "")
        if backend is None:
            continue
        prefix = inv.model_prefix(m)
        allowed = PREFIXES_BY_KIND[backend.kind]
        if prefix not in allowed:
            yield Problem(
                ("models", i, "litellm_prefix"), f"'{prefix}/' does not talk to a {backend.kind} backend; use {' or '.join(allowed)}"
            )
            continue
        if prefix in TOOL_DROPPING_PREFIXES and m.tools != "none" and m.mode == "chat":
            fix = TOOL_DROPPING_PREFIXES[prefix]
            message = (
                f"LiteLLM's '{prefix}/' route drops tools, so tool calls would silently come back as prose; "
                f"use '{fix}/' (set litellm_prefix: {fix}, or remove it: {fix} is the default)"
            )
            yield Problem(("models", i, "litellm_prefix"), message, severity="error" if m.tools == "required" else "warning")
        src = m.ollama
        if src is not None and src.pull is not None and src.pull.insecure and src.digest is None:
            yield Problem(
                ("models", i, "ollama", "digest"),
                f"pulled over plain HTTP (or unverified TLS) from {src.pull.registry} and no digest pinned: nothing checks "
                "what arrives; pin the registry's manifest digest",
                severity="warning",
            )
        if backend.kind == "ollama" and prefix == "openai" and "options" in m.extra_body:
            yield Problem(
                ("models", i, "extra_body"),
                "Ollama's /v1 (the `openai` route) ignores `options`: set them as Modelfile parameters (ollama.parameters) "
                "or use litellm_prefix: ollama_chat",
                severity="warning",
            )
        template = m.ollama.template if m.ollama is not None else None
        if template is not None and not uses_tools(template) and m.tools != "none" and m.mode == "chat":
            message = (
                "this TEMPLATE does not use .Tools, so Ollama refuses every request with tools "
                "(add a .Tools section, e.g. Qwen2.5's, or set tools: none)"
            )
            yield Problem(("models", i, "ollama", "template"), message, severity="error" if m.tools == "required" else "warning")


def backend_models(inv: Inventory, names: Names) -> Iterator[Problem]:
    """One GGUF per llama.cpp server; embedding models on embedding servers only; a model fits the context its backend gives it."""
    for bi, b in enumerate(inv.backends):
        served = inv.models_on(b.name)
        if b.llamacpp is not None:
            if len({m.upstream for m in served}) > 1:
                yield Problem(
                    ("backends", bi),
                    f"a llama.cpp server serves one GGUF, but {len(served)} models point at it; add one llamacpp backend per model",
                )
            t = b.llamacpp
            if (t.cache_type_v != "f16") and not t.flash_attn:
                yield Problem(("backends", bi, "llamacpp", "cache_type_v"), "a quantized V cache needs flash_attn: true")
        if b.ollama is not None and b.ollama.kv_cache_type != "f16" and not b.ollama.flash_attention:
            yield Problem(("backends", bi, "ollama", "kv_cache_type"), "Ollama ignores a quantized KV cache without flash_attention: true")
    ollama_hosts: set[str] = set()
    for bi, b in enumerate(inv.backends):
        if b.kind == "ollama":
            if b.host in ollama_hosts:
                yield Problem(
                    ("backends", bi, "host"), f"host '{b.host}' already runs an Ollama backend: Ollama is one system service per host"
                )
            ollama_hosts.add(b.host)
    for i, m in enumerate(inv.models):
        b = inv.backend_by_name.get(m.backend or "")
        if b is not None and b.llamacpp is not None and b.llamacpp.embedding != (m.mode == "embedding"):
            why = (
                "serves embeddings only (llamacpp.embedding: true)"
                if b.llamacpp.embedding
                else "serves no embeddings (set llamacpp.embedding: true)"
            )
            yield Problem(("models", i, "mode"), f"mode {m.mode}, but llama.cpp backend '{b.name}' {why}")
        if b is None or m.context_window is None:
            continue
        slot = b.llamacpp.slot_ctx if b.llamacpp else b.ollama.context_length if b.ollama else None
        if slot is not None and m.context_window > slot:
            how = f"ctx_size {b.llamacpp.ctx_size} / parallel {b.llamacpp.parallel}" if b.llamacpp else "ollama.context_length"
            yield Problem(
                ("models", i, "context_window"),
                f"{m.context_window} tokens, but backend '{b.name}' gives each request "
                f"{slot} ({how}); prompts above {slot} would be truncated or fail",
            )


def _context_window(inv: Inventory, name: str) -> int | None:
    if name in inv.model_by_name:
        return inv.model_by_name[name].context_window
    group = inv.group_by_name.get(name)
    if group is None:
        return None
    windows = [inv.model_by_name[m.model].context_window for m in group.members if m.model in inv.model_by_name]
    return None if not windows or None in windows else min(w for w in windows if w is not None)


def _mode(inv: Inventory, name: str) -> str | None:
    if name in inv.model_by_name:
        return inv.model_by_name[name].mode
    group = inv.group_by_name.get(name)
    modes = {inv.model_by_name[m.model].mode for m in group.members if m.model in inv.model_by_name} if group else set()
    return modes.pop() if len(modes) == 1 else None


def fallback_rules(inv: Inventory, names: Names) -> Iterator[Problem]:
    """Fallbacks only when asked for, of the same mode, and larger where context matters."""
    r = inv.routing
    if r.fallback_mode == "manual":
        for section in ("fallbacks", "context_window_fallbacks"):
            if getattr(r, section):
                yield Problem(
                    ("routing", section),
                    "fallbacks are set but routing.fallback_mode is `manual`, so they would never fire; "
                    "set fallback_mode: auto, or remove them",
                )
    for section in ("fallbacks", "context_window_fallbacks"):
        for source, chain in getattr(r, section).items():
            for k, target in enumerate(chain):
                if _mode(inv, source) and _mode(inv, target) and _mode(inv, source) != _mode(inv, target):
                    yield Problem(
                        ("routing", section, source, k),
                        f"'{target}' is a {_mode(inv, target)} model but '{source}' is {_mode(inv, source)}",
                    )
    for source, chain in r.context_window_fallbacks.items():
        src = _context_window(inv, source)
        for k, target in enumerate(chain):
            if target not in inv.model_by_name and target not in inv.group_by_name:
                continue
            dst = _context_window(inv, target)
            if src is None or dst is None:
                missing = source if src is None else target
                yield Problem(
                    ("routing", "context_window_fallbacks", source, k), f"'{missing}' needs context_window for a context-window fallback"
                )
            elif dst <= src:
                yield Problem(
                    ("routing", "context_window_fallbacks", source, k),
                    f"'{target}' ({dst} tokens) is not larger than '{source}' ({src} tokens): the fallback cannot help",
                )
    for gi, g in enumerate(r.groups):
        modes = {inv.model_by_name[m.model].mode for m in g.members if m.model in inv.model_by_name}
        if len(modes) > 1:
            yield Problem(("routing", "groups", gi, "members"), "a group mixes chat and embedding models")


def vram_budget(inv: Inventory, names: Names) -> Iterator[Problem]:
    """What the backends of a GPU host hold at once fits its VRAM."""
    for i, h in enumerate(inv.hosts):
        if h.gpu is None:
            continue
        needs = [(b, n) for b in inv.backends_on(h.name) for n in backend_need(inv, b)]
        total = sum(n.gib for _, n in needs)
        if total > h.gpu.total_vram_gib:
            lines = "; ".join(f"{n.model} on {b.name}: {n.detail}" for b, n in needs)
            yield Problem(
                ("hosts", i, "gpu", "vram_gib"),
                f"VRAM budget exceeded: needs {total:.2f} GiB but has {h.gpu.total_vram_gib:.2f} GiB "
                f"({h.gpu.count} x {h.gpu.vram_gib:g} GiB) — {lines}",
            )


def _custom_providers(inv: Inventory) -> frozenset[str]:
    """Providers the gateway registers itself (``litellm_settings.custom_provider_map`` passthrough)."""
    entries = inv.gateway.litellm_settings.get("custom_provider_map")
    if not isinstance(entries, list):
        return frozenset()
    return frozenset(e["provider"] for e in entries if isinstance(e, dict) and isinstance(e.get("provider"), str))


def litellm_passthrough(inv: Inventory, names: Names) -> Iterator[Problem]:
    """Passthrough settings name keys the pinned LiteLLM reads in that section, and none llmfleet sets from a field."""
    table = key_table(inv.gateway.litellm_version)

    def judge(path: tuple[str | int, ...], section: str, values: dict[str, object], among: tuple[str, ...]) -> Iterator[Problem]:
        for key in values:
            if key in MANAGED_KEYS[section]:
                yield Problem((*path, key), f"'{key}' is set by llmfleet from a typed field; set that field instead of passing it through")
                continue
            problem = table.key_problem(section, key, among)
            if problem:
                yield Problem((*path, key), problem)

    for i, m in enumerate(inv.models):
        for section in ENTRY_SECTIONS:
            yield from judge(("models", i, section), section, getattr(m, section), ENTRY_SECTIONS)
    for section in SETTINGS_SECTIONS:
        yield from judge(("gateway", section), section, getattr(inv.gateway, section), SETTINGS_SECTIONS)
    if inv.gateway.budget is not None and "budget_duration" in inv.gateway.litellm_settings:
        yield Problem(
            ("gateway", "litellm_settings", "budget_duration"), "gateway.budget sets the budget period; set budget.duration instead"
        )


def gateway_secrets_and_state(inv: Inventory, names: Names) -> Iterator[Problem]:
    """A database needs a salt key; a Redis cache needs Redis."""
    gw = inv.gateway
    if gw.database is not None and gw.salt_key is None:
        yield Problem(
            ("gateway", "salt_key"),
            "a gateway with a database needs salt_key (LITELLM_SALT_KEY): LiteLLM encrypts the provider credentials it stores "
            "there with it, else with the master key, and they can no longer be decrypted once that key changes; "
            "set e.g. salt_key: env:LITELLM_SALT_KEY and never change it",
        )
    for path, ref, name in (
        (("gateway", "salt_key"), gw.salt_key, "LITELLM_SALT_KEY"),
        (("gateway", "ui", "password"), gw.ui.password if gw.ui else None, "UI_PASSWORD"),
    ):
        if ref is not None and ref.env_name != name:
            yield Problem(
                path, f"LiteLLM reads this only from {name}: reference env:{name} (or a file named {name.lower().replace('_', '-')})"
            )
    if gw.cache is not None and gw.cache.type in ("redis", "redis-semantic") and gw.redis is None:
        yield Problem(("gateway", "cache", "type"), f"a {gw.cache.type} response cache uses gateway.redis: configure it")
    if gw.cache is not None:
        for key in sorted({"host", "port", "password", "type", "ttl", "namespace"} & set(gw.cache.params)):
            yield Problem(("gateway", "cache", "params", key), f"'{key}' comes from gateway.redis or a field of gateway.cache")


RULES: tuple[Rule, ...] = (
    duplicate_names,
    references,
    roles,
    mesh_identity,
    headscale_release,
    backend_binds,
    port_conflicts,
    gateway_settings,
    model_routes,
    backend_models,
    fallback_rules,
    vram_budget,
    litellm_passthrough,
    gateway_secrets_and_state,
)


#: Rules that read the data as written (their paths already use the file's own indices).
RAW_DATA_RULES: frozenset[Rule] = frozenset({references})

IndexMap = dict[tuple[str, ...], list[int]]


def run_rules(inv: Inventory, names: Names | None = None, *, index_map: IndexMap | None = None) -> list[Problem]:
    """Run every rule over ``inv``.

    ``index_map`` is given for a partial inventory (parts failed the schema and were left out):
    it maps a list section (e.g. ``("models",)``) to the file's index of each item kept, so that
    problems point at the right item; a rule that needs a missing part is skipped.
    """
    names = names or Names.from_inventory(inv)
    out: list[Problem] = []
    for rule in RULES:
        try:
            found = list(rule(inv, names))
        except (AttributeError, KeyError, TypeError):
            if index_map is None:
                raise
            continue
        if index_map is not None and rule not in RAW_DATA_RULES:
            found = [_remap(p, index_map) for p in found]
        out.extend(found)
    return out


def _remap(problem: Problem, index_map: IndexMap) -> Problem:
    path = problem.path
    for section, kept in index_map.items():
        n = len(section)
        if path[:n] == section and len(path) > n and isinstance(path[n], int):
            return replace(problem, path=(*path[:n], kept[path[n]], *path[n + 1 :]))
    return problem
