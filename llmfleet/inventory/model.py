"""The typed fleet inventory: the single source of truth every other part reads.

Field descriptions and examples here are the user documentation: ``llmfleet schema`` prints them
as JSON Schema and the README's inventory reference is generated from them. Cross-object rules
(references, VRAM budget, bind addresses, ...) live in :mod:`llmfleet.inventory.rules`.
"""

from __future__ import annotations

import ipaddress
from functools import cached_property
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from llmfleet.inventory.gotemplate import go_template_problem
from llmfleet.inventory.secrets import SecretRef
from llmfleet.inventory.types import (
    BackendBind,
    HostAddress,
    HostPath,
    HttpsOrigin,
    HttpUrl,
    ImageRef,
    IpBind,
    LlamaExtraArgs,
    MirrorUrl,
    ModelId,
    PosixUser,
    env_or_http_url,
)
from llmfleet.layout import GATEWAY_DIR, MESH_NETWORK
from llmfleet.versions import DEFAULT_POSTGRES_IMAGE, DEFAULT_REDIS_IMAGE, DEFAULT_TAILSCALE_VERSION, litellm_version_problem

HostName = Annotated[
    str,
    Field(pattern=r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$", description="A host or backend name: lower-case letters, digits and '-'."),
]
PublicName = Annotated[
    str,
    Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$",
        description="A public model or group name at the gateway (what clients send as `model`).",
    ),
]
RouteName = Annotated[
    str,
    Field(
        pattern=r"^([A-Za-z0-9*][A-Za-z0-9._:/*-]{0,127})$",
        description="A public model name; `*` is a wildcard route (`*`, `claude-*`, `openai/*`) matching what clients send.",
    ),
]
EnvOrUrl = Annotated[
    str,
    Field(
        pattern=r"^(https?://\S+|env:[A-Z_][A-Z0-9_]*)$",
        description="A URL, or `env:NAME`: the gateway reads it from its environment (`os.environ/NAME`).",
    ),
    AfterValidator(env_or_http_url),
]
EnvOrText = Annotated[
    str,
    Field(
        pattern=r"^(env:[A-Z_][A-Z0-9_]*|[A-Za-z0-9][A-Za-z0-9._:/-]*)$",
        description="A value, or `env:NAME`: the gateway reads it from its environment (`os.environ/NAME`).",
    ),
]
#: What a model is for: LiteLLM's `model_info.mode` (the endpoints it serves and how it is health-checked).
ModelMode = Literal[
    "chat",
    "completion",
    "embedding",
    "image_generation",
    "image_edit",
    "audio_transcription",
    "audio_speech",
    "responses",
    "rerank",
    "realtime",
    "ocr",
    "video_generation",
]
ReasoningEffort = Literal["none", "minimal", "low", "medium", "high", "xhigh"]
Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$", description="Lower-case hex SHA-256.")]
Port = Annotated[int, Field(ge=1, le=65535)]
Duration = Annotated[
    str,
    Field(pattern=r"^(-1|0|[0-9]+(ms|s|m|h))$", description="A duration such as 30s, 5m, 1h; 0 = unload at once, -1 = forever."),
]

Role = Literal["gateway", "gpu", "headscale"]
BackendKind = Literal["ollama", "llamacpp", "openai_compatible"]
ToolCalling = Literal["required", "optional", "none"]
KvCacheType = Literal["f16", "q8_0", "q4_0"]

#: LiteLLM prefixes that are correct for each backend kind; the first is the default. For Ollama that is `openai`
#: on Ollama's /v1: tool calls survive it streamed and not, at less gateway overhead than `ollama_chat`
#: (benchmarks/RESULTS-ollama-routes.md); embeddings go through `ollama` (LiteLLM embeds Ollama only there).
PREFIXES_BY_KIND = {
    "ollama": ("openai", "ollama_chat", "ollama"),
    "llamacpp": ("openai",),
    "openai_compatible": ("openai", "hosted_vllm"),
}
#: Listen addresses that mean "every interface".
WILDCARD_BINDS = frozenset({"0.0.0.0", "::", "[::]", ""})

#: Cloud providers, by their LiteLLM provider prefix.
CLOUD_PROVIDERS = (
    "anthropic",
    "openai",
    "gemini",
    "vertex_ai",
    "azure",
    "bedrock",
    "mistral",
    "groq",
    "cohere",
    "deepseek",
    "openrouter",
    "together_ai",
    "fireworks_ai",
    "huggingface",
    "xai",
)
#: Providers that authenticate by other means than an API key (cloud IAM).
KEYLESS_PROVIDERS = frozenset({"vertex_ai", "bedrock"})


class Strict(BaseModel):
    """Base for every inventory object: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, allow_inf_nan=False)


class Artifact(Strict):
    """A downloadable file pinned by checksum (binary, GGUF weights)."""

    url: HttpUrl = Field(
        description="Where to download it. In air-gapped mode the file name is fetched from `artifacts.mirror` instead.",
        examples=["https://huggingface.co/unsloth/DeepSeek-R1-0528-Qwen3-8B-GGUF/resolve/main/DeepSeek-R1-0528-Qwen3-8B-UD-Q8_K_XL.gguf"],
    )
    sha256: Sha256 = Field(description="Expected SHA-256 of the file; a mismatch aborts the deploy.", examples=["9f2c" + "0" * 60])

    @property
    def filename(self) -> str:
        """The file's name, taken from the URL."""
        return self.url.rstrip("/").rsplit("/", 1)[-1].split("?", 1)[0]


class Ssh(Strict):
    """How pyinfra reaches the host."""

    user: PosixUser = Field(default="root", description="SSH user (sudo is used when not root).", examples=["root", "ops"])
    port: Port = Field(default=22, description="SSH port.", examples=[22])


class Gpu(Strict):
    """The host's GPUs (all of one kind)."""

    vendor: Literal["nvidia"] = Field(default="nvidia", description="GPU vendor; only NVIDIA is deployed.", examples=["nvidia"])
    count: int = Field(default=1, ge=1, le=16, description="Number of GPUs.", examples=[1])
    vram_gib: float = Field(gt=0, le=512, description="VRAM of each GPU in GiB.", examples=[16, 24])
    driver_branch: str = Field(pattern=r"^[0-9]{3}$", description="NVIDIA driver branch to install (e.g. 550, 570).", examples=["550"])
    model: str | None = Field(default=None, description="Marketing name, for reports only.", examples=["RTX 4080"])

    @property
    def total_vram_gib(self) -> float:
        """VRAM over all GPUs of the host."""
        return self.count * self.vram_gib


