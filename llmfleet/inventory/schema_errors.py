"""Turn pydantic validation errors into located, human :class:`Problem` objects."""

from __future__ import annotations

import types
import typing
from typing import Any

from pydantic import BaseModel, ValidationError

from llmfleet.inventory.problems import FieldPath, Problem, did_you_mean
from llmfleet.inventory.secrets import SecretRef, looks_like_literal_secret


def _unwrap(tp: Any) -> Any:
    """Strip Annotated/Optional down to the interesting type."""
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(args) != 1:
                return tp
            tp = args[0]
        else:
            return tp


def type_at(root: type[BaseModel], path: FieldPath) -> Any:
    """The declared type at ``path`` inside ``root`` (``None`` if the path leaves the schema)."""
    tp: Any = root
    for part in path:
        tp = _unwrap(tp)
        origin = typing.get_origin(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            if not isinstance(part, str) or part not in tp.model_fields:
                return None
            tp = tp.model_fields[part].annotation
        elif origin is list and isinstance(part, int):
            tp = typing.get_args(tp)[0]
        elif origin is dict:
            tp = typing.get_args(tp)[1]
        else:
            return None
    return _unwrap(tp)


def _field_description(root: type[BaseModel], path: FieldPath) -> str | None:
    if not path or not isinstance(path[-1], str):
        return None
    parent = type_at(root, path[:-1])
    if isinstance(parent, type) and issubclass(parent, BaseModel) and path[-1] in parent.model_fields:
        return parent.model_fields[path[-1]].description
    return None


def _allowed_keys(root: type[BaseModel], path: FieldPath) -> list[str]:
    parent = type_at(root, path)
    if isinstance(parent, type) and issubclass(parent, BaseModel):
        return list(parent.model_fields)
    return []


def _message(root: type[BaseModel], err: Any, path: FieldPath, data: Any) -> str:
    kind = err["type"]
    if kind == "extra_forbidden":
        name = str(path[-1])
        allowed = _allowed_keys(root, path[:-1])
        return f"unknown field '{name}'{did_you_mean(name, allowed)}"
    if kind == "missing":
        return "required field is missing"
    if kind == "literal_error":
        value = _value_at(data, path)
        expected = err.get("ctx", {}).get("expected", "")
        choices = [c.strip().strip("'") for c in expected.replace(" or ", ",").split(",") if c.strip()]
        hint = did_you_mean(str(value), choices) if isinstance(value, str) else ""
        return f"'{value}' is not one of {expected}{hint}"
    if kind == "string_pattern_mismatch":
        value = _value_at(data, path)
        desc = _field_description(root, path)
        shown = f"'{value}' " if isinstance(value, str) and not looks_like_literal_secret(value) else ""
        return f"{shown}is not valid{': ' + desc if desc else ''}"
    if kind == "string_type":
        return "expected a string (quote the value in YAML)"
    msg = str(err["msg"])
    return msg.removeprefix("Value error, ").removeprefix("Assertion failed, ")


def _value_at(data: Any, path: FieldPath) -> Any:
    for part in path:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def problems_from_validation(root: type[BaseModel], exc: ValidationError, data: Any, prefix: FieldPath = ()) -> list[Problem]:
    """One :class:`Problem` per pydantic error (input values are never echoed for secrets)."""
    out = []
    for err in exc.errors(include_url=False, include_input=False):
        path = prefix + tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        out.append(Problem(path, _message(root, err, path[len(prefix) :], data)))
    return out


def literal_secret_problems(root: type[BaseModel], data: Any, path: FieldPath = ()) -> list[Problem]:
    """Strings anywhere in the inventory that look like real credentials.

    Fields typed as secret references are skipped: their own validation already refuses literals.
    """
    out: list[Problem] = []
    if isinstance(data, dict):
        for key, value in data.items():
            out += literal_secret_problems(root, value, (*path, key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            out += literal_secret_problems(root, value, (*path, i))
    elif isinstance(data, str) and (kind := looks_like_literal_secret(data)) and type_at(root, path) is not SecretRef:
        out.append(
            Problem(
                path,
                f"this looks like {kind}: a literal secret is not allowed anywhere in an inventory; "
                "reference it as env:NAME or file:PATH in the field meant for it",
            )
        )
    return out
