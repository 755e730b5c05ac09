"""``--prom FILE``: Prometheus text exposition for node_exporter's textfile collector.

Point node_exporter at the directory (``--collector.textfile.directory``) and write e.g.
``llmfleet_check.prom`` there; the file is replaced atomically. Metrics (all gauges):

=============================================  =========================================================
``llmfleet_check_run_exit_code``                0 pass, 1 a check failed, 2 could not run
``llmfleet_check_run_timestamp_seconds``        when the run started (alert when stale)
``llmfleet_check_run_duration_seconds``         wall time of the run
``llmfleet_check_success{subject,check}``       1 pass/warn, 0 fail (skipped checks are not emitted)
``llmfleet_check_warning{subject,check}``       1 when the check passed with a warning
``llmfleet_check_duration_seconds{…}``          time the check took
``llmfleet_tool_probe_ok{model,scenario,stream,outcome}``  1 when the probe's outcome is ok
``llmfleet_cold_ttft_seconds{model}``           first request of the run (cold), TTFT
``llmfleet_cold_e2e_seconds{model}``            first request of the run (cold), end-to-end
``llmfleet_latency_ttft_seconds{model,target,quantile}``    warm TTFT, first visible output (quantile 0.5/0.95)
``llmfleet_latency_ttft_any_seconds{…}``        warm time to first token of any kind (reasoning included)
``llmfleet_latency_tpot_seconds{model,target,quantile}``    warm time per output token
``llmfleet_latency_e2e_seconds{model,target,quantile}``     warm end-to-end
``llmfleet_latency_tokens_per_second{model,target,quantile}`` output tokens / e2e
``llmfleet_slo_met{model}``                     1 warm p95 within the model's SLO, 0 not
``llmfleet_gateway_overhead_seconds{model,measure}``       gateway p50 − backend p50 (ttft, e2e)
=============================================  =========================================================

Every series also has ``fleet`` and ``command`` labels. Written with ``prometheus_client``
(a fresh ``CollectorRegistry`` per run and ``write_to_textfile``, which writes a temporary file and
renames it, so node_exporter never reads half a file); label values are sanitised first.
"""

from __future__ import annotations

import os
from pathlib import Path

from prometheus_client import CollectorRegistry, Gauge, generate_latest, write_to_textfile

from llmfleet.checks.report.files import safe
from llmfleet.checks.results import LatencyStats, Report
from llmfleet.checks.sanitize import clean

#: metric → (help, labels beyond fleet and command)
_METRICS: dict[str, tuple[str, tuple[str, ...]]] = {
    "llmfleet_check_run_exit_code": ("Exit code of the last llmfleet run: 0 pass, 1 a check failed, 2 could not run.", ()),
    "llmfleet_check_run_timestamp_seconds": ("Unix time the last llmfleet run started.", ()),
    "llmfleet_check_run_duration_seconds": ("Wall time of the last llmfleet run.", ()),
    "llmfleet_check_success": ("1 if the check passed (or passed with a warning), 0 if it failed.", ("subject", "check")),
    "llmfleet_check_warning": ("1 if the check passed with a warning.", ("subject", "check")),
    "llmfleet_check_duration_seconds": ("Time one check took.", ("subject", "check")),
    "llmfleet_tool_probe_ok": (
        "1 if the tool-calling probe was classified ok; the outcome label says what came back.",
        ("model", "scenario", "stream", "outcome"),
    ),
    "llmfleet_cold_ttft_seconds": ("Time to first visible output of the first (possibly cold) request of the run.", ("model",)),
    "llmfleet_cold_e2e_seconds": ("End-to-end time of the first (possibly cold) request of the run.", ("model",)),
    "llmfleet_latency_ttft_seconds": ("Warm time to first visible output (nearest-rank quantile).", ("model", "target", "quantile")),
    "llmfleet_latency_ttft_any_seconds": (
        "Warm time to first token of any kind, reasoning included (nearest-rank quantile).",
        ("model", "target", "quantile"),
    ),
    "llmfleet_latency_tpot_seconds": ("Warm time per output token (nearest-rank quantile).", ("model", "target", "quantile")),
    "llmfleet_latency_e2e_seconds": ("Warm end-to-end request time (nearest-rank quantile).", ("model", "target", "quantile")),
    "llmfleet_latency_tokens_per_second": (
        "Output tokens per second of the whole request (nearest-rank quantile).",
        ("model", "target", "quantile"),
    ),
    "llmfleet_slo_met": ("1 if the warm p95 latency met the model's SLO, 0 if not.", ("model",)),
    "llmfleet_gateway_overhead_seconds": ("Gateway p50 minus backend p50 for the same request.", ("model", "measure")),
}


