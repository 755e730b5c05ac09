"""Understanding a LiteLLM ``model_list``: what each deployment is, where it points, which key it uses.

Shared by the checks (which judge the config) and the draft (which maps it into an inventory), so
that both read a deployment the same way.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from llmfleet.importer.compose import ComposeFile, Service
from llmfleet.importer.source import ImportInputError, YamlSource
from llmfleet.inventory.litellm_keys import key_table
from llmfleet.inventory.model import CLOUD_PROVIDERS, MESH_NETWORK
from llmfleet.inventory.problems import FieldPath
from llmfleet.inventory.secrets import ENV_NAME_RE

#: Prefixes of LiteLLM providers that talk to a self-hosted server.
LOCAL_PREFIXES = frozenset({"ollama", "ollama_chat", "hosted_vllm", "vllm", "llamafile", "lm_studio", "openai_like", "custom_openai"})
#: Further LiteLLM provider prefixes that are hosted services (not in llmfleet's CLOUD_PROVIDERS).
OTHER_CLOUD_PREFIXES = frozenset(
    {
        "anthropic_text",
        "text-completion-openai",
        "azure_ai",
        "vertex_ai_beta",
        "cerebras",
        "sambanova",
        "perplexity",
        "replicate",
        "ai21",
        "nvidia_nim",
        "watsonx",
        "cloudflare",
        "databricks",
        "nebius",
        "novita",
        "friendliai",
        "nscale",
        "dashscope",
        "moonshot",
        "voyage",
        "jina_ai",
    }
)
#: Non-chat modes of the pinned LiteLLM's bundled cost map, by model id.
COST_MAP_MODES = key_table().cost_map_modes
#: Every provider prefix the pinned LiteLLM knows (its provider list, from the generated key table).
KNOWN_PREFIXES = frozenset(CLOUD_PROVIDERS) | LOCAL_PREFIXES | OTHER_CLOUD_PREFIXES | key_table().providers

#: Values people put in ``api_key`` when a server needs none.
PLACEHOLDER_KEYS = frozenset(
    {
        "not-required",
        "not_required",
        "not-needed",
        "none",
        "null",
        "dummy",
        "dummy-key",
        "empty",
        "fake",
        "fake-key",
        "no-key",
        "no_key",
        "nokey",
        "sk-no-key-required",
        "anything",
        "placeholder",
        "x",
        "na",
        "n/a",
        "ollama",
        "sk-xxx",
        "unused",
        "not-used",
        "local",
        "key",
    }
)
#: Made-up keys of a few lower-case words (sk-local, sk-dummy-key): no real credential looks like that.
DUMMY_KEY_RE = re.compile(r"^sk-[a-z]+(-[a-z]+)?$")
#: Hosts that mean "the machine the gateway runs on".
GATEWAY_HOST_NAMES = frozenset({"localhost", "127.0.0.1", "::1", "host.docker.internal", "172.17.0.1", "host-gateway"})

_SHELL_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?[-?+=][^}]*)?\}")
_OPENAI_NAMES = re.compile(r"^(gpt-|chatgpt|o[1-9](-|$)|text-embedding-|dall-e|whisper|tts-|davinci|babbage)", re.I)

#: Modes people write that LiteLLM does not have (its health check fails on them), and LiteLLM's own name.
MODE_ALIASES = {
    "embeddings": "embedding",
    "tts": "audio_speech",
    "speech": "audio_speech",
    "transcription": "audio_transcription",
    "image": "image_generation",
}

Where = Literal["compose", "gateway-host", "mesh", "private", "public"]
RefKind = Literal["env", "env-syntax", "literal", "placeholder", "missing"]


def shell_vars(text: str) -> list[str]:
    """Names of the ``${VAR}`` references in ``text``."""
    return [m[1] for m in _SHELL_VAR.finditer(text)]


def is_shell_ref(text: str) -> bool:
    """True when ``text`` is exactly one ``${VAR}`` reference."""
    return _SHELL_VAR.fullmatch(text.strip()) is not None


@dataclass(frozen=True)
class SecretValue:
    """How a config gives a secret, and the inventory reference it maps to."""

    kind: RefKind
    ref: str | None

    @property
    def is_literal(self) -> bool:
        """True for a value that is (or may be) the secret itself."""
        return self.kind == "literal"


def secret_value(raw: Any, default_env: str) -> SecretValue:
    """Classify a secret as LiteLLM reads it; literals map to ``env:<default_env>``."""
    if raw is None or raw == "":
        return SecretValue("missing", None)
    text = str(raw).strip()
    if text.startswith("os.environ/"):
        return SecretValue("env", f"env:{env_name(text.removeprefix('os.environ/'), default_env)}")
    match = _SHELL_VAR.fullmatch(text)
    if match:
        return SecretValue("env-syntax", f"env:{env_name(match[1], default_env)}")
    if text.lower() in PLACEHOLDER_KEYS or DUMMY_KEY_RE.match(text):
        return SecretValue("placeholder", None)
    return SecretValue("literal", f"env:{default_env}")


def env_name(name: str, default: str) -> str:
    """An environment variable name the inventory accepts (upper case), or ``default``."""
    upper = name.strip().upper()
    return upper if ENV_NAME_RE.match(upper) else default


def provider_env(provider: str) -> str:
    """The variable a provider's key is conventionally read from (``ANTHROPIC_API_KEY``)."""
    special = {"gemini": "GEMINI_API_KEY", "huggingface": "HUGGINGFACE_API_KEY", "together_ai": "TOGETHERAI_API_KEY"}
    return special.get(provider, re.sub(r"[^A-Z0-9]+", "_", provider.upper()).strip("_") + "_API_KEY")


