"""``--json FILE``: the full :class:`~checks.results.Report` (schema: ``checks/report.schema.json``)."""

from __future__ import annotations

import os

from llmfleet.checks.report.files import safe, write_atomic
from llmfleet.checks.results import Report


def json_text(report: Report) -> str:
    """The report as indented JSON."""
    report = safe(report)
    return report.model_dump_json(indent=2) + "\n"


def write_json(report: Report, path: str | os.PathLike[str]) -> None:
    """Write the report as JSON to ``path`` (atomically)."""
    write_atomic(path, json_text(report))
