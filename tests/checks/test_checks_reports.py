"""Report writers: JUnit parses with the right counts, Prometheus text parses with HELP/TYPE,
JSON validates against the committed schema, and the master key appears in none of them."""

from __future__ import annotations

import asyncio
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest
from checks_fixtures import TEST_KEY, fleet
from prometheus_client.parser import text_string_to_metric_families
from rich.console import Console

from fleetlab.faulty_backend import Behaviour, serve
from llmfleet.checks.context import Options
from llmfleet.checks.http import Timeouts
from llmfleet.checks.report import junit_xml, prom_text, render_terminal, write_json, write_junit, write_prom
from llmfleet.checks.report.json_report import json_text
from llmfleet.checks.results import Report, report_json_schema_text
from llmfleet.checks.runner import cannot_run_report, run_checks
from llmfleet.checks.schema import SCHEMA_PATH

FAST = Timeouts(connect=1.0, stall=0.5, total=1.5, cold_total=1.5)


@pytest.fixture(scope="module")
def report() -> Report:
    """A run with every status: pass, fail (required tools, a stall, a key-leaking upstream), warn, skip."""
    behaviours = {
        "good": Behaviour(tokens=4),
        "proser": Behaviour("prose"),
        "maybe": Behaviour("prose"),
        "stuck": Behaviour("stall"),
        "leaky": Behaviour("leak_key"),
        "plain": Behaviour(tokens=4),
    }
    with serve(behaviours, gateway_auth="on", master_key=TEST_KEY) as gw, serve(behaviours) as backend:
        inv = fleet(
            [
                {"name": "good", "tools": "required", "slo": {"ttft_p95_ms": 1000, "e2e_p95_ms": 2000}},
                {"name": "proser", "tools": "required"},
                {"name": "maybe", "tools": "optional"},
                {"name": "stuck", "tools": "none"},
                {"name": "leaky", "tools": "none"},
                {"name": "plain", "tools": "none"},
            ],
            backend_port=backend.port,
        )
        opts = Options(gateway=gw.url, samples=2, warmup=1, timeouts=FAST, direct=True, concurrency=6)
        return asyncio.run(run_checks(inv, "faults.yml", opts, TEST_KEY))


def test_the_fixture_run_has_every_status(report: Report) -> None:
    statuses = {r.status for r in report.results}
    assert statuses == {"pass", "fail", "warn", "skip"}
    assert report.exit_code == 1


def test_junit_parses_with_the_right_counts(report: Report, tmp_path: Path) -> None:
    path = tmp_path / "r.xml"
    write_junit(report, path)
    root = ET.parse(path).getroot()
    suite = root.find("testsuite")
    assert suite is not None
    cases = suite.findall("testcase")
    assert len(cases) == len(report.results) == int(suite.get("tests", "0")) == int(root.get("tests", "0"))
    assert int(suite.get("failures", "-1")) == report.summary.failed == len([c for c in cases if c.find("failure") is not None])
    assert int(suite.get("skipped", "-1")) == report.summary.skipped == len([c for c in cases if c.find("skipped") is not None])
    assert suite.get("errors") == "0"
    names = {(c.get("classname"), c.get("name")) for c in cases}
    assert ("llmfleet.faults.gateway", "auth") in names and ("llmfleet.faults.proser", "tools") in names
    warn = next(c for c in cases if c.get("classname") == "llmfleet.faults.maybe" and c.get("name") == "tools")
    out = warn.find("system-out")
    assert out is not None and (out.text or "").startswith("WARN:")
    fail = next(c for c in cases if c.get("classname") == "llmfleet.faults.proser" and c.get("name") == "tools")
    failure = fail.find("failure")
    assert failure is not None and "no_tool_call" in (failure.get("message") or "")


def test_prometheus_text_parses_and_has_help_and_type(report: Report, tmp_path: Path) -> None:
    path = tmp_path / "llmfleet.prom"
    write_prom(report, path)
    text = path.read_text()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    for name in (
        "llmfleet_check_run_exit_code",
        "llmfleet_check_success",
        "llmfleet_tool_probe_ok",
        "llmfleet_latency_ttft_seconds",
        "llmfleet_cold_ttft_seconds",
        "llmfleet_slo_met",
        "llmfleet_gateway_overhead_seconds",
    ):
        assert name in families, name
        assert f"# HELP {name} " in text and f"# TYPE {name} gauge" in text
    assert families["llmfleet_check_run_exit_code"].samples[0].value == 1
    success = {(s.labels["subject"], s.labels["check"]): s.value for s in families["llmfleet_check_success"].samples}
    assert success[("proser", "tools")] == 0 and success[("good", "tools")] == 1 and success[("maybe", "tools")] == 1
    assert ("plain", "tools") not in success  # skipped checks are not emitted
    q = {s.labels["quantile"] for s in families["llmfleet_latency_ttft_seconds"].samples}
    assert q == {"0.5", "0.95"}
    assert all(s.labels["fleet"] == "faults" for f in families.values() for s in f.samples)


def test_json_validates_against_the_committed_schema(report: Report, tmp_path: Path) -> None:
    assert SCHEMA_PATH.read_text() == report_json_schema_text(), "run: python -m llmfleet.checks.schema"
    schema = json.loads(SCHEMA_PATH.read_text())
    path = tmp_path / "r.json"
    write_json(report, path)
    data = json.loads(path.read_text())
    jsonschema.Draft202012Validator(schema).validate(data)
    assert Report.model_validate(data) == report
    bad = dict(data, outcome="maybe")
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(schema).validate(bad)


def test_cannot_run_reports(tmp_path: Path) -> None:
    r = cannot_run_report("check", "x.yml", f"gateway unreachable; key was {TEST_KEY}", secrets=[TEST_KEY])
    assert TEST_KEY not in r.reason  # type: ignore[operator]
    root = ET.fromstring(junit_xml(r))
    assert root.get("tests") == "1" and root.get("errors") == "1"
    fam = {f.name: f for f in text_string_to_metric_families(prom_text(r))}
    assert fam["llmfleet_check_run_exit_code"].samples[0].value == 2
    jsonschema.Draft202012Validator(json.loads(SCHEMA_PATH.read_text())).validate(json.loads(json_text(r)))


def test_master_key_never_appears_in_any_output(report: Report, tmp_path: Path) -> None:
    leaky = next(r for r in report.results if r.subject == "leaky" and r.check == "answer")
    assert leaky.status == "fail" and "[REDACTED]" in leaky.message  # the upstream echoed it; we did not keep it
    console = Console(record=True, width=200)
    render_terminal(report, console)
    outputs = {
        "terminal": console.export_text(),
        "json": json_text(report),
        "junit": junit_xml(report),
        "prom": prom_text(report),
    }
    for name, text in outputs.items():
        assert TEST_KEY not in text, name
        assert TEST_KEY[8:20] not in text, name  # not even a slice of it
    assert "FAIL (exit 1)" in outputs["terminal"]
