"""``gateway.logging.request_log`` with the real LiteLLM: the rendered callback writes one record per request.

The fleet is rendered (config.yaml + ``llmfleet_request_log.py``) and the real LiteLLM proxy runs the
rendered config on loopback against a stub OpenAI-compatible backend: every request, answered or
failed, leaves one JSON line carrying its call id (the ``x-litellm-call-id`` header), model, tokens
and cost, and never the prompt or the key. The booted-host version is tests/seeds/test_live_pip.py.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
import yaml

from fleetlab import processes
from fleetlab.programs import litellm_bin
from llmfleet.inventory import load_inventory
from llmfleet.layout import REQUEST_LOG_CALLBACK, REQUEST_LOG_MODULE
from llmfleet.render import render_fleet

from .test_programs import MASTER_KEY, STUB_MODEL, _require, stub_backend  # noqa: F401 (a fixture)

pytestmark = pytest.mark.real
#: The inventory's prices of the answering model: 1 prompt + 3 completion tokens cost 7e-6 USD.
PRICES = {"input_cost_per_token": 1e-06, "output_cost_per_token": 2e-06}
PROMPT = "a prompt that must never reach the record file"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def inventory_text(port: int, down_port: int) -> str:
    def backend(name: str, p: int) -> dict:
        model = {"url": "http://127.0.0.1/tiny.gguf", "sha256": "9c72523f1e1e7bdaefd9228a5f229bca63c113390e66331649756f2ae9b80a81"}
        return {
            "name": name,
            "kind": "llamacpp",
            "host": "lab",
            "port": p,
            "bind": "loopback",
            "llamacpp": {"version": "b6000", "model": model, "ctx_size": 2048},
        }

    doc = {
        "fleet": "request-log",
        "hosts": [{"name": "lab", "address": "127.0.0.1", "roles": ["gateway", "gpu"]}],
        "backends": [backend("stub", port), backend("down", down_port)],
        "models": [
            {"name": "answers", "backend": "stub", "upstream": STUB_MODEL, "tools": "none", **PRICES},
            {"name": "fails", "backend": "down", "upstream": STUB_MODEL, "tools": "none"},
        ],
        "routing": {"fallback_mode": "manual", "num_retries": 0, "timeout_s": 20},
        "gateway": {
            "litellm_version": "1.106.2",
            "runtime": "systemd-venv",
            "bind": "127.0.0.1",
            "master_key": "env:LITELLM_MASTER_KEY",
            "health": {"background": False},
            "logging": {"request_log": True},
        },
    }
    return yaml.safe_dump(doc, sort_keys=False)


@pytest.fixture(scope="module")
def proxy(stub_backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:  # noqa: F811
    _require(litellm_bin)
    work = tmp_path_factory.mktemp("request-log")
    inv_path = work / "inventory.yml"
    inv_path.write_text(inventory_text(urlsplit(stub_backend).port or 0, _closed_port()))
    rendered = {Path(f.relpath).name: f.content for f in render_fleet(load_inventory(inv_path))}
    assert REQUEST_LOG_CALLBACK in yaml.safe_load(rendered["config.yaml"])["litellm_settings"]["callbacks"]
    gw = work / "gateway"
    gw.mkdir()
    (gw / "config.yaml").write_text(rendered["config.yaml"])
    (gw / f"{REQUEST_LOG_MODULE}.py").write_text(rendered[f"{REQUEST_LOG_MODULE}.py"])
    records = work / "requests.jsonl"
    with processes.run_litellm(gw / "config.yaml", env={"LITELLM_MASTER_KEY": MASTER_KEY, "LLMFLEET_REQUEST_LOG": str(records)}) as base:
        yield base, records


def chat(base: str, model: str) -> httpx.Response:
    return httpx.post(
        f"{base}/v1/chat/completions",
        headers={"Authorization": f"Bearer {MASTER_KEY}"},
        json={"model": model, "messages": [{"role": "user", "content": PROMPT}]},
        timeout=60,
    )


def read_records(path: Path, want: int) -> list[dict]:
    """The records once ``want`` lines are there (LiteLLM logs after it answered), at most 30 s."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        lines = path.read_text().splitlines() if path.exists() else []
        if len(lines) >= want:
            return [json.loads(line) for line in lines]
        time.sleep(0.2)
    raise AssertionError(f"{path}: {len(lines)} records, {want} wanted")


def test_each_request_leaves_one_record_with_its_call_id_tokens_and_cost(proxy: tuple[str, Path]) -> None:
    base, records = proxy
    answered = [chat(base, "answers") for _ in range(2)]
    assert [r.status_code for r in answered] == [200, 200], [r.text for r in answered]
    failed = chat(base, "fails")
    assert failed.status_code >= 400
    got = read_records(records, 3)
    by_id = {r["litellm_call_id"]: r for r in got}
    for resp in answered:
        rec = by_id[resp.headers["x-litellm-call-id"]]
        assert rec["status"] == "success" and rec["model_group"] == "answers"
        assert (rec["prompt_tokens"], rec["completion_tokens"], rec["total_tokens"]) == (1, 3, 4)
        assert rec["response_cost"] == pytest.approx(7e-06)  # priced as the inventory says
        assert float(resp.headers["x-litellm-response-cost"]) == pytest.approx(rec["response_cost"])
    failures = [r for r in got if r["status"] == "failure"]
    assert len(failures) == 1 and failures[0]["model_group"] == "fails" and failures[0]["error"], got
    text = records.read_text()
    assert PROMPT not in text and MASTER_KEY not in text and "pong from stub" not in text
