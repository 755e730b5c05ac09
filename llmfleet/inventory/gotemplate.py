"""A structural check of Ollama's Go prompt templates (Modelfile ``TEMPLATE``), before anything is deployed.

Ollama parses a TEMPLATE with Go's ``text/template`` (plus its own functions) when ``ollama create``
runs; a template Go cannot parse makes that create fail on the host, mid-deploy. This module finds,
without Go, the mistakes Go's parser refuses:

* an action ``{{ ... }}`` that is never closed, or empty; an unterminated string, raw string or
  character constant, or unbalanced parentheses inside one; a comment ``{{/* */}}`` not closed;
* control structure: ``if``/``range``/``with``/``define``/``block`` without ``end``, an ``end`` or
  ``else`` with nothing open (``else`` only in ``if``/``range``/``with``), ``break``/``continue``
  outside ``range``;
* a function Go and Ollama do not define (Go's built-ins and Ollama 0.17's ``json``,
  ``currentDate``, ``yesterdayDate``, ``toTypeScriptType``).

Not checked here (Ollama reports them when the prompt is rendered, or they depend on the data):
field names (``.Tools``, ``.Messages`` …), undeclared ``$variables``, argument counts and types.
:func:`uses_tools` says whether a template reads ``.Tools``: Ollama refuses ``tools`` for a model
whose template does not.
"""

from __future__ import annotations

import re

__all__ = ["GO_FUNCTIONS", "OLLAMA_FUNCTIONS", "go_template_problem", "uses_tools"]

#: Functions of Go's text/template.
GO_FUNCTIONS = frozenset(
    [
        "and",
        "call",
        "html",
        "index",
        "slice",
        "js",
        "len",
        "not",
        "or",
        "print",
        "printf",
        "println",
        "urlquery",
        "eq",
        "ge",
        "gt",
        "le",
        "lt",
        "ne",
    ]
)
#: Functions Ollama adds (template/template.go of Ollama 0.17).
OLLAMA_FUNCTIONS = frozenset({"json", "currentDate", "yesterdayDate", "toTypeScriptType"})
_KEYWORDS = frozenset({"if", "range", "with", "define", "block", "template", "else", "end", "break", "continue", "nil", "true", "false"})
_OPENERS = frozenset({"if", "range", "with", "define", "block"})
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_TOOLS = re.compile(r"\.Tools\b")


def uses_tools(template: str) -> bool:
    """Whether ``template`` reads ``.Tools`` (Ollama accepts ``tools`` only then)."""
    return bool(_TOOLS.search(template))


def _line(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def _action_words(body: str) -> tuple[list[str], str | None]:
    """The bare words (identifiers outside strings, not after ``.`` or ``$``) of an action, or a problem."""
    words: list[str] = []
    depth = 0
    i, n = 0, len(body)
    while i < n:
        c = body[i]
        if c == '"':
            j = i + 1
            while j < n and body[j] != '"':
                if body[j] == "\n":
                    return words, "a string constant runs past the end of its line"
                j += 2 if body[j] == "\\" else 1
            if j >= n:
                return words, "unterminated quoted string"
            i = j + 1
        elif c == "`":
            j = body.find("`", i + 1)
            if j < 0:
                return words, "unterminated raw quoted string"
            i = j + 1
        elif c == "'":
            j = i + 1
            while j < n and body[j] != "'":
                j += 2 if body[j] == "\\" else 1
            if j >= n:
                return words, "unterminated character constant"
            i = j + 1
        elif c == "(":
            depth += 1
            i += 1
        elif c == ")":
            depth -= 1
            if depth < 0:
                return words, "unexpected right paren"
            i += 1
        elif c in ".$" or c.isdigit():
            m = re.compile(r"[.$]?[A-Za-z0-9_.]*").match(body, i)
            i = m.end() if m and m.end() > i else i + 1
        else:
            m = _IDENT.match(body, i)
            if m:
                words.append(m.group())
                i = m.end()
            else:
                i += 1
    if depth:
        return words, "unclosed left paren"
    return words, None


def go_template_problem(template: str) -> str | None:
    """Why Go's template parser (with Ollama's functions) would refuse ``template``, or ``None``."""
    stack: list[tuple[str, int]] = []
    pos = 0
    while True:
        start = template.find("{{", pos)
        if start < 0:
            break
        line = _line(template, start)
        inner = start + 2
        if template.startswith("- ", inner) or template.startswith("-\t", inner) or template.startswith("-\n", inner):
            inner += 1
        stripped = template[inner:].lstrip(" \t\r\n") if inner > start + 2 else template[inner:]
        if stripped.startswith("/*"):
            close = template.find("*/", len(template) - len(stripped) + 2)
            if close < 0:
                return f"line {line}: unclosed comment"
            after = template[close + 2 :]
            if after.startswith("}}"):
                pos = close + 4
            elif re.match(r"[ \t\r\n]-}}", after):
                pos = close + 6
            else:
                return f"line {line}: comment ends before closing delimiter"
            continue
        end = _action_end(template, inner)
        if end is None:
            return f"line {line}: unclosed action (an opening {{{{ without a closing }}}})"
        body = template[inner:end]
        if body.rstrip().endswith(" -") or body.rstrip() == "-":
            body = body.rstrip()[:-1]
        pos = end + 2
        words, problem = _action_words(body)
        if problem:
            return f"line {line}: {problem} in {{{{{body.strip()[:40]}}}}}"
        if not body.strip():
            return f"line {line}: missing value for command (an empty {{{{ }}}})"
        first = body.split(None, 1)[0] if body.split() else ""
        keyword = first if first in _KEYWORDS else None
        if keyword in _OPENERS:
            stack.append((keyword, line))
        elif keyword == "else":
            if not stack or stack[-1][0] not in ("if", "range", "with"):
                return f"line {line}: unexpected {{{{else}}}}"
        elif keyword == "end":
            if not stack:
                return f"line {line}: unexpected {{{{end}}}}"
            stack.pop()
        elif keyword in ("break", "continue") and not any(k == "range" for k, _ in stack):
            return f"line {line}: {{{{{keyword}}}}} outside {{{{range}}}}"
        for word in words:
            if word not in _KEYWORDS and word not in GO_FUNCTIONS and word not in OLLAMA_FUNCTIONS:
                return f"line {line}: function \"{word}\" not defined (Go's and Ollama's template functions only)"
    if stack:
        keyword, line = stack[-1]
        return f"line {line}: {{{{{keyword}}}}} is never closed by {{{{end}}}} (unexpected EOF)"
    return None


def _action_end(text: str, i: int) -> int | None:
    """Index of the ``}}`` that closes the action whose body starts at ``i`` (strings skipped), or ``None``."""
    n = len(text)
    while i < n:
        c = text[i]
        if c in "\"'":
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            i = j + 1
        elif c == "`":
            j = text.find("`", i + 1)
            if j < 0:
                return None
            i = j + 1
        elif text.startswith("}}", i):
            return i
        else:
            i += 1
    return None
