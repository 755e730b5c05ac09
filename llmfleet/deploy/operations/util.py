"""Small helpers shared by the custom operations."""

from __future__ import annotations

import hashlib
from typing import Any

from pyinfra.api import QuoteString, StringCommand

#: Connector arguments a callback passes on when it runs commands itself (privilege and shell).
AUTH_ARGUMENT_KEYS = (
    "_sudo",
    "_sudo_user",
    "_use_sudo_login",
    "_sudo_password",
    "_preserve_sudo_env",
    "_su_user",
    "_use_su_login",
    "_preserve_su_env",
    "_su_shell",
    "_doas",
    "_doas_user",
    "_shell_executable",
)


def sha256_text(text: str) -> str:
    """SHA-256 (hex) of ``text`` encoded as UTF-8."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def fail(message: str) -> StringCommand:
    """A command that fails with ``message`` on stderr (fails the operation visibly, at execution)."""
    return StringCommand("echo", QuoteString(f"error: {message}"), ">&2;", "exit", "1")


def first_line(lines: list[str] | None) -> str | None:
    """The first line of a ``FileContents`` fact, stripped, or ``None``."""
    return lines[0].strip() if lines else None


def connector_kwargs(host: Any) -> dict[str, Any]:
    """Connector arguments (``_sudo``, ``_su_user``, ...) of the operation running on ``host``.

    A ``FunctionCommand`` callback gets no connector arguments; it uses these when it runs
    commands itself, so sudo works there as everywhere else.
    """
    current = getattr(host, "current_op_global_arguments", None) or {}
    found = {key: current[key] for key in AUTH_ARGUMENT_KEYS if current.get(key) not in (None, False, "")}
    if not current and getattr(host, "data", None) is not None:
        for key in ("_sudo", "_sudo_user", "_su_user"):
            value = host.data.get(key)
            if value:
                found[key] = value
    return found
