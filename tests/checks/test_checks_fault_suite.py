"""The second fault suite against the checker, straight (a stand-in gateway): every verdict matches its truth."""

from __future__ import annotations

import asyncio
import json
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from checks_fixtures import TEST_KEY, fleet
from fault_suite import PROBE_TIMEOUTS, SLACK_S, SUITE, TIMEOUTS, Fault
from prometheus_client.parser import text_string_to_metric_families
from rich.console import Console

from fleetlab.faulty_backend import Behaviour, serve
from llmfleet.checks import probes
from llmfleet.checks.context import Ctx, Options
from llmfleet.checks.http import make_client
from llmfleet.checks.report import render_terminal, write_json, write_junit, write_prom
from llmfleet.checks.results import Report
from llmfleet.checks.runner import run_checks
from llmfleet.checks.targets import model_targets


def _models() -> list[dict]:
    return [{"name": name, "tools": "required", **f.fields} for name, f in SUITE.items()]


@pytest.fixture(scope="module")
def suite_run() -> tuple[Report, float]:
    behaviours = {name: f.behaviour for name, f in SUITE.items()}
    with serve(behaviours, gateway_auth="on", master_key=TEST_KEY) as gw:
        inv = fleet(_models(), backend_port=gw.port)
        opts = Options(gateway=gw.url, samples=3, warmup=1, concurrency=8, timeouts=TIMEOUTS, global_timeout=120)
        t0 = time.monotonic()
        report = asyncio.run(run_checks(inv, "suite.yml", opts, TEST_KEY))
        elapsed = time.monotonic() - t0
        gw.release()
    return report, elapsed


@pytest.fixture(scope="module")
def suite_probes() -> dict[str, dict]:
    """The tool probe of every fault on its own (also of the faults that take a model down first)."""
    behaviours = {name: f.behaviour for name, f in SUITE.items()}
    # a cold model is warm after the checker's first request; here the probe is the first request
    behaviours = {n: Behaviour(b.fault, tokens=b.tokens, framing=b.framing, reasoning_ms=b.reasoning_ms) for n, b in behaviours.items()}
    with serve(behaviours, gateway_auth="on", master_key=TEST_KEY) as gw:
        inv = fleet(_models(), backend_port=gw.port)
        opts = Options(gateway=gw.url, timeouts=PROBE_TIMEOUTS)

        async def probe_all() -> dict[str, dict]:
            async with make_client(8) as client:
                ctx = Ctx(inv, gw.url, TEST_KEY, opts, client)
                targets = model_targets(inv, list(SUITE))
                done = await asyncio.gather(*(probes.tools(ctx, t) for t in targets))
                return {t.name: {(p.scenario, p.stream): p for p in r.tool_probes or []} for t, r in zip(targets, done, strict=True)}

        return asyncio.run(probe_all())


def checks_of(report: Report, model: str) -> dict:
    return {r.check: r for r in report.results if r.subject == model}


@pytest.mark.parametrize("name", list(SUITE))
def test_fault_verdicts_match_their_truth(suite_run, name: str) -> None:
    fault: Fault = SUITE[name]
    res = checks_of(suite_run[0], name)
    got = {c: r.status for c, r in res.items() if c in fault.checks}
    assert got == fault.checks, {c: r.message for c, r in res.items()}
    if fault.words:
        first_bad = next((res[c] for c in fault.checks if res[c].status == "fail"), res["answer"])
        assert fault.words in first_bad.message, first_bad.message
    if fault.checks["answer"] == "fail":  # down at once: the rest is skipped with the reason, costing nothing
        for check in ("tools", "latency"):
            assert "the model is down" in res[check].message
        assert sum(r.duration_ms or 0 for r in res.values()) / 1000 <= TIMEOUTS.cold_total + SLACK_S


@pytest.mark.parametrize("name", list(SUITE))
def test_fault_tool_probes_match_their_truth(suite_probes, name: str) -> None:
    got = {k: p.outcome for k, p in suite_probes[name].items()}
    assert got == SUITE[name].probes, {k: p.detail for k, p in suite_probes[name].items()}


