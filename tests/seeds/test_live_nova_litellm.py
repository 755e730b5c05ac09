"""Nova LiteLLM-first (seed ADR-011), live: chat AND embeddings through one gateway, discovery, time to first chat.

One boot for the module: ``make demo FLEET=nova-litellm``'s flow (:mod:`tests.seeds.livedemo`) on a
booted lab host: the compose gateway (real Compose v2 on Debian's podman, the offline LiteLLM image)
in front of two real llama-servers on the host's loopback, ``smollm3-3b`` (chat) and
``qwen3-embedding-4b`` (``llamacpp.embedding``: ``--embedding --pooling last``), both on the tiny
GGUF; the seed's four other models are cloud models (no internet here): listed by the real LiteLLM,
reported skipped with the reason, never passed.

Discovery is read from this machine, the operator's vantage point: the lab gateway shares the host's
network (its backends are on loopback), so it listens on the host's lab address itself; no podman
port forward is involved (the seed's bridged gateway, tried on the lab: the forward answers, its
``/v1/models`` timed out; see the overlay's header and ``benchmarks/RESULTS-seeds.md``).

Marked ``lab``: root, the lab tools, podman on this machine (to build the images) and a built llama-server.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator

import httpx
import pytest

from fleetlab import seedlab
from fleetlab.tiny_gguf import N_EMBD
from llmfleet.checks.targets import gateway_url
from tests.seeds.livedemo import SeedDemo, seed_demo

pytestmark = [pytest.mark.lab, pytest.mark.timeout(1800)]
CHAT, EMBED = "smollm3-3b", "qwen3-embedding-4b"
CLOUD = {"qwen3-32b", "qwen3-embedding-8b", "gpt-4o-mini", "text-embedding-3-small"}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeedDemo]:
    with seed_demo("nova-litellm", tmp_path_factory.mktemp("nova-litellm")) as d:
        yield d


def post(demo: SeedDemo, path: str, body: dict) -> dict:
    resp = httpx.post(f"{gateway_url(demo.inv)}{path}", json=body, headers={"Authorization": f"Bearer {demo.key[1]}"}, timeout=120)
    assert resp.status_code == 200, f"{path}: HTTP {resp.status_code} {resp.text[:500]}"
    return resp.json()


def test_the_demo_deploys_twice_verifies_and_checks(demo: SeedDemo) -> None:
    assert "operations, none changed" in demo.printed, "the second deploy run must change nothing"
    assert "passed in" in demo.printed and "testinfra" in demo.printed
    check = demo.report("check.json")
    assert check["exit_code"] == 0, check["summary"]
    by = {(r["subject"], r["check"]): r["status"] for r in check["results"]}
    assert by[(CHAT, "answer")] == by[(EMBED, "answer")] == "pass"
    assert by[(CHAT, "latency")] == by[(EMBED, "latency")] == "pass"
    assert by[("gateway", "models")] == "pass"
    assert not {r["subject"] for r in check["results"]} & CLOUD, "cloud models are not checked: they cannot be reached"


def test_cloud_models_are_reported_skipped_never_passed(demo: SeedDemo) -> None:
    skipped = demo.report("skipped.json")
    assert set(skipped) == CLOUD
    assert all("no internet" in why for why in skipped.values())
    for name in CLOUD:
        assert f"SKIP {name}: cloud provider" in demo.printed


def test_discovery_lists_every_model_from_this_machine(demo: SeedDemo) -> None:
    found = seedlab.discovery(gateway_url(demo.inv), demo.inv, demo.key[1])
    assert found["missing"] == [] and set(found["listed"]) == CLOUD | {CHAT, EMBED}
    assert demo.report("discovery.json")["missing"] == []


def test_embeddings_through_the_gateway_are_the_servers_vectors(demo: SeedDemo) -> None:
    texts = ["the gateway serves embeddings", "and chat through one API"]
    reply = post(demo, "/v1/embeddings", {"model": EMBED, "input": texts})
    vectors = [d["embedding"] for d in sorted(reply["data"], key=lambda d: d["index"])]
    assert [len(v) for v in vectors] == [N_EMBD, N_EMBD], "one vector per input, of the GGUF's embedding length"
    assert all(math.isfinite(x) for v in vectors for x in v) and vectors[0] != vectors[1]
    # The same input straight to the llama-server on the gateway host's loopback: the same vector.
    backend = demo.inv.backend_by_name["llamacpp-embed"]
    code = (
        "import httpx, json, sys; "
        f"r = httpx.post('http://127.0.0.1:{backend.port}/v1/embeddings', json={{'input': sys.argv[1]}}, timeout=120); "
        "print(json.dumps(r.json()['data'][0]['embedding']))"
    )
    direct = demo.python_from("nova", "-c", code, texts[0], timeout=180)
    assert direct.returncode == 0, direct.stderr[-2000:]
    straight = json.loads(direct.stdout)
    assert len(straight) == N_EMBD
    assert max(abs(a - b) for a, b in zip(straight, vectors[0], strict=True)) < 1e-4


def test_chat_through_the_same_gateway(demo: SeedDemo) -> None:
    reply = post(demo, "/v1/chat/completions", {"model": CHAT, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 8})
    assert reply["choices"][0]["message"]["role"] == "assistant"
    assert reply["usage"]["completion_tokens"] >= 1


def test_the_embedding_server_runs_embedding_only(demo: SeedDemo) -> None:
    unit = demo.fleet.ssh("nova", "systemctl cat llama-server-llamacpp-embed.service", timeout=60)
    assert unit.returncode == 0 and "--embedding" in unit.stdout and "--pooling last" in unit.stdout


def test_time_to_first_chat_answer_is_reported(demo: SeedDemo, record_property) -> None:
    timing = demo.report("timing.json")
    first = demo.report("first_chat.json")
    assert first["model"] == CHAT
    assert isinstance(timing["first_chat_seconds"], int | float) and 0 < timing["first_chat_seconds"] <= timing["demo_seconds"]
    assert f"first chat answer from {CHAT}" in demo.printed
    record_property("first_chat_seconds", timing["first_chat_seconds"])
    print(f"nova-litellm: first chat answer {timing['first_chat_seconds']} s after the demo started (demo {timing['demo_seconds']} s)")
