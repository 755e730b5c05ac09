"""Secret references: the only way a secret may appear in an inventory.

A secret is never a value in the inventory, in rendered files, in logs or in output. It is a
*reference* that is resolved on the operator's machine when a value is really needed (deploy
writes it into a 0600 ``.env`` file on the host; the checks read the master key to authenticate):

* ``env:NAME``   — the operator's environment variable ``NAME``;
* ``file:PATH``  — a file on the operator's machine (``~`` is expanded); its content, stripped of
  surrounding white space, is the value.

Rendered LiteLLM configs refer to every secret as ``os.environ/NAME``. For an ``env:`` reference
``NAME`` is the variable itself; for a ``file:`` reference it is derived from the file name
(``file:~/.secrets/anthropic-api-key`` → ``ANTHROPIC_API_KEY``), so rendering stays pure.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema

ENV_NAME_RE = re.compile(r"^[A-Z_][A-Z0-9_]*$")
SECRET_REF_PATTERN = r"^(env:[A-Z_][A-Z0-9_]*|file:[~/].+)$"

#: Well-known shapes of real credentials, found anywhere in a string (distinctive prefixes even inside a
#: word; the generic ``sk-`` shape only at a word start). One anywhere in an inventory is refused,
#: whatever field it is in, and :func:`redact` removes them from every message.
LITERAL_SECRET_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("an Anthropic API key", re.compile(r"sk-ant-[A-Za-z0-9_-]{8,}")),
    (
        "an OpenAI-style key",
        re.compile(
            r"^sk-(?:proj-)?[A-Za-z0-9_-]{4,}$|sk-(?:proj|svcacct|admin)-[A-Za-z0-9_-]{20,}|(?<![A-Za-z0-9_-])sk-[A-Za-z0-9_-]{20,}"
        ),
    ),
    # Not bounded on the right: a key id run on into more capitals (``AKIA…AKIA…``) is still one.
    ("an AWS access key id", re.compile(r"(?<![A-Z0-9])(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}")),
    (
        "an AWS secret access key",
        re.compile(
            r"(?<![A-Za-z0-9/+])(?=[A-Za-z0-9/+]{0,39}[A-Z])(?=[A-Za-z0-9/+]{0,39}[a-z])(?=[A-Za-z0-9/+]{0,39}[0-9])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])"
        ),
    ),
    ("a Google API key", re.compile(r"AIza[0-9A-Za-z_-]{30,}")),
    ("a Hugging Face token", re.compile(r"hf_[A-Za-z0-9]{30,}")),
    ("a GitHub token", re.compile(r"gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{20,}")),
    ("a Slack token", re.compile(r"xox[abprs]-[A-Za-z0-9-]{10,}")),
    ("a Tailscale/Headscale auth key", re.compile(r"tskey-[A-Za-z0-9-]{10,}")),
    ("a private key", re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")),
    ("a URL with an embedded password", re.compile(r"[a-z][a-z0-9+.-]*://[^/\s:@]+:[^/\s@]+@")),
)

#: Example keys published in documentation; refused even where a reference is resolved.
PUBLIC_EXAMPLE_KEYS = frozenset({"sk-1234", "sk-12345", "sk-master", "changeme", "password"})


class SecretError(ValueError):
    """A secret reference could not be resolved, or resolved to an unacceptable value."""


def looks_like_literal_secret(value: str) -> str | None:
    """Return a description of the credential ``value`` looks like, or ``None``."""
    if value in PUBLIC_EXAMPLE_KEYS:
        return "a public example key"
    for description, pattern in LITERAL_SECRET_PATTERNS:
        if pattern.search(value):
            return description
    return None


def redact(text: str) -> str:
    """``text`` with every secret-shaped substring replaced by ``<redacted: what it looks like>``.

    A URL keeps its scheme and user name; only the password is replaced.
    """
    for description, pattern in LITERAL_SECRET_PATTERNS:
        if description == "a URL with an embedded password":
            text = pattern.sub(lambda m: m[0].split("://", 1)[0] + "://" + m[0].split("://", 1)[1].split(":", 1)[0] + ":<redacted>@", text)
        elif description == "an AWS access key id":
            # Messages may over-redact, never under-redact: no boundary at all, so two key ids
            # written back to back are both removed.
            text = re.sub(r"(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}", f"<redacted: {description}>", text)
        elif description != "an OpenAI-style key":
            text = pattern.sub(f"<redacted: {description}>", text)
        else:
            generic = r"sk-(?:proj|svcacct|admin)-[A-Za-z0-9_-]{16,}|(?<![A-Za-z0-9_-])sk-[A-Za-z0-9_-]{16,}"
            text = re.sub(generic, f"<redacted: {description}>", text)
    return text


def env_name_for_file(path: str) -> str:
    """Derive the environment variable name a ``file:`` reference is rendered as."""
    stem = Path(path).name.split(".")[0]
    name = re.sub(r"[^A-Za-z0-9]+", "_", stem).strip("_").upper()
    if not name or name[0].isdigit():
        name = f"SECRET_{name}"
    return name


@dataclass(frozen=True, order=True)
class SecretRef:
    """A reference to a secret: ``env:NAME`` or ``file:PATH``; never the secret itself."""

    scheme: str
    target: str

    @classmethod
    def parse(cls, raw: str) -> SecretRef:
        """Parse ``env:NAME`` / ``file:PATH``; raise ``ValueError`` with a helpful message."""
        if not isinstance(raw, str):
            raise ValueError("a secret must be a reference string: 'env:NAME' or 'file:PATH'")
        if raw.startswith("env:"):
            name = raw[4:]
            if not ENV_NAME_RE.match(name):
                raise ValueError(
                    f"'{raw}' is not a valid reference: the variable name must be upper case "
                    "letters, digits and '_' (e.g. env:ANTHROPIC_API_KEY)"
                )
            return cls("env", name)
        if raw.startswith("file:"):
            path = raw[5:]
            if not path.startswith(("/", "~")):
                raise ValueError(f"'{raw}' is not a valid reference: the file path must be absolute or start with ~")
            return cls("file", path)
        if raw.startswith("os.environ/"):
            raise ValueError(f"'{raw}' is LiteLLM syntax; in the inventory write env:{raw.removeprefix('os.environ/')}")
        if raw.startswith("${") and raw.endswith("}"):
            raise ValueError(f"'{raw}' is shell syntax; write env:{raw[2:-1].split(':')[0]}")
        kind = looks_like_literal_secret(raw)
        what = f" (it looks like {kind})" if kind else ""
        raise ValueError(
            f"a literal secret value is not allowed here{what}; "
            "put it in the environment or a file and reference it as 'env:NAME' or 'file:PATH'"
        )

    @property
    def env_name(self) -> str:
        """The environment variable the rendered configs read this secret from."""
        return self.target if self.scheme == "env" else env_name_for_file(self.target)

    @property
    def litellm(self) -> str:
        """The reference in LiteLLM's own syntax, ``os.environ/NAME``."""
        return f"os.environ/{self.env_name}"

    def resolve(self, environ: dict[str, str] | None = None) -> str:
        """Read the secret's value on the operator's machine. Never log the result."""
        env = os.environ if environ is None else environ
        if self.scheme == "env":
            value = env.get(self.target)
            if not value:
                raise SecretError(f"environment variable {self.target} is not set (referenced as {self})")
            return value
        path = Path(self.target).expanduser()
        try:
            value = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise SecretError(f"cannot read secret file {path}: {exc.strerror}") from None
        if not value:
            raise SecretError(f"secret file {path} is empty")
        return value

    def __str__(self) -> str:
        return f"{self.scheme}:{self.target}"

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        def validate(value: Any) -> SecretRef:
            if isinstance(value, SecretRef):
                return value
            return cls.parse(value)

        return core_schema.no_info_plain_validator_function(
            validate,
            serialization=core_schema.plain_serializer_function_ser_schema(str),
        )

    @classmethod
    def __get_pydantic_json_schema__(cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        return {
            "type": "string",
            "pattern": SECRET_REF_PATTERN,
            "description": "A secret reference: 'env:NAME' or 'file:/path' (never the value).",
            "examples": ["env:ANTHROPIC_API_KEY", "file:~/.secrets/litellm-master-key"],
        }


def check_master_key_value(value: str) -> None:
    """Refuse a resolved master key that is a public example, too short, or lacks ``sk-``."""
    if value in PUBLIC_EXAMPLE_KEYS:
        raise SecretError("the master key is a public example key (e.g. sk-1234); generate one: echo sk-$(openssl rand -hex 24)")
    if not value.startswith("sk-"):
        raise SecretError("LiteLLM requires the master key to start with 'sk-'")
    if len(value) < 32:
        raise SecretError(f"the master key is {len(value)} characters; at least 32 are required")
