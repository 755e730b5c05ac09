"""Nova hybrid (ADR-009) on a booted lab host: what the seed asked, checked live.

One boot per module (``inventories/nova-hybrid.yml`` + ``nova-hybrid.lab.yml``): the compose gateway
(real LiteLLM in podman, real Compose v2) and the real llama-server on loopback, deployed twice (the
second run changes nothing), verified with testinfra and ``llmfleet check``. Then:

* llama.cpp runs with ``--jinja``, ctx 32768 and 4 slots: read from the real server (its command
  line, ``/props``, ``/slots``) and shown by behaviour (a request with ``tools`` is accepted, which
  llama-server refuses without ``--jinja``);
* fallbacks both ways fire, through the real LiteLLM router: Gemini cannot be reached (the lab has
  no internet, no stand-in answers for it), so a request to ``gemini-2.5-flash`` is answered by the
  local model (``x-litellm-attempted-fallbacks: 1``, the answer from llama-server's address); with
  llama-server stopped, a request to the local model is retried on Gemini, which LiteLLM's error
  names ("Fallback to gemini-2.5-flash also failed").
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from llmfleet.layout import llama_service

from .livelab import SeedLab, booted_seed

pytestmark = pytest.mark.lab
SEED = "nova-hybrid"
LOCAL, CLOUD = "deepseek-r1-8b", "gemini-2.5-flash"
LLAMA = "http://127.0.0.1:8080"


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeedLab]:
    with booted_seed(SEED, tmp_path_factory) as booted:
        print(f"\n{SEED} lab timings (s): {json.dumps({k: round(v, 1) for k, v in booted.seconds.items()})}")
        yield booted


def test_the_demo_steps_passed_and_the_cloud_model_is_skipped_with_the_reason(lab: SeedLab) -> None:
    results = lab.check_report()["results"]
    assert not [r for r in results if r["status"] == "fail"], results
    assert {r["check"] for r in results if r.get("subject") == LOCAL and r["status"] == "pass"} >= {"answer", "latency"}
    skipped = json.loads((lab.out / "skipped.json").read_text())
    assert set(skipped) == {CLOUD} and "no internet" in skipped[CLOUD]


def test_llama_server_runs_with_jinja_ctx_32768_and_4_slots(lab: SeedLab) -> None:
    host = "nova"
    pid = lab.sh(host, f"systemctl show -p MainPID --value {llama_service('llamacpp-nova')}").strip()
    argv = lab.sh(host, f"tr '\\0' '\\n' < /proc/{pid}/cmdline").split("\n")
    assert "--jinja" in argv
    assert argv[argv.index("--ctx-size") + 1] == "32768" and argv[argv.index("--parallel") + 1] == "4", argv
    props = json.loads(lab.request("GET", f"{LLAMA}/props", host=host)["body"])
    assert props["total_slots"] == 4
    assert props["default_generation_settings"]["n_ctx"] == 32768 // 4  # each slot's share of the context
    slots = json.loads(lab.request("GET", f"{LLAMA}/slots", host=host)["body"])
    assert [s["n_ctx"] for s in slots] == [8192] * 4
    # --jinja by behaviour: llama-server refuses a request with tools unless it runs with --jinja.
    tool = {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object", "properties": {}}}}
    body = {"messages": [{"role": "user", "content": "time?"}], "tools": [tool], "max_tokens": 4}
    answer = lab.request("POST", f"{LLAMA}/v1/chat/completions", body, host=host)
    assert answer["status"] == 200, answer["body"][:500]


def test_cloud_to_local_fallback_answers_from_llama_server(lab: SeedLab) -> None:
    answer = lab.chat(CLOUD)
    assert answer["status"] == 200, answer["body"][:1500]
    assert answer["headers"].get("x-litellm-attempted-fallbacks") == "1", answer["headers"]
    assert "127.0.0.1:8080" in answer["headers"].get("x-litellm-model-api-base", ""), answer["headers"]
    assert json.loads(answer["body"])["choices"][0]["message"] is not None


def test_local_to_cloud_fallback_is_attempted_when_llama_server_stops(lab: SeedLab) -> None:
    unit = llama_service("llamacpp-nova")
    lab.sh("nova", f"systemctl stop {unit}")
    try:
        answer = lab.chat(LOCAL)
        assert answer["status"] >= 400, f"a stopped llama-server answered {answer['status']}"
        # The real router tried the configured fallback (unreachable: no internet) and says so.
        assert f"Fallback to {CLOUD} also failed" in answer["body"], answer["body"][:2000]
    finally:
        lab.sh("nova", f"systemctl start {unit}")
        lab.wait_http("nova", f"{LLAMA}/health")
    assert lab.chat(LOCAL)["status"] == 200  # and the local model serves again
