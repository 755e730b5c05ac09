"""Operation-level test harness: run a custom operation against fact fixtures, collect its commands.

The pyinfra 3.x way (its own ``tests/test_operations.py``): the operation's generator
(``op._inner``) is run inside pyinfra's host/state contexts with a fake host whose
``get_fact`` answers from fixtures; the yielded commands are compared with the expected ones,
and an operation that yields nothing must have said why (``host.noop``).

Fixtures map a fact class to its value, or, for facts with arguments, to a dict keyed by the
arguments written ``key=value`` (several joined by ``, ``, sorted), e.g.::

    {Sha256File: {"path=/opt/x": "ab12..."}, TailscaleStatus: {...}}

This directory has no ``__init__.py`` on purpose: as a package it would be named ``deploy`` and
shadow the real ``deploy`` package.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from io import StringIO
from typing import Any

from pyinfra.api import Config, FileUploadCommand, FunctionCommand, StringCommand
from pyinfra.api.facts import FactBase
from pyinfra.context import ctx_host, ctx_state


class MissingFact(KeyError):
    """The operation asked for a fact the test did not provide."""


def kwargs_key(kwargs: dict[str, Any]) -> str:
    """How a fact's arguments are written in fixtures: ``a=1, b=x`` (sorted)."""
    return ", ".join(f"{k}={v}" for k, v in sorted(kwargs.items()))


class FakeData(dict):
    """Host data with attribute-free ``get`` like pyinfra's HostData."""


@dataclass
class FakeHost:
    """Just enough of a pyinfra host for an operation generator."""

    facts: dict[Any, Any]
    data: FakeData = field(default_factory=FakeData)
    name: str = "somehost"
    noops: list[str] = field(default_factory=list)
    logs: list[str] = field(default_factory=list)
    asked: list[str] = field(default_factory=list)
    current_op_global_arguments: dict[str, Any] | None = None
    in_op: bool = True

    @property
    def print_prefix(self) -> str:
        return f"[{self.name}] "

    def get_fact(self, cls: type[FactBase], *args: Any, **kwargs: Any) -> Any:
        if args:
            raise TypeError("pass fact arguments by keyword in deploy code")
        if cls not in self.facts:
            raise MissingFact(f"no fixture for fact {cls.__module__}.{cls.__name__} ({kwargs_key(kwargs)})")
        value = self.facts[cls]
        key = kwargs_key(kwargs)
        self.asked.append(f"{cls.__name__}({key})")
        if kwargs:
            if not isinstance(value, dict) or key not in value:
                raise MissingFact(f"no fixture for fact {cls.__name__} with {key}")
            return value[key]
        return value

    def noop(self, description: str) -> None:
        self.noops.append(description)

    def log(self, message: str, log_func: Callable[..., Any] | None = None) -> None:
        self.logs.append(message)

    def get_temp_filename(self, *args: Any, **kwargs: Any) -> str:
        return "/tmp/_tempfile_"


class FakeState:
    """Just enough of a pyinfra state."""

    def __init__(self) -> None:
        self.config = Config()
        self.print_input = False
        self.print_output = False
        self.inventory: list[Any] = []
        self.cwd = "/"


def run_op(op: Any, facts: dict[Any, Any], *args: Any, host: FakeHost | None = None, **kwargs: Any) -> tuple[list[Any], FakeHost]:
    """Run operation ``op`` (a pyinfra ``@operation``) against ``facts``; return (commands, host)."""
    fake = host or FakeHost(facts)
    with ctx_state.use(FakeState()), ctx_host.use(fake):
        commands = list(op._inner(*args, **kwargs))
    return commands, fake


def command_strings(commands: Iterable[Any]) -> list[Any]:
    """Commands as comparable values: raw strings, ``["upload", dest]``, ``["function", name, args]``."""
    out: list[Any] = []
    for c in commands:
        if isinstance(c, str):
            out.append(c.strip())
        elif isinstance(c, StringCommand):
            out.append(c.get_raw_value())
        elif isinstance(c, FileUploadCommand):
            out.append(["upload", c.dest])
        elif isinstance(c, FunctionCommand):
            out.append(["function", c.function.__name__, list(c.args)])
        else:
            raise AssertionError(f"unexpected command {c!r}")
    return out


def visible_text(commands: Iterable[Any]) -> str:
    """Everything pyinfra could print about ``commands``: raw and masked values, reprs, arguments."""
    parts: list[str] = []
    for c in commands:
        parts.append(repr(c))
        if isinstance(c, StringCommand):
            parts += [c.get_raw_value(), c.get_masked_value(), str(c)]
        elif isinstance(c, FunctionCommand):
            parts.append(json.dumps([repr(a) for a in c.args] + [repr(v) for v in c.kwargs.values()]))
        elif isinstance(c, FileUploadCommand):
            parts += [str(c.dest), str(c.remote_temp_filename)]
    return "\n".join(parts)


def uploaded_text(commands: Iterable[Any]) -> list[str]:
    """The content of every in-memory upload among ``commands``."""
    texts = []
    for c in commands:
        if isinstance(c, FileUploadCommand) and isinstance(c.src, StringIO):
            texts.append(c.src.getvalue())
    return texts