def infer_provider(model: str) -> str | None:
    """The provider LiteLLM would most likely pick for an unprefixed model id."""
    lower = model.lower()
    if lower.startswith("claude"):
        return "anthropic"
    if _OPENAI_NAMES.match(lower):
        return "openai"
    if lower.startswith(("command", "embed-english", "embed-multilingual")):
        return "cohere"
    if lower.startswith(("mistral-", "open-mistral", "codestral", "mixtral", "ministral")):
        return "mistral"
    if lower.startswith("gemini"):
        return "vertex_ai"
    return None


def is_openai_name(model: str) -> bool:
    """True for an OpenAI model name (gpt-3.5-turbo, gpt-4o, text-embedding-3-small, ...)."""
    return _OPENAI_NAMES.match(model) is not None


@dataclass(frozen=True)
class Endpoint:
    """Where an ``api_base`` points."""

    url: str
    scheme: str
    host: str
    port: int | None
    path: str
    where: Where
    service: Service | None

    @property
    def local(self) -> bool:
        """True for a self-hosted server (anything not a public HTTPS endpoint)."""
        return self.where != "public" or self.scheme != "https"

    @property
    def ip(self) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
        """The host as an IP address, when it is one."""
        try:
            return ipaddress.ip_address(self.host)
        except ValueError:
            return None


