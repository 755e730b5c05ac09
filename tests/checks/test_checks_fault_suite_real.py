"""The second fault suite through the real LiteLLM proxy (1.106.2, configured by rendering an inventory).

The proxy re-frames every stream and re-encodes every body, so some faults do not reach the checker as
the backend sent them. For those, the truth through the proxy is what a client of the proxy gets
(``THROUGH_LITELLM`` says what the proxy turns each into); every other fault must be judged exactly as
straight against the stand-in.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
import yaml
from checks_fixtures import TEST_KEY, fleet_dict
from fault_suite import DOWN, SUITE, Fault, probes

from fleetlab.faulty_backend import Behaviour, serve
from fleetlab.processes import free_port, run_litellm
from fleetlab.programs import ProgramMissing, litellm_bin
from llmfleet.checks.context import Options
from llmfleet.checks.http import Timeouts
from llmfleet.checks.results import Report
from llmfleet.checks.runner import run_checks
from llmfleet.inventory import load_inventory
from llmfleet.render import render_fleet

pytestmark = pytest.mark.real

#: The proxy adds latency and shares 2 cores with the stand-in: healthy paths get generous bounds, and the
#: cold loads are scaled to them (longer than the stall timeout; longer than the cold timeout).
#: LiteLLM 1.106.2 sends one chat request per model when it starts, so a cold load begins then; the loads are
#: long enough to still be under way when the checker's first request arrives (≈ 10-20 s later).
REAL_TIMEOUTS = Timeouts(connect=2.0, stall=8.0, total=20.0, cold_total=60.0)
BEHAVIOURS = {name: f.behaviour for name, f in SUITE.items()}
BEHAVIOURS["cold-longer-than-stall"] = Behaviour("ok", tokens=4, cold_ms=40_000)
BEHAVIOURS["cold-longer-than-cold-timeout"] = Behaviour("ok", tokens=4, cold_ms=600_000)

#: faults the proxy changes on the way, and the truth a client of the proxy sees
THROUGH_LITELLM: dict[str, Fault] = {
    "cold-longer-than-cold-timeout": Fault(BEHAVIOURS["cold-longer-than-cold-timeout"], DOWN, words="no first byte within 60 s"),
    # the proxy adds an id to a non-streamed call, not to a streamed one
    "no-id": Fault(
        SUITE["no-id"].behaviour, SUITE["no-id"].checks, probes(lookup__stream="malformed_call", choose__stream="malformed_call")
    ),
    # the proxy cannot read invalid UTF-8 (nor serialise a lone surrogate): its client gets an error, and so does the check
    "bad-utf8": Fault(SUITE["bad-utf8"].behaviour, DOWN, words="can't decode byte 0xff"),
    "hostile-text": Fault(SUITE["hostile-text"].behaviour, DOWN, words="surrogates not allowed"),
    # a stream cut mid-answer: the proxy closes it cleanly (finish_reason stop, [DONE]), so through the gateway the
    # answer looks short but complete; a streamed tool call comes back cut (malformed); only the samples straight to
    # the backend (--direct: overhead) see the cut itself
    "truncated-mid-answer": Fault(
        SUITE["truncated-mid-answer"].behaviour,
        {"answer": "pass", "tools": "fail", "latency": "pass", "overhead": "fail"},
        probes(lookup__stream="malformed_arguments", choose__stream="malformed_arguments"),
    ),
    # a non-streamed answer whose content is a list of text parts: the proxy answers 500 "Invalid response object"
    "list-content": Fault(
        SUITE["list-content"].behaviour,
        {"answer": "pass", "tools": "fail", "latency": "pass"},
        probes(no_tool="error"),
        words="Invalid response object",
    ),
}


@pytest.fixture(scope="module")
def litellm_suite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Report]:
    try:
        litellm_bin()
    except ProgramMissing as exc:
        pytest.skip(str(exc))
    with serve(BEHAVIOURS) as backend:
        port = free_port()
        models = [{"name": name, "tools": "required", **f.fields} for name, f in SUITE.items()]
        data = fleet_dict(models, backend_port=backend.port, gateway_port=port)
        data["routing"] = {"num_retries": 0}
        path = tmp_path_factory.mktemp("suite") / "suite.yml"
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        inv = load_inventory(path)
        config = next(f for f in render_fleet(inv) if f.relpath.endswith("litellm/config.yaml"))
        cfg = path.parent / "config.yaml"
        cfg.write_text(config.content)
        print(f"LiteLLM log and report: {path.parent}")
        with run_litellm(cfg, port, env={"LLMFLEET_TEST_MASTER_KEY": TEST_KEY}, log_path=path.parent / "litellm.log") as url:
            opts = Options(gateway=url, samples=2, warmup=1, concurrency=6, timeouts=REAL_TIMEOUTS, global_timeout=600, direct=True)
            report = asyncio.run(run_checks(inv, "suite.yml", opts, TEST_KEY))
            (path.parent / "report.json").write_text(report.model_dump_json(indent=1))  # for a person reading a failure
            yield report
            backend.release()


@pytest.mark.parametrize("name", list(SUITE))
def test_fault_through_litellm_matches_its_truth(litellm_suite: Report, name: str) -> None:
    fault = THROUGH_LITELLM.get(name) or SUITE[name]
    res = {r.check: r for r in litellm_suite.results if r.subject == name}
    got = {c: r.status for c, r in res.items() if c in fault.checks}
    assert got == fault.checks, {c: r.message for c, r in res.items()}
    if got.get("tools") not in (None, "skip"):
        outcomes = {(p.scenario, p.stream): p.outcome for p in res["tools"].tool_probes or []}
        assert outcomes == fault.probes, {(p.scenario, p.stream): p.detail for p in res["tools"].tool_probes or []}
    if fault.words:
        first_bad = next((res[c] for c in fault.checks if res[c].status == "fail"), res["answer"])
        assert fault.words in first_bad.message, first_bad.message
