"""Report writers: terminal (rich), JSON (the documented schema), JUnit XML, Prometheus textfile."""

from checks.report.json_report import write_json
from checks.report.junit import junit_xml, write_junit
from checks.report.prom import prom_text, write_prom
from checks.report.terminal import LiveProgress, render_terminal

__all__ = ["LiveProgress", "junit_xml", "prom_text", "render_terminal", "write_json", "write_junit", "write_prom"]
