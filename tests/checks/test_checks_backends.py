"""Backend checks straight to the backend, against the test fake's llama.cpp and Ollama endpoints (fleetlab.faulty_backend).

The same check against the real Ollama runs from a mesh node in tests/deploy/test_deploy_lab.py.
"""

from __future__ import annotations

import asyncio

from checks_fixtures import TEST_KEY, fleet_dict

from fleetlab.faulty_backend import Behaviour, serve
from llmfleet.checks.backends import check_backend
from llmfleet.checks.context import Ctx, Options
from llmfleet.checks.http import Timeouts, make_client
from llmfleet.checks.results import CheckResult
from llmfleet.checks.targets import model_targets
from llmfleet.inventory.model import Inventory

FAST = Timeouts(connect=1, stall=2, total=3)


def _check(data: dict, gpu: bool = True) -> dict[str, CheckResult]:
    if gpu:
        data["hosts"][0]["gpu"] = {"vram_gib": 16, "driver_branch": "550"}
    inv = Inventory.model_validate(data)

    async def main() -> dict[str, CheckResult]:
        async with make_client(4) as client:
            ctx = Ctx(inv, "http://127.0.0.1:9", TEST_KEY, Options(timeouts=FAST), client)
            return {t.name: await check_backend(ctx, t) for t in model_targets(inv)}

    return asyncio.run(main())


def test_ollama_pulled_and_placement() -> None:
    behaviours = {
        "on-gpu": Behaviour(ollama_placement="gpu"),
        "on-cpu": Behaviour(ollama_placement="cpu"),
        "split": Behaviour(ollama_placement="split"),
        "idle:7b": Behaviour(),
    }
    with serve(behaviours) as fb:
        data = fleet_dict([{"name": n.split(":")[0]} for n in behaviours] + [{"name": "ghost"}], backend_port=fb.port)
        data["backends"][0].update(kind="ollama", ollama={"version": "0.5.7"})
        data["models"][3]["upstream"] = "idle:7b"
        res = _check(data)
    assert res["on-gpu"].status == "pass" and res["on-gpu"].facts["placement"] == "GPU"
    assert res["on-cpu"].status == "warn" and "loaded on CPU although the host has a GPU" in res["on-cpu"].message
    assert res["split"].status == "warn" and res["split"].facts["placement"] == "60% GPU / 40% CPU"
    assert res["idle"].status == "pass" and "not loaded" in res["idle"].message and res["idle"].facts["loaded"] is False
    assert res["ghost"].status == "fail" and "has not pulled ghost" in res["ghost"].message


PINNED = "daedfe62ae6255ee352f26dfa6661f72473e2e980f13d6bacc258136f9079e24"
OTHER = "4c5164f6533ab9ad52ad42a448b544ee78bba2308a040a03b9cc2d9a774685bd"
GGUF = {"url": "http://mirror.invalid/tiny.gguf", "sha256": "1" * 64}


def _ollama_fleet(port: int, models: list[dict]) -> dict:
    data = fleet_dict(models, backend_port=port)
    data["backends"][0].update(kind="ollama", ollama={"version": "0.17.4"})
    return data


def test_ollama_digest_pinned_matches_differs_or_is_not_pinned() -> None:
    behaviours = {
        "same:latest": Behaviour(ollama_placement="cpu", ollama_digest=PINNED),
        "other:latest": Behaviour(ollama_digest=OTHER),
        "free:latest": Behaviour(ollama_digest=OTHER),
    }
    with serve(behaviours) as fb:
        data = _ollama_fleet(
            fb.port,
            [
                {"name": "same", "ollama": {"gguf": GGUF, "digest": PINNED}},
                {"name": "other", "ollama": {"gguf": GGUF, "digest": PINNED}},
                {"name": "free", "ollama": {"gguf": GGUF}},
            ],
        )
        res = _check(data, gpu=False)
    same, other, free = res["same"], res["other"], res["free"]
    assert same.status == "pass", same.message
    assert f"digest {PINNED[:12]} as pinned" in same.message and same.facts["digest"] == PINNED
    # The host has no gpu section: CPU is what the inventory says (pass), and the message says so.
    assert "loaded on CPU (host lab declares no GPU)" in same.message and same.facts["placement"] == "CPU"
    assert other.status == "fail"
    assert f"digest {OTHER[:12]}, the inventory pins {PINNED[:12]}" in other.message, other.message
    assert other.facts["digest"] == OTHER and other.facts["digest_pinned"] == PINNED
    assert free.status == "pass" and f"digest {OTHER[:12]}, not pinned in the inventory" in free.message, free.message
    assert free.facts["digest_pinned"] is None


def test_ollama_created_model_missing_names_the_create_path() -> None:
    with serve({"else:latest": Behaviour()}) as fb:
        res = _check(_ollama_fleet(fb.port, [{"name": "mine", "ollama": {"gguf": GGUF, "digest": PINNED}}]), gpu=False)
    assert res["mine"].status == "fail" and "has not pulled mine (deploy creates it from its GGUF)" in res["mine"].message


def test_llamacpp_health_and_template_tools() -> None:
    with serve({"m": Behaviour()}) as fb:
        data = fleet_dict([{"name": "req", "tools": "required"}], backend_port=fb.port)
        data["backends"][0].update(
            kind="llamacpp", llamacpp={"version": "b6000", "ctx_size": 2048, "model": {"url": "http://x/m.gguf", "sha256": "0" * 64}}
        )
        res = _check(data)
    assert res["req"].status == "pass" and res["req"].facts["template_supports_tools"] is True


def test_unreachable_backend_is_skipped_not_passed() -> None:
    with serve({"m": Behaviour()}) as fb:
        port = fb.port
    data = fleet_dict([{"name": "m"}], backend_port=port)  # the stand-in is gone: connection refused
    res = _check(data, gpu=False)
    assert res["m"].status == "skip" and "not reachable from this machine" in res["m"].message


def test_cloud_model_backend_is_skipped() -> None:
    data = fleet_dict([], backend_port=1)
    data["models"] = [{"name": "claude", "provider": "anthropic", "upstream": "claude-x", "api_key": "env:ANTHROPIC_API_KEY"}]
    res = _check(data, gpu=False)
    assert res["claude"].status == "skip" and "cloud model" in res["claude"].message