class MeshNode(Strict):
    """The host's identity on the Headscale/Tailscale mesh."""

    name: HostName | None = Field(default=None, description="Node name on the mesh; defaults to the host name.", examples=["gpu1"])
    ip: ipaddress.IPv4Address = Field(
        description="The node's mesh IPv4 (100.64.0.0/10), fixed so that binds and the ACL can name it.",
        examples=["100.64.0.2"],
    )

    @field_validator("ip")
    @classmethod
    def _in_mesh_range(cls, ip: ipaddress.IPv4Address) -> ipaddress.IPv4Address:
        if ip not in MESH_NETWORK:
            raise ValueError(f"{ip} is not a mesh address (must be in {MESH_NETWORK})")
        return ip


class Host(Strict):
    """A machine llmfleet deploys to."""

    name: HostName = Field(description="Unique host name; also the pyinfra host name.", examples=["gw1", "gpu1"])
    address: HostAddress = Field(
        description="Address pyinfra connects to over SSH (DNS name or IP).", examples=["203.0.113.10", "gpu1.example.net"]
    )
    ssh: Ssh = Field(default_factory=Ssh, description="SSH connection settings.")
    os: Literal["debian", "ubuntu"] = Field(
        default="debian", description="Distribution family (selects package repositories).", examples=["debian"]
    )
    roles: list[Role] = Field(
        min_length=1,
        description="What the host does: `gateway` runs LiteLLM, `gpu` runs model backends, `headscale` runs the mesh control server.",
        examples=[["gateway", "headscale"], ["gpu"]],
    )
    gpu: Gpu | None = Field(default=None, description="GPU hardware; omit for CPU-only backend hosts.")
    mesh: MeshNode | None = Field(default=None, description="Mesh identity; required on every host when the fleet has a mesh.")

    @field_validator("roles")
    @classmethod
    def _unique_roles(cls, roles: list[Role]) -> list[Role]:
        if len(set(roles)) != len(roles):
            raise ValueError("roles are listed more than once")
        return roles

    @property
    def mesh_name(self) -> str:
        """The node name on the mesh."""
        return (self.mesh.name if self.mesh and self.mesh.name else None) or self.name


class OllamaTuning(Strict):
    """Ollama server settings (rendered as a systemd drop-in's environment)."""

    version: str = Field(pattern=r"^[0-9]+\.[0-9]+\.[0-9]+$", description="Pinned Ollama release.", examples=["0.5.7"])
    binary: Artifact | None = Field(
        default=None, description="The release archive, pinned by SHA-256 (deploy refuses to install without it)."
    )
    keep_alive: Duration = Field(
        default="30m", description="How long a model stays loaded after its last request (OLLAMA_KEEP_ALIVE).", examples=["30m", "-1"]
    )
    num_parallel: int = Field(default=1, ge=1, le=64, description="Parallel requests per loaded model (OLLAMA_NUM_PARALLEL).", examples=[2])
    max_loaded_models: int = Field(
        default=1, ge=1, le=16, description="Models kept loaded at once (OLLAMA_MAX_LOADED_MODELS).", examples=[1]
    )
    context_length: int = Field(
        default=4096, ge=256, description="Default context length per request slot (OLLAMA_CONTEXT_LENGTH).", examples=[8192]
    )
    kv_cache_type: KvCacheType = Field(
        default="f16", description="KV cache quantization (OLLAMA_KV_CACHE_TYPE); q8_0/q4_0 need flash_attention.", examples=["q8_0"]
    )
    flash_attention: bool = Field(default=False, description="OLLAMA_FLASH_ATTENTION.", examples=[True])
    models_dir: HostPath | None = Field(
        default=None, description="Where model blobs live (OLLAMA_MODELS).", examples=["/srv/ollama/models"]
    )


class LlamaCppTuning(Strict):
    """llama.cpp `llama-server` settings (one server instance serves one GGUF)."""

    version: str = Field(pattern=r"^b[0-9]+$", description="Pinned llama.cpp build (release tag).", examples=["b4589"])
    binary: Artifact | None = Field(default=None, description="The llama-server build archive, pinned by SHA-256.")
    model: Artifact = Field(description="The GGUF weights, pinned by SHA-256.")
    ctx_size: int = Field(
        ge=256, description="Total context (`--ctx-size`), shared by all slots: each slot gets ctx_size / parallel.", examples=[32768]
    )
    parallel: int = Field(default=1, ge=1, le=64, description="Parallel request slots (`--parallel`).", examples=[4])
    n_gpu_layers: int = Field(default=999, ge=0, description="Layers offloaded to the GPU (`--n-gpu-layers`); 999 = all.", examples=[37])
    jinja: bool = Field(
        default=True, description="Use the model's Jinja chat template (`--jinja`); needed for tool calling.", examples=[True]
    )
    flash_attn: bool = Field(default=False, description="`--flash-attn` (needed for a quantized V cache).", examples=[True])
    embedding: bool = Field(
        default=False,
        description="Serve embeddings only (`--embedding`): for a dedicated embedding GGUF, whose models are `mode: embedding`. "
        "The GGUF's pooling applies; a GGUF without pooling metadata needs `--pooling` in `extra_args` "
        "(llama-server refuses OpenAI embeddings with pooling `none`).",
        examples=[True],
    )
    cache_type_k: KvCacheType = Field(default="f16", description="`--cache-type-k`.", examples=["q8_0"])
    cache_type_v: KvCacheType = Field(default="f16", description="`--cache-type-v`.", examples=["q8_0"])
    threads: int | None = Field(
        default=None,
        ge=1,
        description="CPU threads for generation (`--threads`); default: llama.cpp's own choice (all cores). "
        "Set it when several servers share a host's CPU: llama.cpp's threads busy-wait, and oversubscribed cores stall requests for seconds.",
        examples=[4],
    )
    extra_args: LlamaExtraArgs = Field(
        default_factory=list,
        description="Further llama-server flags. Never what llmfleet manages (--host, --port, --api-key, --model, --ctx-size, "
        "--parallel, --threads, --n-gpu-layers, --cache-type-k/v, --flash-attn, --jinja, --embedding), nor what loads weights around the "
        "sha256 pin (-hf, --model-url, --lora, ...) or opens another listener or file (--rpc, --path, --slot-save-path, ...).",
        examples=[["--batch-size", "1024"]],
    )

    @property
    def slot_ctx(self) -> int:
        """Context available to one request slot."""
        return self.ctx_size // self.parallel


