"""The one table of llama-server flags llmfleet knows: read by the model, the importer, the render and the lab.

Each :class:`LlamaFlag` is either *managed* (llmfleet renders it from a field of
:class:`~llmfleet.inventory.model.LlamaCppTuning` or of the backend: ``field`` names it), or
*refused* (it would load weights around the sha256 pin, or open another listener or file: ``why``
says which). Neither may appear in ``extra_args``; every other flag passes through there.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LlamaFlag:
    """One llama-server flag and its aliases."""

    names: tuple[str, ...]
    takes_value: bool = True
    field: str | None = None  # the inventory field llmfleet renders it from ("backend.port", "llamacpp.ctx_size", ...)
    why: str | None = None  # why it is refused in extra_args when no field renders it

    @property
    def flag(self) -> str:
        """The canonical (long) name, the one llmfleet renders."""
        return self.names[0]


WEIGHTS = "loads weights around the sha256 pin"
LISTENER = "opens another listener, file or remote backend"

LLAMA_FLAGS: tuple[LlamaFlag, ...] = (
    LlamaFlag(("--host",), field="backend.bind"),
    LlamaFlag(("--port",), field="backend.port"),
    LlamaFlag(("--api-key",), field="backend.api_key"),
    LlamaFlag(("--api-key-file",), field="backend.api_key"),
    LlamaFlag(("--model", "-m"), field="llamacpp.model"),
    LlamaFlag(("--alias", "-a"), field="models.upstream"),
    LlamaFlag(("--ctx-size", "-c"), field="llamacpp.ctx_size"),
    LlamaFlag(("--parallel", "-np"), field="llamacpp.parallel"),
    LlamaFlag(("--n-gpu-layers", "-ngl", "--gpu-layers"), field="llamacpp.n_gpu_layers"),
    LlamaFlag(("--threads", "-t"), field="llamacpp.threads"),
    LlamaFlag(("--cache-type-k", "-ctk"), field="llamacpp.cache_type_k"),
    LlamaFlag(("--cache-type-v", "-ctv"), field="llamacpp.cache_type_v"),
    LlamaFlag(("--flash-attn", "-fa"), field="llamacpp.flash_attn"),  # takes on|off|auto from b5000 (a bare flag before)
    LlamaFlag(("--jinja",), takes_value=False, field="llamacpp.jinja"),
    LlamaFlag(("--no-jinja",), takes_value=False, field="llamacpp.jinja"),
    LlamaFlag(("--embedding", "--embeddings"), takes_value=False, field="llamacpp.embedding"),
    LlamaFlag(("--verbose", "-v"), takes_value=False, why="logs prompts and generated text"),
    *(
        LlamaFlag((name,), why=WEIGHTS)
        for name in (
            "-hf",
            "-hfr",
            "--hf-repo",
            "-hff",
            "--hf-file",
            "-hft",
            "--hf-token",
            "-mu",
            "--model-url",
            "-hfd",
            "-hfrd",
            "--hf-repo-draft",
            "-md",
            "--model-draft",
            "--lora",
            "--lora-scaled",
            "--control-vector",
            "--mmproj",
            "--mmproj-url",
            "-hfv",
            "--hf-repo-v",
            "--hf-file-v",
            "-mv",
            "--model-vocoder",
            "--docker-repo",
            "-dr",
        )
    ),
    *(
        LlamaFlag((name,), why=LISTENER)
        for name in (
            "--rpc",
            "--path",
            "--ssl-key-file",
            "--ssl-cert-file",
            "--slot-save-path",
            "--log-file",
            "--chat-template-file",
            "--grammar-file",
            "-o",
            "--output",
        )
    ),
    LlamaFlag(("--props",), takes_value=False, why=LISTENER),
    LlamaFlag(("--webui",), takes_value=False, why=LISTENER),
)
#: Boolean llama-server flags that take no value and are free to pass through (for reading command lines).
FREE_SWITCHES = frozenset({"--cont-batching", "-cb", "--no-mmap", "--mlock", "--metrics", "--no-webui", "--no-warmup"})

BY_NAME: dict[str, LlamaFlag] = {name: flag for flag in LLAMA_FLAGS for name in flag.names}
#: Every flag ``extra_args`` may not set (managed or refused).
NOT_IN_EXTRA_ARGS = frozenset(BY_NAME)
#: Flags (any alias) that take no value.
SWITCHES = frozenset({n for f in LLAMA_FLAGS if not f.takes_value for n in f.names}) | FREE_SWITCHES


def by_field(field: str) -> LlamaFlag:
    """The flag llmfleet renders ``field`` as (its canonical name in :attr:`LlamaFlag.flag`)."""
    for flag in LLAMA_FLAGS:
        if flag.field == field and flag.flag != "--no-jinja" and flag.flag != "--api-key-file":
            return flag
    raise KeyError(field)


def canonical(name: str) -> str:
    """The canonical name of a flag (``-c`` → ``--ctx-size``; unknown flags unchanged)."""
    flag = BY_NAME.get(name.split("=", 1)[0])
    return flag.flag if flag else name
