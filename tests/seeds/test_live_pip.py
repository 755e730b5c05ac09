"""Pip (ADR-2024-002) on two booted lab hosts: what the seed asked, checked live.

One boot per module (``inventories/pip.yml`` + ``pip.lab.yml``): the VPS runs Headscale and the
compose gateway (real LiteLLM in podman, real Compose v2), the home GPU box runs the real Ollama on
its mesh IP, joined by the real mesh (Headscale + Tailscale). Deployed twice (the second run
changes nothing), verified with testinfra and ``llmfleet check``. Then:

* **warm-up**: right after deploy, before any client request, Ollama (asked from the gateway host,
  over the mesh) already has the model loaded with the seed's ``keep_alive: 30m``, the deploy's
  warm-up report gives the cold load time it measured, and the first client request through the
  gateway finds the model loaded (Ollama reports no load time for it);
* **per-request records**: every request through the gateway, answered or failed, leaves one JSON
  line (call id = the ``x-litellm-call-id`` header, model, tokens, cost) in
  ``/var/log/litellm/requests.jsonl`` on the VPS (``gateway.logging.request_log``, the lab's choice:
  the seed's Postgres spend logs cannot start here), read back over SSH;
* **manual mode**: with Ollama stopped, a request returns the backend's error to the client and
  no other model answers in its place (``x-litellm-attempted-fallbacks`` never above 0).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from llmfleet.layout import OLLAMA_SERVICE, REQUEST_LOG_FILE, WARMUP_DIR

from .livelab import SeedLab, booted_seed

pytestmark = pytest.mark.lab
SEED = "pip"
WARM = "deepseek-coder"  # the first local model: max_loaded_models 1 keeps only it warm
WARM_UPSTREAM = "deepseek-coder:33b"
OTHER = "llama3.1-8b"
CLOUD = {"claude-sonnet", "claude-haiku", "gpt-4o-mini"}


def ollama_url(lab: SeedLab) -> str:
    backend = lab.inv.backends[0]
    return f"http://{lab.inv.backend_bind_ip(backend)}:{backend.port}"


def loaded(lab: SeedLab) -> dict[str, dict[str, Any]]:
    """Ollama's ``/api/ps``, asked from the gateway host over the mesh: loaded model name -> entry."""
    ps = lab.request("GET", f"{ollama_url(lab)}/api/ps", timeout=60)
    assert ps["status"] == 200, ps
    return {m["name"]: m for m in json.loads(ps["body"]).get("models") or []}


def expires_at(text: str) -> float:
    """Ollama's ``expires_at`` (RFC 3339, nanoseconds, any zone) as a Unix time."""
    m = re.fullmatch(r"(.+T\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)", text.strip())
    assert m, text
    frac = (m.group(2) or ".0")[:7]
    return datetime.fromisoformat(m.group(1) + frac + ("+00:00" if m.group(3) == "Z" else m.group(3))).timestamp()


def after_deploy(lab: SeedLab) -> dict[str, Any]:
    """What the first client meets right after deploy (before testinfra and `check` send anything)."""
    before = loaded(lab)
    first = lab.chat(WARM, max_tokens=4)
    ollama_direct = lab.request(
        "POST", f"{ollama_url(lab)}/api/generate", {"model": WARM_UPSTREAM, "prompt": "hi", "stream": False, "options": {"num_predict": 2}}
    )
    report = json.loads(lab.sh("home-gpu", f"cat {WARMUP_DIR}/ollama-home.json"))
    return {"before": before, "first": first, "ollama_direct": json.loads(ollama_direct["body"]), "report": report, "at": time.time()}


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeedLab]:
    with booted_seed(SEED, tmp_path_factory, after_deploy) as booted:
        print(f"\n{SEED} lab timings (s): {json.dumps({k: round(v, 1) for k, v in booted.seconds.items()})}")
        print(f"{SEED} warm-up report: {json.dumps(booted.observed['report'])}")
        yield booted


def records(lab: SeedLab) -> list[dict[str, Any]]:
    return [json.loads(line) for line in lab.sh("vps", f"cat {REQUEST_LOG_FILE}").splitlines() if line.strip()]