class Backend(Strict):
    """A model server on a `gpu` host: Ollama, llama.cpp, or any OpenAI-compatible server."""

    name: HostName = Field(description="Unique backend name.", examples=["ollama-gpu1"])
    kind: BackendKind = Field(description="Server software.", examples=["ollama", "llamacpp"])
    host: HostName = Field(description="The host it runs on (must have the `gpu` role).", examples=["gpu1"])
    port: Port = Field(description="Listening port.", examples=[11434, 8080])
    bind: BackendBind = Field(
        default="mesh",
        description="Listen address: `mesh` (the host's mesh IP), `loopback` (127.0.0.1; only when the gateway is on the same host) "
        "or an explicit IP that is one of those. Never 0.0.0.0 or a public address: these servers have no authentication.",
        examples=["mesh", "loopback"],
    )
    api_path: str = Field(
        default="/v1",
        pattern=r"^/",
        description="Path of the OpenAI-compatible API (llama.cpp, openai_compatible; Ollama's is always /v1).",
        examples=["/v1"],
    )
    api_key: SecretRef | None = Field(
        default=None, description="Key the server requires, if any (llama.cpp `--api-key`).", examples=["env:LLAMA_API_KEY"]
    )
    ollama: OllamaTuning | None = Field(default=None, description="Required when kind is `ollama`.")
    llamacpp: LlamaCppTuning | None = Field(default=None, description="Required when kind is `llamacpp`.")

    @model_validator(mode="after")
    def _tuning_matches_kind(self) -> Backend:
        if self.kind == "ollama" and self.ollama is None:
            raise ValueError("an ollama backend needs an `ollama:` section (at least `version`)")
        if self.kind == "llamacpp" and self.llamacpp is None:
            raise ValueError("a llamacpp backend needs a `llamacpp:` section (version, model, ctx_size)")
        if self.kind != "ollama" and self.ollama is not None:
            raise ValueError(f"`ollama:` settings on a {self.kind} backend")
        if self.kind != "llamacpp" and self.llamacpp is not None:
            raise ValueError(f"`llamacpp:` settings on a {self.kind} backend")
        return self


class VramSpec(Strict):
    """VRAM a local model needs: given directly, or derived from weights and KV-cache geometry."""

    gib: float | None = Field(
        default=None, gt=0, description="Measured total need in GiB (weights + KV + overhead); overrides the derivation.", examples=[9.5]
    )
    weights_gib: float | None = Field(
        default=None, gt=0, description="Size of the weights in GiB (about the GGUF file size).", examples=[10.1]
    )
    layers: int | None = Field(default=None, ge=1, description="Transformer layers (for the KV cache).", examples=[36])
    kv_heads: int | None = Field(default=None, ge=1, description="KV attention heads (GQA).", examples=[8])
    head_dim: int | None = Field(default=None, ge=1, description="Dimension of one head.", examples=[128])
    overhead_gib: float = Field(default=0.75, ge=0, description="Compute buffers and CUDA context.", examples=[0.75])

    @model_validator(mode="after")
    def _given_or_derivable(self) -> VramSpec:
        geometry = (self.weights_gib, self.layers, self.kv_heads, self.head_dim)
        if self.gib is None and any(v is None for v in geometry):
            raise ValueError("give either `gib`, or all of weights_gib, layers, kv_heads and head_dim")
        return self


class Slo(Strict):
    """Warm-latency objective, measured by `llmfleet check` through the gateway."""

    ttft_p95_ms: int = Field(gt=0, description="p95 time to first token, warm, in ms.", examples=[800])
    e2e_p95_ms: int = Field(gt=0, description="p95 end-to-end time of the probe request, warm, in ms.", examples=[4000])
    ttft_counts: Literal["visible", "any"] = Field(
        default="visible",
        description="Which first token `ttft_p95_ms` judges: `visible` (first content or tool call; a reasoning model's thinking "
        "does not count) or `any` (first token of any kind, reasoning included).",
        examples=["visible"],
    )


#: Modelfile ``PARAMETER`` names llmfleet renders (Ollama's documented set).
OLLAMA_PARAMETERS = ("num_ctx", "num_predict", "temperature", "top_k", "top_p", "min_p", "repeat_penalty", "repeat_last_n", "seed", "stop")


class OllamaPull(Strict):
    """Pull the model from an operator-run registry (a Registry v2 such as CNCF distribution), not from ollama.com.

    Ollama 0.17.4 fetches a blob only through a redirect to another host name (ollama#7244): a plain
    registry that serves blobs itself fails with "no Location header in response". The distribution
    registry does it with its ``redirect`` storage middleware pointing at a static file server of its
    storage root under another host name (README, Ollama).
    """

    registry: str = Field(
        pattern=r"^[a-z0-9][a-z0-9.-]*(?::[0-9]{1,5})?$",
        description="The registry's host[:port], as in the reference `ollama pull` takes.",
        examples=["registry.internal:5000"],
    )
    repository: str | None = Field(
        default=None,
        pattern=r"^(?:[a-z0-9][a-z0-9._-]*/)?[A-Za-z0-9][A-Za-z0-9._-]*(?::[A-Za-z0-9_][A-Za-z0-9._-]{0,127})?$",
        description="The repository and tag in that registry; default `library/<upstream>`. Deploy pulls it, then names it "
        "`upstream` (`ollama cp`, same digest) and removes the long name.",
        examples=["library/qwen2.5:0.5b"],
    )
    insecure: bool = Field(
        default=False,
        description="Plain HTTP or unverified TLS (`ollama pull --insecure`); pin `digest` so what arrives is still checked.",
        examples=[True],
    )

    def reference(self, upstream: str) -> str:
        """The full reference deploy pulls (``registry/namespace/model:tag``)."""
        repo = self.repository or f"library/{upstream}"
        return f"{self.registry}/{repo}" + ("" if ":" in repo.rsplit("/", 1)[-1] else ":latest")


