"""Make any upstream string safe for every report: terminal, JSON, JUnit XML and Prometheus.

Upstream bytes reach us as Python strings that may hold anything JSON can encode: lone UTF-16
surrogates (which no UTF-8 writer accepts), NUL and other control characters (which XML 1.0 forbids
and a terminal obeys), C1 controls, the non-characters U+FFFE/U+FFFF, and bidirectional overrides
(which make a terminal line read differently from what it holds). :func:`clean` replaces each of
those with a visible escape (``\\x1b``, ``\\ud800``, ``\\u202e``), keeps newlines and tabs, and
leaves every other character alone. It is idempotent on its own output, so every writer may apply
it again as a last line of defence.
"""

from __future__ import annotations

import re
from typing import Any

_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff\u202a-\u202e\u2066-\u2069]")


def _escape(m: re.Match[str]) -> str:
    code = ord(m.group())
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def clean(text: str) -> str:
    """``text`` with every unsafe character replaced by a visible escape."""
    return _UNSAFE.sub(_escape, text)


def clean_value(value: Any) -> Any:
    """:func:`clean` applied to every string (keys included) inside dicts, lists and tuples."""
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, dict):
        return {clean_value(k): clean_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean_value(v) for v in value]
    return value


def one_line(text: str, limit: int = 400) -> str:
    """A cleaned, whitespace-collapsed single line of at most ``limit`` characters."""
    line = " ".join(clean(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"
