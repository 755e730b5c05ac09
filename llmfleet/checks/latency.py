"""Streaming timing: TTFT, time per output token, end-to-end, tokens/s; p50/p95 and the SLO verdict.

Timestamps are ``time.perf_counter_ns()`` taken the moment a chunk of bytes comes out of
``response.aiter_raw()``, *before* it is split into SSE events or parsed as JSON, so parsing cost
never lands in a measurement. A chunk's events all get the arrival time of the chunk. The start
is the moment the request starts going out on the wire (httpcore's ``trace`` extension:
``send_request_headers.started``, or ``connect_tcp.started`` when a new connection is opened for
it), so httpx's own request building is not counted as the server's latency.

Definitions (per sample):

* TTFT: request sent → arrival of the first event with non-empty ``content`` (or
  ``reasoning_content``) or a tool-call delta; role-only and empty chunks do not count;
* output tokens: ``usage.completion_tokens`` when the server reports it (we ask with
  ``stream_options.include_usage``), else the number of token-bearing events;
* TPOT: (arrival of the last token-bearing event − TTFT arrival) / (output tokens − 1);
* E2E: request sent → end of the response body;
* tokens/s: output tokens / E2E.

Quantiles are nearest-rank (p95 of 10 samples is the largest one): conservative for an SLO.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from llmfleet.checks.http import RequestFailed, Timeouts, describe
from llmfleet.checks.results import LatencyStats, Quantiles, Sample
from llmfleet.checks.toolcall import StreamAssembler, error_from_body

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


class SSEParser:
    """Incremental Server-Sent-Events parser: bytes in, ``data:`` payloads out."""

    def __init__(self) -> None:
        self._buf = b""

    def feed(self, raw: bytes) -> list[str]:
        """Add bytes; return the payloads of the events completed by them."""
        self._buf += raw.replace(b"\r\n", b"\n")
        out: list[str] = []
        while True:
            end = self._buf.find(b"\n\n")
            if end < 0:
                break
            block, self._buf = self._buf[:end], self._buf[end + 2 :]
            data = [ln[5:].removeprefix(b" ") for ln in block.split(b"\n") if ln.startswith(b"data:")]
            if data:
                out.append(b"\n".join(data).decode("utf-8", "replace"))
        return out

    def flush(self) -> list[str]:
        """Payload of a final event not terminated by a blank line (some servers do that)."""
        rest, self._buf = self._buf, b""
        data = [ln[5:].removeprefix(b" ") for ln in rest.split(b"\n") if ln.startswith(b"data:")]
        return [b"\n".join(data).decode("utf-8", "replace")] if data else []


def _token_bearing(chunk: Any) -> bool:
    if not isinstance(chunk, dict):
        return False
    for choice in chunk.get("choices") or []:
        delta = (choice or {}).get("delta") or {}
        if delta.get("content") or delta.get("reasoning_content") or delta.get("tool_calls"):
            return True
    return False


@dataclass
class StreamOutcome:
    """One streamed request: its timing sample and the assembled response (for tool probes)."""

    sample: Sample
    assembler: StreamAssembler
    http_status: int | None


async def timed_stream(
    client: httpx.AsyncClient,
    url: str,
    body: dict[str, Any],
    *,
    headers: dict[str, str],
    timeouts: Timeouts,
    total: float | None = None,
    clock: Callable[[], int] = time.perf_counter_ns,
) -> StreamOutcome:
    """Send ``body`` (with ``stream: true``) and time the stream; never raises for network failures."""
    limit = total if total is not None else timeouts.total
    content = json.dumps(body).encode()
    hdrs = {**headers, "content-type": "application/json", "accept": "text/event-stream"}
    asm = StreamAssembler()
    parser = SSEParser()
    first: int | None = None
    last: int | None = None
    events = 0
    usage_tokens: int | None = None
    status: int | None = None
    sent: list[int] = []

    async def trace(event: str, info: dict[str, Any]) -> None:
        # the moment the request starts to go out on the wire (or the connection is opened for it)
        if not sent and event.endswith((".connect_tcp.started", ".send_request_headers.started")):
            sent.append(clock())

    t_call = clock()
    try:
        async with asyncio.timeout(limit):
            async with client.stream(
                "POST", url, content=content, headers=hdrs, timeout=timeouts.httpx(), extensions={"trace": trace}
            ) as resp:
                status = resp.status_code
                if status != 200:
                    text = (await resp.aread())[:200_000].decode("utf-8", "replace")
                    raise RequestFailed(error_from_body(status, text), status=status, kind="http")
                chunks = resp.aiter_bytes() if resp.headers.get("content-encoding") else resp.aiter_raw()
                async for raw in chunks:
                    t = clock()  # arrival, before any parsing
                    for payload in parser.feed(raw):
                        if payload.strip() == "[DONE]":
                            asm.feed_event(payload)
                            continue
                        try:
                            chunk = json.loads(payload)
                        except ValueError:
                            asm.feed_event(payload)
                            continue
                        asm.feed_chunk(chunk)
                        if _token_bearing(chunk):
                            events += 1
                            if first is None:
                                first = t
                            last = t
                        usage = chunk.get("usage") if isinstance(chunk, dict) else None
                        if isinstance(usage, dict) and isinstance(usage.get("completion_tokens"), int):
                            usage_tokens = usage["completion_tokens"]
                for payload in parser.flush():
                    asm.feed_event(payload)
                t_end = clock()
    except Exception as exc:
        failure = describe(exc, url, timeouts, limit)
        where = ""
        if failure.kind in ("stall", "timeout", "protocol"):
            where = f" (after {events} token events)" if first is not None else " (before the first token)"
        sample = Sample(ok=False, error=f"{failure}{where}", http_status=failure.status or status)
        return StreamOutcome(sample, asm, failure.status or status)
    if asm.error:
        return StreamOutcome(Sample(ok=False, error=asm.error, http_status=status), asm, status)
    t0 = sent[0] if sent else t_call
    e2e = (t_end - t0) / 1e6
    tokens = usage_tokens if usage_tokens else events
    ttft = (first - t0) / 1e6 if first is not None else None
    tpot = (last - first) / 1e6 / (tokens - 1) if first is not None and last is not None and tokens > 1 else None
    ended = asm.done or asm.finish_reason is not None
    sample = Sample(
        ok=ended,
        error=None if ended else "the stream ended without finish_reason and without [DONE]",
        http_status=status,
        ttft_ms=ttft,
        tpot_ms=tpot,
        e2e_ms=e2e,
        output_tokens=tokens,
        tokens_per_s=tokens / (e2e / 1000) if e2e > 0 and tokens else None,
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


def summarize_samples(samples: list[Sample], *, target: str, slo_ttft_ms: int | None = None, slo_e2e_ms: int | None = None) -> LatencyStats:
    """Aggregate samples and judge them against the SLO (objectives are p95)."""
    ok = [s for s in samples if s.ok]
    errors = sorted({s.error or "failed" for s in samples if not s.ok})
    stats = LatencyStats(
        target=target,  # type: ignore[arg-type]
        samples=len(samples),
        ok_samples=len(ok),
        ttft_ms=quantiles([s.ttft_ms for s in ok]),
        tpot_ms=quantiles([s.tpot_ms for s in ok]),
        e2e_ms=quantiles([s.e2e_ms for s in ok]),
        tokens_per_s=quantiles([s.tokens_per_s for s in ok]),
        errors=errors[:5],
        slo_ttft_p95_ms=slo_ttft_ms,
        slo_e2e_p95_ms=slo_e2e_ms,
    )
    if slo_ttft_ms is not None or slo_e2e_ms is not None:
        met = True
        if slo_ttft_ms is not None:
            met = met and stats.ttft_ms is not None and stats.ttft_ms.p95 <= slo_ttft_ms
        if slo_e2e_ms is not None:
            met = met and stats.e2e_ms is not None and stats.e2e_ms.p95 <= slo_e2e_ms
        stats.slo_met = met and not errors
    return stats