class OllamaModelSource(Strict):
    """An Ollama model without ollama.com: ``ollama create`` from a pinned GGUF and a rendered Modelfile, or a pull
    from an operator-run registry (``pull``). Exactly one of ``gguf`` and ``pull``.

    The Modelfile takes these fields; its ``num_ctx`` is the model's ``context_window`` when set.
    """

    gguf: Artifact | None = Field(default=None, description="The GGUF weights, pinned by SHA-256 (deploy runs `ollama create`).")
    pull: OllamaPull | None = Field(
        default=None, description="Pull from this registry instead (its manifest carries template and parameters)."
    )
    template: str | None = Field(
        default=None,
        max_length=16384,
        description="Ollama's Go prompt template (Modelfile TEMPLATE); omit to use the GGUF's own chat template. "
        "Tool calling on Ollama needs one that uses `.Tools` (Ollama refuses `tools` otherwise, and parses calls after the "
        "prefix the template writes before `.ToolCalls`, e.g. `<tool_call>`). Checked before deploy for what Go's parser "
        'refuses (unclosed actions and blocks, unknown functions); field names are checked by Ollama. No `"""`.',
        examples=["{{ .System }} {{ .Prompt }}"],
    )
    system: str | None = Field(
        default=None, max_length=16384, description="Default system prompt (Modelfile SYSTEM).", examples=["You answer briefly."]
    )
    parameters: dict[str, int | float | str | list[str]] = Field(
        default_factory=dict,
        description=f"Modelfile PARAMETER lines: {', '.join(OLLAMA_PARAMETERS)} (`stop` may be a list).",
        examples=[{"temperature": 0.2, "stop": ["<|im_end|>"]}],
    )
    digest: Sha256 | None = Field(
        default=None,
        description="The model's digest as Ollama reports it in /api/tags; deploy verifies it after `ollama create` or the pull, "
        "and `llmfleet check` on every run. For a pull it is the registry's manifest digest (Docker-Content-Digest). Ollama's "
        "manifest names the GGUF, the Modelfile's layers and the blob's path under the model directory: the same GGUF, Modelfile "
        "and models_dir give the same digest.",
        examples=["daedfe62ae6255ee352f26dfa6661f72473e2e980f13d6bacc258136f9079e24"],
    )

    @model_validator(mode="after")
    def _one_source(self) -> OllamaModelSource:
        if (self.gguf is None) == (self.pull is None):
            raise ValueError("set exactly one of gguf (ollama create) and pull (from a registry)")
        if self.pull is not None:
            given = [f for f in ("template", "system") if getattr(self, f) is not None] + (["parameters"] if self.parameters else [])
            if given:
                raise ValueError(f"{', '.join(given)}: only with gguf; a pulled model's manifest carries them")
        return self

    @field_validator("template", "system")
    @classmethod
    def _modelfile_block(cls, value: str | None) -> str | None:
        if value is None:
            return value
        if '"""' in value:
            raise ValueError('may not contain """ (it would end the Modelfile block)')
        bad = sorted({c for c in value if not (c.isprintable() or c == "\n")})
        if bad:
            raise ValueError(
                f"control characters {', '.join(map(repr, bad))} (only line breaks are kept as written: Ollama's Modelfile "
                "parser drops the others, tabs aside, and llmfleet renders none)"
            )
        return value

    @field_validator("template")
    @classmethod
    def _go_template(cls, value: str | None) -> str | None:
        problem = go_template_problem(value) if value is not None else None
        if problem:
            raise ValueError(f"not a template Ollama can parse (Go text/template): {problem}")
        return value

    @field_validator("parameters")
    @classmethod
    def _known_parameters(cls, params: dict[str, int | float | str | list[str]]) -> dict[str, int | float | str | list[str]]:
        for name, value in params.items():
            if name not in OLLAMA_PARAMETERS:
                raise ValueError(f"unknown Modelfile parameter {name!r} (known: {', '.join(OLLAMA_PARAMETERS)})")
            for v in value if isinstance(value, list) else [value]:
                if isinstance(v, str) and any(c in v for c in '"\n\r\\'):
                    raise ValueError(f"parameter {name}: quotes, backslashes and line breaks are not allowed in {v!r}")
        return params


