"""Streaming timing: TTFT, time per output token, end-to-end, tokens/s; p50/p95 and the SLO verdict.

Timestamps are ``time.perf_counter_ns()`` taken the moment a chunk of bytes comes out of
``response.aiter_raw()``, *before* it is split into SSE events or parsed as JSON, so parsing cost
never lands in a measurement. A chunk's events all get the arrival time of the chunk. The start
is the moment the request starts going out on the wire (httpcore's ``trace`` extension:
``send_request_headers.started``, or ``connect_tcp.started`` when a new connection is opened for
it), so httpx's own request building is not counted as the server's latency.

Definitions (per sample):

* TTFT (``ttft_ms``, time to first *visible* output): request sent → arrival of the first event
  with non-empty ``content`` or a tool-call delta; role-only, empty and reasoning-only chunks do
  not count;
* TTFT any (``ttft_any_ms``): the same for the first token of any kind, reasoning
  (``reasoning_content``/``reasoning``) included; the SLO judges the one ``slo.ttft_counts`` names;
* output tokens: ``usage.completion_tokens`` when the server reports it (we ask with
  ``stream_options.include_usage``), else the number of token-bearing events;
* TPOT: (arrival of the last token-bearing event − first token of any kind) / (output tokens − 1);
* E2E: request sent → ``[DONE]`` (reading stops there, as a client's does) or the end of the body;
* tokens/s: output tokens / E2E.

A sample passes only when the stream is complete (``finish_reason`` or ``[DONE]``), structurally
sound, and carries visible output (an empty answer fails; a reasoning model cut by ``max_tokens``
while still thinking counts as answering).

Quantiles are nearest-rank (p95 of 10 samples is the largest one): conservative for an SLO.
"""

from __future__ import annotations

import asyncio
import functools
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import httpx

from llmfleet.checks.answers import StreamAssembler, ToolResponse, error_from_body
from llmfleet.checks.http import RequestFailed, Timeouts, describe, read_bounded
from llmfleet.checks.results import LatencyStats, Quantiles, Sample
from llmfleet.checks.sse import SSEParser, SSEProtocolError

LATENCY_PROMPT = "Count from 1 to 50, separated by spaces."


def latency_body(model: str, max_tokens: int) -> dict[str, Any]:
    """The fixed streamed request the latency samples time (temperature 0)."""
    return {
        "model": model,
        "messages": [{"role": "user", "content": LATENCY_PROMPT}],
        "max_tokens": max_tokens,
        "temperature": 0,
        "stream": True,
        "stream_options": {"include_usage": True},
    }


@dataclass
class StreamOutcome:
    """One streamed request: its timing sample and the assembled response (for tool probes)."""

    sample: Sample
    assembler: StreamAssembler
    http_status: int | None
    failure: str | None = None  # the request itself failed (HTTP error, timeout, connection, protocol): why
    retryable: bool = False  # the connection closed before any response came (safe to send again)

    def response(self) -> ToolResponse:
        """The assembled response; a failed request is an ``error`` whatever was assembled before it failed."""
        resp = self.assembler.response(self.http_status)
        if self.failure and resp.error is None:
            resp.error = self.failure
        return resp


class _Silence(Exception):
    """No byte within the allowed silence (before the first byte: the first-byte wait; after: the stall timeout)."""


def _sample_verdict(resp: ToolResponse) -> str | None:
    """Why a complete stream is not a usable answer, or ``None``."""
    if resp.stream_problem:
        return f"stream problem: {resp.stream_problem}"
    if resp.finish_reason in ("tool_calls", "function_call") and not resp.tool_calls:
        return f"finish_reason {resp.finish_reason!r} contradicts the answer: no tool call came back"
    if resp.visible:
        return None
    if resp.reasoning_chars and resp.finish_reason == "length":
        return None  # a reasoning model still thinking when max_tokens ran out: it answered
    why = f", only {resp.reasoning_chars} characters of reasoning" if resp.reasoning_chars else ""
    return f"empty answer: no content and no tool call (finish_reason {resp.finish_reason!r}{why})"


