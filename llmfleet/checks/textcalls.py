"""Tool calls written into the answer text instead of ``tool_calls``, outside reasoning blocks.

A client executes only ``tool_calls``; a call written into ``content`` is lost. The common shapes:
tag formats of chat templates (``<tool_call>…</tool_call>``, ``[TOOL_CALLS]``, ``<|python_tag|>``,
``<function=…>``, ``<|tool_call…|>``, ``functools[…]``), a JSON object naming a tool (or its
``tool_calls`` list, or shaped like a tool's arguments), the same as a Python dict
(``{'name': 'get_weather', …}``), and function-call syntax (``get_weather(city="Tokyo")``).

Reasoning is never read as calls: ``<think>``/``<thinking>``/``<reasoning>`` blocks are removed first
(an unclosed one runs to the end; a closing tag without an opening one ends reasoning that began in
the prompt), and ``reasoning_content`` never reaches this module. Only the first
:data:`SCAN_CHARS` of the visible text are scanned, with a bounded number of decode attempts, so a
hostile answer costs linear time.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterable
from typing import Any

SCAN_CHARS = 64 * 1024
MAX_ATTEMPTS = 256  # '{' positions tried per answer
MAX_LITERAL_CHARS = 16 * 1024

_REASONING = re.compile(r"<(think|thinking|reasoning)>.*?(?:</\1>|\Z)", re.DOTALL | re.IGNORECASE)
_LEADING_CLOSE = re.compile(r"^(?:(?!<(?:think|thinking|reasoning)>).)*?</(?:think|thinking|reasoning)>", re.DOTALL | re.IGNORECASE)

MARKERS = (
    ("<tool_call>", "a <tool_call> block"),
    ("[TOOL_CALLS]", "a [TOOL_CALLS] block"),
    ("<|python_tag|>", "a <|python_tag|> call"),
    ("<function=", "a <function=…> call"),
    ("<|tool_call", "a <|tool_call…|> block"),
    ("functools[", "a functools[…] call"),
)


def visible_text(content: str) -> str:
    """``content`` without reasoning blocks."""
    text = _LEADING_CLOSE.sub("", content, count=1)
    return _REASONING.sub(" ", text)


def _balanced_end(text: str, start: int) -> int | None:
    """Index just past the brace that closes the one at ``start`` (quotes respected), within the literal limit."""
    depth = 0
    quote: str | None = None
    escaped = False
    stop = min(len(text), start + MAX_LITERAL_CHARS)
    for i in range(start, stop):
        ch = text[i]
        if quote:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
        elif ch in "{[":
            depth += 1
        elif ch in "}]":
            depth -= 1
            if depth == 0:
                return i + 1
    return None


def _literals(text: str) -> Iterable[Any]:
    """JSON values and Python literals that start at a '{' (or '[' before a '{') in ``text``."""
    decoder = json.JSONDecoder()
    attempts = 0
    i = 0
    while i < len(text) and attempts < MAX_ATTEMPTS:
        ch = text[i]
        if ch not in "{[" or (ch == "[" and not text[i + 1 : i + 40].lstrip().startswith("{")):
            i += 1
            continue
        attempts += 1
        end = _balanced_end(text, i)
        if end is None:
            i += 1
            continue
        segment = text[i:end]
        try:
            yield decoder.raw_decode(segment)[0]
            i = end
            continue
        except (ValueError, RecursionError):
            pass
        try:
            yield ast.literal_eval(segment)
            i = end
            continue
        except (ValueError, SyntaxError, TypeError, RecursionError, MemoryError):
            i += 1


def _names_a_tool(obj: Any, tools: dict[str, dict[str, Any]], depth: int = 0) -> str | None:
    if depth > 8:
        return None
    if isinstance(obj, list):
        for item in obj[:16]:
            hit = _names_a_tool(item, tools, depth + 1)
            if hit:
                return hit
        return None
    if not isinstance(obj, dict):
        return None
    for key in ("name", "function", "tool", "tool_name", "recipient_name"):
        val = obj.get(key)
        if isinstance(val, str) and val.removeprefix("functions.") in tools:
            return val.removeprefix("functions.")
        if isinstance(val, dict):
            hit = _names_a_tool(val, tools, depth + 1)
            if hit:
                return hit
    if "tool_calls" in obj:
        return _names_a_tool(obj["tool_calls"], tools, depth + 1) or "tool_calls"
    for name, tool in tools.items():
        required = tool["function"]["parameters"].get("required", [])
        if required and all(isinstance(k, str) for k in obj) and set(required) <= set(obj):
            return name
    return None


def call_in_text(content: str | None, tools: dict[str, dict[str, Any]]) -> str | None:
    """Describe a tool call written into ``content`` (outside reasoning), or ``None``.

    ``tools``: every tool name that counts (the offered ones and any other known), with its definition.
    """
    if not content:
        return None
    text = visible_text(content[: SCAN_CHARS * 2])[:SCAN_CHARS]
    for marker, what in MARKERS:
        if marker in text:
            return f"{what} in the text"
    for obj in _literals(text):
        hit = _names_a_tool(obj, tools)
        if hit:
            return f"a call of {hit} written as a JSON/dict object in the text" if hit in tools else "a tool_calls object in the text"
    if tools:
        m = re.search(r"(?<!\w)(" + "|".join(map(re.escape, tools)) + r")\s*\(", text)
        if m:
            return f"{m.group(1)}(…) written in the text"
    return None
