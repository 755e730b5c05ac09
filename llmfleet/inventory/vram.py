"""VRAM needs of local models, and the budget of each GPU host.

KV cache per token = 2 (K and V) x layers x kv_heads x head_dim x bytes per element.
llama.cpp allocates ``ctx_size`` tokens in total, shared by its slots; Ollama allocates
``context_length`` for each of its ``num_parallel`` slots, per loaded model.
"""

from __future__ import annotations

from dataclasses import dataclass

from llmfleet.inventory.model import Backend, Inventory, KvCacheType, Model

GIB = 1024**3
#: Bytes per KV element (GGML block sizes: q8_0 = 34 bytes / 32, q4_0 = 18 bytes / 32).
KV_BYTES: dict[KvCacheType, float] = {"f16": 2.0, "q8_0": 34 / 32, "q4_0": 18 / 32}


@dataclass(frozen=True)
class ModelNeed:
    """VRAM one model needs on its backend, and how the number was made."""

    model: str
    gib: float
    detail: str


def _kv_tokens_and_type(backend: Backend) -> tuple[int, KvCacheType, KvCacheType]:
    if backend.llamacpp is not None:
        t = backend.llamacpp
        return t.ctx_size, t.cache_type_k, t.cache_type_v
    if backend.ollama is not None:
        t = backend.ollama
        return t.context_length * t.num_parallel, t.kv_cache_type, t.kv_cache_type
    return 0, "f16", "f16"


def model_need(model: Model, backend: Backend) -> ModelNeed | None:
    """The VRAM ``model`` needs when served by ``backend`` (None when unknown)."""
    spec = model.vram
    if spec is None:
        return None
    if spec.gib is not None:
        return ModelNeed(model.name, spec.gib, f"{spec.gib:.2f} GiB (given)")
    tokens, k_type, v_type = _kv_tokens_and_type(backend)
    assert spec.layers and spec.kv_heads and spec.head_dim and spec.weights_gib
    per_token = spec.layers * spec.kv_heads * spec.head_dim * (KV_BYTES[k_type] + KV_BYTES[v_type])
    kv_gib = tokens * per_token / GIB
    total = spec.weights_gib + kv_gib + spec.overhead_gib
    detail = (
        f"{total:.2f} GiB = weights {spec.weights_gib:.2f} + KV {kv_gib:.2f} "
        f"({tokens} tokens x {per_token / 1024:.0f} KiB) + overhead {spec.overhead_gib:.2f}"
    )
    return ModelNeed(model.name, total, detail)


def backend_need(inv: Inventory, backend: Backend) -> list[ModelNeed]:
    """The needs that count at once on ``backend``.

    A llama.cpp server holds its one model. Ollama holds up to ``max_loaded_models`` models at
    once: the largest ones are the worst case.
    """
    needs = [n for m in inv.models_on(backend.name) if (n := model_need(m, backend)) is not None]
    if backend.ollama is not None:
        needs = sorted(needs, key=lambda n: n.gib, reverse=True)[: backend.ollama.max_loaded_models]
    return needs
