"""What came back for one chat request, normalised: from a JSON body or from SSE events, bounded.

:func:`parse_completion` reads a non-streamed body; :class:`StreamAssembler` takes the events of a
stream (:mod:`llmfleet.checks.sse`) and stops at ``[DONE]`` as clients do (the caller stops reading).
Both read choice 0 the way a client does, take ``content`` as a string or a list of text parts,
keep reasoning (``reasoning_content``/``reasoning``/``thinking``) apart from the visible answer, and
keep every tool call with its ``id`` and ``type``. Sizes are capped: at most
:data:`MAX_CONTENT_CHARS` of the visible text and of each call's arguments are kept (enough to
judge); a hit cap is recorded in ``capped``. Anything a client could not read is a
``stream_problem`` (streams) or an ``error`` (bodies), never an exception.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from llmfleet.checks import strictjson
from llmfleet.checks.sse import SSEEvent

MAX_CONTENT_CHARS = 1024 * 1024
MAX_CALLS = 64
REASONING_KEYS = ("reasoning_content", "reasoning", "thinking")
FINISH_REASONS = ("stop", "length", "tool_calls", "content_filter", "function_call")


@dataclass
class ToolCall:
    """One call as it came back."""

    name: str | None
    arguments: Any  # normally a str; anything else is reported as malformed
    id: Any = None
    type: Any = "function"


@dataclass
class ToolResponse:
    """What came back for one request."""

    http_status: int | None = None
    error: str | None = None
    content: str | None = None
    reasoning_chars: int = 0
    tool_calls: list[ToolCall] = field(default_factory=list)
    finish_reason: str | None = None
    stream_problem: str | None = None
    capped: str | None = None  # which cap was hit, e.g. "content over 1 MiB: 1.0 of 20.0 MiB kept"

    @property
    def visible(self) -> bool:
        """Any visible output: non-empty content or a tool call."""
        return bool(self.content) or bool(self.tool_calls)


def _error_message(payload: Any) -> str:
    """The upstream error message from an OpenAI/LiteLLM error body, or a compact dump."""
    if isinstance(payload, dict):
        err = payload.get("error", payload)
        if isinstance(err, dict):
            msg = err.get("message") or err.get("detail") or json.dumps(err, default=str)[:300]
            return str(msg)
        if isinstance(err, str):
            return err
        detail = payload.get("detail")
        if detail:
            return str(detail)
    return str(payload)[:300]


def error_from_body(status: int, text: str | bytes) -> str:
    """``HTTP 500: <upstream message>`` from an error response body (any bytes)."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    try:
        msg = _error_message(json.loads(text))
    except (ValueError, RecursionError):
        msg = text.strip()
    msg = " ".join(msg.split())
    return f"HTTP {status}: {msg[:400]}" if msg else f"HTTP {status}"


def text_of(content: Any) -> tuple[str | None, str | None]:
    """(text, problem) of a ``content`` value: a string, null, or a list of ``{"type": "text", "text": …}`` parts."""
    if content is None or isinstance(content, str):
        return content, None
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, dict) and isinstance(part.get("text"), str):
                parts.append(part["text"])
            elif isinstance(part, dict) and part.get("type") in ("thinking", "reasoning"):
                continue
            else:
                return None, f"content part {str(part)[:80]!r} is not text"
        return "".join(parts), None
    return None, f"content is a {type(content).__name__}, not a string"


def _reasoning_len(obj: dict[str, Any]) -> int:
    return sum(len(v) for k in REASONING_KEYS if isinstance(v := obj.get(k), str))


def _mib(n: int) -> str:
    return f"{n / 1048576:.1f} MiB"


