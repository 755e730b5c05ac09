"""Report writers: terminal (rich), JSON (the documented schema), JUnit XML, Prometheus textfile."""

from llmfleet.checks.report.json_report import write_json
from llmfleet.checks.report.junit import junit_xml, write_junit
from llmfleet.checks.report.prom import prom_text, write_prom
from llmfleet.checks.report.terminal import LiveProgress, render_terminal

__all__ = ["LiveProgress", "junit_xml", "prom_text", "render_terminal", "write_json", "write_junit", "write_prom"]
