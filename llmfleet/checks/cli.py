"""``llmfleet check`` and ``llmfleet health``: plain functions with typer-annotated parameters.

The one ``llmfleet`` app (:mod:`llmfleet.cli`) registers them; the inventory argument, ``--env``,
``--overlay`` and the inventory's problem format are the ones every command shares
(:mod:`llmfleet.cliargs`). Exit codes: 0 every check passed, 1 a check failed, 2 could not run (bad inventory,
gateway unreachable, missing or rejected key, unwritable report file). Failures are one line on
stderr; no traceback (set ``LLMFLEET_DEBUG=1`` to get one for a checker bug).
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from llmfleet.checks.context import Options
from llmfleet.checks.http import Timeouts
from llmfleet.checks.report import LiveProgress, render_terminal, write_json, write_junit, write_prom
from llmfleet.checks.results import Report
from llmfleet.checks.runner import cannot_run_report, run_checks
from llmfleet.checks.sanitize import clean, one_line
from llmfleet.checks.targets import CannotRun, gateway_url
from llmfleet.cliargs import EnvOpt, InventoryArg, OverlayOpt, print_problems, summary, try_load


class ToolChoiceOpt(StrEnum):
    """How the tool probe asks for a call."""

    auto = "auto"
    required = "required"
    named = "named"


ModelOpt = Annotated[list[str] | None, typer.Option("--model", "-m", metavar="NAME", help="Check only this model (repeatable).")]
GatewayOpt = Annotated[str | None, typer.Option("--gateway", metavar="URL", help="Gateway base URL (default: from the inventory).")]
JsonOpt = Annotated[
    Path | None, typer.Option("--json", metavar="FILE", help="Write the full results as JSON (schema: llmfleet/checks/report.schema.json).")
]
JunitOpt = Annotated[Path | None, typer.Option("--junit", metavar="FILE", help="Write JUnit XML (one test case per subject × check).")]
PromOpt = Annotated[Path | None, typer.Option("--prom", metavar="FILE", help="Write a Prometheus textfile-collector file.")]
ConcurrencyOpt = Annotated[int, typer.Option("--concurrency", min=1, max=256, help="Models checked at once.")]
TimeoutOpt = Annotated[float, typer.Option("--timeout", min=0.1, help="Per-request limit in seconds.")]
GlobalTimeoutOpt = Annotated[float, typer.Option("--global-timeout", min=1, help="Limit of the whole run, s.")]
DockerOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--docker",
        metavar="[HOST=]URL",
        help="Read the gateway containers' state from this Docker engine (ssh://root@host, unix:///var/run/docker.sock; "
        "compose runtime only; repeatable, HOST= for a fleet with several gateway hosts).",
    ),
]
ColdTimeoutOpt = Annotated[
    float,
    typer.Option(
        "--cold-timeout",
        min=0.1,
        help="Limit of each model's first request; it may wait this long for its first byte (a loading model sends nothing), s.",
    ),
]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No tables; only the verdict line.")]


def _err(command: str, message: str) -> None:
    print(f"llmfleet {command}: {message}", file=sys.stderr)


def _load(path: Path, env: str | None, overlay: Path | None):  # type: ignore[no-untyped-def]
    """The inventory, or ``None`` and the reason (its problems are printed first, as every command prints them)."""
    loaded = try_load(path, env, overlay)
    if isinstance(loaded, list):
        print_problems(loaded)
        return None, f"invalid inventory: {summary(loaded)} (listed above)"
    return loaded.inventory, None


def _write_reports(command: str, report: Report, json_out: Path | None, junit: Path | None, prom: Path | None) -> bool:
    ok = True
    for path, writer, flag in ((json_out, write_json, "--json"), (junit, write_junit, "--junit"), (prom, write_prom, "--prom")):
        if path is None:
            continue
        try:
            writer(report, path)
        except OSError as exc:
            _err(command, f"cannot write {flag} {path}: {exc.strerror or exc}")
            ok = False
        except Exception as exc:  # a writer bug must not keep the other reports from being written
            _err(command, f"cannot write {flag} {path}: internal error {type(exc).__name__}: {one_line(str(exc), 200)}")
            ok = False
    return ok


def execute(
    inventory: Path,
    options: Options,
    *,
    env: str | None = None,
    overlay: Path | None = None,
    json_out: Path | None = None,
    junit: Path | None = None,
    prom: Path | None = None,
    quiet: bool = False,
    environ: dict[str, str] | None = None,
    console: Console | None = None,
) -> int:
    """Run one command end to end and return its exit code (0/1/2); never raises."""
    command = options.command
    started = datetime.now(UTC)
    t0 = time.monotonic()
    out = console or Console(width=None if sys.stdout.isatty() else 160)

    def cannot(reason: str, **kw: object) -> int:
        reason = clean(reason)
        _err(command, f"cannot run: {reason}")
        report = cannot_run_report(
            command, str(inventory), reason, options=options, started=started, duration_s=time.monotonic() - t0, **kw
        )  # type: ignore[arg-type]
        _write_reports(command, report, json_out, junit, prom)
        return 2

    inv, problem = _load(inventory, env, overlay)
    if inv is None:
        return cannot(problem or "invalid inventory")
    try:
        url = options.gateway or gateway_url(inv)
    except CannotRun as exc:
        return cannot(str(exc), fleet=inv.fleet)
    ref = inv.gateway.master_key
    try:
        key = ref.resolve(environ)
    except ValueError as exc:
        return cannot(f"no master key: {exc}", fleet=inv.fleet, gateway_url=url)
    try:
        with LiveProgress(Console(stderr=True), title=f"llmfleet {command} {inv.fleet}") as live:
            report = asyncio.run(run_checks(inv, str(inventory), options, key, progress=live.progress, on_result=live.result))
    except CannotRun as exc:
        return cannot(str(exc), fleet=inv.fleet, gateway_url=url, secrets=[key])
    except KeyboardInterrupt:
        return cannot("interrupted", fleet=inv.fleet, gateway_url=url)
    except Exception as exc:
        if os.environ.get("LLMFLEET_DEBUG"):
            raise
        msg = f"internal error: {type(exc).__name__}: {exc}".replace(key, "[REDACTED]")
        return cannot(msg + " (set LLMFLEET_DEBUG=1 for a traceback)", fleet=inv.fleet, gateway_url=url)
    written = _write_reports(command, report, json_out, junit, prom)  # files first: a terminal problem cannot cost them
    if not quiet:
        try:
            render_terminal(report, out)
        except Exception as exc:
            _err(command, f"cannot print the terminal report: {type(exc).__name__}: {one_line(str(exc), 200)}")
    if not written:
        return 2
    if report.exit_code == 1:
        names = ", ".join(f"{r.subject} {r.check}" for r in report.failed())
        _err(command, f"{report.summary.failed} check(s) failed: {names}")
    elif quiet:
        out.print(f"PASS: {report.summary.passed} passed, {report.summary.warned} warnings, {report.summary.skipped} skipped")
    return report.exit_code


def request_timeouts(timeout: float, stall: float | None = None, cold: float | None = None) -> Timeouts:
    """The per-request limits from the CLI's flags (connect: at most 5 s; stall and cold default to ``timeout``)."""
    return Timeouts(
        connect=min(5.0, timeout), stall=timeout if stall is None else stall, total=timeout, cold_total=timeout if cold is None else cold
    )


