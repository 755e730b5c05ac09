"""Cross-object rules: one test (at least) per rule, asserting the message a user sees."""

from __future__ import annotations

import pytest

from llmfleet.inventory.model import VramSpec
from llmfleet.inventory.vram import model_need


def test_base_fleet_is_valid(load_data, base) -> None:
    loaded = load_data(base)
    assert loaded.inventory.public_names() == ["ds", "haiku", "qwen"]
    assert loaded.warnings == []


def test_duplicate_names(problems_of, base) -> None:
    base["models"].append(dict(base["models"][0]))
    base["routing"] = {"groups": [{"name": "ds", "members": [{"model": "qwen"}]}]}
    out = problems_of(base)
    assert any("models[3].name: duplicate name 'qwen'" in p for p in out)
    assert any("routing.groups[0].name: group 'ds' has the same name as a model" in p for p in out)


def test_dangling_references_of_every_kind(problems_of, base) -> None:
    base["backends"][0]["host"] = "gpu2"
    base["models"][1]["backend"] = "lama-gpu1"
    base["routing"] = {
        "fallback_mode": "auto",
        "groups": [{"name": "smart", "members": [{"model": "haiku"}, {"model": "hiaku"}]}],
        "fallbacks": {"smrt": ["haiku"], "qwen": ["smart", "sonnet"]},
    }
    base["mesh"]["headscale_host"] = "gw"
    out = "\n".join(problems_of(base))
    assert "backends[0].host: unknown host 'gpu2' (did you mean 'gpu1'?)" in out
    assert "models[1].backend: unknown backend 'lama-gpu1' (did you mean 'llama-gpu1'?)" in out
    assert "routing.groups[0].members[1].model: unknown model 'hiaku' (did you mean 'haiku'?)" in out
    assert "routing.fallbacks.smrt: unknown model or group 'smrt' (did you mean 'smart'?)" in out
    assert "routing.fallbacks.qwen[1]: unknown model or group 'sonnet'" in out
    assert "mesh.headscale_host: unknown host 'gw' (did you mean 'gw1'?)" in out


def test_context_window_fallback_must_be_larger(problems_of, base) -> None:
    base["routing"] = {"fallback_mode": "auto", "context_window_fallbacks": {"haiku": ["ds"], "ds": ["haiku"]}}
    out = problems_of(base)
    assert any("routing.context_window_fallbacks.haiku[0]: 'ds' (8192 tokens) is not larger than 'haiku' (200000 tokens)" in p for p in out)
    assert not any("context_window_fallbacks.ds" in p for p in out)


def test_fallbacks_never_fire_in_manual_mode(problems_of, base) -> None:
    base["routing"] = {"fallbacks": {"ds": ["haiku"]}}
    assert any("routing.fallbacks: fallbacks are set but routing.fallback_mode is `manual`" in p for p in problems_of(base))


def test_vram_budget_shows_the_numbers(problems_of, load_data, base) -> None:
    # Nova ADR-009: DeepSeek-R1 Qwen3 8B Q8_K_XL, ctx 32768, parallel 4, on a 16 GB card: fits, just.
    base["models"][1]["vram"] = {"weights_gib": 10.08, "layers": 36, "kv_heads": 8, "head_dim": 128}
    base["backends"][0]["ollama"]["max_loaded_models"] = 1
    load_data(base)
    base["hosts"][1]["gpu"]["vram_gib"] = 12
    out = problems_of(base)
    msg = next(p for p in out if "hosts[1].gpu.vram_gib" in p)
    assert "VRAM budget exceeded: needs 15.33 GiB but has 12.00 GiB (1 x 12 GiB)" in msg
    assert "ds on llama-gpu1: 15.33 GiB = weights 10.08 + KV 4.50 (32768 tokens x 144 KiB) + overhead 0.75" in msg


def test_ollama_budget_counts_only_the_largest_loaded_models(load_data, base) -> None:
    base["models"][0]["vram"] = {"gib": 9}
    base["models"].append({"name": "q2", "backend": "ollama-gpu1", "upstream": "q2", "vram": {"gib": 9}})
    base["backends"][0]["ollama"]["max_loaded_models"] = 1
    load_data(base)  # 9 GiB at once fits 16 GiB; with two loaded at once it would not


