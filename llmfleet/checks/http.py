"""HTTP plumbing shared by the checks: bounded requests and honest error messages.

Every request is bounded: httpx's own timeouts (connect, write, pool), a total deadline with
:func:`asyncio.timeout` (catches a backend that drips bytes forever) and, for a stream, the longest
silence (:func:`llmfleet.checks.latency.timed_stream`: the first-byte wait, then the stall timeout). Any failure
becomes a :class:`RequestFailed` whose message names what happened, never a traceback.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any

import httpx

from llmfleet.checks import strictjson

MAX_BODY = 2 * 1024 * 1024  # bytes of a non-streamed body we read at most


@dataclass(frozen=True)
class Timeouts:
    """Per-request bounds in seconds."""

    connect: float = 5.0
    stall: float = 20.0  # longest silence between two chunks (httpx read timeout)
    total: float = 60.0  # whole request, headers to last byte
    cold_total: float = 180.0  # the first request of a model (it may load the model)

    def httpx(self, *, total: float | None = None) -> httpx.Timeout:
        """The httpx timeout object. Silence is bounded by the caller (a streamed request reschedules its own
        first-byte/stall deadline; a non-streamed one sends nothing until the answer is complete, so only the total
        deadline applies); httpx's read timeout is only a backstop (+1 s, so the clearer message fires first)."""
        read = (total if total is not None else self.total) + 1.0
        return httpx.Timeout(connect=self.connect, read=read, write=self.stall, pool=self.total)


class RequestFailed(Exception):
    """A request did not produce a usable HTTP response; ``str()`` is the one-line reason."""

    def __init__(self, message: str, *, status: int | None = None, kind: str = "error") -> None:
        super().__init__(message)
        self.status = status
        self.kind = kind  # "connect", "timeout", "stall", "protocol", "error"


def describe(exc: BaseException, url: str, timeouts: Timeouts, total: float) -> RequestFailed:
    """Turn an exception raised during a request into a :class:`RequestFailed`."""
    if isinstance(exc, RequestFailed):
        return exc
    if isinstance(exc, TimeoutError):
        return RequestFailed(f"no complete response within {total:g} s (request timeout) from {url}", kind="timeout")
    if isinstance(exc, httpx.ConnectTimeout):
        return RequestFailed(f"cannot connect to {url}: no answer within {timeouts.connect:g} s", kind="connect")
    if isinstance(exc, httpx.ConnectError):
        reason = str(exc) or type(exc).__name__
        return RequestFailed(f"cannot connect to {url}: {reason}", kind="connect")
    if isinstance(exc, httpx.ReadTimeout):
        return RequestFailed(f"stalled: no data for {timeouts.stall:g} s from {url}", kind="stall")
    if isinstance(exc, httpx.PoolTimeout):
        return RequestFailed(f"no free connection within {timeouts.total:g} s for {url}", kind="timeout")
    if isinstance(exc, httpx.TimeoutException):
        return RequestFailed(f"timed out talking to {url}: {type(exc).__name__}", kind="timeout")
    if isinstance(exc, (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)):
        return RequestFailed(f"connection broken by {url}: {exc or type(exc).__name__}", kind="protocol")
    if isinstance(exc, httpx.HTTPError):
        return RequestFailed(f"{type(exc).__name__} from {url}: {exc}", kind="error")
    return RequestFailed(f"{type(exc).__name__} talking to {url}: {exc}", kind="error")


@dataclass
class Reply:
    """A complete, non-streamed HTTP response."""

    status: int
    text: str  # decoded with replacement (for messages); judge ``raw``
    elapsed_ms: float
    raw: bytes = b""
    truncated: bool = False  # the body was longer than MAX_BODY: only the first MAX_BODY bytes are kept

    def json(self) -> Any:
        """The body decoded as strict JSON from its bytes (raises ``ValueError``: also for invalid UTF-8 or ``NaN``)."""
        return strictjson.loads(self.raw if self.raw else self.text)


async def request(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    timeouts: Timeouts,
    total: float | None = None,
    headers: dict[str, str] | None = None,
    body: dict[str, Any] | None = None,
) -> Reply:
    """Send one request and read the whole (bounded) body; raise :class:`RequestFailed`."""
    limit = total if total is not None else timeouts.total
    content = json.dumps(body).encode() if body is not None else None
    hdrs = dict(headers or {})
    if content is not None:
        hdrs["content-type"] = "application/json"
    for attempt in (1, 2):
        t0 = time.perf_counter_ns()
        started = False
        try:
            async with asyncio.timeout(limit):
                async with client.stream(method, url, content=content, headers=hdrs, timeout=timeouts.httpx(total=limit)) as resp:
                    started = True
                    raw, truncated = await read_bounded(resp, MAX_BODY)
                    return Reply(resp.status_code, raw.decode("utf-8", "replace"), (time.perf_counter_ns() - t0) / 1e6, raw, truncated)
        except Exception as exc:
            closed_early = not started and isinstance(exc, (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError))
            if attempt == 2 or not closed_early:
                raise describe(exc, url, timeouts, limit) from None
            # closed before any response: a pooled keep-alive connection the server had just closed; send it once more
    raise AssertionError("unreachable")


async def read_bounded(resp: httpx.Response, limit: int) -> tuple[bytes, bool]:
    """At most ``limit`` bytes of the body, and whether there was more (the rest is not read)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in resp.aiter_bytes():
        room = limit - size
        if len(chunk) > room:
            chunks.append(chunk[:room])
            return b"".join(chunks), True
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks), False


def make_client(concurrency: int) -> httpx.AsyncClient:
    """One shared client: no proxies from the environment, enough connections for the semaphore."""
    # keep-alive expiry below uvicorn's 5 s (LiteLLM's server): an idle connection is not reused just as the server closes it
    limits = httpx.Limits(max_connections=max(4 * concurrency, 16), max_keepalive_connections=max(2 * concurrency, 8), keepalive_expiry=2.0)
    return httpx.AsyncClient(limits=limits, trust_env=False, follow_redirects=False)