def check_command(
    inventory: InventoryArg,
    model: ModelOpt = None,
    gateway: GatewayOpt = None,
    env: EnvOpt = None,
    overlay: OverlayOpt = None,
    samples: Annotated[int, typer.Option("--samples", min=1, max=1000, help="Warm latency samples per model.")] = 10,
    warmup: Annotated[int, typer.Option("--warmup", min=0, max=100, help="Unrecorded warm-up requests per model.")] = 2,
    max_tokens: Annotated[int, typer.Option("--max-tokens", min=1, max=4096, help="max_tokens of the latency probe.")] = 32,
    concurrency: ConcurrencyOpt = 8,
    tool_choice: Annotated[ToolChoiceOpt, typer.Option("--tool-choice", help="tool_choice of the tool probe.")] = ToolChoiceOpt.auto,
    tools: Annotated[bool, typer.Option("--tools/--no-tools", help="Run the tool-calling probe.")] = True,
    latency: Annotated[bool, typer.Option("--latency/--no-latency", help="Measure warm latency.")] = True,
    direct: Annotated[
        bool, typer.Option("--direct/--no-direct", help="Also measure straight against each backend (gateway overhead).")
    ] = False,
    timeout: TimeoutOpt = 60.0,
    stall_timeout: Annotated[
        float,
        typer.Option(
            "--stall-timeout", min=0.1, help="Longest silence between chunks (and before the first byte, after a model's first request), s."
        ),
    ] = 20.0,
    cold_timeout: ColdTimeoutOpt = 180.0,
    global_timeout: GlobalTimeoutOpt = 900.0,
    json_out: JsonOpt = None,
    junit: JunitOpt = None,
    prom: PromOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Post-deploy check: gateway, backends, tool calling and warm latency of every model."""
    options = Options(
        command="check",
        models=model or None,
        gateway=gateway,
        concurrency=concurrency,
        samples=samples,
        warmup=warmup,
        max_tokens=max_tokens,
        tool_choice=tool_choice.value,
        tools=tools,
        latency=latency,
        direct=direct,
        timeouts=request_timeouts(timeout, stall_timeout, cold_timeout),
        global_timeout=global_timeout,
    )
    raise typer.Exit(execute(inventory, options, env=env, overlay=overlay, json_out=json_out, junit=junit, prom=prom, quiet=quiet))


def health_command(
    inventory: InventoryArg,
    model: ModelOpt = None,
    gateway: GatewayOpt = None,
    env: EnvOpt = None,
    overlay: OverlayOpt = None,
    concurrency: ConcurrencyOpt = 16,
    timeout: TimeoutOpt = 20.0,
    cold_timeout: Annotated[
        float | None,
        typer.Option(
            "--cold-timeout",
            min=0.1,
            help="Limit of each model's first request; it may wait this long for its first byte (default: --timeout; "
            "raise it for models that load for longer, and --global-timeout with it), s.",
        ),
    ] = None,
    global_timeout: GlobalTimeoutOpt = 60.0,
    docker: DockerOpt = None,
    json_out: JsonOpt = None,
    junit: JunitOpt = None,
    prom: PromOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """On-call health: gateway up and locked, backends, each model answers one token (seconds); --docker adds gateway containers."""
    options = Options(
        command="health",
        models=model or None,
        gateway=gateway,
        concurrency=concurrency,
        tools=False,
        latency=False,
        samples=0,
        warmup=0,
        max_tokens=1,
        docker=docker or None,
        timeouts=request_timeouts(timeout, cold=cold_timeout),
        global_timeout=global_timeout,
    )
    raise typer.Exit(execute(inventory, options, env=env, overlay=overlay, json_out=json_out, junit=junit, prom=prom, quiet=quiet))
