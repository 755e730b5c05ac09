"""The fixed tool-calling probe: tools, scenarios, response assembly and the classifier.

Everything here is pure (no I/O) so that it is unit-tested with hand-written responses. The
runner sends :func:`request_body` through the gateway, turns what came back into a
:class:`ToolResponse` (:func:`parse_completion` for a JSON body, :class:`StreamAssembler` for an
SSE stream) and asks :func:`classify` for the verdict.

Classes (see :data:`llmfleet.checks.results.ToolOutcome`), decided in this order:

1. ``error`` — HTTP status other than 200, timeout, connection error, an error event in the
   stream; the upstream message is kept.
2. ``stream_mismatch`` — streamed deltas that do not assemble into a call: a fragment changes the
   function name, a call never gets a name, arguments fragments that are not strings, each
   fragment repeating the whole arguments object, undecodable events, or a stream that ends
   without ``finish_reason`` and without ``[DONE]``.
3. With ``tool_calls`` present: ``unexpected_tool_call`` when the question needed no tool,
   ``wrong_tool`` when the called tool is not the one needed, ``malformed_arguments`` when the
   arguments are not a JSON object or not valid against the tool's JSON schema, else ``ok``.
4. Without ``tool_calls``: ``tool_call_in_content`` when the text carries a call
   (``<tool_call>`` tags, ``[TOOL_CALLS]``, ``<|python_tag|>``, ``<function=…>``, a JSON object
   naming one of the tools or shaped like its arguments, or ``tool_name(…)``);
   ``no_tool_call`` when a tool was needed; else ``ok`` (the no-tool question answered in text).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Literal

from llmfleet.checks.results import ToolOutcome

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


# ----------------------------------------------------------------------------- responses
@dataclass
class ToolCall:
    """One call as it came back: the function name and the raw arguments string."""

    name: str | None
    arguments: Any  # normally a str; anything else is reported as malformed


@dataclass
class ToolResponse:
    """What came back for one probe, normalised from a JSON body or an assembled stream."""

    http_status: int | None = None
    error: str | None = None
    content: str | None = None
    tool_calls: list[ToolCall] = field(default_factory=list)
    finish_reason: str | None = None
    stream_problem: str | None = None


def _error_message(payload: Any) -> str:
    """The upstream error message from an OpenAI/LiteLLM error body, or a compact dump."""
    if isinstance(payload, dict):
        err = payload.get("error", payload)
        if isinstance(err, dict):
            msg = err.get("message") or err.get("detail") or json.dumps(err)[:300]
            return str(msg)
        if isinstance(err, str):
            return err
        detail = payload.get("detail")
        if detail:
            return str(detail)
    return str(payload)[:300]


def error_from_body(status: int, text: str) -> str:
    """``HTTP 500: <upstream message>`` from an error response body."""
    try:
        msg = _error_message(json.loads(text))
    except ValueError:
        msg = text.strip()
    msg = " ".join(msg.split())
    return f"HTTP {status}: {msg[:400]}" if msg else f"HTTP {status}"


def parse_completion(status: int, text: str) -> ToolResponse:
    """Normalise a non-streamed chat-completions response."""
    if status != 200:
        return ToolResponse(http_status=status, error=error_from_body(status, text))
    try:
        data = json.loads(text)
    except ValueError:
        return ToolResponse(http_status=status, error=f"HTTP 200 but the body is not JSON: {text[:200]!r}")
    if not isinstance(data, dict) or not data.get("choices"):
        if isinstance(data, dict) and "error" in data:
            return ToolResponse(http_status=status, error=f"HTTP 200 with an error: {_error_message(data)}")
        return ToolResponse(http_status=status, error=f"HTTP 200 but no choices in the response: {text[:200]!r}")
    choice = data["choices"][0] or {}
    message = choice.get("message") or {}
    calls = []
    for tc in message.get("tool_calls") or []:
        fn = (tc or {}).get("function") or {}
        calls.append(ToolCall(fn.get("name"), fn.get("arguments")))
    return ToolResponse(
        http_status=status,
        content=message.get("content"),
        tool_calls=calls,
        finish_reason=choice.get("finish_reason"),
    )


class StreamAssembler:
    """Assemble streamed chat-completion chunks into a :class:`ToolResponse`, noting structural problems."""

    def __init__(self) -> None:
        self.content_parts: list[str] = []
        self.names: dict[int, str | None] = {}
        self.fragments: dict[int, list[Any]] = {}
        self.finish_reason: str | None = None
        self.done = False
        self.error: str | None = None
        self.problems: list[str] = []

    def feed_event(self, data: str) -> None:
        """Take one SSE ``data:`` payload (without the prefix)."""
        if data.strip() == "[DONE]":
            self.done = True
            return
        try:
            chunk = json.loads(data)
        except ValueError:
            self.problems.append(f"undecodable stream event {data[:80]!r}")
            return
        self.feed_chunk(chunk)

    def feed_chunk(self, chunk: Any) -> None:
        """Take one decoded chunk."""
        if not isinstance(chunk, dict):
            self.problems.append(f"stream event is not an object: {str(chunk)[:80]!r}")
            return
        if "error" in chunk and not chunk.get("choices"):
            self.error = f"error in stream: {_error_message(chunk)}"
            return
        for choice in chunk.get("choices") or []:
            delta = choice.get("delta") or {}
            if isinstance(delta.get("content"), str):
                self.content_parts.append(delta["content"])
            for pos, tc in enumerate(delta.get("tool_calls") or []):
                self._feed_call_delta(pos, tc or {})
            if choice.get("finish_reason"):
                self.finish_reason = choice["finish_reason"]

    def _feed_call_delta(self, pos: int, tc: dict[str, Any]) -> None:
        index = tc.get("index", pos)
        if not isinstance(index, int):
            self.problems.append(f"tool-call delta with a non-integer index {index!r}")
            return
        fn = tc.get("function") or {}
        name = fn.get("name")
        if name:
            known = self.names.get(index)
            if known and known != name:
                self.problems.append(f"tool call {index} changes name from {known!r} to {name!r} mid-stream")
            self.names[index] = known or name
        else:
            self.names.setdefault(index, None)
        args = fn.get("arguments")
        if args is not None:
            self.fragments.setdefault(index, []).append(args)

    def response(self, http_status: int | None = 200) -> ToolResponse:
        """The assembled response and the first structural problem, if any."""
        problems = list(self.problems)
        calls: list[ToolCall] = []
        for index in sorted(self.names):
            frags = self.fragments.get(index, [])
            name = self.names[index]
            if name is None:
                problems.append(f"tool call {index} never received a function name")
            if any(not isinstance(f, str) for f in frags):
                problems.append(f"tool call {index}: arguments fragments are not strings")
                calls.append(ToolCall(name, next((f for f in frags if not isinstance(f, str)), None)))
                continue
            joined = "".join(frags)
            if len([f for f in frags if f.strip()]) >= 2 and not _is_json(joined) and all(_is_json_object(f) for f in frags if f.strip()):
                problems.append(f"tool call {index}: every delta repeats the whole arguments (not incremental)")
            calls.append(ToolCall(name, joined))
        if not self.done and self.finish_reason is None and self.error is None:
            problems.append("the stream ended without finish_reason and without [DONE]")
        content = "".join(self.content_parts) if self.content_parts else None
        return ToolResponse(
            http_status=http_status,
            error=self.error,
            content=content,
            tool_calls=calls,
            finish_reason=self.finish_reason,
            stream_problem=problems[0] if problems else None,
        )


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def _is_json_object(text: str) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except ValueError:
        return False


# ----------------------------------------------------------------------------- schema
def schema_errors(value: Any, schema: dict[str, Any], path: str = "") -> list[str]:
    """Validate ``value`` against the subset of JSON Schema the fixed tools use.

    Supported: ``type`` (object, string, number, integer, boolean), ``enum``, ``minimum``,
    ``maximum``, ``properties``, ``required``, ``additionalProperties: false``. Returns messages;
    empty means valid. (The test-suite cross-checks this against the ``jsonschema`` package.)
    """
    where = path or "arguments"
    errors: list[str] = []
    typ = schema.get("type")
    if typ == "object":
        if not isinstance(value, dict):
            return [f"{where} is not an object"]
        props = schema.get("properties", {})
        for req in schema.get("required", []):
            if req not in value:
                errors.append(f"{where}: missing required '{req}'")
        if schema.get("additionalProperties") is False:
            for key in value:
                if key not in props:
                    errors.append(f"{where}: unexpected property '{key}'")
        for key, sub in props.items():
            if key in value:
                errors += schema_errors(value[key], sub, f"{path}.{key}" if path else key)
        return errors
    if typ == "string" and not isinstance(value, str):
        return [f"{where} is not a string: {value!r}"]
    integral = isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    if typ == "integer" and (isinstance(value, bool) or not integral):
        return [f"{where} is not an integer: {value!r}"]
    if typ == "number" and (isinstance(value, bool) or not isinstance(value, (int, float))):
        return [f"{where} is not a number: {value!r}"]
    if typ == "boolean" and not isinstance(value, bool):
        return [f"{where} is not a boolean: {value!r}"]
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{where}={value!r} is not one of {schema['enum']}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            errors.append(f"{where}={value!r} is below the minimum {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            errors.append(f"{where}={value!r} is above the maximum {schema['maximum']}")
    return errors


# ----------------------------------------------------------------------------- call in text
_TEXT_CALL_MARKERS = (
    ("<tool_call>", "a <tool_call> block"),
    ("[TOOL_CALLS]", "a [TOOL_CALLS] block"),
    ("<|python_tag|>", "a <|python_tag|> call"),
    ("<function=", "a <function=…> call"),
    ("<|tool_call", "a <|tool_call…|> block"),
    ("functools[", "a functools[…] call"),
)


def _json_objects(text: str) -> list[Any]:
    """Every JSON value that starts at a '{' or '[' in ``text`` and decodes."""
    decoder = json.JSONDecoder()
    found: list[Any] = []
    i = 0
    while i < len(text):
        if text[i] in "{[":
            try:
                obj, end = decoder.raw_decode(text, i)
            except ValueError:
                i += 1
                continue
            found.append(obj)
            i = end
        else:
            i += 1
    return found


def _names_a_tool(obj: Any, tools: tuple[str, ...]) -> str | None:
    if isinstance(obj, list):
        for item in obj:
            hit = _names_a_tool(item, tools)
            if hit:
                return hit
        return None
    if not isinstance(obj, dict):
        return None
    for key in ("name", "function", "tool", "tool_name"):
        val = obj.get(key)
        if isinstance(val, str) and val in TOOLS_BY_NAME:
            return val
        if isinstance(val, dict):
            hit = _names_a_tool(val, tools)
            if hit:
                return hit
    if "tool_calls" in obj:
        return _names_a_tool(obj["tool_calls"], tools) or "tool_calls"
    for name in tools:
        required = TOOLS_BY_NAME[name]["function"]["parameters"].get("required", [])
        if required and set(required) <= set(obj):
            return name
    return None


def call_in_text(content: str | None, tools: tuple[str, ...]) -> str | None:
    """Describe a tool call written into ``content`` instead of ``tool_calls``, or ``None``."""
    if not content:
        return None
    for marker, what in _TEXT_CALL_MARKERS:
        if marker in content:
            return f"{what} in the text"
    for obj in _json_objects(content):
        hit = _names_a_tool(obj, tools)
        if hit:
            return f"a JSON call of {hit} in the text" if hit in TOOLS_BY_NAME else "a JSON tool_calls object in the text"
    m = re.search(r"\b(" + "|".join(map(re.escape, TOOLS_BY_NAME)) + r")\s*\(", content)
    if m:
        return f"{m.group(1)}(…) written in the text"
    return None


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
    s = text if isinstance(text, str) else json.dumps(text)
    s = " ".join(s.split())
    return s if len(s) <= n else s[: n - 1] + "…"


def _as_asked(args: dict[str, Any], expected: dict[str, Any] | None) -> bool | None:
    if expected is None:
        return None
    return all(args.get(k) == v for k, v in expected.items())


def classify(scenario: ScenarioSpec, resp: ToolResponse) -> Verdict:
    """Classify one probe response (see the module docstring for the order of the rules)."""
    if resp.error is not None or (resp.http_status is not None and resp.http_status != 200):
        return Verdict("error", resp.error or f"HTTP {resp.http_status}")
    if resp.stream_problem is not None:
        return Verdict("stream_mismatch", resp.stream_problem)
    if resp.tool_calls:
        call = resp.tool_calls[0]
        extra = f" (+{len(resp.tool_calls) - 1} more calls)" if len(resp.tool_calls) > 1 else ""
        raw = call.arguments if isinstance(call.arguments, str) else json.dumps(call.arguments)
        if scenario.expected_tool is None:
            return Verdict("unexpected_tool_call", f"called {call.name} although the question needs no tool{extra}", call.name, raw)
        if call.name != scenario.expected_tool:
            offered = "" if call.name in scenario.tools else " (not offered)"
            return Verdict("wrong_tool", f"called {call.name}{offered} instead of {scenario.expected_tool}{extra}", call.name, raw)
        if not isinstance(call.arguments, str):
            return Verdict("malformed_arguments", f"arguments are a {type(call.arguments).__name__}, not a JSON string", call.name, raw)
        try:
            args = json.loads(call.arguments) if call.arguments.strip() else None
        except ValueError as exc:
            cut = " (cut by max_tokens)" if resp.finish_reason == "length" else ""
            return Verdict("malformed_arguments", f"arguments are not JSON{cut}: {exc.msg} in {_short(call.arguments)!r}", call.name, raw)
        if args is None:
            return Verdict("malformed_arguments", "arguments are empty", call.name, raw)
        problems = schema_errors(args, TOOLS_BY_NAME[call.name]["function"]["parameters"])
        if problems:
            return Verdict("malformed_arguments", f"arguments do not match the schema: {'; '.join(problems[:3])}", call.name, raw)
        asked = _as_asked(args, scenario.expected_args)
        note = "" if asked else " (argument values differ from the question)"
        return Verdict("ok", f"called {call.name} with valid arguments{note}{extra}", call.name, raw, asked)
    in_text = call_in_text(resp.content, scenario.tools)
    if in_text:
        return Verdict("tool_call_in_content", f"{in_text}, not in tool_calls: {_short(resp.content or '')!r}")
    if scenario.expected_tool is not None:
        said = f": {_short(resp.content)!r}" if resp.content else " (empty answer)"
        return Verdict("no_tool_call", f"answered in prose instead of calling {scenario.expected_tool}{said}")
    if not (resp.content or "").strip():
        return Verdict("ok", "no tool called (the answer text was empty)")
    return Verdict("ok", f"answered without a tool: {_short(resp.content)!r}")