class _Metrics:
    def __init__(self, fleet: str, command: str) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.base = {"fleet": clean(fleet), "command": clean(command)}
        self.gauges = {
            name: Gauge(name, help_text, ("fleet", "command", *labels), registry=self.registry)
            for name, (help_text, labels) in _METRICS.items()
        }

    def add(self, name: str, value: float, **labels: str) -> None:
        self.gauges[name].labels(**self.base, **{k: clean(str(v)) for k, v in labels.items()}).set(value)


def _latency(m: _Metrics, model: str, stats: LatencyStats) -> None:
    for metric, q in (
        ("llmfleet_latency_ttft_seconds", stats.ttft_ms),
        ("llmfleet_latency_ttft_any_seconds", stats.ttft_any_ms),
        ("llmfleet_latency_tpot_seconds", stats.tpot_ms),
        ("llmfleet_latency_e2e_seconds", stats.e2e_ms),
    ):
        if q is not None:
            m.add(metric, q.p50 / 1000, model=model, target=stats.target, quantile="0.5")
            m.add(metric, q.p95 / 1000, model=model, target=stats.target, quantile="0.95")
    if stats.tokens_per_s is not None:
        m.add("llmfleet_latency_tokens_per_second", stats.tokens_per_s.p50, model=model, target=stats.target, quantile="0.5")
        m.add("llmfleet_latency_tokens_per_second", stats.tokens_per_s.p95, model=model, target=stats.target, quantile="0.95")


def registry(report: Report) -> CollectorRegistry:
    """The report's metrics in a fresh registry."""
    report = safe(report)
    m = _Metrics(report.fleet or "unknown", report.command)
    m.add("llmfleet_check_run_exit_code", report.exit_code)
    m.add("llmfleet_check_run_timestamp_seconds", report.started_at.timestamp())
    m.add("llmfleet_check_run_duration_seconds", report.duration_s)
    for r in report.results:
        if r.status != "skip":
            m.add("llmfleet_check_success", 1 if r.status in ("pass", "warn") else 0, subject=r.subject, check=r.check)
            m.add("llmfleet_check_warning", 1 if r.status == "warn" else 0, subject=r.subject, check=r.check)
        if r.duration_ms is not None:
            m.add("llmfleet_check_duration_seconds", r.duration_ms / 1000, subject=r.subject, check=r.check)
        for p in r.tool_probes or []:
            m.add(
                "llmfleet_tool_probe_ok",
                1 if p.outcome == "ok" else 0,
                model=r.subject,
                scenario=p.scenario,
                stream=str(p.stream).lower(),
                outcome=p.outcome,
            )
        if r.cold is not None and r.cold.ok:
            if r.cold.ttft_ms is not None:
                m.add("llmfleet_cold_ttft_seconds", r.cold.ttft_ms / 1000, model=r.subject)
            if r.cold.e2e_ms is not None:
                m.add("llmfleet_cold_e2e_seconds", r.cold.e2e_ms / 1000, model=r.subject)
        if r.latency is not None:
            _latency(m, r.subject, r.latency)
            if r.check == "latency" and r.latency.slo_met is not None:
                m.add("llmfleet_slo_met", 1 if r.latency.slo_met else 0, model=r.subject)
        if r.overhead is not None:
            for measure, v in (("ttft_p50", r.overhead.ttft_p50_ms), ("e2e_p50", r.overhead.e2e_p50_ms)):
                if v is not None:
                    m.add("llmfleet_gateway_overhead_seconds", v / 1000, model=r.subject, measure=measure)
    return m.registry


def prom_text(report: Report) -> str:
    """The report as Prometheus text exposition format."""
    return generate_latest(registry(report)).decode("utf-8")


def write_prom(report: Report, path: str | os.PathLike[str]) -> None:
    """Write the textfile-collector file to ``path`` (atomically, as node_exporter requires)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    write_to_textfile(str(target), registry(report))
    target.chmod(0o644)