def test_kv_cache_quantization_shrinks_the_need() -> None:
    from llmfleet.inventory.model import Backend, Model

    spec = VramSpec(weights_gib=4, layers=32, kv_heads=8, head_dim=128, overhead_gib=0)

    def backend(kv):
        return Backend.model_validate(
            {
                "name": "b",
                "kind": "llamacpp",
                "host": "h",
                "port": 1,
                "llamacpp": {
                    "version": "b1",
                    "model": {"url": "https://x/y.gguf", "sha256": "a" * 64},
                    "ctx_size": 8192,
                    "cache_type_k": kv,
                    "cache_type_v": kv,
                    "flash_attn": True,
                },
            }
        )

    model = Model(name="m", backend="b", upstream="u", vram=spec)
    f16, q8 = model_need(model, backend("f16")), model_need(model, backend("q8_0"))
    assert f16 is not None and q8 is not None
    assert f16.gib == pytest.approx(4 + 1.0)  # 8192 tokens x 128 KiB = 1 GiB
    assert q8.gib == pytest.approx(4 + 34 / 64)


def test_two_services_on_one_port(problems_of, base) -> None:
    base["mesh"]["listen_port"] = 4000  # the gateway's port on gw1
    base["backends"][1]["port"] = 11434
    out = "\n".join(problems_of(base))
    assert "mesh.listen_port: port 4000 on host 'gw1' is already used by the LiteLLM gateway" in out
    assert "backends[1].port: port 11434 on host 'gpu1' is already used by backend 'ollama-gpu1'" in out


def test_redis_required_with_more_than_one_gateway(problems_of, load_data, base) -> None:
    base["hosts"].append({"name": "gw2", "address": "203.0.113.11", "roles": ["gateway"], "mesh": {"ip": "100.64.0.3"}})
    assert any("gateway.redis: 2 gateway hosts share routing state" in p for p in problems_of(base))
    base["gateway"]["redis"] = {"host": "100.64.0.9", "password": "env:REDIS_PASSWORD"}
    load_data(base)


@pytest.mark.parametrize(
    ("bind", "expected"),
    [
        ("0.0.0.0", "ollama has no authentication: binding 0.0.0.0 exposes it on every interface"),
        ("192.0.2.20", "192.0.2.20 is neither loopback nor this host's mesh IP"),
        ("loopback", "bound to loopback on 'gpu1', so the gateway on gw1 cannot reach it"),
        ("nonsense", "'nonsense' is not an IP address; expected `mesh`, `loopback` or an IP address"),
        ("::1%lo\rExecStartPre=+/bin/sh", "control character (U+000D)"),
        ("fe80::1%eth0", "has a scope id"),
    ],
)
def test_backend_bind_must_be_mesh_or_loopback(problems_of, base, bind, expected) -> None:
    base["backends"][0]["bind"] = bind
    assert any("backends[0].bind" in p and expected in p for p in problems_of(base))


def test_bind_to_own_mesh_ip_is_fine_and_mesh_needs_an_ip(load_data, problems_of, base) -> None:
    base["backends"][0]["bind"] = "100.64.0.2"
    load_data(base)
    del base["mesh"]
    for host in base["hosts"]:
        del host["mesh"]
    base["hosts"][0]["roles"] = ["gateway"]
    out = problems_of(base)
    assert any("backends[1].bind: binds to the mesh, but host 'gpu1' has no mesh IP" in p for p in out)
    assert any("backends[0].bind: 100.64.0.2 is neither loopback nor this host's mesh IP" in p for p in out)


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("latest", "'latest' is not a pinned release"),
        ("main-latest", "'main-latest' is not a pinned release"),
        ("1.82.7", "compromised release"),
        ("1.82.8", "compromised release"),
        ("1.83.6", "proxy-auth SQL injection"),
        ("1.83.14", "authentication bypass via Host header injection (PYSEC-2026-388"),
        ("v1.90.0", "is not an exact release"),
    ],
)
def test_litellm_version_policy(problems_of, base, version, expected) -> None:
    base["gateway"]["litellm_version"] = version
    assert any("gateway.litellm_version" in p and expected in p for p in problems_of(base))


