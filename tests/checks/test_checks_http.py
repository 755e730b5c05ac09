"""A connection closed before any response is sent once more (as clients do); closed every time, it fails."""

from __future__ import annotations

import asyncio
import json

import pytest

from llmfleet.checks.http import RequestFailed, Timeouts, make_client, request
from llmfleet.checks.latency import latency_body, timed_stream

TIMEOUTS = Timeouts(connect=5, stall=10, total=20, cold_total=20)
SSE = (
    b'data: {"choices": [{"index": 0, "delta": {"content": "1 "}, "finish_reason": null}]}\n\n'
    b'data: {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}\n\ndata: [DONE]\n\n'
)


async def _server(closes: int) -> tuple[asyncio.AbstractServer, list[int]]:
    """Close the first ``closes`` connections without a word; then answer every request (SSE or JSON)."""
    seen = [0]

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen[0] += 1
        head = await reader.readuntil(b"\r\n\r\n")
        if seen[0] <= closes:
            writer.close()
            return
        length = int(next(ln.split(b":")[1] for ln in head.split(b"\r\n") if ln.lower().startswith(b"content-length")) or 0)
        body = json.loads(await reader.readexactly(length)) if length else {}
        payload = SSE if body.get("stream") else b'{"ok": true}'
        kind = b"text/event-stream" if body.get("stream") else b"application/json"
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: " + kind + b"\r\ncontent-length: %d\r\nconnection: close\r\n\r\n" % len(payload))
        writer.write(payload)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, seen


@pytest.mark.parametrize("closes, ok", [(0, True), (1, True), (2, False)])
def test_closed_before_any_response(closes: int, ok: bool) -> None:
    async def run() -> tuple[bool, bool, list[int]]:
        server, seen = await _server(closes)
        url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/v1/chat/completions"
        async with server, make_client(1) as client:
            out = await timed_stream(client, url, latency_body("m", 4), headers={}, timeouts=TIMEOUTS)
            seen_stream = seen[0]
            seen[0] = 0
            try:
                await request(client, "POST", url, timeouts=TIMEOUTS, body={"x": 1})
                plain = True
            except RequestFailed as exc:
                assert "connection broken" in str(exc)
                plain = False
        return out.sample.ok, plain, [seen_stream, seen[0]]

    stream_ok, plain_ok, attempts = asyncio.run(run())
    assert (stream_ok, plain_ok) == (ok, ok)
    assert attempts == [min(closes, 2) + (1 if ok else 0)] * 2  # never more than one extra attempt
