"""Backend checks straight to the backend, against the stand-in's llama.cpp and Ollama endpoints."""

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
