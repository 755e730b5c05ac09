"""The tool-call classifier, on hand-written responses: every class, streamed and not."""

from __future__ import annotations

import json

import jsonschema
import pytest

from llmfleet.checks.latency import nearest_rank, quantiles
from llmfleet.checks.results import TOOL_OUTCOMES
from llmfleet.checks.sse import SSEParser
from llmfleet.checks.toolcall import (
    SCENARIOS,
    TOOLS_BY_NAME,
    StreamAssembler,
    ToolCall,
    ToolResponse,
    call_in_text,
    classify,
    parse_completion,
    request_body,
    schema_errors,
)

LOOKUP, CHOOSE, NO_TOOL = SCENARIOS["lookup"], SCENARIOS["choose"], SCENARIOS["no_tool"]


def completion(message: dict, finish: str = "stop") -> str:
    return json.dumps({"choices": [{"index": 0, "message": {"role": "assistant", **message}, "finish_reason": finish}]})


def call_message(name: str, args: str) -> dict:
    return {"content": None, "tool_calls": [{"id": "c1", "type": "function", "function": {"name": name, "arguments": args}}]}


def outcome(scenario, status: int, body: str) -> str:
    return classify(scenario, parse_completion(status, body)).outcome


# ------------------------------------------------------------------ non-streamed, one test per class
def test_ok_valid_call() -> None:
    v = classify(LOOKUP, parse_completion(200, completion(call_message("get_weather", '{"city": "Tokyo", "days": 3}'), "tool_calls")))
    assert v.outcome == "ok"
    assert v.called_tool == "get_weather"
    assert v.arguments_as_asked is True


def test_ok_but_values_differ_is_still_ok_and_says_so() -> None:
    v = classify(LOOKUP, parse_completion(200, completion(call_message("get_weather", '{"city": "Lima", "days": 7}'))))
    assert v.outcome == "ok"
    assert v.arguments_as_asked is False
    assert "differ" in v.detail


def test_no_tool_call_prose() -> None:
    v = classify(LOOKUP, parse_completion(200, completion({"content": "It is sunny in Tokyo."})))
    assert v.outcome == "no_tool_call"
    assert "sunny" in v.detail


def test_empty_answer_is_its_own_failure() -> None:
    assert outcome(CHOOSE, 200, completion({"content": ""})) == "empty_answer"
    assert outcome(NO_TOOL, 200, completion({"content": None})) == "empty_answer"


def test_wrong_tool_offered_and_not_offered() -> None:
    v = classify(CHOOSE, parse_completion(200, completion(call_message("get_weather", '{"city": "Paris", "days": 1}'))))
    assert v.outcome == "wrong_tool"
    assert "instead of convert_currency" in v.detail
    v = classify(LOOKUP, parse_completion(200, completion(call_message("search_web", '{"q": "x"}'))))
    assert v.outcome == "wrong_tool"
    assert "not offered" in v.detail


@pytest.mark.parametrize(
    "args, why",
    [
        ('{"city": "Tokyo", "days": 3', "not strict JSON"),
        ("", "empty"),
        ('{"city": "Berlin", "days": 3}', "not one of"),
        ('{"city": "Tokyo", "days": "three"}', "days: 'three' is not of type 'integer'"),
        ('{"city": "Tokyo", "days": 30}', "maximum"),
        ('{"city": "Tokyo"}', "'days' is a required property"),
        ('{"city": "Tokyo", "days": 3, "unit": "C"}', "'unit' was unexpected"),
        ('{"city": "Tokyo", "days": NaN}', "NaN is not JSON"),
        ('{"city": "Tokyo", "days": Infinity}', "Infinity is not JSON"),
        ('{"city": "Tokyo", "days": 3, "days": 4}', "duplicate key 'days'"),
        ("[" * 100000 + "]" * 100000, "nested too deeply"),
        ('["Tokyo", 3]', "not an object"),
    ],
)
def test_malformed_arguments(args: str, why: str) -> None:
    v = classify(LOOKUP, parse_completion(200, completion(call_message("get_weather", args))))
    assert v.outcome == "malformed_arguments"
    assert why in v.detail


def test_malformed_when_cut_by_max_tokens_says_so() -> None:
    v = classify(LOOKUP, parse_completion(200, completion(call_message("get_weather", '{"city": "To'), "length")))
    assert v.outcome == "malformed_arguments"
    assert "max_tokens" in v.detail


def test_arguments_not_a_string() -> None:
    resp = ToolResponse(http_status=200, tool_calls=[ToolCall("get_weather", {"city": "Tokyo", "days": 3}, "c1")])
    assert classify(LOOKUP, resp).outcome == "malformed_arguments"


