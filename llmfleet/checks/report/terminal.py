"""The terminal report (rich): live progress on stderr while running, then tables and a verdict line."""

from __future__ import annotations

import time
from types import TracebackType

from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from llmfleet.checks.report.files import safe
from llmfleet.checks.results import CheckResult, Report

STYLE = {"pass": "green", "fail": "bold red", "warn": "yellow", "skip": "dim", "ok": "green"}
LABEL = {"pass": "PASS", "fail": "FAIL", "warn": "WARN", "skip": "skip"}


class LiveProgress:
    """Live table of what each subject is doing (only when stderr is a terminal)."""

    def __init__(self, console: Console | None = None, title: str = "llmfleet check") -> None:
        self.console = console or Console(stderr=True)
        self.title = title
        self.phases: dict[str, str] = {}
        self.status: dict[str, list[str]] = {}
        self.t0 = time.monotonic()
        self._live: Live | None = None

    def __enter__(self) -> LiveProgress:
        if self.console.is_terminal:
            self._live = Live(self._table(), console=self.console, refresh_per_second=8, transient=True)
            self._live.__enter__()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self._live is not None:
            self._live.__exit__(exc_type, exc, tb)
            self._live = None

    def progress(self, subject: str, phase: str) -> None:
        """A subject started a step ("" = done)."""
        self.phases[subject] = phase or "done"
        self._refresh()

    def result(self, r: CheckResult) -> None:
        """A check finished."""
        self.status.setdefault(r.subject, []).append(f"[{STYLE[r.status]}]{r.check}:{LABEL[r.status]}[/]")
        self._refresh()

    def _refresh(self) -> None:
        if self._live is not None:
            self._live.update(self._table())

    def _table(self) -> Table:
        table = Table(title=f"{self.title} — {time.monotonic() - self.t0:.0f} s", expand=False)
        table.add_column("subject")
        table.add_column("now")
        table.add_column("results")
        for subject, phase in self.phases.items():
            table.add_row(subject, phase, " ".join(self.status.get(subject, [])))
        return table


def _ms(v: float | None, digits: int = 0) -> str:
    return "—" if v is None else f"{v:.{digits}f}"


def render_terminal(report: Report, console: Console | None = None) -> None:
    """Print the checks table, the tool and latency tables, and the one-line verdict."""
    report = safe(report)
    con = console or Console()
    if report.outcome == "cannot_run":
        con.print(Text(f"CANNOT RUN (exit 2): {report.reason}", style="bold red"))
        return
    checks = Table(title=f"llmfleet {report.command}: fleet {report.fleet} via {report.gateway_url}")
    checks.add_column("subject")
    checks.add_column("check")
    checks.add_column("status")
    checks.add_column("detail", overflow="fold")
    for r in report.results:
        detail = r.message.removeprefix(f"{r.subject} {r.check}: ").removeprefix(f"gateway {r.check}: ")
        checks.add_row(Text(r.subject), r.check, Text(LABEL[r.status], style=STYLE[r.status]), Text(detail))
    con.print(checks)

    probe_rows = [r for r in report.results if r.tool_probes]
    if probe_rows:
        cols = sorted(
            {(p.scenario, p.stream) for r in probe_rows for p in r.tool_probes or []},
            key=lambda c: (["lookup", "choose", "no_tool"].index(c[0]), c[1]),
        )
        tools = Table(title="tool calling (through the gateway)")
        tools.add_column("model")
        for scen, stream in cols:
            tools.add_column(f"{scen}{' stream' if stream else ''}")
        for r in probe_rows:
            by = {(p.scenario, p.stream): p.outcome for p in r.tool_probes or []}
            cells = [Text(by.get(c, "—"), style=STYLE.get(by.get(c, ""), "red")) for c in cols]
            tools.add_row(r.subject, *cells)
        con.print(tools)

    lat_rows = [r for r in report.results if r.check in ("answer", "latency", "overhead") and (r.cold or r.latency)]
    if lat_rows:
        lat = Table(title="latency in ms (cold = first request; warm = p50 / p95)")
        for col in ("model", "target", "cold TTFT", "cold e2e", "TTFT p50/p95", "ms/token p50", "e2e p50/p95", "tok/s p50", "SLO"):
            lat.add_column(col)
        for r in lat_rows:
            if r.cold:
                lat.add_row(r.subject, "gateway", _ms(r.cold.ttft_ms), _ms(r.cold.e2e_ms), "", "", "", "", "")
            if r.latency:
                s = r.latency
                slo = "—" if s.slo_met is None else ("met" if s.slo_met else "MISSED")
                if s.slo_met is not None:
                    slo += f" ({_ms(s.slo_ttft_p95_ms)}/{_ms(s.slo_e2e_p95_ms)})"
                lat.add_row(
                    r.subject,
                    s.target,
                    "",
                    "",
                    f"{_ms(s.ttft_ms.p50 if s.ttft_ms else None)} / {_ms(s.ttft_ms.p95 if s.ttft_ms else None)}",
                    _ms(s.tpot_ms.p50 if s.tpot_ms else None, 1),
                    f"{_ms(s.e2e_ms.p50 if s.e2e_ms else None)} / {_ms(s.e2e_ms.p95 if s.e2e_ms else None)}",
                    _ms(s.tokens_per_s.p50 if s.tokens_per_s else None, 1),
                    Text(slo, style="green" if s.slo_met else "red" if s.slo_met is False else ""),
                )
        con.print(lat)

    s = report.summary
    counts = f"{s.passed} passed, {s.failed} failed, {s.warned} warnings, {s.skipped} skipped in {report.duration_s:.1f} s"
    if report.outcome == "pass":
        con.print(Text(f"PASS (exit 0): {counts}", style="bold green"))
    else:
        con.print(Text(f"FAIL (exit 1): {counts}", style="bold red"))
        for r in report.failed():
            con.print(Text(f"  ✗ {r.message}", style="red"))
