"""Generation checks of one model through the gateway: answer (cold), tools, latency, overhead."""

from __future__ import annotations

import time
from collections.abc import Callable

from llmfleet.checks.answers import ToolResponse, error_from_body, parse_completion
from llmfleet.checks.context import Ctx, Timer, model_result
from llmfleet.checks.http import RequestFailed, request
from llmfleet.checks.latency import latency_body, summarize_samples, timed_stream
from llmfleet.checks.results import CheckResult, LatencyStats, Overhead, Sample, ToolProbeResult
from llmfleet.checks.targets import ModelTarget, backend_headers
from llmfleet.checks.toolcall import SCENARIOS, classify, request_body

Progress = Callable[[str], None]


def _cut(text: str | None, n: int = 300) -> str | None:
    if text is None:
        return None
    return text if len(text) <= n else text[: n - 1] + "…"


async def _embedding_sample(ctx: Ctx, url: str, model: str, headers: dict[str, str], total: float) -> Sample:
    t0 = time.perf_counter_ns()
    try:
        reply = await request(
            ctx.client, "POST", url, timeouts=ctx.timeouts, total=total, headers=headers, body={"model": model, "input": "llmfleet check"}
        )
    except RequestFailed as exc:
        return Sample(ok=False, error=str(exc))
    e2e = (time.perf_counter_ns() - t0) / 1e6
    if reply.status != 200:
        return Sample(ok=False, error=error_from_body(reply.status, reply.text), http_status=reply.status)
    try:
        vec = reply.json()["data"][0]["embedding"]
        ok = isinstance(vec, list) and len(vec) > 0
    except (ValueError, KeyError, IndexError, TypeError):
        ok = False
    return Sample(ok=ok, error=None if ok else "HTTP 200 without an embedding vector", http_status=200, e2e_ms=e2e)


async def _chat_sample(
    ctx: Ctx, url: str, model: str, headers: dict[str, str], max_tokens: int, total: float, first_byte: float | None = None
) -> Sample:
    body = latency_body(model, max_tokens)
    out = await timed_stream(ctx.client, url, body, headers=headers, timeouts=ctx.timeouts, total=total, first_byte=first_byte)
    return out.sample


async def one_sample(
    ctx: Ctx, t: ModelTarget, *, direct: bool = False, max_tokens: int | None = None, total: float | None = None, cold: bool = False
) -> Sample:
    """One timed request of ``t`` through the gateway (or straight to its backend).

    ``cold``: the model's first request; it may wait up to the cold timeout for its first byte.
    """
    total = total if total is not None else ctx.timeouts.total
    first_byte = ctx.timeouts.cold_total if cold else None
    mt = max_tokens if max_tokens is not None else ctx.options.max_tokens
    if direct:
        assert t.direct_chat_url and t.direct_model
        headers, _ = backend_headers(t.backend)
        return await _chat_sample(ctx, t.direct_chat_url, t.direct_model, headers, mt, total, first_byte)
    if t.model.mode == "embedding":
        return await _embedding_sample(ctx, ctx.url("/v1/embeddings"), t.name, ctx.auth(), total)
    return await _chat_sample(ctx, ctx.url("/v1/chat/completions"), t.name, ctx.auth(), mt, total, first_byte)


def _ttft_words(s: Sample) -> str:
    if s.ttft_ms is None:
        return f"first token (reasoning) {s.ttft_any_ms:.0f} ms, no visible output yet, " if s.ttft_any_ms is not None else ""
    if s.ttft_any_ms is not None and s.ttft_any_ms + 1 < s.ttft_ms:
        return f"TTFT {s.ttft_ms:.0f} ms (first token of any kind, reasoning included: {s.ttft_any_ms:.0f} ms), "
    return f"TTFT {s.ttft_ms:.0f} ms, "


async def answer(ctx: Ctx, t: ModelTarget, *, max_tokens: int) -> CheckResult:
    """The first request of the run, timed on its own (it may load the model: cold).

    It waits up to the cold timeout for the first byte (a loading model sends nothing); once bytes flow,
    the stall timeout applies. An empty answer fails.
    """
    timer = Timer()
    s = await one_sample(ctx, t, max_tokens=max_tokens, total=ctx.timeouts.cold_total, cold=True)
    if not s.ok:
        return model_result(t.name, "answer", "fail", f"no answer: {s.error}", timer, http_status=s.http_status, cold=s)
    if t.model.mode == "embedding":
        what = f"embedding in {s.e2e_ms:.0f} ms (first request)"
    else:
        what = f"answered, first request (cold): {_ttft_words(s)}{s.e2e_ms:.0f} ms total, {s.output_tokens} tokens"
        if s.capped:
            what += f" ({s.capped})"
    return model_result(t.name, "answer", "pass", what, timer, http_status=s.http_status, cold=s)