@pytest.mark.parametrize(
    "content",
    [
        '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Tokyo", "days": 3}}\n</tool_call>',
        'Sure! ```json\n{"name": "get_weather", "parameters": {"city": "Tokyo", "days": 3}}\n```',
        '{"function": {"name": "convert_currency"}, "arguments": "{}"}',
        '[TOOL_CALLS] [{"name": "get_weather", "arguments": {"city": "Tokyo", "days": 3}}]',
        '<|python_tag|>get_weather.call(city="Tokyo")',
        '<function=get_weather>{"city": "Tokyo", "days": 3}</function>',
        'I will call get_weather(city="Tokyo", days=3) now.',
        'The arguments are {"city": "Tokyo", "days": 3}.',
    ],
)
def test_tool_call_in_content(content: str) -> None:
    v = classify(LOOKUP, parse_completion(200, completion({"content": content})))
    assert v.outcome == "tool_call_in_content", v.detail


def test_mentioning_a_tool_in_prose_is_not_a_call() -> None:
    assert call_in_text("I could use get_weather, but I won't.", ("get_weather",)) is None
    assert outcome(LOOKUP, 200, completion({"content": "I could use get_weather, but I won't."})) == "no_tool_call"


def test_unexpected_tool_call_when_no_tool_needed() -> None:
    v = classify(NO_TOOL, parse_completion(200, completion(call_message("get_weather", '{"city": "Paris", "days": 1}'))))
    assert v.outcome == "unexpected_tool_call"


def test_no_tool_question_answered_in_text_is_ok_and_text_call_is_not() -> None:
    assert outcome(NO_TOOL, 200, completion({"content": "Paris."})) == "ok"
    text_call = '<tool_call>{"name": "get_weather", "arguments": {"city": "Paris", "days": 1}}</tool_call>'
    assert outcome(NO_TOOL, 200, completion({"content": text_call})) == "tool_call_in_content"


@pytest.mark.parametrize(
    "status, body, expect",
    [
        (500, '{"error": {"message": "CUDA out of memory", "type": "server_error"}}', "HTTP 500: CUDA out of memory"),
        (429, '{"detail": "rate limited"}', "HTTP 429: rate limited"),
        (502, "<html>Bad Gateway</html>", "HTTP 502: <html>Bad Gateway</html>"),
        (200, "not json", "not valid JSON"),
        (200, '{"choices": [{"message": {"content": NaN}}]}', "NaN is not JSON"),
        (200, '{"choices": [{"message": {"content": [{"type": "image_url"}]}}]}', "is not text"),
        (200, '{"choices": [{"message": ' * 50000 + "}" * 50000, "nested too deeply"),
        (200, b'{"choices": [{"message": {"content": "\xff"}}]}', "invalid UTF-8"),
        (200, '{"choices": []}', "no choices"),
        (200, '{"error": {"message": "upstream died"}}', "upstream died"),
    ],
)
def test_error(status: int, body: str, expect: str) -> None:
    v = classify(LOOKUP, parse_completion(status, body))
    assert v.outcome == "error"
    assert expect in v.detail


def test_error_from_a_timeout_keeps_the_message() -> None:
    v = classify(LOOKUP, ToolResponse(error="stalled: no data for 2 s from http://x"))
    assert (v.outcome, v.detail) == ("error", "stalled: no data for 2 s from http://x")