def parse_completion(status: int, body: str | bytes, *, truncated: bool = False) -> ToolResponse:
    """Normalise a non-streamed chat-completions response (``truncated``: the body was cut at the read cap)."""
    if status != 200:
        return ToolResponse(http_status=status, error=error_from_body(status, body))
    if truncated:
        return ToolResponse(http_status=status, error="HTTP 200 but the body is larger than the read cap (not judged)")
    try:
        data = strictjson.loads(body)
    except ValueError as exc:
        raw = body[:200] if isinstance(body, str) else body[:200].decode("utf-8", "replace")
        return ToolResponse(http_status=status, error=f"HTTP 200 but the body is not valid JSON ({exc}): {raw!r}")
    if not isinstance(data, dict) or not data.get("choices"):
        if isinstance(data, dict) and "error" in data:
            return ToolResponse(http_status=status, error=f"HTTP 200 with an error: {_error_message(data)}")
        return ToolResponse(http_status=status, error=f"HTTP 200 but no choices in the response: {str(data)[:200]!r}")
    choices = data["choices"]
    choice = choices[0] if isinstance(choices, list) else None
    if not isinstance(choice, dict):
        return ToolResponse(http_status=status, error=f"HTTP 200 but choices is not a list of objects: {str(choices)[:200]!r}")
    message = choice.get("message")
    if not isinstance(message, dict):
        return ToolResponse(http_status=status, error=f"HTTP 200 but choice 0 has no message object: {str(choice)[:200]!r}")
    content, problem = text_of(message.get("content"))
    if problem:
        return ToolResponse(http_status=status, error=f"HTTP 200 but {problem}")
    raw_calls = message.get("tool_calls") or []
    if not isinstance(raw_calls, list):
        return ToolResponse(http_status=status, error=f"HTTP 200 but tool_calls is not a list: {str(raw_calls)[:200]!r}")
    calls = []
    for tc in raw_calls[:MAX_CALLS]:
        tc = tc if isinstance(tc, dict) else {}
        fn = tc.get("function") if isinstance(tc.get("function"), dict) else {}
        calls.append(ToolCall(fn.get("name"), fn.get("arguments"), tc.get("id"), tc.get("type")))
    finish = choice.get("finish_reason")
    return ToolResponse(
        http_status=status,
        content=content,
        reasoning_chars=_reasoning_len(message),
        tool_calls=calls,
        finish_reason=finish if isinstance(finish, str) else None,
        capped=f"more than {MAX_CALLS} tool calls: the first {MAX_CALLS} judged" if len(raw_calls) > MAX_CALLS else None,
    )


@dataclass
class Tokens:
    """What one event carried: any token (reasoning included) and visible output (content or a call)."""

    any: bool = False
    visible: bool = False