async def tools(ctx: Ctx, t: ModelTarget, progress: Progress | None = None) -> CheckResult:
    """The tool-calling probe: every scenario, non-streamed then streamed, classified."""
    timer = Timer()
    m = t.model
    if m.mode != "chat":
        return model_result(t.name, "tools", "skip", "embedding model: not probed", timer)
    if m.tools == "none":
        return model_result(t.name, "tools", "skip", "tools: none in the inventory: not probed", timer)
    choice = ctx.options.tool_choice
    url = ctx.url("/v1/chat/completions")
    probes: list[ToolProbeResult] = []
    for spec in SCENARIOS.values():
        if spec.expected_tool is None and choice != "auto":
            continue  # a forced tool choice cannot answer a no-tool question
        for stream in (False, True):
            if progress:
                progress(f"tools {spec.name}{' stream' if stream else ''}")
            body = request_body(spec, t.name, stream=stream, tool_choice=choice)
            t0 = time.perf_counter()
            try:
                resp = await _probe(ctx, url, body, stream=stream)
                verdict = classify(spec, resp)
            except Exception as exc:  # a checker bug on one answer costs that probe only
                resp = ToolResponse(error=f"checker error: {type(exc).__name__}: {exc}")
                verdict = classify(spec, resp)
            probes.append(
                ToolProbeResult(
                    scenario=spec.name,
                    stream=stream,
                    tool_choice=choice,
                    outcome=verdict.outcome,
                    detail=verdict.detail,
                    expected_tool=spec.expected_tool,
                    called_tool=verdict.called_tool,
                    arguments=_cut(verdict.arguments),
                    arguments_as_asked=verdict.arguments_as_asked,
                    content=_cut(resp.content),
                    finish_reason=resp.finish_reason,
                    http_status=resp.http_status,
                    capped=resp.capped,
                    duration_ms=(time.perf_counter() - t0) * 1000,
                )
            )
    bad = [p for p in probes if p.outcome != "ok"]
    if not bad:
        return model_result(
            t.name, "tools", "pass", f"{len(probes)}/{len(probes)} probes ok (tool_choice {choice})", timer, tool_probes=probes
        )
    status = "fail" if m.tools == "required" else "warn"
    labels = ", ".join(f"{p.scenario}{'/stream' if p.stream else ''}={p.outcome}" for p in bad)
    example = bad[0].detail if len(bad[0].detail) <= 160 else bad[0].detail[:159] + "…"
    return model_result(
        t.name,
        "tools",
        status,
        f"{len(probes) - len(bad)}/{len(probes)} probes ok (tools: {m.tools}, tool_choice {choice}): {labels}; first: {example}",
        timer,
        tool_probes=probes,
    )


async def _probe(ctx: Ctx, url: str, body: dict, *, stream: bool) -> ToolResponse:
    """Send one tool probe; what came back, normalised (failures become ``error``)."""
    if stream:
        out = await timed_stream(ctx.client, url, body, headers=ctx.auth(), timeouts=ctx.timeouts)
        return out.response()
    try:
        reply = await request(ctx.client, "POST", url, timeouts=ctx.timeouts, headers=ctx.auth(), body=body)
    except RequestFailed as exc:
        return ToolResponse(http_status=exc.status, error=str(exc))
    return parse_completion(reply.status, reply.raw, truncated=reply.truncated)


def _direct_skip(t: ModelTarget) -> str | None:
    """Why ``t`` cannot be measured straight against its backend, or ``None``."""
    if t.backend is None or t.direct_chat_url is None:
        return "cloud model: no backend to compare with"
    if t.model.mode != "chat":
        return "embedding model: not compared"
    _, why = backend_headers(t.backend)
    if why:
        return f"cannot read the backend's api_key ({why})"
    return None


async def measure(ctx: Ctx, t: ModelTarget, *, with_direct: bool, progress: Progress | None = None) -> tuple[list[Sample], list[Sample]]:
    """Warm-up (not recorded), then ``samples`` sequential timed requests through the gateway.

    With ``with_direct`` each gateway request is followed by the same request straight to the
    backend (interleaved, so both see the same load on the machine).
    """
    for i in range(ctx.options.warmup):
        if progress:
            progress(f"warm-up {i + 1}/{ctx.options.warmup}")
        await one_sample(ctx, t)
        if with_direct:
            await one_sample(ctx, t, direct=True)
    gw: list[Sample] = []
    direct: list[Sample] = []
    for i in range(ctx.options.samples):
        if progress:
            progress(f"sample {i + 1}/{ctx.options.samples}{' (+backend)' if with_direct else ''}")
        gw.append(await one_sample(ctx, t))
        if with_direct:
            direct.append(await one_sample(ctx, t, direct=True))
    return gw, direct


def _fmt(stats: LatencyStats) -> str:
    parts = []
    if stats.ttft_ms:
        parts.append(f"TTFT p50 {stats.ttft_ms.p50:.0f} / p95 {stats.ttft_ms.p95:.0f} ms")
    if stats.ttft_any_ms and (not stats.ttft_ms or stats.ttft_any_ms.p50 + 1 < stats.ttft_ms.p50):
        parts.append(f"first token of any kind p50 {stats.ttft_any_ms.p50:.0f} / p95 {stats.ttft_any_ms.p95:.0f} ms")
    if stats.tpot_ms:
        parts.append(f"{stats.tpot_ms.p50:.1f} ms/token")
    if stats.e2e_ms:
        parts.append(f"e2e p50 {stats.e2e_ms.p50:.0f} / p95 {stats.e2e_ms.p95:.0f} ms")
    return ", ".join(parts) or "no successful sample"


