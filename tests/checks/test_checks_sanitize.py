"""Upstream strings are made safe for every report, and text calls are found only outside reasoning."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime

import pytest
from prometheus_client.parser import text_string_to_metric_families

from llmfleet.checks.report import junit_xml, prom_text
from llmfleet.checks.report.json_report import json_text
from llmfleet.checks.results import CheckResult, Report
from llmfleet.checks.runner import redact_report
from llmfleet.checks.sanitize import clean
from llmfleet.checks.toolcall import SCENARIOS, TOOLS_BY_NAME, ToolResponse, call_in_text, classify

HOSTILE = 'a\ud800b\udfff c\x00d\x1b[31me\x07 f\x85g \u202eh\ufffe i\r\nj\tk ]]> <x/> & "q"'


def test_clean_escapes_what_breaks_a_writer_and_keeps_the_rest() -> None:
    out = clean(HOSTILE)
    assert out == 'a\\ud800b\\udfff c\\x00d\\x1b[31me\\x07 f\\x85g \\u202eh\\ufffe i\\x0d\nj\tk ]]> <x/> & "q"'
    assert clean(out) == out  # idempotent
    out.encode("utf-8")  # no lone surrogate left
    assert clean("Tōkyō 東京 🙂") == "Tōkyō 東京 🙂"


@pytest.mark.parametrize("where", ["message", "subject", "fact"])
def test_every_writer_survives_hostile_upstream_strings(where: str) -> None:
    kw = {"message": f"m answer: {HOSTILE}" if where == "message" else "m answer: ok", "facts": {}}
    if where == "fact":
        kw["facts"] = {HOSTILE: HOSTILE}
    result = CheckResult(kind="model", subject=HOSTILE if where == "subject" else "m", check="answer", status="fail", **kw)
    report = Report(
        command="check",
        fleet="f",
        inventory="i.yml",
        gateway_url="http://127.0.0.1:1",
        started_at=datetime.now(UTC),
        duration_s=1.0,
        outcome="fail",
        exit_code=1,
        results=[result],
    )
    for r in (report, redact_report(report, ["sk-secret-1234"])):
        doc = json.loads(json_text(r))
        assert doc["results"][0]["status"] == "fail"
        root = ET.fromstring(junit_xml(r).encode("utf-8"))
        assert root.find("testsuite") is not None
        families = list(text_string_to_metric_families(prom_text(r)))
        assert any(f.name == "llmfleet_check_success" for f in families)
        for text in (json_text(r), junit_xml(r), prom_text(r)):
            assert "\x00" not in text and "\x1b" not in text and "\u202e" not in text


@pytest.mark.parametrize(
    "content, found",
    [
        ('<think>I could call get_weather(city=\'Tokyo\') or {"name": "get_weather"}</think>Paris.', False),
        ("<THINKING>{'name': 'get_weather', 'arguments': {}}</THINKING> Paris.", False),
        ("<think>still thinking about get_weather(", False),  # unclosed: runs to the end
        ("reasoning from the prompt's <think>, get_weather(x)</think> Paris.", False),
        ("<think>no</think> {'name': 'get_weather', 'arguments': {'city': 'Tokyo', 'days': 3}}", True),
        ("Calling {'name': 'convert_currency', 'arguments': {'amount': 250}}", True),
        ("[{'function': {'name': 'get_weather'}}]", True),
        ('I will run get_weather(city="Tokyo", days=3).', True),
        ("[get_weather(city='Tokyo', days=3)]", True),
        ("functions.get_weather(city='Tokyo')", True),
        ('{"recipient_name": "functions.get_weather", "parameters": {"city": "Tokyo"}}', True),
        ("My get_weathers (plural) are fine.", False),
        ("[" * 50_000 + "]" * 50_000, False),  # deep nesting: no crash, no call
        ("{" * 5000 + "'" * 3, False),
    ],
)
def test_calls_in_text_outside_reasoning(content: str, found: bool) -> None:
    assert (call_in_text(content) is not None) is found, call_in_text(content)


def test_reasoning_content_is_never_read_as_a_call() -> None:
    resp = ToolResponse(http_status=200, content="Paris.", reasoning_chars=500, finish_reason="stop")
    assert classify(SCENARIOS["no_tool"], resp).outcome == "ok"
    assert set(TOOLS_BY_NAME) == {"get_weather", "convert_currency"}
