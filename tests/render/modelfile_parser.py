"""A line-by-line port of Ollama 0.17's Modelfile parser (``parser/parser.go``: ``ParseFile``), for tests.

It reads a rendered Modelfile the way ``ollama create`` does: commands (``FROM`` → ``model``,
``PARAMETER name value``, ``TEMPLATE``, ``SYSTEM`` …) with their values unquoted (``"…"`` and
``\"\"\"…\"\"\"``; a value ends at the first line break where it is complete), ``#`` comments dropped, and
non-printable characters other than line breaks, spaces and tabs silently dropped. The real parser is
exercised by ``tests/checks/test_ollama_tools_real.py`` (``ollama create`` + ``/api/show``).
"""

from __future__ import annotations

from enum import Enum

COMMANDS = {"from", "license", "template", "system", "adapter", "renderer", "parser", "parameter", "message", "requires"}


class ParseError(ValueError):
    """What Ollama's parser would refuse."""


class _S(Enum):
    NIL = 0
    NAME = 1
    VALUE = 2
    PARAMETER = 3
    MESSAGE = 4
    COMMENT = 5


def _space(r: str) -> bool:
    return r in " \t"


def _newline(r: str) -> bool:
    return r in "\r\n"


def _unquote(s: str) -> tuple[str, bool]:
    if s[:3] == '"""':
        if len(s) >= 6 and s[-3:] == '"""':
            return s[3:-3], True
        return "", False
    if s[:1] == '"':
        if len(s) >= 2 and s[-1] == '"':
            return s[1:-1], True
        return "", False
    return s, True


def _next(r: str, cs: _S) -> tuple[_S, str | None]:
    if cs is _S.NIL:
        if r == "#":
            return _S.COMMENT, None
        if _space(r) or _newline(r):
            return _S.NIL, None
        return _S.NAME, r
    if cs is _S.NAME:
        if r.isascii() and r.isalpha():
            return _S.NAME, r
        if _space(r):
            return _S.VALUE, None
        raise ParseError("command must be one of ...")
    if cs is _S.VALUE:
        if _newline(r) or _space(r):
            return _S.NIL, r
        return _S.VALUE, r
    if cs is _S.PARAMETER:
        if (r.isascii() and r.isalnum()) or r == "_":
            return _S.PARAMETER, r
        if _space(r):
            return _S.VALUE, None
        raise ParseError("unexpected EOF")
    if cs is _S.MESSAGE:
        if r.isascii() and r.isalpha():
            return _S.MESSAGE, r
        if _space(r):
            return _S.VALUE, None
        raise ParseError("unexpected EOF")
    if _newline(r):
        return _S.NIL, None
    return _S.COMMENT, None


def parse_modelfile(text: str) -> list[tuple[str, str]]:
    """``[(command, value), …]`` as Ollama reads ``text`` (``PARAMETER x v`` → ``("x", "v")``)."""
    commands: list[tuple[str, str]] = []
    name = ""
    curr = _S.NIL
    buf: list[str] = []
    role = ""
    for r in text:
        nxt, out = _next(r, curr)
        if nxt is not curr:
            if curr is _S.NAME:
                word = "".join(buf)
                if word.lower() not in COMMANDS:
                    raise ParseError(f"invalid command {word!r}")
                low = word.lower()
                if low == "from":
                    name = "model"
                elif low == "parameter":
                    nxt = _S.PARAMETER
                elif low == "message":
                    nxt = _S.MESSAGE
                    name = low
                else:
                    name = low
            elif curr is _S.PARAMETER:
                name = "".join(buf)
            elif curr is _S.MESSAGE:
                role = "".join(buf)
            elif curr is _S.VALUE:
                s, ok = _unquote("".join(buf).strip())
                if not ok or _space(r):
                    buf.append(r)
                    continue
                if role:
                    s, role = f"{role}: {s}", ""
                commands.append((name, s))
            buf = []
            curr = nxt
        if out is not None and out.isprintable():
            buf.append(out)
    if curr is _S.VALUE:
        s, ok = _unquote("".join(buf).strip())
        if not ok:
            raise ParseError("unexpected EOF")
        commands.append((name, f"{role}: {s}" if role else s))
    elif curr not in (_S.NIL, _S.COMMENT):
        raise ParseError("unexpected EOF")
    if not any(c == "model" for c, _ in commands):
        raise ParseError("no FROM line")
    return commands