async def timed_stream(
    client: httpx.AsyncClient,
    url: str,
    body: dict[str, Any],
    *,
    headers: dict[str, str],
    timeouts: Timeouts,
    total: float | None = None,
    first_byte: float | None = None,
    clock: Callable[[], int] = time.perf_counter_ns,
) -> StreamOutcome:
    """:func:`_timed_stream_once`, sent again once when the connection closed before any response
    (a pooled keep-alive connection the server had just closed: clients retry that too)."""
    once = functools.partial(
        _timed_stream_once, client, url, body, headers=headers, timeouts=timeouts, total=total, first_byte=first_byte, clock=clock
    )
    out = await once()
    return await once() if out.retryable else out


async def _timed_stream_once(
    client: httpx.AsyncClient,
    url: str,
    body: dict[str, Any],
    *,
    headers: dict[str, str],
    timeouts: Timeouts,
    total: float | None = None,
    first_byte: float | None = None,
    clock: Callable[[], int] = time.perf_counter_ns,
) -> StreamOutcome:
    """Send ``body`` (with ``stream: true``) and time the stream; never raises for network or protocol failures.

    Bounds: ``total`` (default ``timeouts.total``) for the whole request; until the first byte of the
    body arrives, silence is allowed for ``first_byte`` (default ``timeouts.stall``; the first request of a
    model passes its cold timeout, since a loading model sends nothing), after that ``timeouts.stall``.
    Reading stops at ``[DONE]``, as clients do.
    """
    limit = total if total is not None else timeouts.total
    first_wait = min(first_byte if first_byte is not None else timeouts.stall, limit)
    content = json.dumps(body).encode()
    hdrs = {**headers, "content-type": "application/json", "accept": "text/event-stream"}
    asm = StreamAssembler()
    parser = SSEParser()
    first_any: int | None = None
    first_visible: int | None = None
    last: int | None = None
    events = 0
    status: int | None = None
    got_bytes = False
    sent: list[int] = []
    loop = asyncio.get_running_loop()

    async def trace(event: str, info: dict[str, Any]) -> None:
        # the moment the request starts to go out on the wire (or the connection is opened for it)
        if not sent and event.endswith((".connect_tcp.started", ".send_request_headers.started")):
            sent.append(clock())

    t_call = clock()
    t_end = t_call
    try:
        async with asyncio.timeout(limit):
            try:
                async with asyncio.timeout(first_wait) as silence:
                    async with client.stream(
                        "POST", url, content=content, headers=hdrs, timeout=timeouts.httpx(total=limit), extensions={"trace": trace}
                    ) as resp:
                        status = resp.status_code
                        if status != 200:
                            raw_err, _ = await read_bounded(resp, 200_000)
                            raise RequestFailed(error_from_body(status, raw_err), status=status, kind="http")
                        chunks = resp.aiter_bytes() if resp.headers.get("content-encoding") else resp.aiter_raw()
                        async for raw in chunks:
                            t = clock()  # arrival, before any parsing
                            if raw:
                                got_bytes = True
                                silence.reschedule(loop.time() + timeouts.stall)
                            for ev in parser.feed(raw):
                                seen = asm.feed_event(ev)
                                if asm.done:
                                    break
                                if seen.any:
                                    events += 1
                                    first_any = first_any if first_any is not None else t
                                    last = t
                                if seen.visible and first_visible is None:
                                    first_visible = t
                            if asm.done:
                                break
                        t_end = clock()
                        if not asm.done:
                            parser.close()
            except TimeoutError:
                if silence.expired():
                    raise _Silence from None
                raise
    except Exception as exc:
        if isinstance(exc, _Silence) or (isinstance(exc, TimeoutError) and not got_bytes):
            what = f"stalled: no data for {timeouts.stall:g} s" if got_bytes else f"no first byte within {min(first_wait, limit):g} s"
            failure = RequestFailed(f"{what} from {url}", kind="stall")
        elif isinstance(exc, SSEProtocolError):
            failure = RequestFailed(f"protocol error: {exc} from {url}", kind="protocol", status=status)
        else:
            failure = describe(exc, url, timeouts, limit)
        where = ""
        if failure.kind in ("stall", "timeout", "protocol"):
            where = f" (after {events} token events)" if first_any is not None else " (before the first token)"
        sample = Sample(ok=False, error=f"{failure}{where}", http_status=failure.status or status)
        retryable = status is None and isinstance(exc, (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError))
        return StreamOutcome(sample, asm, failure.status or status, failure=sample.error, retryable=retryable)
    if asm.error:
        return StreamOutcome(Sample(ok=False, error=asm.error, http_status=status), asm, status)
    t0 = sent[0] if sent else t_call
    e2e = (t_end - t0) / 1e6
    tokens = asm.usage_tokens if asm.usage_tokens else events
    view = asm.response(status)
    problem = _sample_verdict(view)
    tpot = (last - first_any) / 1e6 / (tokens - 1) if first_any is not None and last is not None and tokens > 1 else None
    sample = Sample(
        ok=problem is None,
        error=problem,
        http_status=status,
        ttft_ms=(first_visible - t0) / 1e6 if first_visible is not None else None,
        ttft_any_ms=(first_any - t0) / 1e6 if first_any is not None else None,
        tpot_ms=tpot,
        e2e_ms=e2e,
        output_tokens=tokens,
        tokens_per_s=tokens / (e2e / 1000) if e2e > 0 and tokens else None,
        capped=view.capped,
    )
    return StreamOutcome(sample, asm, status)


