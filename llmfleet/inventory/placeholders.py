"""Placeholders: values a human must still fill in (left by `llmfleet import`).

A draft inventory validates so that it can be edited with schema support, but it must not be
deployed: every placeholder is an error when the inventory is loaded.
"""

from __future__ import annotations

import re
from typing import Any

from llmfleet.inventory.problems import FieldPath, Problem

#: ``TODO`` markers, ``.invalid`` URLs (RFC 2606) and the all-zero checksum.
PLACEHOLDER_RE = re.compile(r"(^|[^A-Za-z])TODO|\.invalid(/|$)|^0{64}$")


def find_placeholders(data: Any, path: FieldPath = ()) -> list[tuple[FieldPath, str]]:
    """Every value in plain inventory data that is still a placeholder."""
    found: list[tuple[FieldPath, str]] = []
    if isinstance(data, dict):
        for key, value in data.items():
            found += find_placeholders(value, (*path, str(key)))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            found += find_placeholders(value, (*path, index))
    elif isinstance(data, str) and PLACEHOLDER_RE.search(data):
        found.append((path, data))
    return found


def placeholder_problems(data: Any) -> list[Problem]:
    """One error per placeholder still in the inventory."""
    return [
        Problem(path, f"'{value}' is a placeholder to fill in before this inventory can be used") for path, value in find_placeholders(data)
    ]