def test_litellm_version_1_84_0_is_the_first_acceptable(load_data, base) -> None:
    base["gateway"]["litellm_version"] = "1.84.0"
    load_data(base)


def test_ollama_options_on_the_v1_route_are_flagged(load_data, base) -> None:
    base["models"][0]["extra_body"] = {"options": {"num_ctx": 8192}}
    assert [str(w.path) for w in load_data(base).warnings] == ["('models', 0, 'extra_body')"]
    base["models"][0]["litellm_prefix"] = "ollama_chat"  # /api/chat takes options
    assert load_data(base).warnings == []


def test_tool_dropping_prefix_refused_with_the_fix(problems_of, load_data, base) -> None:
    base["models"][0]["litellm_prefix"] = "ollama"
    out = problems_of(base)
    assert any("models[0].litellm_prefix: LiteLLM's 'ollama/' route drops tools" in p and "use 'openai/'" in p for p in out)
    base["models"][0]["tools"] = "optional"
    loaded = load_data(base)
    assert [str(w.path) for w in loaded.warnings] == ["('models', 0, 'litellm_prefix')"]


def test_prefix_must_fit_the_backend_and_providers_must_exist(problems_of, base) -> None:
    base["models"][1]["litellm_prefix"] = "ollama_chat"
    base["models"][2]["provider"] = "antropic"
    out = "\n".join(problems_of(base))
    assert "models[1].litellm_prefix: 'ollama_chat/' does not talk to a llamacpp backend; use openai" in out
    assert "models[2].provider: unknown provider 'antropic' (did you mean 'anthropic'?)" in out


def test_cloud_model_needs_a_key_reference(problems_of, base) -> None:
    del base["models"][2]["api_key"]
    assert any("models[2].api_key: a anthropic model needs an API key reference" in p for p in problems_of(base))


def test_model_context_larger_than_backend_slot(problems_of, base) -> None:
    base["models"][1]["context_window"] = 32768
    assert any("models[1].context_window: 32768 tokens, but backend 'llama-gpu1' gives each request 8192" in p for p in problems_of(base))


def test_llamacpp_serves_one_gguf(problems_of, base) -> None:
    base["models"].append({"name": "other", "backend": "llama-gpu1", "upstream": "other-model"})
    assert any("backends[1]: a llama.cpp server serves one GGUF" in p for p in problems_of(base))


def test_roles_are_consistent(problems_of, base) -> None:
    base["hosts"][1]["roles"] = ["gateway"]
    out = "\n".join(problems_of(base))
    assert "backends[0].host: host 'gpu1' runs a model backend but lacks the `gpu` role" in out
    assert "hosts[1].gpu: GPU hardware is described but the host lacks the `gpu` role" in out


def test_mesh_identity(problems_of, base) -> None:
    base["hosts"][1]["mesh"]["ip"] = "100.64.0.1"
    base["mesh"]["base_domain"] = "example.net"
    out = "\n".join(problems_of(base))
    assert "hosts[1].mesh.ip: mesh IP 100.64.0.1 is used by more than one host" in out
    assert "mesh.base_domain: Headscale refuses a base_domain (example.net) that contains the server URL's host" in out


def test_quantized_kv_needs_flash_attention(problems_of, base) -> None:
    base["backends"][0]["ollama"]["kv_cache_type"] = "q8_0"
    assert any(
        "backends[0].ollama.kv_cache_type: Ollama ignores a quantized KV cache without flash_attention" in p for p in problems_of(base)
    )


def test_compose_runtime_without_digest_is_a_warning(load_data, base) -> None:
    base["gateway"]["runtime"] = "compose"
    loaded = load_data(base)
    assert len(loaded.warnings) == 1 and "pinned by tag only" in str(loaded.warnings[0])


def test_systemd_venv_callbacks_without_a_pinned_package_are_a_warning(load_data, base) -> None:
    base["gateway"]["logging"] = {"callbacks": ["prometheus", "langfuse"]}
    loaded = load_data(base)
    assert [str(w.path) for w in loaded.warnings] == ["('gateway', 'logging', 'callbacks', 1)"]
    assert "callback 'langfuse' may need a Python package" in str(loaded.warnings[0])
    base["gateway"]["runtime"] = "compose"
    base["gateway"]["image_digest"] = "sha256:" + "a" * 64
    assert load_data(base).warnings == []  # the official image brings its callbacks' packages


