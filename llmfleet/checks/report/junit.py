"""``--junit FILE``: one test case per subject × check (CI shows each as a test).

``fail`` → ``<failure>``, ``skip`` → ``<skipped>``, ``warn`` → a passing case whose
``<system-out>`` starts with ``WARN:``. A run that could not run is one ``<error>`` case named
``run``.
"""

from __future__ import annotations

import os
import socket
import xml.etree.ElementTree as ET

from llmfleet.checks.report.files import safe, write_atomic
from llmfleet.checks.results import Report


def junit_xml(report: Report) -> str:
    """The report as a JUnit XML document."""
    report = safe(report)
    fleet = report.fleet or "unknown"
    suite_name = f"llmfleet {report.command} {fleet}"
    root = ET.Element("testsuites", name=suite_name)
    suite = ET.SubElement(root, "testsuite", name=suite_name, timestamp=report.started_at.isoformat(), hostname=socket.gethostname())
    tests = failures = errors = skipped = 0
    if report.outcome == "cannot_run":
        case = ET.SubElement(suite, "testcase", classname=f"llmfleet.{fleet}", name="run", time=f"{report.duration_s:.3f}")
        err = ET.SubElement(case, "error", message=report.reason or "could not run", type="cannot_run")
        err.text = report.reason or "could not run"
        tests, errors = 1, 1
    for r in report.results:
        tests += 1
        case = ET.SubElement(
            suite, "testcase", classname=f"llmfleet.{fleet}.{r.subject}", name=r.check, time=f"{(r.duration_ms or 0) / 1000:.3f}"
        )
        if r.status == "fail":
            failures += 1
            el = ET.SubElement(case, "failure", message=r.message, type="fail")
            el.text = _details(r)
        elif r.status == "skip":
            skipped += 1
            ET.SubElement(case, "skipped", message=r.message)
        else:
            out = ET.SubElement(case, "system-out")
            out.text = ("WARN: " if r.status == "warn" else "") + r.message + _tail(r)
    for el in (root, suite):
        el.set("tests", str(tests))
        el.set("failures", str(failures))
        el.set("errors", str(errors))
        el.set("skipped", str(skipped))
        el.set("time", f"{report.duration_s:.3f}")
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _tail(r) -> str:  # type: ignore[no-untyped-def]
    details = _details(r)
    return "\n" + details if details != r.message else ""


def _details(r) -> str:  # type: ignore[no-untyped-def]
    lines = [r.message]
    for p in r.tool_probes or []:
        lines.append(f"  {p.scenario}{'/stream' if p.stream else ''}: {p.outcome} — {p.detail}")
    if r.latency and r.latency.errors:
        lines += [f"  sample error: {e}" for e in r.latency.errors]
    if r.models_diff:
        lines.append(f"  missing: {r.models_diff.missing}  extra: {r.models_diff.extra}")
    return "\n".join(lines)


def write_junit(report: Report, path: str | os.PathLike[str]) -> None:
    """Write the JUnit XML to ``path`` (atomically)."""
    write_atomic(path, junit_xml(report))
