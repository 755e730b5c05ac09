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
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from llmfleet.checks import backends, docker_state, gateway, probes
from llmfleet.checks.context import Ctx, Options, gateway_result, model_result
from llmfleet.checks.http import make_client
from llmfleet.checks.results import EXIT_CODES, CheckName, CheckResult, Report, Status, summarize
from llmfleet.checks.sanitize import clean_value
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


#: Modes whose requests the probes know how to send (chat completions and embeddings).
PROBED_MODES = frozenset({"chat", "embedding"})


def unprobed_reason(target: ModelTarget) -> str | None:
    """Why a model gets no generation probes (a wildcard route, a mode the probes cannot ask), or None."""
    if target.model.is_wildcard:
        return f"not probed: {target.name!r} is a wildcard route (it matches names clients send, it is not one model)"
    if target.model.mode not in PROBED_MODES:
        return f"not probed: mode {target.model.mode!r} (llmfleet probes chat and embedding models; check this one by hand)"
    return None


@dataclass
class _ModelRun:
    target: ModelTarget
    plan: list[CheckName]
    results: dict[str, CheckResult] = field(default_factory=dict)
    phase: str = "queued"
    started: bool = False
    on_result: Callable[[CheckResult], None] | None = None
    finish: Callable[[CheckResult], CheckResult] = lambda r: r

    def record(self, result: CheckResult) -> None:
        """Keep a finished check (sanitised and redacted) and tell the progress display at once."""
        result = self.finish(result)
        self.results[result.check] = result
        if self.on_result:
            self.on_result(result)

    def record_rest(self, status: Status, message: str) -> None:
        """Every planned check without a result gets ``status`` with ``message``."""
        for check in self.plan:
            if check not in self.results:
                self.record(model_result(self.target.name, check, status, message))

    async def contained(self, checks: list[CheckName], step: Callable[[], Awaitable[list[CheckResult]]]) -> None:
        """Run one step; a checker exception fails that step's checks only (the model's other steps still run)."""
        try:
            for result in await step():
                self.record(result)
        except Exception as exc:
            reason = f"checker error while at '{self.phase}': {type(exc).__name__}: {exc}"
            for check in checks:
                if check not in self.results:
                    self.record(model_result(self.target.name, check, "fail", reason[:500]))


async def _run_model(ctx: Ctx, run: _ModelRun, sem: asyncio.Semaphore, progress: ProgressFn | None) -> None:
    t = run.target

    def step(phase: str) -> None:
        run.phase = phase
        if progress:
            progress(t.name, phase)

    async def one(coro: Awaitable[CheckResult]) -> list[CheckResult]:
        return [await coro]

    async with sem:
        run.started = True
        step("backend")
        await run.contained(["backend"], lambda: one(backends.check_backend(ctx, t)))
        unprobed = unprobed_reason(t)
        if unprobed is not None:
            run.record_rest("skip", unprobed)
            step("")
            return
        step("answer (cold)")
        cold_tokens = 1 if ctx.options.command == "health" else ctx.options.max_tokens
        await run.contained(["answer"], lambda: one(probes.answer(ctx, t, max_tokens=cold_tokens)))
        first = run.results.get("answer")
        if first is not None and first.status == "fail":
            # down: a dead model costs one cold timeout, not every probe's timeout
            reason = first.message.removeprefix(f"{t.name} answer: ")
            run.record_rest("skip", f"not probed: the model is down (its first request failed: {reason})"[:500])
            step("")
            return
        if "tools" in run.plan:
            step("tools")
            await run.contained(["tools"], lambda: one(probes.tools(ctx, t, progress=step)))
        if "latency" in run.plan:
            step("latency")

            async def latency() -> list[CheckResult]:
                lat, ov = await probes.latency_and_overhead(ctx, t, want_overhead="overhead" in run.plan, progress=step)
                return [lat] if ov is None else [lat, ov]

            await run.contained([c for c in run.plan if c in ("latency", "overhead")], latency)
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
    secrets = [master_key, *_backend_secrets(inventory)]

    def finish(r: CheckResult) -> CheckResult:
        return finish_result(r, secrets)

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
        gw = [finish(r) for r in gw]
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
        runs = [_ModelRun(t, planned_checks(options, t), on_result=on_result, finish=finish) for t in targets]
        sem = asyncio.Semaphore(max(1, options.concurrency))
        tasks = {asyncio.create_task(_run_model(ctx, r, sem, progress)): r for r in runs}
        remaining = max(0.0, deadline - loop.time())
        done, pending = await asyncio.wait(tasks, timeout=remaining) if tasks else (set(), set())
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        if containers is not None:
            results += [finish(r) for r in await containers]
        for task, run in tasks.items():
            if task in done and not task.cancelled() and task.exception() is not None:
                exc = task.exception()
                run.record_rest("fail", f"checker error while at '{run.phase}': {type(exc).__name__}: {exc}"[:500])
            elif run.started:
                run.record_rest("fail", f"not finished within the global timeout ({options.global_timeout:g} s); was at '{run.phase}'")
            else:
                run.record_rest(
                    "fail", f"not started within the global timeout ({options.global_timeout:g} s, concurrency {options.concurrency})"
                )
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
    return redact_report(report, secrets)


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


def _usable(secrets: list[str]) -> list[str]:
    return sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)


def finish_result(result: CheckResult, secrets: list[str]) -> CheckResult:
    """``result`` with every string sanitised (:mod:`llmfleet.checks.sanitize`) and every secret (length ≥ 4) replaced."""
    data = _redact(clean_value(result.model_dump(mode="json")), _usable(secrets))
    return CheckResult.model_validate(data)


def redact_report(report: Report, secrets: list[str]) -> Report:
    """A copy of ``report`` with every string sanitised and every occurrence of every secret (length ≥ 4) replaced."""
    return Report.model_validate(_redact(clean_value(report.model_dump(mode="json")), _usable(secrets)))


__all__ = ["CannotRun", "Options", "ProgressFn", "cannot_run_report", "gateway_result", "planned_checks", "redact_report", "run_checks"]