def test_the_demo_steps_passed_and_cloud_models_are_skipped_with_the_reason(lab: SeedLab) -> None:
    results = lab.check_report()["results"]
    assert not [r for r in results if r["status"] == "fail"], results
    for model in (WARM, OTHER):
        assert {r["check"] for r in results if r.get("subject") == model and r["status"] == "pass"} >= {"answer"}, results
    skipped = json.loads((lab.out / "skipped.json").read_text())
    assert set(skipped) == CLOUD and all("no internet" in why for why in skipped.values())


def test_the_model_is_warm_after_deploy_and_the_cold_time_is_reported(lab: SeedLab) -> None:
    seen = lab.observed
    report = seen["report"]
    # The deploy warmed the model that stays loaded, and measured its cold load.
    assert [m["model"] for m in report["models"]] == [WARM_UPSTREAM] and report["keep_alive"] == "30m"
    (warmed,) = report["models"]
    assert warmed["ok"] and warmed["cold_s"] > 0, report
    print(
        f"\ncold load of {WARM_UPSTREAM} measured by the deploy: {warmed['cold_s']:.2f} s (Ollama load_duration {warmed['load_duration_s']})"
    )
    # Before any client request: loaded, with the seed's keep_alive (expires ~30 min after the warm-up).
    assert WARM_UPSTREAM in seen["before"], seen["before"]
    expires = expires_at(seen["before"][WARM_UPSTREAM]["expires_at"])
    assert 25 * 60 < expires - seen["at"] <= 31 * 60, (seen["before"], seen["at"])  # keep_alive 30m from the warm-up
    # The first client request through the gateway was answered, and the model did not load again.
    assert seen["first"]["status"] == 200, seen["first"]["body"][:800]
    assert (
        seen["ollama_direct"].get("load_duration", 0) < 0.2 * warmed["cold_s"] * 1e9 or seen["ollama_direct"].get("load_duration", 0) < 5e7
    ), (
        seen["ollama_direct"],
        warmed,
    )


def test_each_request_leaves_a_record_that_reads_back(lab: SeedLab) -> None:
    before = len(records(lab))
    answers = [lab.chat(WARM) for _ in range(2)]
    assert [a["status"] for a in answers] == [200, 200], [a["body"][:300] for a in answers]
    deadline = time.monotonic() + 60
    while len(got := records(lab)) < before + 2 and time.monotonic() < deadline:
        time.sleep(1)
    by_id = {r["litellm_call_id"]: r for r in got}
    for a in answers:
        rec = by_id[a["headers"]["x-litellm-call-id"]]
        assert rec["status"] == "success" and rec["model_group"] == WARM and rec["model"].endswith(WARM_UPSTREAM), rec
        assert rec["total_tokens"] > 0 and rec["completion_tokens"] > 0
        assert isinstance(rec["response_cost"], int | float)  # a local model: priced 0 unless the inventory sets prices
    mode = lab.sh("vps", f"stat -c %a {REQUEST_LOG_FILE}").strip()
    assert mode == "640", mode


def test_manual_mode_a_stopped_ollama_returns_its_error_and_nothing_answers_instead(lab: SeedLab) -> None:
    lab.sh("home-gpu", f"systemctl stop {OLLAMA_SERVICE}")
    try:
        answer = lab.chat(WARM)
        assert answer["status"] >= 400, f"a stopped Ollama answered {answer['status']}: something stood in for it"
        assert answer["headers"].get("x-litellm-attempted-fallbacks", "0") == "0", answer["headers"]
        assert "No fallback was attempted" in answer["body"] or "Fallback" not in answer["body"], answer["body"][:1500]
        assert WARM in answer["body"], answer["body"][:1500]  # the error says which model failed
    finally:
        lab.sh("home-gpu", f"systemctl start {OLLAMA_SERVICE}")
        lab.wait_http("home-gpu", f"{ollama_url(lab)}/api/version")
    deadline = time.monotonic() + 60
    while not [r for r in records(lab) if r["status"] == "failure" and r["model_group"] == WARM] and time.monotonic() < deadline:
        time.sleep(1)
    failures = [r for r in records(lab) if r["status"] == "failure" and r["model_group"] == WARM]
    assert failures and failures[-1]["error"], "the failed request left no record"
