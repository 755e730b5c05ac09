"""The fixed tool-calling probe: tools, scenarios, and the classifier that judges every call.

Everything here is pure (no I/O) so that it is unit-tested with hand-written responses. The
runner sends :func:`request_body` through the gateway, turns what came back into a
:class:`ToolResponse` (:func:`parse_completion` for a JSON body, :class:`StreamAssembler` for an
SSE stream, both in :mod:`llmfleet.checks.answers`) and asks :func:`classify` for the verdict.

Classes (see :data:`llmfleet.checks.results.ToolOutcome`), decided in this order:

1. ``error`` — HTTP status other than 200, timeout, connection error, invalid UTF-8 or a body
   that is not strict JSON, an error event in the stream; the upstream message is kept.
2. ``stream_mismatch`` — streamed deltas that do not assemble into a call: a fragment changes the
   function name or id, a call never gets a name, arguments fragments that are not strings, each
   fragment repeating the whole arguments object, undecodable or over-cap events, or a stream
   that ends without ``finish_reason`` and without ``[DONE]``.
3. With ``tool_calls`` present, **every** call is judged, in order, as a client would run it:
   ``unexpected_tool_call`` when the question needed no tool; per call ``wrong_tool`` when its
   name was not offered, ``malformed_call`` when it has no name or no ``id`` (or a duplicate one,
   or a ``type`` other than ``function``), ``malformed_arguments`` when the arguments are not a
   strict-JSON object (``NaN``/``Infinity`` and duplicate keys refused) or not valid against the
   tool's JSON Schema (:mod:`jsonschema`, the draft the schema declares, 2020-12 by default);
   then ``wrong_tool`` when no call is of the needed tool or another tool is called too; else ``ok``.
4. Without ``tool_calls``: ``finish_mismatch`` when ``finish_reason`` says ``tool_calls``;
   ``tool_call_in_content`` when the visible text carries a call (:mod:`llmfleet.checks.textcalls`;
   reasoning blocks are never read as calls); ``empty_answer`` when nothing visible came back;
   ``no_tool_call`` when a tool was needed; else ``ok`` (the no-tool question answered in text).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

import jsonschema
import jsonschema.validators

from llmfleet.checks import strictjson
from llmfleet.checks.answers import StreamAssembler, ToolCall, ToolResponse, error_from_body, parse_completion
from llmfleet.checks.results import ToolOutcome
from llmfleet.checks.textcalls import call_in_text as _call_in_text

Scenario = Literal["lookup", "choose", "no_tool"]
ToolChoice = Literal["auto", "required", "named"]

GET_WEATHER: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the weather forecast for a city.",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "enum": ["Paris", "Tokyo", "Lima"], "description": "The city."},
                "days": {"type": "integer", "minimum": 1, "maximum": 7, "description": "Number of days to forecast."},
            },
            "required": ["city", "days"],
            "additionalProperties": False,
        },
    },
}

CONVERT_CURRENCY: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "convert_currency",
        "description": "Convert an amount of money from one currency to another.",
        "parameters": {
            "type": "object",
            "properties": {
                "amount": {"type": "number", "minimum": 0, "description": "The amount to convert."},
                "from_currency": {"type": "string", "enum": ["USD", "EUR", "JPY"]},
                "to_currency": {"type": "string", "enum": ["USD", "EUR", "JPY"]},
            },
            "required": ["amount", "from_currency", "to_currency"],
            "additionalProperties": False,
        },
    },
}

TOOLS_BY_NAME: dict[str, dict[str, Any]] = {t["function"]["name"]: t for t in (GET_WEATHER, CONVERT_CURRENCY)}


@dataclass(frozen=True)
class ScenarioSpec:
    """One probe question: the tools offered, the tool it needs, and the values asked for."""

    name: Scenario
    prompt: str
    tools: tuple[str, ...]
    expected_tool: str | None
    expected_args: dict[str, Any] | None


SCENARIOS: dict[Scenario, ScenarioSpec] = {
    "lookup": ScenarioSpec(
        "lookup",
        "What is the weather forecast for Tokyo for the next 3 days? Use the tool.",
        ("get_weather",),
        "get_weather",
        {"city": "Tokyo", "days": 3},
    ),
    "choose": ScenarioSpec(
        "choose",
        "Convert 250 US dollars (USD) to euros (EUR).",
        ("get_weather", "convert_currency"),
        "convert_currency",
        {"amount": 250, "from_currency": "USD", "to_currency": "EUR"},
    ),
    "no_tool": ScenarioSpec(
        "no_tool",
        "What is the capital of France? Answer in one word, without using any tool.",
        ("get_weather", "convert_currency"),
        None,
        None,
    ),
}

SYSTEM_PROMPT = "You are a helpful assistant. Call a tool only when the question needs it."


def request_body(
    scenario: ScenarioSpec, model: str, *, stream: bool, tool_choice: ToolChoice = "auto", max_tokens: int = 256
) -> dict[str, Any]:
    """The OpenAI chat-completions request for ``scenario`` (deterministic: temperature 0)."""
    body: dict[str, Any] = {
        "model": model,
        "messages": [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": scenario.prompt},
        ],
        "tools": [TOOLS_BY_NAME[n] for n in scenario.tools],
        "temperature": 0,
        "max_tokens": max_tokens,
        "stream": stream,
    }
    if tool_choice == "required":
        body["tool_choice"] = "required"
    elif tool_choice == "named" and scenario.expected_tool:
        body["tool_choice"] = {"type": "function", "function": {"name": scenario.expected_tool}}
    else:
        body["tool_choice"] = "auto"
    return body


# ----------------------------------------------------------------------------- schema
@cache
def _validator(name: str) -> jsonschema.protocols.Validator:
    schema = TOOLS_BY_NAME[name]["function"]["parameters"]
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    cls.check_schema(schema)
    return cls(schema)


def schema_errors(value: Any, schema: dict[str, Any]) -> list[str]:
    """Messages of every violation of ``schema`` by ``value`` (empty: valid), via :mod:`jsonschema`."""
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    return _messages(cls(schema), value)


def _messages(validator: jsonschema.protocols.Validator, value: Any) -> list[str]:
    out = []
    for err in sorted(validator.iter_errors(value), key=lambda e: list(map(str, e.absolute_path))):
        where = ".".join(map(str, err.absolute_path)) or "arguments"
        out.append(f"{where}: {err.message}")
    return out


def call_in_text(content: str | None, tools: tuple[str, ...] | None = None) -> str | None:
    """A tool call written into ``content`` outside reasoning blocks (any known or offered tool), or ``None``."""
    return _call_in_text(content, TOOLS_BY_NAME)


# ----------------------------------------------------------------------------- classifier
@dataclass(frozen=True)
class Verdict:
    """A classification and the one-line reason, plus what was called."""

    outcome: ToolOutcome
    detail: str
    called_tool: str | None = None
    arguments: str | None = None
    arguments_as_asked: bool | None = None


def _short(text: Any, n: int = 120) -> str:
    s = text if isinstance(text, str) else json.dumps(text, default=str)
    s = " ".join(s.split())
    return s if len(s) <= n else s[: n - 1] + "…"


def _raw(call: ToolCall) -> str:
    return call.arguments if isinstance(call.arguments, str) else json.dumps(call.arguments, default=str)


def _as_asked(args: dict[str, Any], expected: dict[str, Any] | None) -> bool | None:
    if expected is None:
        return None
    return all(args.get(k) == v and type(args.get(k)) is type(v) for k, v in expected.items())


def _judge_call(scenario: ScenarioSpec, call: ToolCall, n: int, finish_reason: str | None, seen_ids: set[str]) -> Verdict | dict[str, Any]:
    """A failing :class:`Verdict` for call number ``n``, or its decoded arguments."""
    which = f"call {n + 1}" if n else "the call"
    raw = _raw(call)
    if not isinstance(call.name, str) or not call.name:
        return Verdict("malformed_call", f"{which} has no function name", None, raw)
    if call.name not in scenario.tools:
        return Verdict(
            "wrong_tool", f"{which} is of {call.name!r}, which was not offered (offered: {', '.join(scenario.tools)})", call.name, raw
        )
    if not isinstance(call.id, str) or not call.id.strip():
        return Verdict("malformed_call", f"{which} of {call.name} has no id (a client cannot send its result back)", call.name, raw)
    if call.id in seen_ids:
        return Verdict("malformed_call", f"{which} of {call.name} repeats the id {call.id!r}", call.name, raw)
    seen_ids.add(call.id)
    if call.type is not None and call.type != "function":
        return Verdict("malformed_call", f"{which} of {call.name} has type {call.type!r}, not 'function'", call.name, raw)
    if not isinstance(call.arguments, str):
        return Verdict(
            "malformed_arguments", f"{which}: arguments are a {type(call.arguments).__name__}, not a JSON string", call.name, raw
        )
    if not call.arguments.strip():
        return Verdict("malformed_arguments", f"{which}: arguments are empty", call.name, raw)
    try:
        args = strictjson.loads(call.arguments, unique_keys=True)
    except ValueError as exc:
        cut = " (cut by max_tokens)" if finish_reason == "length" else ""
        return Verdict(
            "malformed_arguments", f"{which}: arguments are not strict JSON{cut}: {exc} in {_short(call.arguments)!r}", call.name, raw
        )
    if not isinstance(args, dict):
        return Verdict("malformed_arguments", f"{which}: arguments are a JSON {type(args).__name__}, not an object", call.name, raw)
    problems = _messages(_validator(call.name), args)
    if problems:
        return Verdict("malformed_arguments", f"{which}: arguments do not match the schema: {'; '.join(problems[:3])}", call.name, raw)
    return args


def classify(scenario: ScenarioSpec, resp: ToolResponse) -> Verdict:
    """Classify one probe response (see the module docstring for the order of the rules)."""
    if resp.error is not None or (resp.http_status is not None and resp.http_status != 200):
        return Verdict("error", resp.error or f"HTTP {resp.http_status}")
    if resp.stream_problem is not None:
        return Verdict("stream_mismatch", resp.stream_problem)
    calls = resp.tool_calls
    if calls:
        names = [c.name for c in calls]
        more = f" ({len(calls)} calls: {', '.join(map(str, names))})" if len(calls) > 1 else ""
        if scenario.expected_tool is None:
            return Verdict("unexpected_tool_call", f"called {names[0]} although the question needs no tool{more}", names[0], _raw(calls[0]))
        decoded: list[dict[str, Any]] = []
        seen_ids: set[str] = set()
        for n, call in enumerate(calls):
            judged = _judge_call(scenario, call, n, resp.finish_reason, seen_ids)
            if isinstance(judged, Verdict):
                return Verdict(judged.outcome, judged.detail + more, judged.called_tool, judged.arguments)
            decoded.append(judged)
        expected = scenario.expected_tool
        if expected not in names:
            return Verdict("wrong_tool", f"called {names[0]} instead of {expected}{more}", names[0], _raw(calls[0]))
        others = sorted({str(n) for n in names if n != expected})
        if others:
            return Verdict(
                "wrong_tool", f"called {expected} and also {', '.join(others)}, which the question does not need{more}", expected
            )
        first = names.index(expected)
        asked = _as_asked(decoded[first], scenario.expected_args)
        note = "" if asked else " (argument values differ from the question)"
        return Verdict("ok", f"called {expected} with valid arguments{note}{more}", expected, _raw(calls[first]), asked)
    if resp.finish_reason in ("tool_calls", "function_call"):
        said = f": {_short(resp.content)!r}" if resp.content else ""
        return Verdict("finish_mismatch", f"finish_reason is {resp.finish_reason!r} but no tool call came back{said}")
    in_text = call_in_text(resp.content, scenario.tools)
    if in_text:
        return Verdict("tool_call_in_content", f"{in_text}, not in tool_calls: {_short(resp.content or '')!r}")
    if not (resp.content or "").strip():
        why = f", only {resp.reasoning_chars} characters of reasoning" if resp.reasoning_chars else ""
        return Verdict("empty_answer", f"empty answer (finish_reason {resp.finish_reason!r}{why})")
    if scenario.expected_tool is not None:
        return Verdict("no_tool_call", f"answered in prose instead of calling {scenario.expected_tool}: {_short(resp.content)!r}")
    return Verdict("ok", f"answered without a tool: {_short(resp.content)!r}")


__all__ = [
    "SCENARIOS",
    "TOOLS_BY_NAME",
    "ScenarioSpec",
    "StreamAssembler",
    "ToolCall",
    "ToolResponse",
    "Verdict",
    "call_in_text",
    "classify",
    "error_from_body",
    "parse_completion",
    "request_body",
    "schema_errors",
]
