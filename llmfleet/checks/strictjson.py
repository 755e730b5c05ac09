"""JSON as a strict client reads it: RFC 8259 only (no ``NaN``/``Infinity``), bounded nesting, no duplicate keys.

Python's :func:`json.loads` accepts ``NaN``, ``Infinity`` and ``-Infinity`` (which then pass a
``minimum: 0`` schema check), keeps the last of duplicate keys silently, and raises
``RecursionError`` on deep nesting. A JavaScript or Go client rejects the first, and the last two
make an answer ambiguous or crash the reader; here each is a :class:`ValueError` with a message.
"""

from __future__ import annotations

import json
from typing import Any


class NotStrictJSON(ValueError):
    """The text is not strict JSON; ``str()`` says why."""


def _no_constant(name: str) -> Any:
    raise NotStrictJSON(f"{name} is not JSON")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise NotStrictJSON(f"duplicate key {key!r}")
        out[key] = value
    return out


def loads(text: str | bytes, *, unique_keys: bool = False) -> Any:
    """Decode strict JSON; raise :class:`NotStrictJSON` (a ``ValueError``) with the reason."""
    try:
        return json.loads(text, parse_constant=_no_constant, object_pairs_hook=_unique_keys if unique_keys else None)
    except NotStrictJSON:
        raise
    except json.JSONDecodeError as exc:
        raise NotStrictJSON(f"{exc.msg} at position {exc.pos}") from None
    except RecursionError:
        raise NotStrictJSON("nested too deeply to read") from None
    except UnicodeDecodeError as exc:
        raise NotStrictJSON(f"invalid UTF-8 at byte {exc.start}") from None
