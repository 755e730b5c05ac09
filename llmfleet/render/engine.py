"""The Jinja2 environment and :func:`render_fleet`.

Templates live in the repository's top-level ``templates/`` directory (the wheel force-includes
it as ``llmfleet/_templates``). They only ever see the small view objects built by
:mod:`llmfleet.render.context`, never the inventory or pyinfra host data. Every undefined name is
an error (``StrictUndefined``) and output is byte-for-byte deterministic.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

from llmfleet.inventory.model import Inventory
from llmfleet.inventory.types import control_character
from llmfleet.render.context import plan_fleet

__all__ = ["RenderError", "RenderedFile", "environment", "render_fleet", "templates_dir"]


@dataclass(frozen=True)
class RenderedFile:
    """One rendered file: where it lands in the output tree and on its host."""

    host: str  # inventory host name
    relpath: str  # path under the output dir, e.g. "gw1/litellm/config.yaml"
    content: str
    dest: str  # absolute path on the host, e.g. "/opt/llmfleet/litellm/config.yaml"
    mode: int  # e.g. 0o644
    service: str | None  # "<unit>.service" or "compose:<project>" to restart on change, or None


class RenderError(RuntimeError):
    """A template failed to render (a bug in a template or a view, never in the inventory)."""


def templates_dir() -> Path:
    """The templates directory: the repository's ``templates/``, else the wheel's ``llmfleet/_templates``."""
    here = Path(__file__).resolve()
    for candidate in (here.parents[2] / "templates", here.parents[1] / "_templates"):
        if (candidate / "litellm" / "config.yaml.j2").is_file():  # not just any directory named templates
            return candidate
    raise RenderError(f"no templates directory found (looked for {here.parents[2] / 'templates'} and {here.parents[1] / '_templates'})")


# ----------------------------------------------------------------------------- filters
def yaml_scalar(value: Any) -> str:
    """A YAML scalar that reads back as exactly ``value`` under YAML 1.1 and 1.2.

    Strings are always double-quoted (JSON escapes are valid YAML), so ``qwen2.5:14b``, ``on``,
    ``0755`` or ``null`` stay strings; lists become flow sequences.
    """
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise RenderError(f"cannot render {value!r}")
        return repr(value)
    if isinstance(value, str):
        return _yaml_breaks(json.dumps(value, ensure_ascii=False))
    if isinstance(value, list | tuple):
        return "[" + ", ".join(yaml_scalar(v) for v in value) + "]"
    if isinstance(value, dict):  # a flow mapping; every key quoted (passthrough settings, extra_headers, ...)
        return "{" + ", ".join(f"{_yaml_breaks(json.dumps(str(k), ensure_ascii=False))}: {yaml_scalar(v)}" for k, v in value.items()) + "}"
    return _fail(f"yaml_scalar cannot render a {type(value).__name__}")


#: Characters YAML reads as line breaks (or a BOM) even inside a double-quoted scalar, which JSON leaves raw.
_YAML_BREAKS = {"\u0085": "\\N", "\u2028": "\\L", "\u2029": "\\P", "\ufeff": "\\uFEFF"}


def _yaml_breaks(quoted: str) -> str:
    for raw, escape in _YAML_BREAKS.items():
        quoted = quoted.replace(raw, escape)
    return quoted


def compose_scalar(value: Any) -> str:
    """:func:`yaml_scalar` for a Compose file: ``$`` is written ``$$`` so Compose interpolates nothing in it."""
    if isinstance(value, str):
        return yaml_scalar(value.replace("$", "$$"))
    if isinstance(value, list | tuple):
        return "[" + ", ".join(compose_scalar(v) for v in value) + "]"
    return yaml_scalar(value)


def line_value(value: Any) -> str:
    """One line of a line-based file (``models.txt``, ``up.args``): never empty, padded, a comment or two lines."""
    text = str(value)
    if bad := control_character(text):
        _fail(f"a line value cannot contain a control character ({bad}): {text!r}")
    if not text or text != text.strip() or text.startswith("#"):
        _fail(f"a line value must be non-empty, unpadded and not start with '#': {text!r}")
    return text


def _finalize(value: Any) -> Any:
    """Every ``{{ }}`` output: no control character but the newlines of a multi-line block (tojson(2))."""
    if isinstance(value, str) and (bad := control_character(value.replace("\n", ""))):
        _fail(f"a rendered value contains a control character ({bad}): {value[:60]!r}")
    return value


def to_json(value: Any, indent: int | None = None) -> str:
    """Deterministic JSON (sorted keys, UTF-8 kept); unlike Jinja's ``tojson`` it does not HTML-escape."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, indent=indent)


_SYSTEMD_SAFE = re.compile(r"^[A-Za-z0-9_./:=@+,-]+$")


def systemd_arg(value: Any) -> str:
    """Quote one command-line argument for a systemd ``Exec*=`` line.

    systemd splits on white space, honours double quotes with C escapes, expands ``$VAR`` and
    ``%`` specifiers: ``%`` becomes ``%%`` and ``$`` becomes ``$$`` so the argument arrives as written.
    """
    text = str(value)
    if bad := control_character(text):
        _fail(f"a systemd argument cannot contain a control character ({bad}): {text!r}")
    text = text.replace("%", "%%").replace("$", "$$")
    if _SYSTEMD_SAFE.match(text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def systemd_env(name: str, value: Any) -> str:
    """One ``Environment=`` assignment, quoted: ``"NAME=value"`` (``%`` escaped, no ``$`` expansion there)."""
    text = f"{name}={value}"
    if bad := control_character(text):
        _fail(f"an environment value cannot contain a control character ({bad}): {name}")
    return '"' + text.replace("%", "%%").replace("\\", "\\\\").replace('"', '\\"') + '"'


def _fail(message: str) -> Any:
    raise RenderError(message)


@lru_cache(maxsize=4)
def _environment(path: str) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(path),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
        auto_reload=False,
        finalize=_finalize,
    )
    env.filters["yaml_str"] = yaml_scalar
    env.filters["yaml"] = yaml_scalar
    env.filters["tojson"] = to_json
    env.filters["systemd_arg"] = systemd_arg
    env.filters["compose"] = compose_scalar
    env.filters["line"] = line_value
    env.globals["systemd_env"] = systemd_env
    return env


def environment() -> jinja2.Environment:
    """The shared Jinja2 environment over :func:`templates_dir`."""
    return _environment(str(templates_dir()))


def render_template(name: str, view: Any) -> str:
    """Render template ``name`` with ``view`` (a view object from :mod:`llmfleet.render.context`)."""
    try:
        return environment().get_template(name).render(v=view)
    except jinja2.TemplateError as exc:
        raise RenderError(f"template {name}: {exc}") from exc


def render_fleet(inv: Inventory) -> list[RenderedFile]:
    """Render every file of every host. Pure and deterministic; the result is sorted by relpath."""
    files = [
        RenderedFile(
            host=spec.host,
            relpath=spec.relpath,
            content=render_template(spec.template, spec.view),
            dest=spec.dest,
            mode=spec.mode,
            service=spec.service,
        )
        for spec in plan_fleet(inv)
    ]
    files.sort(key=lambda f: f.relpath)
    seen: set[str] = set()
    for f in files:
        if f.relpath in seen:
            raise RenderError(f"two files render to {f.relpath}")
        seen.add(f.relpath)
    return files