# ------------------------------------------------------------------ streamed
def chunk(delta: dict, finish: str | None = None) -> dict:
    return {"choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


def assemble(chunks: list, done: bool = True) -> ToolResponse:
    asm = StreamAssembler()
    for c in chunks:
        asm.feed_event(c if isinstance(c, str) else json.dumps(c))
    if done:
        asm.feed_event("[DONE]")
    return asm.response(200)


def call_delta(name: str | None = None, args: object = None, index: int = 0) -> dict:
    fn: dict = {}
    if name is not None:
        fn["name"] = name
        return chunk(
            {
                "tool_calls": [
                    {
                        "index": index,
                        "id": f"call_{index}",
                        "type": "function",
                        "function": {**fn, **({} if args is None else {"arguments": args})},
                    }
                ]
            }
        )
    if args is not None:
        fn["arguments"] = args
    return chunk({"tool_calls": [{"index": index, "function": fn}]})


def test_stream_incremental_call_is_ok() -> None:
    resp = assemble(
        [
            chunk({"role": "assistant", "content": ""}),
            call_delta("get_weather", ""),
            call_delta(args='{"city": '),
            call_delta(args='"Tokyo", "days"'),
            call_delta(args=": 3}"),
            chunk({}, "tool_calls"),
        ]
    )
    assert classify(LOOKUP, resp).outcome == "ok"


def test_stream_whole_call_in_one_delta_is_ok() -> None:
    resp = assemble([call_delta("get_weather", '{"city": "Tokyo", "days": 3}'), chunk({}, "tool_calls")])
    assert classify(LOOKUP, resp).outcome == "ok"


def test_stream_name_repeated_in_every_fragment_is_ok() -> None:
    resp = assemble([call_delta("get_weather", '{"city": "Tokyo",'), call_delta("get_weather", ' "days": 3}'), chunk({}, "tool_calls")])
    assert classify(LOOKUP, resp).outcome == "ok"


@pytest.mark.parametrize(
    "chunks, done, why",
    [
        ([call_delta("get_weather", '{"city": "Tokyo", "days": 3}')] * 3 + [chunk({}, "tool_calls")], True, "repeats"),
        ([call_delta("get_weather", '{"city": '), call_delta("convert_currency", '"Tokyo"}'), chunk({}, "stop")], True, "changes name"),
        ([call_delta(None, '{"city": "Tokyo", "days": 3}'), chunk({}, "tool_calls")], True, "never received a function name"),
        ([call_delta("get_weather", {"city": "Tokyo"}), chunk({}, "tool_calls")], True, "not strings"),
        ([call_delta("get_weather", '{"city": "Tokyo", "days": 3}')], False, "ended without"),
        (["{not json", call_delta("get_weather", '{"city": "Tokyo", "days": 3}'), chunk({}, "tool_calls")], True, "undecodable"),
    ],
)
def test_stream_mismatch(chunks: list, done: bool, why: str) -> None:
    v = classify(LOOKUP, assemble(chunks, done))
    assert v.outcome == "stream_mismatch"
    assert why in v.detail


def test_stream_error_event_is_error() -> None:
    v = classify(LOOKUP, assemble([chunk({"content": "a"}), {"error": {"message": "backend crashed"}}], done=False))
    assert v.outcome == "error"
    assert "backend crashed" in v.detail


def test_stream_text_call_and_prose() -> None:
    tagged = assemble([chunk({"content": "<tool_"}), chunk({"content": 'call>{"name": "get_weather"}'}), chunk({}, "stop")])
    assert classify(LOOKUP, tagged).outcome == "tool_call_in_content"
    prose = assemble([chunk({"content": "sunny"}), chunk({}, "stop")])
    assert classify(LOOKUP, prose).outcome == "no_tool_call"


def test_stream_invalid_json_built_incrementally_is_malformed_not_mismatch() -> None:
    resp = assemble([call_delta("get_weather", '{"city": '), call_delta(args='"Tokyo", "days": }'), chunk({}, "tool_calls")])
    assert classify(LOOKUP, resp).outcome == "malformed_arguments"


def test_every_outcome_is_covered_by_these_tests() -> None:
    # the list of classes is the contract with the report schema
    assert set(TOOL_OUTCOMES) == {
        "ok",
        "no_tool_call",
        "wrong_tool",
        "malformed_arguments",
        "tool_call_in_content",
        "stream_mismatch",
        "unexpected_tool_call",
        "malformed_call",
        "empty_answer",
        "finish_mismatch",
        "error",
    }


# ------------------------------------------------------------------ request and schema
def test_request_body_tool_choice_variants() -> None:
    assert request_body(LOOKUP, "m", stream=False)["tool_choice"] == "auto"
    assert request_body(LOOKUP, "m", stream=True, tool_choice="required")["tool_choice"] == "required"
    named = request_body(CHOOSE, "m", stream=False, tool_choice="named")["tool_choice"]
    assert named == {"type": "function", "function": {"name": "convert_currency"}}
    body = request_body(CHOOSE, "m", stream=True)
    assert [t["function"]["name"] for t in body["tools"]] == ["get_weather", "convert_currency"]
    assert body["temperature"] == 0 and body["stream"] is True


def test_tool_schemas_are_valid_2020_12_schemas_and_judged_with_jsonschema() -> None:
    for tool in TOOLS_BY_NAME.values():
        jsonschema.Draft202012Validator.check_schema(tool["function"]["parameters"])
    weather = TOOLS_BY_NAME["get_weather"]["function"]["parameters"]
    assert schema_errors({"city": "Tokyo", "days": 3}, weather) == []
    assert schema_errors({"city": "Tokyo", "days": 3.0}, weather) == []  # 2020-12: 3.0 is an integer
    assert schema_errors({"city": "Rome", "days": 0}, weather) == [
        "city: 'Rome' is not one of ['Paris', 'Tokyo', 'Lima']",
        "days: 0 is less than the minimum of 1",
    ]
    # a schema declaring an older draft is judged by that draft
    draft4 = {"$schema": "http://json-schema.org/draft-04/schema#", "type": "number", "maximum": 5, "exclusiveMaximum": True}
    assert schema_errors(5, draft4) and not schema_errors(4.9, draft4)


# ------------------------------------------------------------------ SSE and quantiles
def test_sse_parser_handles_split_and_crlf() -> None:
    p = SSEParser()
    assert p.feed(b'data: {"a"') == []
    assert [e.data for e in p.feed(b": 1}\r\n\r\ndata: [DONE]\n\n: comment\n\n")] == ['{"a": 1}', "[DONE]"]
    assert p.feed(b"data: tail") == [] and p.close() is True  # an unterminated event is discarded (the spec)


def test_nearest_rank_quantiles() -> None:
    vals = [float(v) for v in range(1, 11)]
    assert nearest_rank(vals, 0.5) == 5.0
    assert nearest_rank(vals, 0.95) == 10.0
    q = quantiles([None, 3.0, 1.0, 2.0])
    assert q is not None and (q.p50, q.p95, q.max, q.n) == (2.0, 3.0, 3.0, 3)
    assert quantiles([None]) is None