def classify_endpoint(url: str, compose: ComposeFile | None) -> Endpoint | None:
    """Parse an ``api_base`` and say where it points; ``None`` if it is not an http(s) URL."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    host = parts.hostname.lower()
    service = compose.services.get(host) if compose else None
    where: Where
    if service is not None:
        where = "compose"
    elif host in GATEWAY_HOST_NAMES:
        where = "gateway-host"
    else:
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            ip = None
        if ip is not None and ip.version == 4 and ip in MESH_NETWORK:
            where = "mesh"
        elif ip is not None:
            where = "private" if (ip.is_private or ip.is_loopback or ip.is_link_local) else "public"
        elif "." not in host or host.endswith((".local", ".lan", ".internal", ".home.arpa", ".ts.net")):
            where = "private"
        else:
            where = "public"
    return Endpoint(url=url, scheme=parts.scheme, host=host, port=port, path=parts.path.rstrip("/"), where=where, service=service)


@dataclass(frozen=True)
class Deployment:
    """One ``model_list`` entry."""

    index: int
    model_name: str
    model: str
    prefix: str | None
    upstream: str
    params: dict[str, Any]
    model_info: dict[str, Any]
    tpm: int | None
    rpm: int | None
    weight: int | None
    endpoint: Endpoint | None

    @property
    def path(self) -> FieldPath:
        """The entry's path in the config."""
        return ("model_list", self.index)

    @property
    def local(self) -> bool:
        """True when a self-hosted server serves it."""
        if self.prefix in LOCAL_PREFIXES:
            return True
        return self.endpoint is not None and self.endpoint.local

    @property
    def provider(self) -> str | None:
        """The cloud provider (prefix, or inferred when unprefixed); ``None`` for a local model."""
        if self.local:
            return None
        return self.prefix or infer_provider(self.model)

    @property
    def mode(self) -> str:
        """LiteLLM's mode (model_info.mode, else litellm_params.mode, else ``embedding`` by the names, else ``chat``)."""
        mode = self.model_info.get("mode", self.params.get("mode"))
        if isinstance(mode, str) and mode:
            return MODE_ALIASES.get(mode, mode)
        known = COST_MAP_MODES.get(self.model) or COST_MAP_MODES.get(self.upstream)
        if known:
            return known  # what LiteLLM's bundled cost map (and so /model/info) says
        if "embed" in self.upstream.lower() or "embed" in self.model_name.lower():
            return "embedding"
        return "chat"


def read_deployments(config: YamlSource, compose: ComposeFile | None) -> list[Deployment]:
    """Parse ``model_list``; raise :class:`ImportInputError` on a malformed entry."""
    model_list = config.data.get("model_list")
    if model_list is None:
        return []
    known = KNOWN_PREFIXES | custom_providers(config)
    if not isinstance(model_list, list):
        raise ImportInputError(config.file, config.line(("model_list",)), "model_list is not a list")
    out = []
    for index, entry in enumerate(model_list):
        path: FieldPath = ("model_list", index)
        if not isinstance(entry, dict):
            raise ImportInputError(config.file, config.line(path), f"model_list[{index}] is not a mapping")
        params = entry.get("litellm_params")
        if not isinstance(params, dict) or not isinstance(params.get("model"), str) or not params["model"].strip():
            raise ImportInputError(config.file, config.line((*path, "litellm_params")), f"model_list[{index}] has no litellm_params.model")
        name = entry.get("model_name")
        if not isinstance(name, (str, int, float)) or str(name).strip() == "":
            raise ImportInputError(config.file, config.line(path), f"model_list[{index}] has no model_name")
        model = params["model"].strip()
        first, slash, rest = model.partition("/")
        prefix, upstream = (first, rest) if slash and first in known and rest else (None, model)
        api_base = params.get("api_base") or params.get("base_url")
        endpoint = classify_endpoint(str(api_base), compose) if api_base else None
        if endpoint is None and prefix in ("ollama", "ollama_chat"):
            endpoint = classify_endpoint("http://localhost:11434", compose)
        info = entry.get("model_info") if isinstance(entry.get("model_info"), dict) else {}
        out.append(
            Deployment(
                index=index,
                model_name=str(name).strip(),
                model=model,
                prefix=prefix,
                upstream=upstream,
                params=params,
                model_info=info,
                tpm=_int(entry.get("tpm", params.get("tpm"))),
                rpm=_int(entry.get("rpm", params.get("rpm"))),
                weight=_int(params.get("weight")),
                endpoint=endpoint,
            )
        )
    return out


def custom_providers(config: YamlSource) -> frozenset[str]:
    """Providers the config registers itself (``litellm_settings.custom_provider_map``)."""
    settings = config.data.get("litellm_settings")
    entries = settings.get("custom_provider_map") if isinstance(settings, dict) else None
    if not isinstance(entries, list):
        return frozenset()
    return frozenset(e["provider"] for e in entries if isinstance(e, dict) and isinstance(e.get("provider"), str))


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None