class Model(Strict):
    """A model clients can ask the gateway for by its public name."""

    name: RouteName = Field(description="Public name at the gateway.", examples=["qwen2.5-14b", "claude-haiku", "openai/*"])
    backend: HostName | None = Field(
        default=None, description="Local backend serving it (exclusive with `provider`).", examples=["ollama-gpu1"]
    )
    provider: str | None = Field(
        default=None,
        description=f"Provider, as LiteLLM names it (its provider list), e.g. {', '.join(CLOUD_PROVIDERS)}; with `api_base` also a "
        "server llmfleet does not deploy (`openai` or `hosted_vllm` for any OpenAI-compatible server).",
        examples=["anthropic"],
    )
    upstream: ModelId = Field(
        description="The model id the backend or provider knows it by.",
        examples=["qwen2.5:14b-instruct", "claude-3-5-haiku-20241022"],
    )
    litellm_prefix: str | None = Field(
        default=None,
        pattern=r"^[a-z_]+$",
        description="LiteLLM provider prefix for a local model; derived when omitted: `openai` (on the backend's `api_path`, for "
        "Ollama its /v1: tool calls survive it at the least overhead, benchmarks/RESULTS-ollama-routes.md), `ollama` for an "
        "Ollama embedding model. `ollama_chat` (Ollama's /api/chat) also keeps tools; `ollama` (/api/generate) drops them.",
        examples=["ollama_chat"],
    )
    api_key: SecretRef | None = Field(
        default=None, description="Provider API key reference (cloud models).", examples=["env:ANTHROPIC_API_KEY"]
    )
    api_base: EnvOrUrl | None = Field(
        default=None,
        description="Endpoint of a provider model (not of a local backend): an override of the provider's, or a server llmfleet does "
        "not deploy; `env:NAME` reads it from the gateway's environment.",
        examples=["https://api-inference.huggingface.co/v1", "env:AZURE_API_BASE"],
    )
    api_version: EnvOrText | None = Field(
        default=None, description="Provider API version (Azure OpenAI), or `env:NAME`.", examples=["2025-01-01-preview"]
    )
    vertex_project: EnvOrText | None = Field(
        default=None, description="Google Cloud project of a vertex_ai model.", examples=["env:GCP_PROJECT"]
    )
    vertex_location: EnvOrText | None = Field(
        default=None, description="Vertex AI region (data residency) of a vertex_ai model.", examples=["europe-west4"]
    )
    credential_name: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
        description="A credential stored in LiteLLM's database (`litellm_credential_name`) used instead of `api_key`.",
        examples=["azure-prod"],
    )
    mode: ModelMode = Field(default="chat", description="What the model is for (LiteLLM `model_info.mode`).", examples=["chat"])
    timeout_s: float | None = Field(default=None, gt=0, description="Per-deployment request timeout (LiteLLM `timeout`).", examples=[600])
    stream_timeout_s: float | None = Field(default=None, gt=0, description="Per-deployment stream timeout.", examples=[60])
    num_retries: int | None = Field(default=None, ge=0, le=10, description="Retries of this deployment (overrides routing).", examples=[1])
    extra_headers: dict[Annotated[str, Field(pattern=r"^[A-Za-z0-9-]+$")], str] = Field(
        default_factory=dict, description="HTTP headers sent to the upstream with every request.", examples=[{"X-Title": "gateway"}]
    )
    extra_body: dict[str, Any] = Field(
        default_factory=dict,
        description="Fields added to every request body (e.g. `{chat_template_kwargs: {enable_thinking: false}}`; Ollama `options` "
        "only on the `ollama_chat` route: its /v1 ignores them).",
        examples=[{"chat_template_kwargs": {"enable_thinking": False}}],
    )
    reasoning_effort: ReasoningEffort | None = Field(default=None, description="Default reasoning effort.", examples=["low"])
    thinking: dict[str, Any] | None = Field(
        default=None,
        description="Default extended-thinking setting (Anthropic `thinking`).",
        examples=[{"type": "enabled", "budget_tokens": 2048}],
    )
    base_model: str | None = Field(
        default=None, min_length=1, description="Model whose cost map entry prices this one (`model_info.base_model`).", examples=["gpt-4o"]
    )
    input_cost_per_token: float | None = Field(default=None, ge=0, description="Cost override in USD per input token.", examples=[3e-06])
    output_cost_per_token: float | None = Field(
        default=None, ge=0, description="Cost override in USD per output token.", examples=[1.5e-05]
    )
    access_groups: list[Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")]] = Field(
        default_factory=list, description="LiteLLM access groups (keys and teams granted a group may use the model).", examples=[["beta"]]
    )
    description: str | None = Field(default=None, max_length=500, description="Shown in `/model/info`.", examples=["Fast default"])
    litellm_params: dict[str, Any] = Field(
        default_factory=dict,
        description="Further LiteLLM deployment parameters (`litellm_params`), checked against the keys the pinned LiteLLM accepts; "
        "never ones llmfleet sets from fields.",
        examples=[{"max_tokens": 8192, "merge_reasoning_content_in_choices": True}],
    )
    model_info: dict[str, Any] = Field(
        default_factory=dict,
        description="Further `model_info` entries (metadata), checked against the keys the pinned LiteLLM accepts.",
        examples=[{"input_cost_per_image": 0.04}],
    )
    context_window: int | None = Field(
        default=None, ge=256, description="Usable context in tokens (used for context-window fallbacks).", examples=[8192]
    )
    vram: VramSpec | None = Field(default=None, description="VRAM need of a local model (for the per-host budget).")
    tools: ToolCalling = Field(
        default="optional",
        description="Tool-calling expectation: `required` (probe failure fails the check), `optional` (reported), `none` (not probed).",
        examples=["required"],
    )
    slo: Slo | None = Field(default=None, description="Warm-latency objective.")
    tags: list[Annotated[str, Field(pattern=r"^[a-z0-9-]+$")]] = Field(
        default_factory=list, description="Free labels shown to clients, e.g. local, fast, cheap, best.", examples=[["local", "fast"]]
    )
    ollama: OllamaModelSource | None = Field(
        default=None,
        description="For a model of an Ollama backend: create it offline from a pinned GGUF, or pull it from an operator-run "
        "registry (else deploy runs `ollama pull upstream`, from ollama.com).",
    )
    tpm: int | None = Field(
        default=None,
        ge=1,
        description="Tokens-per-minute capacity of this model's deployment (LiteLLM `tpm`: routing and limits); "
        "a group member's own `tpm` overrides it inside that group.",
        examples=[400000],
    )
    rpm: int | None = Field(
        default=None,
        ge=1,
        description="Requests-per-minute capacity (LiteLLM `rpm`); a group member's own `rpm` overrides it inside that group.",
        examples=[60],
    )

    @model_validator(mode="after")
    def _one_source(self) -> Model:
        if (self.backend is None) == (self.provider is None):
            raise ValueError("set exactly one of `backend` (local model) or `provider` (cloud model)")
        if self.provider is not None:
            if self.litellm_prefix is not None:
                raise ValueError("`litellm_prefix` is for local models; a cloud model's prefix is its `provider`")
            if self.vram is not None:
                raise ValueError("`vram` is for local models")
        elif self.api_base is not None:
            raise ValueError("`api_base` is for cloud models; a local model's address comes from its backend")
        if self.mode != "chat" and self.tools == "required":
            raise ValueError(f"a {self.mode} model cannot require tool calling")
        if self.ollama is not None and self.provider is not None:
            raise ValueError("`ollama` (create from a GGUF) is for models of an Ollama backend")
        return self

    @property
    def is_wildcard(self) -> bool:
        """True for a wildcard route (`*` in the name): it matches names clients send, it is not one model."""
        return "*" in self.name


class GroupMember(Strict):
    """One deployment inside a load-balanced group."""

    model: PublicName = Field(description="A model from `models`.", examples=["claude-opus"])
    tpm: int | None = Field(default=None, ge=1, description="Tokens-per-minute capacity of this deployment.", examples=[1000000])
    rpm: int | None = Field(default=None, ge=1, description="Requests-per-minute capacity.", examples=[1000])
    weight: int | None = Field(default=None, ge=1, description="Relative share for simple-shuffle routing.", examples=[2])


class Group(Strict):
    """A public name that load-balances across several models."""

    name: PublicName = Field(description="Public name of the group.", examples=["smart"])
    members: list[GroupMember] = Field(min_length=1, description="Deployments behind the name.")


class Routing(Strict):
    """How the gateway routes, retries and falls back."""

    fallback_mode: Literal["manual", "auto"] = Field(
        default="manual",
        description="`manual`: no automatic fallback, a failing model returns an error and clients switch. "
        "`auto`: the `fallbacks` below fire. Fallbacks are never rendered in manual mode.",
        examples=["auto"],
    )
    fallbacks: dict[PublicName, list[PublicName]] = Field(
        default_factory=dict,
        description="On error of the key model or group, try these in order.",
        examples=[{"deepseek-r1": ["gemini-flash"]}],
    )
    context_window_fallbacks: dict[PublicName, list[PublicName]] = Field(
        default_factory=dict,
        description="When the prompt exceeds the key's context window, try these (each must have a larger window).",
        examples=[{"smart": ["claude-opus-200k"]}],
    )
    groups: list[Group] = Field(default_factory=list, description="Load-balanced groups.")
    strategy: Literal["simple-shuffle", "least-busy", "usage-based-routing-v2", "latency-based-routing"] = Field(
        default="simple-shuffle", description="LiteLLM routing strategy inside a group.", examples=["usage-based-routing-v2"]
    )
    num_retries: int = Field(default=2, ge=0, le=10, description="Retries of a failed request on the same model.", examples=[2])
    timeout_s: float = Field(default=600, gt=0, description="Per-request timeout in seconds.", examples=[120])
    stream_timeout_s: float | None = Field(default=None, gt=0, description="Timeout for the first chunk of a stream.", examples=[30])
    cooldown_s: int = Field(
        default=60, ge=0, description="How long a deployment that failed `allowed_fails` times is skipped.", examples=[60]
    )
    allowed_fails: int = Field(default=3, ge=0, description="Failures per minute before cooldown.", examples=[3])
    pre_call_checks: bool = Field(
        default=False,
        description="LiteLLM `enable_pre_call_checks`: skip deployments whose context window a prompt exceeds (always on when a "
        "model sets context_window).",
        examples=[True],
    )
    retry_policy: dict[Annotated[str, Field(pattern=r"^[A-Za-z]+Retries$")], Annotated[int, Field(ge=0, le=10)]] = Field(
        default_factory=dict,
        description="Retries per error class (LiteLLM `retry_policy`), e.g. no retry on a bad request.",
        examples=[{"BadRequestErrorRetries": 0, "RateLimitErrorRetries": 3}],
    )
    allowed_fails_policy: dict[Annotated[str, Field(pattern=r"^[A-Za-z]+AllowedFails$")], Annotated[int, Field(ge=0)]] = Field(
        default_factory=dict,
        description="Failures per error class before cooldown (LiteLLM `allowed_fails_policy`).",
        examples=[{"RateLimitErrorAllowedFails": 100}],
    )


