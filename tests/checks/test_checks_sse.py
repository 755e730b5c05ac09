"""The SSE parser against the specification's rules, with every split of the input, and its bounds."""

from __future__ import annotations

import pytest

from llmfleet.checks.answers import StreamAssembler
from llmfleet.checks.sse import SSEParser, SSEProtocolError

STREAM = (
    b"\xef\xbb\xbf: a comment\r\n"
    b"retry: 2500\r"
    b"id: 7\n"
    b'data: {"a":\r\n'
    b"data:  1}\n"
    b"\n"
    b"event: error\r\n"
    b"data: boom\r\n"
    b"\r\n"
    b"data\n"
    b"\n"
    b"field-without-meaning: x\n"
    b"id: bad\x00id\n"
    b"data: [DONE]\r\r"
    b"data: unterminated"
)
EXPECTED = [('{"a":\n 1}', "message", "7"), ("boom", "error", "7"), ("", "message", "7"), ("[DONE]", "message", "7")]


def parse(chunks: list[bytes]) -> tuple[list[tuple[str, str, str | None]], SSEParser, bool]:
    p = SSEParser()
    out = []
    for c in chunks:
        out += [(e.data, e.event, e.id) for e in p.feed(c)]
    return out, p, p.close()


def test_every_rule_of_the_spec_in_one_read() -> None:
    events, p, discarded = parse([STREAM])
    assert events == EXPECTED
    assert p.retry_ms == 2500 and p.comments == 1 and p.last_id == "7"  # an id with NUL is ignored
    assert discarded  # the unterminated last event is dropped, as the spec says


@pytest.mark.parametrize("cut", range(1, len(STREAM)))
def test_any_split_into_two_reads_gives_the_same_events(cut: int) -> None:
    assert parse([STREAM[:cut], STREAM[cut:]])[0] == EXPECTED


def test_one_byte_per_read_gives_the_same_events() -> None:
    assert parse([bytes([b]) for b in STREAM])[0] == EXPECTED


@pytest.mark.parametrize("raw, where", [(b"data: \xff\n\n", 6), (b"data: ok\n\ndata: \xe2\x82\n\n", 16)])
def test_invalid_utf8_is_a_protocol_error(raw: bytes, where: int) -> None:
    with pytest.raises(SSEProtocolError, match=f"invalid UTF-8 at byte {where}"):
        SSEParser().feed(raw)


def test_a_multibyte_character_split_across_reads_is_fine_and_a_cut_one_is_not() -> None:
    p = SSEParser()
    assert p.feed("data: é".encode()[:-1]) == []
    assert [e.data for e in p.feed("é".encode()[-1:] + b"\n\n")] == ["é"]
    p = SSEParser()
    p.feed("data: é".encode()[:-1])
    with pytest.raises(SSEProtocolError, match="inside a UTF-8 sequence"):
        p.close()


def test_one_event_is_capped_and_says_so() -> None:
    p = SSEParser(max_event_chars=1000)
    big = b"data: " + b"x" * 10_000 + b"\ndata: " + b"y" * 10_000 + b"\n\n"
    (ev,) = [e for i in range(0, len(big), 333) for e in p.feed(big[i : i + 333])]
    assert ev.truncated and len(ev.data) == 1000 and ev.size == 20_001
    asm = StreamAssembler()
    asm.feed_event(ev)
    assert "over the" in (asm.response().stream_problem or "")


def test_the_assembled_answer_is_capped_and_says_so() -> None:
    asm = StreamAssembler(max_content_chars=100)
    for _ in range(50):
        asm.feed_chunk({"choices": [{"index": 0, "delta": {"content": "x" * 10}}]})
    asm.feed_event("[DONE]")
    resp = asm.response()
    assert resp.content == "x" * 100 and resp.capped and "cap" in resp.capped and resp.stream_problem is None


def test_nothing_after_done_is_read() -> None:
    asm = StreamAssembler()
    asm.feed_chunk({"choices": [{"index": 0, "delta": {"content": "Paris."}, "finish_reason": "stop"}]})
    asm.feed_event("[DONE]")
    asm.feed_event('{"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"name": "x"}}]}}]}')
    asm.feed_event("garbage")
    resp = asm.response()
    assert (resp.content, resp.tool_calls, resp.stream_problem) == ("Paris.", [], None)


def test_reasoning_is_a_token_but_not_visible_output() -> None:
    asm = StreamAssembler()
    seen = asm.feed_chunk({"choices": [{"index": 0, "delta": {"reasoning_content": "get_weather(city='x')"}}]})
    assert (seen.any, seen.visible) == (True, False)
    seen = asm.feed_chunk({"choices": [{"index": 0, "delta": {"content": [{"type": "text", "text": "Paris"}]}}]})
    assert (seen.any, seen.visible) == (True, True)
    assert asm.response().content == "Paris" and asm.response().reasoning_chars == len("get_weather(city='x')")