def judge_latency(t: ModelTarget, stats: LatencyStats, duration_ms: float | None = None) -> CheckResult:
    """The ``latency`` verdict: every sample succeeded and p95 within the SLO (if any)."""
    failed = stats.samples - stats.ok_samples
    kw = {"latency": stats, "duration_ms": duration_ms}
    if failed:
        return model_result(t.name, "latency", "fail", f"{failed}/{stats.samples} samples failed: {stats.errors[0]}", **kw)
    if stats.slo_met is None:
        return model_result(t.name, "latency", "pass", f"{_fmt(stats)} (no SLO in the inventory)", **kw)
    if not stats.slo_met:
        breaches = []
        judged = stats.judged_ttft()
        counted = "first token of any kind" if stats.slo_ttft_counts == "any" else "first visible output"
        if stats.slo_ttft_p95_ms is not None and judged and judged.p95 > stats.slo_ttft_p95_ms:
            breaches.append(f"TTFT p95 {judged.p95:.0f} ms ({counted}) > SLO {stats.slo_ttft_p95_ms} ms")
        if stats.slo_ttft_p95_ms is not None and judged is None:
            breaches.append(f"no {'token' if stats.slo_ttft_counts == 'any' else 'visible output'} came back, so TTFT cannot meet its SLO")
        if stats.slo_e2e_p95_ms is not None and stats.e2e_ms and stats.e2e_ms.p95 > stats.slo_e2e_p95_ms:
            breaches.append(f"e2e p95 {stats.e2e_ms.p95:.0f} ms > SLO {stats.slo_e2e_p95_ms} ms")
        return model_result(t.name, "latency", "fail", "SLO missed: " + "; ".join(breaches or ["see samples"]), **kw)
    return model_result(t.name, "latency", "pass", f"{_fmt(stats)} — within SLO", **kw)


def judge_overhead(t: ModelTarget, gw: LatencyStats, direct: LatencyStats, duration_ms: float | None = None) -> CheckResult:
    """The ``overhead`` result: gateway p50 − backend p50 (informational unless direct samples failed)."""
    if direct.ok_samples < direct.samples:
        return model_result(
            t.name,
            "overhead",
            "fail",
            f"{direct.samples - direct.ok_samples}/{direct.samples} samples "
            f"straight to the backend failed: {direct.errors[0] if direct.errors else '?'}",
            latency=direct,
            duration_ms=duration_ms,
        )
    ov = Overhead()
    if gw.ttft_ms and direct.ttft_ms:
        ov.ttft_p50_ms = gw.ttft_ms.p50 - direct.ttft_ms.p50
    if gw.e2e_ms and direct.e2e_ms:
        ov.e2e_p50_ms = gw.e2e_ms.p50 - direct.e2e_ms.p50
    parts = [f"{label} {v:+.1f} ms" for label, v in (("TTFT p50", ov.ttft_p50_ms), ("e2e p50", ov.e2e_p50_ms)) if v is not None]
    msg = ("gateway adds " + ", ".join(parts)) if parts else "no comparable gateway samples"
    return model_result(
        t.name, "overhead", "pass", f"{msg} (backend: {_fmt(direct)})", latency=direct, overhead=ov, duration_ms=duration_ms
    )


async def latency_and_overhead(
    ctx: Ctx, t: ModelTarget, *, want_overhead: bool, progress: Progress | None = None
) -> tuple[CheckResult, CheckResult | None]:
    """Warm latency through the gateway (judged against the SLO) and, if wanted, the gateway overhead."""
    timer = Timer()
    skip = _direct_skip(t) if want_overhead else None
    with_direct = want_overhead and skip is None
    if with_direct:
        probe = await one_sample(ctx, t, direct=True, max_tokens=1, total=min(ctx.timeouts.total, 30.0))
        if not probe.ok and probe.error and probe.error.startswith("cannot connect"):
            skip, with_direct = f"backend not reachable from this machine ({probe.error})", False
    gw_samples, direct_samples = await measure(ctx, t, with_direct=with_direct, progress=progress)
    slo = t.model.slo
    chat = t.model.mode == "chat"
    gw = summarize_samples(
        gw_samples,
        target="gateway",
        slo_ttft_ms=slo.ttft_p95_ms if slo and chat else None,
        slo_e2e_ms=slo.e2e_p95_ms if slo else None,
        ttft_counts=slo.ttft_counts if slo else "visible",
    )
    lat = judge_latency(t, gw, timer.ms())
    if not want_overhead:
        return lat, None
    if skip is not None:
        return lat, model_result(t.name, "overhead", "skip", skip)
    direct = summarize_samples(direct_samples, target="backend")
    return lat, judge_overhead(t, gw, direct, timer.ms())