class StreamAssembler:
    """Assemble streamed chat-completion chunks into a :class:`ToolResponse`, noting structural problems."""

    def __init__(self, max_content_chars: int = MAX_CONTENT_CHARS) -> None:
        self.max_content_chars = max_content_chars
        self.content_parts: list[str] = []
        self.content_chars = 0  # sent (also beyond the cap)
        self.kept_chars = 0
        self.reasoning_chars = 0
        self.names: dict[int, str | None] = {}
        self.ids: dict[int, Any] = {}
        self.types: dict[int, Any] = {}
        self.fragments: dict[int, list[Any]] = {}
        self.fragment_chars: dict[int, int] = {}
        self.finish_reason: str | None = None
        self.done = False
        self.error: str | None = None
        self.problems: list[str] = []
        self.caps: list[str] = []
        self.usage_tokens: int | None = None

    # ------------------------------------------------------------------ input
    def feed_event(self, event: SSEEvent | str) -> Tokens:
        """Take one SSE event (or its data); after ``[DONE]`` nothing more is read."""
        if self.done:
            return Tokens()
        ev = event if isinstance(event, SSEEvent) else SSEEvent(data=event, size=len(event))
        if ev.data.strip() == "[DONE]":
            self.done = True
            return Tokens()
        if ev.truncated:
            self.problems.append(f"a stream event of {_mib(ev.size)} is over the {_mib(len(ev.data))} event cap (not judged)")
            return Tokens()
        if not ev.data.strip():
            return Tokens()  # an empty event (keep-alive)
        try:
            chunk = strictjson.loads(ev.data)
        except ValueError as exc:
            if ev.event == "error":
                self.error = f"error event in stream: {ev.data[:300]}"
            else:
                self.problems.append(f"undecodable stream event ({exc}): {ev.data[:80]!r}")
            return Tokens()
        if ev.event == "error":
            self.error = f"error event in stream: {_error_message(chunk)}"
            return Tokens()
        return self.feed_chunk(chunk)

    def feed_chunk(self, chunk: Any) -> Tokens:
        """Take one decoded chunk; say whether it carried a token."""
        seen = Tokens()
        if not isinstance(chunk, dict):
            self.problems.append(f"stream event is not an object: {str(chunk)[:80]!r}")
            return seen
        usage = chunk.get("usage")
        if isinstance(usage, dict) and isinstance(usage.get("completion_tokens"), int) and not isinstance(usage["completion_tokens"], bool):
            self.usage_tokens = usage["completion_tokens"]
        choices = chunk.get("choices")
        if "error" in chunk and not choices:
            self.error = f"error in stream: {_error_message(chunk)}"
            return seen
        if choices is None:
            return seen
        if not isinstance(choices, list):
            self.problems.append(f"choices is not a list: {str(choices)[:80]!r}")
            return seen
        for choice in choices:
            if not isinstance(choice, dict):
                self.problems.append(f"a choice is not an object: {str(choice)[:80]!r}")
                continue
            if choice.get("index", 0) != 0:
                continue  # a client reads choice 0 (n=1 was asked)
            self._feed_choice(choice, seen)
        return seen

    def _feed_choice(self, choice: dict[str, Any], seen: Tokens) -> None:
        delta = choice.get("delta") or {}
        if not isinstance(delta, dict):
            self.problems.append(f"delta is not an object: {str(delta)[:80]!r}")
            return
        text, problem = text_of(delta.get("content"))
        if problem:
            self.problems.append(problem)
        elif text:
            seen.any = seen.visible = True
            self._add_content(text)
        reasoning = _reasoning_len(delta)
        if reasoning:
            self.reasoning_chars += reasoning
            seen.any = True
        calls = delta.get("tool_calls")
        if calls:
            if not isinstance(calls, list):
                self.problems.append(f"tool_calls delta is not a list: {str(calls)[:80]!r}")
            else:
                for pos, tc in enumerate(calls):
                    if not isinstance(tc, dict):
                        self.problems.append(f"tool-call delta is not an object: {str(tc)[:80]!r}")
                        continue
                    self._feed_call_delta(pos, tc)
                    seen.any = seen.visible = True
        finish = choice.get("finish_reason")
        if finish:
            self.finish_reason = str(finish)

    def _add_content(self, text: str) -> None:
        self.content_chars += len(text)
        room = self.max_content_chars - self.kept_chars
        if room <= 0:
            return
        piece = text[:room]
        self.content_parts.append(piece)
        self.kept_chars += len(piece)

    def _feed_call_delta(self, pos: int, tc: dict[str, Any]) -> None:
        index = tc.get("index", pos)
        if not isinstance(index, int) or isinstance(index, bool):
            self.problems.append(f"tool-call delta with a non-integer index {index!r}")
            return
        if index not in self.names and len(self.names) >= MAX_CALLS:
            if not any("tool calls" in c for c in self.caps):
                self.caps.append(f"more than {MAX_CALLS} tool calls: the first {MAX_CALLS} judged")
            return
        fn = tc.get("function") or {}
        if not isinstance(fn, dict):
            self.problems.append(f"tool call {index}: function is not an object")
            return
        name = fn.get("name")
        known = self.names.get(index)
        if name:
            if known and known != name:
                self.problems.append(f"tool call {index} changes name from {known!r} to {name!r} mid-stream")
            self.names[index] = known or name
        else:
            self.names.setdefault(index, None)
        if tc.get("id") is not None:
            old = self.ids.get(index)
            if old is not None and old != tc["id"]:
                self.problems.append(f"tool call {index} changes id from {old!r} to {tc['id']!r} mid-stream")
            self.ids.setdefault(index, tc["id"])
        if tc.get("type") is not None:
            self.types.setdefault(index, tc["type"])
        args = fn.get("arguments")
        if args is not None:
            size = self.fragment_chars.get(index, 0)
            if isinstance(args, str):
                self.fragment_chars[index] = size + len(args)
                if size >= self.max_content_chars:
                    if f"tool call {index}" not in " ".join(self.caps):
                        self.caps.append(f"tool call {index}: arguments over {_mib(self.max_content_chars)} (cut)")
                    return
            self.fragments.setdefault(index, []).append(args)

    # ------------------------------------------------------------------ output
    def response(self, http_status: int | None = 200) -> ToolResponse:
        """The assembled response and the first structural problem, if any."""
        problems = list(self.problems)
        calls: list[ToolCall] = []
        for index in sorted(self.names):
            frags = self.fragments.get(index, [])
            name = self.names[index]
            if name is None:
                problems.append(f"tool call {index} never received a function name")
            call_id, call_type = self.ids.get(index), self.types.get(index, "function")
            if any(not isinstance(f, str) for f in frags):
                problems.append(f"tool call {index}: arguments fragments are not strings")
                calls.append(ToolCall(name, next((f for f in frags if not isinstance(f, str)), None), call_id, call_type))
                continue
            joined = "".join(frags)
            if len([f for f in frags if f.strip()]) >= 2 and not _is_json(joined) and all(_is_json_object(f) for f in frags if f.strip()):
                problems.append(f"tool call {index}: every delta repeats the whole arguments (not incremental)")
            calls.append(ToolCall(name, joined, call_id, call_type))
        if not self.done and self.finish_reason is None and self.error is None:
            problems.append("the stream ended without finish_reason and without [DONE]")
        caps = list(self.caps)
        if self.content_chars > self.kept_chars:
            caps.insert(
                0, f"content over the {_mib(self.max_content_chars)} cap: {_mib(self.kept_chars)} of {_mib(self.content_chars)} kept"
            )
        content = "".join(self.content_parts) if self.content_parts else None
        return ToolResponse(
            http_status=http_status,
            error=self.error,
            content=content,
            reasoning_chars=self.reasoning_chars,
            tool_calls=calls,
            finish_reason=self.finish_reason,
            stream_problem=problems[0] if problems else None,
            capped="; ".join(caps) or None,
        )


def _is_json(text: str) -> bool:
    try:
        strictjson.loads(text)
    except ValueError:
        return False
    return True


def _is_json_object(text: str) -> bool:
    try:
        return isinstance(strictjson.loads(text), dict)
    except ValueError:
        return False