def test_one_ollama_per_host_and_embeddings_use_the_embedding_route(problems_of, load_data, base) -> None:
    base["models"].append({"name": "emb", "backend": "ollama-gpu1", "upstream": "nomic-embed-text", "mode": "embedding"})
    loaded = load_data(base)
    assert loaded.warnings == []  # `ollama/` is right for embeddings: no tools to drop
    assert loaded.inventory.model_prefix(loaded.inventory.model_by_name["emb"]) == "ollama"
    assert loaded.inventory.model_prefix(loaded.inventory.model_by_name["qwen"]) == "openai"  # Ollama's /v1
    base["models"].append({"name": "qwen-native", "backend": "ollama-gpu1", "upstream": "qwen2.5", "litellm_prefix": "ollama_chat"})
    assert load_data(base).inventory.model_prefix(load_data(base).inventory.model_by_name["qwen-native"]) == "ollama_chat"
    base["models"].pop()
    base["backends"].append({"name": "ollama-2", "kind": "ollama", "host": "gpu1", "port": 11435, "ollama": {"version": "0.5.7"}})
    assert any("backends[2].host: host 'gpu1' already runs an Ollama backend" in p for p in problems_of(base))


def test_llamacpp_flags_llmfleet_manages_are_refused_in_extra_args(problems_of, base) -> None:
    backend = next(b for b in base["backends"] if b["kind"] == "llamacpp")
    backend["llamacpp"]["extra_args"] = ["--threads", "8", "--port=9999"]
    found = problems_of(base)
    assert any("extra_args: --port, --threads may not be set in extra_args: llmfleet manages them" in p for p in found), found


@pytest.mark.parametrize(
    "args",
    [
        ["-hf", "bartowski/x-GGUF"],
        ["--model-url", "https://evil.example/x.gguf"],
        ["--cache-type-k=q4_0"],
        ["-ngl", "0"],
        ["--rpc", "10.0.0.9:50052"],
        ["--lora", "/tmp/x.gguf"],
        ["--slot-save-path", "/etc"],
    ],
)
def test_extra_args_cannot_bypass_the_pin_or_override_managed_settings(problems_of, base, args) -> None:
    backend = next(b for b in base["backends"] if b["kind"] == "llamacpp")
    backend["llamacpp"]["extra_args"] = args
    assert any(".extra_args:" in p and "may not be set in extra_args" in p for p in problems_of(base))


def _insecure_pull(base, **more):
    base["models"][0]["ollama"] = {"pull": {"registry": "r:5000", "insecure": True}, **more}
    return base


def test_an_insecure_pull_without_a_digest_is_a_warning(load_data, base) -> None:
    loaded = load_data(_insecure_pull(base))
    assert [str(w.path) for w in loaded.warnings] == ["('models', 0, 'ollama', 'digest')"]
    assert "nothing checks what arrives" in str(loaded.warnings[0])
    assert load_data(_insecure_pull(base, digest="c" * 64)).warnings == []


def test_embedding_models_live_on_embedding_llamacpp_servers(problems_of, load_data, base) -> None:
    backend = next(b for b in base["backends"] if b["kind"] == "llamacpp")
    model = next(m for m in base["models"] if m.get("backend") == backend["name"])
    model["mode"], model["tools"] = "embedding", "none"
    model.pop("context_window", None)
    assert any(f"mode embedding, but llama.cpp backend '{backend['name']}' serves no embeddings" in p for p in problems_of(base))
    backend["llamacpp"]["embedding"] = True
    load_data(base)  # valid: an embedding model on an embedding server
    backend["llamacpp"]["extra_args"] = ["--embeddings"]
    assert any("may not be set in extra_args" in p for p in problems_of(base)), "--embedding is the field's flag"
    backend["llamacpp"]["extra_args"] = []
    model["mode"] = "chat"
    assert any("mode chat, but llama.cpp backend" in p and "serves embeddings only" in p for p in problems_of(base))
