"""Run the checks: gateway first, then models concurrently (bounded), each model's steps in order.

``health`` also reads the gateway containers' state from the Docker engines named by ``--docker``
(:mod:`llmfleet.checks.docker_state`), alongside the models; their results follow the gateway's.

Bounds: each request has httpx timeouts plus a total deadline (:mod:`llmfleet.checks.http`); the whole run
has a global deadline. When it expires, unfinished models are cancelled and every check that did
not complete is reported as ``fail`` ("not finished within the global timeout"), never as a pass.
Each Docker engine gets ``--timeout`` (at most what is left of the global deadline).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from llmfleet.checks import backends, docker_state, gateway, probes
from llmfleet.checks.context import Ctx, Options, gateway_result, model_result
from llmfleet.checks.http import make_client
from llmfleet.checks.results import EXIT_CODES, CheckName, CheckResult, Report, summarize
from llmfleet.checks.targets import CannotRun, ModelTarget, gateway_url, model_targets
from llmfleet.inventory.model import Inventory

#: progress(subject, phase): called when a model starts a step ("" = finished).
ProgressFn = Callable[[str, str], None]


def planned_checks(options: Options, target: ModelTarget) -> list[CheckName]:
    """The checks a model gets in this run, in order."""
    plan: list[CheckName] = ["backend", "answer"]
    if options.command == "check":
        if options.tools:
            plan.append("tools")
        if options.latency:
            plan.append("latency")
            if options.direct:
                plan.append("overhead")
    return plan


@dataclass
class _ModelRun:
    target: ModelTarget
    plan: list[CheckName]
    results: dict[str, CheckResult] = field(default_factory=dict)
    phase: str = "queued"
    started: bool = False
    on_result: Callable[[CheckResult], None] | None = None

    def record(self, result: CheckResult) -> None:
        """Keep a finished check and tell the progress display at once."""
        self.results[result.check] = result
        if self.on_result:
            self.on_result(result)


async def _run_model(ctx: Ctx, run: _ModelRun, sem: asyncio.Semaphore, progress: ProgressFn | None) -> None:
    t = run.target

    def step(phase: str) -> None:
        run.phase = phase
        if progress:
            progress(t.name, phase)

    async with sem:
        run.started = True
        step("backend")
        run.record(await backends.check_backend(ctx, t))
        step("answer (cold)")
        cold_tokens = 1 if ctx.options.command == "health" else ctx.options.max_tokens
        run.record(await probes.answer(ctx, t, max_tokens=cold_tokens))
        if "tools" in run.plan:
            step("tools")
            run.record(await probes.tools(ctx, t, progress=step))
        if "latency" in run.plan:
            step("latency")
            lat, ov = await probes.latency_and_overhead(ctx, t, want_overhead="overhead" in run.plan, progress=step)
            run.record(lat)
            if ov is not None:
                run.record(ov)
        step("")


async def run_checks(
    inventory: Inventory,
    inventory_path: str,
    options: Options,
    master_key: str,
    progress: ProgressFn | None = None,
    on_result: Callable[[CheckResult], None] | None = None,
) -> Report:
    """Run ``options.command`` against the fleet; never raises for fleet faults.

    Raises:
        CannotRun: the gateway is unreachable or rejects the key, or a model name is unknown.
    """
    started = datetime.now(UTC)
    t0 = time.monotonic()
    url = options.gateway or gateway_url(inventory)
    targets = model_targets(inventory, options.models)
    docker = docker_state.docker_targets(inventory, options.docker) if options.command == "health" else None
    loop = asyncio.get_running_loop()
    deadline = loop.time() + options.global_timeout
    results: list[CheckResult] = []
    async with make_client(options.concurrency) as client:
        ctx = Ctx(inventory, url, master_key, options, client)
        if progress:
            progress("gateway", "liveness, auth, models")
        try:
            async with asyncio.timeout_at(deadline):
                gw = await gateway.preflight(ctx)
        except TimeoutError:
            raise CannotRun(
                f"the gateway checks at {url} did not finish within the global timeout ({options.global_timeout:g} s)"
            ) from None
        results += gw
        if progress:
            progress("gateway", "")
        if on_result:
            for r in gw:
                on_result(r)
        containers = None
        if options.command == "health":
            bound = max(0.1, min(options.timeouts.total, deadline - loop.time()))
            containers = asyncio.create_task(docker_state.container_checks(inventory, docker, bound, on_result=on_result))
        runs = [_ModelRun(t, planned_checks(options, t), on_result=on_result) for t in targets]
        sem = asyncio.Semaphore(max(1, options.concurrency))
        tasks = {asyncio.create_task(_run_model(ctx, r, sem, progress)): r for r in runs}
        remaining = max(0.0, deadline - loop.time())
        done, pending = await asyncio.wait(tasks, timeout=remaining) if tasks else (set(), set())
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        if containers is not None:
            results += await containers
        for task, run in tasks.items():
            crash = None
            if task in done and not task.cancelled() and task.exception() is not None:
                exc = task.exception()
                crash = f"checker error while at '{run.phase}': {type(exc).__name__}: {exc}"
            for check in run.plan:
                if check in run.results:
                    continue
                if crash:
                    message = crash
                elif run.started:
                    message = f"not finished within the global timeout ({options.global_timeout:g} s); was at '{run.phase}'"
                else:
                    message = f"not started within the global timeout ({options.global_timeout:g} s, concurrency {options.concurrency})"
                run.record(model_result(run.target.name, check, "fail", message))
            results += [run.results[check] for check in run.plan]
    summary = summarize(results)
    outcome = "fail" if summary.failed else "pass"
    report = Report(
        command=options.command,
        fleet=inventory.fleet,
        inventory=inventory_path,
        gateway_url=url,
        started_at=started,
        duration_s=time.monotonic() - t0,
        outcome=outcome,
        exit_code=EXIT_CODES[outcome],
        options=options.as_facts(),
        summary=summary,
        results=results,
    )
    return redact_report(report, [master_key, *_backend_secrets(inventory)])


def _backend_secrets(inventory: Inventory) -> list[str]:
    out = []
    for b in inventory.backends:
        if b.api_key is not None:
            with contextlib.suppress(ValueError):
                out.append(b.api_key.resolve())
    return out


def cannot_run_report(
    command: str,
    inventory_path: str,
    reason: str,
    *,
    fleet: str | None = None,
    gateway_url: str | None = None,
    options: Options | None = None,
    started: datetime | None = None,
    duration_s: float = 0.0,
    secrets: list[str] | None = None,
) -> Report:
    """The report of a run that could not run (exit 2), so CI and node_exporter still see it."""
    report = Report(
        command=command,  # type: ignore[arg-type]
        fleet=fleet,
        inventory=inventory_path,
        gateway_url=gateway_url,
        started_at=started or datetime.now(UTC),
        duration_s=duration_s,
        outcome="cannot_run",
        exit_code=EXIT_CODES["cannot_run"],
        reason=reason,
        options=options.as_facts() if options else {},
    )
    return redact_report(report, secrets or [])


def _redact(value: Any, secrets: list[str]) -> Any:
    if isinstance(value, str):
        for s in secrets:
            value = value.replace(s, "[REDACTED]")
        return value
    if isinstance(value, dict):
        return {k: _redact(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact(v, secrets) for v in value]
    return value


def redact_report(report: Report, secrets: list[str]) -> Report:
    """A copy of ``report`` with every occurrence of every secret (length ≥ 4) replaced."""
    secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)
    if not secrets:
        return report
    return Report.model_validate(_redact(report.model_dump(mode="json"), secrets))


__all__ = ["CannotRun", "Options", "ProgressFn", "cannot_run_report", "gateway_result", "planned_checks", "redact_report", "run_checks"]