def test_reasoning_ttft_is_reported_both_ways(suite_run) -> None:
    lat = checks_of(suite_run[0], "reasoning-visible-late")["latency"].latency
    assert lat and lat.ttft_ms and lat.ttft_any_ms and lat.slo_ttft_counts == "visible"
    assert lat.ttft_ms.p50 >= 1490 and lat.ttft_any_ms.p50 < lat.ttft_ms.p50 - 1000
    assert checks_of(suite_run[0], "reasoning-any-token-slo")["latency"].latency.slo_ttft_counts == "any"


def test_cold_first_request_waits_past_the_stall_timeout(suite_run) -> None:
    answer = checks_of(suite_run[0], "cold-longer-than-stall")["answer"]
    assert answer.status == "pass" and answer.cold and answer.cold.ttft_ms and answer.cold.ttft_ms >= 5900


def test_hostile_bytes_never_corrupt_a_report(suite_run, tmp_path: Path) -> None:
    report, _ = suite_run
    hostile = [r for r in report.results if r.subject.startswith("hostile")]
    assert any("\\ud800" in r.message and "\\x1b" in r.message for r in hostile), [r.message for r in hostile]
    write_json(report, tmp_path / "r.json")
    write_junit(report, tmp_path / "r.xml")
    write_prom(report, tmp_path / "r.prom")
    console = Console(file=open(tmp_path / "terminal.txt", "w", encoding="utf-8"), width=200, force_terminal=False)  # noqa: SIM115
    render_terminal(report, console)
    console.file.close()
    for path in tmp_path.iterdir():
        raw = path.read_bytes()
        text = raw.decode("utf-8")  # well-formed UTF-8: no lone surrogate made it through
        for bad in ("\x00", "\x1b", "\u202e"):
            assert bad not in text, (path.name, bad)
    assert Report.model_validate(json.loads((tmp_path / "r.json").read_text())).summary == report.summary
    suite = ET.parse(tmp_path / "r.xml").getroot().find("testsuite")
    assert suite is not None and int(suite.get("tests", "0")) == len(report.results)
    assert list(text_string_to_metric_families((tmp_path / "r.prom").read_text()))


def test_a_checker_error_costs_only_its_own_check(monkeypatch, suite_run) -> None:
    async def broken(*args, **kwargs):
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(probes, "tools", broken)
    with serve({"m": Behaviour("ok", tokens=4)}, gateway_auth="on", master_key=TEST_KEY) as gw:
        inv = fleet([{"name": "m", "tools": "required"}], backend_port=gw.port)
        opts = Options(gateway=gw.url, samples=2, warmup=0, timeouts=TIMEOUTS)
        report = asyncio.run(run_checks(inv, "x.yml", opts, TEST_KEY))
    res = checks_of(report, "m")
    assert res["tools"].status == "fail" and "checker error" in res["tools"].message and "RecursionError" in res["tools"].message
    assert res["answer"].status == "pass" and res["latency"].status == "pass"  # the other verdicts survive


def test_health_cold_timeout_lets_a_loading_model_answer(write_fleet, monkeypatch, tmp_path: Path) -> None:
    from checks_fixtures import fleet_dict
    from typer.testing import CliRunner

    from llmfleet.cli import app

    monkeypatch.setenv("LLMFLEET_TEST_MASTER_KEY", TEST_KEY)
    for cold_timeout, answers in ((None, False), ("6", True)):
        with serve({"m": Behaviour("ok", tokens=2, cold_ms=2500)}, gateway_auth="on", master_key=TEST_KEY) as gw:
            path = write_fleet(fleet_dict([{"name": "m"}], backend_port=gw.port))
            args = ["health", str(path), "--gateway", gw.url, "--timeout", "1", "--json", str(tmp_path / "h.json"), "--quiet"]
            result = CliRunner().invoke(app, args + (["--cold-timeout", cold_timeout] if cold_timeout else []))
        assert result.exit_code in (0, 1), result.output  # a verdict, never a crash
        answer = next(r for r in Report.model_validate_json((tmp_path / "h.json").read_text()).results if r.check == "answer")
        assert (answer.status == "pass") is answers, answer.message
        if not answers:  # with --timeout only, the load outlasts the first-byte wait
            assert "no first byte within 1 s" in answer.message