class BundledPostgres(Strict):
    """A Postgres container next to LiteLLM (compose runtime)."""

    image: ImageRef = Field(
        default=DEFAULT_POSTGRES_IMAGE,
        description="Pinned image.",
        examples=["postgres:16.4"],
    )
    password: SecretRef = Field(description="Password of the `litellm` database user.", examples=["env:POSTGRES_PASSWORD"])


class Database(Strict):
    """LiteLLM's Postgres (spend logs, keys, per-request cost). Exactly one of `bundled` or `url`."""

    bundled: BundledPostgres | None = Field(default=None, description="Run Postgres beside the gateway.")
    url: SecretRef | None = Field(default=None, description="Reference to an external DATABASE_URL.", examples=["env:DATABASE_URL"])

    @model_validator(mode="after")
    def _exactly_one(self) -> Database:
        if (self.bundled is None) == (self.url is None):
            raise ValueError("set exactly one of `bundled` or `url`")
        return self


class Redis(Strict):
    """Shared router state (required with more than one gateway host)."""

    bundled: bool = Field(
        default=False, description="Run Redis beside the gateway (compose runtime, single gateway only).", examples=[True]
    )
    image: ImageRef = Field(default=DEFAULT_REDIS_IMAGE, description="Pinned image when bundled.", examples=[DEFAULT_REDIS_IMAGE])
    host: HostAddress | None = Field(default=None, description="External Redis host (mesh IP or name).", examples=["100.64.0.5"])
    port: Port = Field(default=6379, description="Redis port.", examples=[6379])
    password: SecretRef = Field(description="Redis password reference.", examples=["env:REDIS_PASSWORD"])

    @model_validator(mode="after")
    def _bundled_or_external(self) -> Redis:
        if self.bundled == (self.host is not None):
            raise ValueError("set either `bundled: true` or an external `host`")
        return self


class HealthChecks(Strict):
    """LiteLLM's own background health checks."""

    background: bool = Field(default=True, description="Run background health checks (`/health` serves the last result).", examples=[True])
    interval_s: int = Field(default=300, ge=10, description="Seconds between background checks.", examples=[300])
    max_tokens: int = Field(
        default=1, ge=1, le=64, description="Tokens a health-check generation may produce (keep it 1: it costs money).", examples=[1]
    )


class Logging(Strict):
    """Request and cost logging."""

    callbacks: list[str] = Field(
        default_factory=list,
        description="LiteLLM callbacks for every request (e.g. prometheus, langfuse, otel, s3, datadog).",
        examples=[["prometheus"]],
    )
    json_logs: bool = Field(default=True, description="Structured JSON logs from the proxy.", examples=[True])
    store_prompts: bool = Field(default=False, description="Keep prompts and responses in spend logs (privacy!).", examples=[False])
    request_log: bool = Field(
        default=False,
        description=(
            "One JSON line per request (call id, model, deployment, tokens, cost in USD, status; never prompts or keys) "
            "appended by llmfleet's LiteLLM callback to /var/log/litellm/requests.jsonl on the gateway host: "
            "per-request cost records without a database (spend logs need `gateway.database`)."
        ),
        examples=[True],
    )
    success_callbacks: list[str] = Field(
        default_factory=list, description="Callbacks for successful requests only (`success_callback`).", examples=[["langfuse"]]
    )
    failure_callbacks: list[str] = Field(
        default_factory=list, description="Callbacks for failed requests only (`failure_callback`).", examples=[["sentry"]]
    )
    service_callbacks: list[str] = Field(
        default_factory=list,
        description="Callbacks for the proxy's own services: Redis, Postgres (`service_callback`).",
        examples=[["prometheus_system"]],
    )


class ResponseCache(Strict):
    """LiteLLM's response cache (`litellm_settings.cache`): identical requests are answered from it."""

    type: Literal["redis", "local", "redis-semantic", "qdrant-semantic", "s3", "disk"] = Field(
        default="redis", description="Where cached responses live; `redis` uses `gateway.redis`.", examples=["redis"]
    )
    ttl_s: int | None = Field(default=None, ge=1, description="How long a response stays cached.", examples=[3600])
    namespace: str | None = Field(default=None, pattern=r"^[A-Za-z0-9:_-]+$", description="Key prefix in the cache.", examples=["litellm"])
    params: dict[str, Any] = Field(
        default_factory=dict,
        description="Further `cache_params` (e.g. `supported_call_types`, `similarity_threshold`); never host, port or password.",
        examples=[{"supported_call_types": ["acompletion"]}],
    )


class Budget(Strict):
    """A spend limit of the whole proxy (`litellm_settings.max_budget`, `budget_duration`)."""

    max_usd: float = Field(gt=0, description="Maximum spend in USD per period.", examples=[100])
    duration: str | None = Field(default=None, pattern=r"^[0-9]+(s|m|h|d|mo)$", description="Reset period.", examples=["30d", "1mo"])


class UiLogin(Strict):
    """The LiteLLM admin UI's own login (UI_USERNAME / UI_PASSWORD)."""

    username: str = Field(default="admin", pattern=r"^[A-Za-z0-9._@-]+$", description="UI user name.", examples=["admin"])
    password: SecretRef = Field(description="UI password reference.", examples=["env:UI_PASSWORD"])


class ImageArchive(Artifact):
    """A container image saved with `docker save` (docker-archive): air-gapped hosts load it instead of pulling."""

    ref: str = Field(
        pattern=r"^[a-z0-9][a-z0-9./_-]*(:[A-Za-z0-9._-]+)?$",
        description="The image reference the archive holds (what the compose file names).",
        examples=["ghcr.io/berriai/litellm:main-v1.106.2"],
    )
    image_id: str | None = Field(
        default=None,
        pattern=r"^sha256:[0-9a-f]{64}$",
        description="Expected image ID (config digest) after loading; a mismatch aborts the deploy.",
        examples=["sha256:" + "0" * 64],
    )