def nearest_rank(values: list[float], q: float) -> float:
    """The nearest-rank ``q`` quantile (0 < q <= 1) of ``values`` (non-empty)."""
    ordered = sorted(values)
    k = max(1, math.ceil(q * len(ordered)))
    return ordered[k - 1]


def quantiles(values: list[float | None]) -> Quantiles | None:
    """p50/p95/max of the non-null ``values`` (``None`` when there are none)."""
    vals = [v for v in values if v is not None]
    if not vals:
        return None
    return Quantiles(p50=nearest_rank(vals, 0.5), p95=nearest_rank(vals, 0.95), max=max(vals), n=len(vals))


def summarize_samples(
    samples: list[Sample],
    *,
    target: str,
    slo_ttft_ms: int | None = None,
    slo_e2e_ms: int | None = None,
    ttft_counts: Literal["visible", "any"] = "visible",
) -> LatencyStats:
    """Aggregate samples and judge them against the SLO (objectives are p95; ``ttft_counts`` names the TTFT judged)."""
    ok = [s for s in samples if s.ok]
    errors = sorted({s.error or "failed" for s in samples if not s.ok})
    stats = LatencyStats(
        target=target,  # type: ignore[arg-type]
        samples=len(samples),
        ok_samples=len(ok),
        ttft_ms=quantiles([s.ttft_ms for s in ok]),
        ttft_any_ms=quantiles([s.ttft_any_ms for s in ok]),
        tpot_ms=quantiles([s.tpot_ms for s in ok]),
        e2e_ms=quantiles([s.e2e_ms for s in ok]),
        tokens_per_s=quantiles([s.tokens_per_s for s in ok]),
        errors=errors[:5],
        slo_ttft_p95_ms=slo_ttft_ms,
        slo_e2e_p95_ms=slo_e2e_ms,
        slo_ttft_counts=ttft_counts if slo_ttft_ms is not None else None,
    )
    if slo_ttft_ms is not None or slo_e2e_ms is not None:
        met = True
        if slo_ttft_ms is not None:
            judged = stats.judged_ttft()
            met = met and judged is not None and judged.p95 <= slo_ttft_ms
        if slo_e2e_ms is not None:
            met = met and stats.e2e_ms is not None and stats.e2e_ms.p95 <= slo_e2e_ms
        stats.slo_met = met and not errors
    return stats
