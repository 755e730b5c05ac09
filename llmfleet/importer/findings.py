"""Findings: what is wrong in an imported LiteLLM config or compose file, and how to fix it.

A finding never contains a secret value. Literal credentials are described ("a literal value that
looks like an Anthropic API key"), URLs are shown with their password masked; only the public
example keys (``sk-1234`` and friends) are named, because naming them is the point.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from llmfleet.inventory.problems import FieldPath, Problem, format_path
from llmfleet.inventory.secrets import PUBLIC_EXAMPLE_KEYS, looks_like_literal_secret

Severity = Literal["error", "warning"]

#: Every kind of finding, with a one-line description (the catalogue the CLI can print).
CODES: dict[str, str] = {
    "master-key-ignored": "master_key under litellm_settings: LiteLLM ignores it, the proxy may be open",
    "master-key-missing": "no master key anywhere: the proxy accepts requests without a key",
    "fallbacks-ignored": "fallbacks under general_settings: LiteLLM never reads them there",
    "fallback-target-unknown": "a fallback names a model that the config does not define",
    "env-syntax": "${VAR} in a LiteLLM config: LiteLLM does not expand it (it wants os.environ/VAR)",
    "public-example-key": "a public example key (sk-1234, ...) used as a real key",
    "literal-secret": "a literal credential in a config or compose file",
    "unpinned-image": "a container image without a pinned version (latest, main-latest, server-cuda, no tag)",
    "litellm-version-refused": "a LiteLLM release refused by policy (compromised, or proxy-auth SQL injection)",
    "ollama-prefix": "ollama/ prefix: the /api/generate route drops tool calls (use ollama_chat/)",
    "backend-exposed": "an unauthenticated model server listening on every interface",
    "placeholder-api-key": "a dummy api_key such as not-required",
    "openai-name-mapping": "an OpenAI model name used for a local server",
    "debug-logging": "debug logging that writes request bodies (prompts) to the logs",
    "database-url-ignored": "database_url under litellm_settings: LiteLLM ignores it, no database",
    "duplicate-key": "a key given twice: LiteLLM keeps only the last one",
    "unprefixed-model": "a model id without a provider prefix: LiteLLM has to guess the provider",
    "dropped-setting": "a setting the draft does not carry (no inventory field, or llmfleet sets it itself), and why",
    "misplaced-key": "a key in a section where LiteLLM does not read it (it belongs in another one)",
    "unknown-key": "a key or section LiteLLM does not have (a typo, or removed): it never took effect",
    "renamed-model": "a model name the inventory cannot keep as it is: clients must use the new name",
    "salt-key-missing": "a database without LITELLM_SALT_KEY: stored credentials are encrypted with the master key",
    "service-exposed": "a database, cache or tool server published on every interface",
    "inferred-mode": "a model with no mode whose name says it is not a chat model: LiteLLM health-checks it as chat",
}

ERROR_CODES = frozenset(CODES) - {
    "ollama-prefix",
    "placeholder-api-key",
    "openai-name-mapping",
    "unprefixed-model",
    "dropped-setting",
    "renamed-model",
    "inferred-mode",
}


@dataclass(frozen=True)
class Finding:
    """One mistake in an import source, located by file, line and key path, with its fix."""

    code: str
    file: str
    line: int | None
    path: FieldPath
    problem: str
    fix: str
    severity: Severity = "error"

    def __post_init__(self) -> None:
        if self.code not in CODES:
            raise ValueError(f"unknown finding code {self.code!r}")

    @property
    def key_path(self) -> str:
        """The key path as text, e.g. ``model_list[0].litellm_params.model``."""
        return format_path(self.path)

    def as_problem(self) -> Problem:
        """The finding as a :class:`~llmfleet.inventory.problems.Problem` (for shared reporting)."""
        return Problem(self.path, f"{self.problem} Fix: {self.fix}", self.severity, self.file, self.line)

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        prefix = "warning: " if self.severity == "warning" else ""
        return f"{where} {self.key_path}: {prefix}{self.problem}\n    fix: {self.fix}"


def make(code: str, file: str, line: int | None, path: FieldPath, problem: str, fix: str, severity: Severity | None = None) -> Finding:
    """A finding; its severity follows from its code unless given."""
    if severity is None:
        severity = "error" if code in ERROR_CODES else "warning"
    return Finding(code, file, line, tuple(path), problem, fix, severity)


def format_findings(findings: Iterable[Finding]) -> str:
    """Findings for a terminal: ``FILE:LINE key.path: problem`` then an indented ``fix:`` line.

    Sorted by file and line (warnings carry a ``warning:`` prefix, as :class:`Problem` does).
    Empty input gives an empty string.
    """
    items = sorted(findings, key=lambda f: (f.file, f.line or 0, f.key_path, f.code))
    return "\n".join(str(f) for f in items)


# ----- describing secrets without showing them -----

_URL_PASSWORD = re.compile(r"^(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^/\s:@]*):(?P<password>[^/\s@]+)@", re.I)
_COMPOSE_VAR = re.compile(r"^\$\{[A-Za-z_][A-Za-z0-9_]*\}$")


def url_password(value: str) -> str | None:
    """The password embedded in a URL (``scheme://user:password@host``), or ``None``.

    A password that is a compose variable (``${POSTGRES_PASSWORD}``) is not a literal and gives ``None``.
    """
    match = _URL_PASSWORD.match(value)
    if match is None or _COMPOSE_VAR.match(match["password"]):
        return None
    return match["password"]


def mask_url(value: str) -> str:
    """``value`` with any embedded password replaced by ``****`` (``postgresql://litellm:****@db/x``)."""
    return _URL_PASSWORD.sub(lambda m: f"{m['scheme']}{m['user']}:****@", value, count=1)


def describe_literal(value: str) -> str:
    """Describe a literal credential without revealing it."""
    if value in PUBLIC_EXAMPLE_KEYS:
        return f"the public example key {value}"
    if url_password(value) is not None:
        return f"a URL with an embedded password ({mask_url(value)})"
    kind = looks_like_literal_secret(value)
    if kind:
        return f"a literal value that looks like {kind}"
    return "a literal value"