class ContainerEngine(Strict):
    """Where the compose runtime's Docker-API engine and Docker Compose v2 come from, and which images it loads."""

    source: Literal["docker-apt", "debian-podman"] = Field(
        default="docker-apt",
        description="`docker-apt`: Docker Engine + compose plugin from Docker's apt repository; `debian-podman`: "
        "Debian's podman serving the Docker API (podman.socket, from the host's own apt sources, e.g. a mirror), "
        "driven by the pinned `compose_binary`.",
        examples=["docker-apt", "debian-podman"],
    )
    compose_version: str = Field(
        default="2.40.3", pattern=r"^2\.[0-9]+\.[0-9]+$", description="Docker Compose v2 release of `compose_binary`.", examples=["2.40.3"]
    )
    compose_binary: Artifact | None = Field(
        default=None,
        description="The static Docker Compose v2 binary, pinned by SHA-256 (required with `debian-podman`; "
        "with `docker-apt` it replaces the apt compose plugin).",
    )
    images: list[ImageArchive] = Field(
        default_factory=list, description="Image archives loaded before `compose up` (air-gapped: nothing is pulled)."
    )

    @model_validator(mode="after")
    def _compose_for_podman(self) -> ContainerEngine:
        if self.source == "debian-podman" and self.compose_binary is None:
            raise ValueError("`debian-podman` has no compose plugin: pin `compose_binary` (Docker Compose v2)")
        return self


class Gateway(Strict):
    """The LiteLLM proxy, run on every host with the `gateway` role."""

    litellm_version: str = Field(
        description="Pinned LiteLLM release (x.y.z). `latest`/`main-latest` are refused, so is any release the advisory "
        "table (`llmfleet audit`) marks compromised or critical (1.82.7/1.82.8, anything below 1.84.0).",
        examples=["1.106.2"],
    )
    runtime: Literal["compose", "systemd-venv"] = Field(
        default="compose",
        description="`compose`: the official container; `systemd-venv`: pip-installed LiteLLM in a venv under systemd.",
        examples=["compose"],
    )
    image: str = Field(
        default="ghcr.io/berriai/litellm",
        pattern=r"^[a-z0-9./_-]+$",
        description="Container image repository (compose runtime).",
        examples=["ghcr.io/berriai/litellm"],
    )
    image_digest: str | None = Field(
        default=None,
        pattern=r"^sha256:[0-9a-f]{64}$",
        description="Image digest; when set the image is pulled by digest (verified).",
        examples=["sha256:" + "0" * 64],
    )
    port: Port = Field(default=4000, description="Port the proxy listens on.", examples=[4000])
    bind: IpBind = Field(
        default="0.0.0.0",
        description="Listen address. The proxy enforces the master key, so it may listen publicly; `llmfleet check` proves auth is on.",
        examples=["0.0.0.0", "100.64.0.1"],
    )
    master_key: SecretRef = Field(
        description="The admin key (must start with sk-, at least 32 characters).", examples=["env:LITELLM_MASTER_KEY"]
    )
    workers: int = Field(default=1, ge=1, le=32, description="Proxy worker processes.", examples=[1])
    install_dir: HostPath = Field(
        default=GATEWAY_DIR,
        description="Directory on the host holding config.yaml, compose file and .env.",
        examples=[GATEWAY_DIR],
    )
    drop_params: bool = Field(
        default=True, description="Drop request parameters a provider does not support instead of failing.", examples=[True]
    )
    engine: ContainerEngine = Field(default_factory=ContainerEngine, description="Container engine and images (compose runtime).")
    database: Database | None = Field(default=None, description="Postgres for keys and spend logs.")
    redis: Redis | None = Field(default=None, description="Redis for shared routing state.")
    health: HealthChecks = Field(default_factory=HealthChecks, description="Background health checks.")
    logging: Logging = Field(default_factory=Logging, description="Request and cost logging.")
    salt_key: SecretRef | None = Field(
        default=None,
        description="LITELLM_SALT_KEY: encrypts the provider credentials LiteLLM stores in its database (models and credentials "
        "added in the UI). Required with a database: without it they are encrypted with the master key and are lost when it rotates.",
        examples=["env:LITELLM_SALT_KEY"],
    )
    ui: UiLogin | None = Field(default=None, description="Admin UI login (otherwise the master key logs in).")
    cache: ResponseCache | None = Field(default=None, description="Response cache.")
    budget: Budget | None = Field(default=None, description="Spend limit of the whole proxy.")
    litellm_settings: dict[str, Any] = Field(
        default_factory=dict,
        description="Further `litellm_settings`, checked against the keys the pinned LiteLLM reads there (a key of another section is "
        "refused with the section it belongs to); never ones llmfleet sets from fields.",
        examples=[{"modify_params": True}],
    )
    router_settings: dict[str, Any] = Field(
        default_factory=dict, description="Further `router_settings`, checked likewise.", examples=[{"retry_after": 5}]
    )
    general_settings: dict[str, Any] = Field(
        default_factory=dict, description="Further `general_settings`, checked likewise.", examples=[{"proxy_batch_write_at": 60}]
    )

    @field_validator("litellm_version")
    @classmethod
    def _deployable_version(cls, version: str) -> str:
        problem = litellm_version_problem(version)
        if problem:
            raise ValueError(problem)
        return version

    @property
    def local_address(self) -> str:
        """Where a process on the gateway host reaches the proxy: loopback for a wildcard ``bind``."""
        return "127.0.0.1" if self.bind in WILDCARD_BINDS else self.bind

    @property
    def image_ref(self) -> str:
        """The pinned image reference: repository:tag, plus @digest when known."""
        ref = f"{self.image}:main-v{self.litellm_version}"
        return f"{ref}@{self.image_digest}" if self.image_digest else ref


class MeshTls(Strict):
    """Headscale terminates TLS itself with this certificate (paths on the Headscale host, provisioned by the operator)."""

    cert_path: str = Field(
        pattern=r"^/[^\s]*$", description="PEM certificate (chain) for the server_url host.", examples=["/etc/headscale/tls/server.crt"]
    )
    key_path: str = Field(
        pattern=r"^/[^\s]*$",
        description="Its PEM private key (root-only; handed to the unit with LoadCredential=).",
        examples=["/etc/headscale/tls/server.key"],
    )


class Mesh(Strict):
    """The Headscale control server and the tailnet it runs."""

    headscale_host: HostName = Field(description="The host running Headscale (role `headscale`).", examples=["gw1"])
    headscale_version: str = Field(
        pattern=r"^[0-9]+\.[0-9]+\.[0-9]+$",
        description="Pinned Headscale release, of a minor llmfleet's lab runs (0.23, 0.26, 0.28, 0.29; `versions.HEADSCALE_LAB_RELEASES`).",
        examples=["0.29.2"],
    )
    headscale_binary: Artifact | None = Field(default=None, description="The Headscale release binary, pinned by SHA-256.")
    tailscale_version: str = Field(
        default=DEFAULT_TAILSCALE_VERSION,
        pattern=r"^[0-9]+\.[0-9]+\.[0-9]+$",
        description="Pinned Tailscale client release.",
        examples=[DEFAULT_TAILSCALE_VERSION],
    )
    tailscale_binary: Artifact | None = Field(
        default=None,
        description=(
            "The Tailscale static archive (`tailscale_<version>_<arch>.tgz`), pinned by SHA-256. Without it the deploy installs "
            "`tailscale_version` from Tailscale's signed apt repository (or, air-gapped, the archive the mirror lists)."
        ),
    )
    server_url: HttpsOrigin = Field(description="Public URL of the Headscale server.", examples=["https://hs.example.net"])
    listen_port: Port = Field(default=8080, description="Port Headscale listens on (behind TLS).", examples=[8080])
    tls: MeshTls | None = Field(
        default=None,
        description=(
            "Headscale serves server_url itself over TLS on the URL's port (default 443), with this certificate; "
            "without it Headscale listens on loopback at listen_port behind your TLS-terminating proxy."
        ),
    )
    base_domain: str = Field(
        pattern=r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$",
        description="MagicDNS base domain (must differ from the server URL's domain).",
        examples=["mesh.example.internal"],
    )
    prefix_v4: ipaddress.IPv4Network = Field(default=MESH_NETWORK, description="Tailnet IPv4 prefix.", examples=["100.64.0.0/10"])
    user: str = Field(
        default="llmfleet",
        pattern=r"^[a-z0-9-]+$",
        description="Headscale user that owns the fleet's nodes and tags.",
        examples=["llmfleet"],
    )


class Artifacts(Strict):
    """Where deploys download binaries and weights."""

    mirror: MirrorUrl | None = Field(
        default=None,
        description="Air-gapped mode: fetch every artifact by file name from this base URL (still SHA-256 verified).",
        examples=["http://mirror.internal/llmfleet/"],
    )


class Inventory(Strict):
    """A fleet: hosts, model backends, models, routing, gateway and mesh."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="llmfleet inventory")

    fleet: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$", description="Fleet name (file name of the inventory).", examples=["prod"])
    hosts: list[Host] = Field(min_length=1, description="Machines of the fleet.")
    backends: list[Backend] = Field(default_factory=list, description="Local model servers.")
    models: list[Model] = Field(min_length=1, description="Models served at the gateway.")
    routing: Routing = Field(default_factory=Routing, description="Fallbacks, groups, retries, timeouts.")
    gateway: Gateway = Field(description="The LiteLLM proxy.")
    mesh: Mesh | None = Field(default=None, description="Headscale/Tailscale mesh; omit for a single-host fleet.")
    artifacts: Artifacts = Field(default_factory=Artifacts, description="Download sources.")

    # ----- lookups used by rules, render, deploy and checks -----
    @cached_property
    def host_by_name(self) -> dict[str, Host]:
        """Hosts by name."""
        return {h.name: h for h in self.hosts}

    @cached_property
    def backend_by_name(self) -> dict[str, Backend]:
        """Backends by name."""
        return {b.name: b for b in self.backends}

    @cached_property
    def model_by_name(self) -> dict[str, Model]:
        """Models by public name."""
        return {m.name: m for m in self.models}

    @cached_property
    def group_by_name(self) -> dict[str, Group]:
        """Load-balanced groups by public name."""
        return {g.name: g for g in self.routing.groups}

    def hosts_with(self, role: Role) -> list[Host]:
        """Hosts that have ``role``, in inventory order."""
        return [h for h in self.hosts if role in h.roles]

    @cached_property
    def _backends_by_host(self) -> dict[str, list[Backend]]:
        index: dict[str, list[Backend]] = {}
        for b in self.backends:
            index.setdefault(b.host, []).append(b)
        return index

    @cached_property
    def _models_by_backend(self) -> dict[str, list[Model]]:
        index: dict[str, list[Model]] = {}
        for m in self.models:
            if m.backend is not None:
                index.setdefault(m.backend, []).append(m)
        return index

    def backends_on(self, host: str) -> list[Backend]:
        """Backends running on ``host``."""
        return self._backends_by_host.get(host, [])

    def models_on(self, backend: str) -> list[Model]:
        """Models served by ``backend``."""
        return self._models_by_backend.get(backend, [])

    def public_names(self) -> list[str]:
        """Every name `/v1/models` lists: models, then groups, sorted."""
        return sorted({m.name for m in self.models} | {g.name for g in self.routing.groups})

    def backend_bind_ip(self, backend: Backend) -> str:
        """The concrete address ``backend`` listens on."""
        if backend.bind == "loopback":
            return "127.0.0.1"
        if backend.bind == "mesh":
            host = self.host_by_name[backend.host]
            if host.mesh is None:
                raise ValueError(f"backend {backend.name} binds to the mesh but host {host.name} has no mesh IP")
            return str(host.mesh.ip)
        return backend.bind

    def backend_url(self, backend: Backend) -> str:
        """Base URL the gateway uses to reach ``backend`` (no API path)."""
        return f"http://{self.backend_bind_ip(backend)}:{backend.port}"

    def model_prefix(self, model: Model) -> str:
        """The LiteLLM provider prefix ``model`` is routed with (``<prefix>/<upstream>``)."""
        if model.provider is not None:
            return model.provider
        if model.litellm_prefix is not None:
            return model.litellm_prefix
        kind = self.backend_by_name[model.backend].kind  # type: ignore[index]
        if kind == "ollama" and model.mode == "embedding":
            return "ollama"  # LiteLLM's embedding() routes Ollama only under `ollama/`
        return PREFIXES_BY_KIND[kind][0]

    def model_api_base(self, model: Model) -> str | None:
        """The ``api_base`` LiteLLM uses for ``model``: its backend's URL (+ API path for OpenAI-style routes)."""
        if model.backend is None:
            return model.api_base
        backend = self.backend_by_name[model.backend]
        base = self.backend_url(backend)
        if self.model_prefix(model).startswith("ollama"):
            return base
        if backend.kind == "ollama":
            return base + "/v1"  # Ollama's OpenAI-compatible API (the `openai` route)
        return base + backend.api_path.rstrip("/")

    def model_key_ref(self, model: Model) -> SecretRef | None:
        """The secret the gateway authenticates to ``model``'s upstream with, if any."""
        if model.backend is None:
            return model.api_key
        return self.backend_by_name[model.backend].api_key


def dump_json_schema() -> dict[str, Any]:
    """The inventory's JSON Schema (for editors: yaml-language-server)."""
    schema = Inventory.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://llmfleet.dev/schema/inventory.json"
    return schema
