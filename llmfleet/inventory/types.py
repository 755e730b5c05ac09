"""Typed strings: what a value that reaches a rendered file may contain, refused at load time.

Each ``Annotated`` type here is a plain ``str`` with a validator; the message of a refusal says what
is expected. The model applies them to its fields. Control characters are refused in *every* string
of an inventory by :func:`control_character_problems` (keys included), so the types below need not
repeat that check, but they do refuse them again for use outside the loader.
"""

from __future__ import annotations

import ipaddress
import posixpath
import re
import unicodedata
from collections.abc import Iterator
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator

from llmfleet.inventory.llamacpp_flags import NOT_IN_EXTRA_ARGS
from llmfleet.inventory.problems import FieldPath, Problem

# ---------------------------------------------------------------- control characters
#: Bidirectional overrides/isolates (CVE-2021-42574, "Trojan Source"): they reorder what a terminal shows.
_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def control_character(text: str) -> str | None:
    """The first character of ``text`` that has no place in a configuration value, as ``U+XXXX``.

    C0 (including tab, CR and LF), DEL, C1 (including U+0085 NEL), the line and paragraph separators
    U+2028/U+2029 and the bidirectional overrides.
    """
    for ch in text:
        if unicodedata.category(ch) in ("Cc", "Zl", "Zp") or ch in _BIDI:
            return f"U+{ord(ch):04X}"
    return None


def multiline_field(path: FieldPath) -> bool:
    """Whether the value at ``path`` is a multi-line text (a Modelfile ``TEMPLATE``/``SYSTEM`` block): line breaks allowed."""
    return len(path) == 4 and path[0] == "models" and path[2] == "ollama" and path[3] in ("template", "system")


def control_character_problems(data: Any, path: FieldPath = ()) -> Iterator[Problem]:
    """A problem for every key or string value of ``data`` (plain YAML data) that holds a control character
    (line breaks are allowed in a :func:`multiline_field`)."""
    if isinstance(data, dict):
        for key, value in data.items():
            if isinstance(key, str) and (bad := control_character(key)):
                yield Problem((*path, key), f"the key contains a control character ({bad}); keys are plain names")
            yield from control_character_problems(value, (*path, key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            yield from control_character_problems(value, (*path, i))
    elif isinstance(data, str) and multiline_field(path):
        if bad := control_character(data.replace("\n", "")):
            yield Problem(path, f"contains a control character ({bad}); tabs and terminal escapes are not allowed (line breaks are)")
    elif isinstance(data, str) and (bad := control_character(data)):
        yield Problem(path, f"contains a control character ({bad}); line breaks, tabs and terminal escapes are not allowed in a value")


def _no_control(value: str) -> str:
    if bad := control_character(value):
        raise ValueError(f"contains a control character ({bad})")
    return value


# ---------------------------------------------------------------- host paths
#: Directories deploy must never take over (chown, create files in, empty).
SYSTEM_DIRS = frozenset(
    {
        "/", "/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib32", "/lib64", "/libx32", "/media", "/mnt", "/opt", "/proc",
        "/root", "/run", "/sbin", "/srv", "/sys", "/tmp", "/usr", "/var", "/etc/systemd", "/etc/systemd/system", "/usr/bin",
        "/usr/lib", "/usr/local", "/usr/local/bin", "/usr/local/lib", "/usr/sbin", "/usr/share", "/var/lib", "/var/log",
        "/var/tmp", "/var/run", "/etc/ssh", "/etc/sudoers.d", "/etc/cron.d", "/etc/llmfleet", "/etc/llmfleet/secrets",
        "/opt/llmfleet", "/var/lib/llmfleet",
    }
)  # fmt: skip
_PATH_CHARS = re.compile(r"^[A-Za-z0-9._/+@-]+$")


def _host_path(value: str) -> str:
    _no_control(value)
    if not value.startswith("/"):
        raise ValueError(f"'{value}' is not an absolute path; expected e.g. /srv/ollama/models")
    if not _PATH_CHARS.match(value):
        raise ValueError("a host path may hold only letters, digits and . _ / + @ - (no spaces, quotes, '%', '$' or '\\')")
    if ".." in value.split("/") or "." in value.split("/")[1:]:
        raise ValueError("a host path may not contain '.' or '..' segments")
    if posixpath.normpath(value) != value:
        raise ValueError(f"'{value}' is not normalised; write {posixpath.normpath(value)}")
    if value in SYSTEM_DIRS:
        raise ValueError(f"'{value}' is a system directory; deploy would take it over: use a directory of its own")
    return value


HostPath = Annotated[str, AfterValidator(_host_path)]


# ---------------------------------------------------------------- addresses
def ip_literal(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """Parse an IP literal; refuse scope ids (``fe80::1%eth0``) and brackets."""
    _no_control(value)
    if "%" in value:
        raise ValueError(f"'{value}' has a scope id (%...): give a plain IP address")
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        raise ValueError(f"'{value}' is not an IP address") from None


def _bind(keywords: tuple[str, ...]):
    def check(value: str) -> str:
        if value in keywords:
            return value
        try:
            ip_literal(value)
        except ValueError as exc:
            expected = ", ".join(f"`{k}`" for k in keywords) + " or an IP address" if keywords else "an IP address"
            raise ValueError(f"{exc}; expected {expected}") from None
        return value

    return check


#: A backend's listen address: ``mesh``, ``loopback`` or an IP literal (the rules judge which IPs).
BackendBind = Annotated[str, AfterValidator(_bind(("mesh", "loopback")))]
#: The gateway's listen address: an IP literal (``0.0.0.0``, ``127.0.0.1``, a mesh IP, ``::``).
IpBind = Annotated[str, AfterValidator(_bind(()))]

_HOSTNAME = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$")


def _host_address(value: str) -> str:
    try:
        ip_literal(value)
        return value
    except ValueError:
        pass
    if not _HOSTNAME.match(value):
        raise ValueError(f"'{value}' is neither an IP address nor a DNS name (letters, digits, '-' and '.')")
    return value


#: A DNS name or an IP literal (never an option such as ``-oProxyCommand=...``).
HostAddress = Annotated[str, AfterValidator(_host_address)]

_POSIX_USER = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")


def _posix_user(value: str) -> str:
    if not _POSIX_USER.match(value):
        raise ValueError(f"'{value}' is not a user name (lower-case letters, digits, '_' and '-', starting with a letter or '_')")
    return value


PosixUser = Annotated[str, AfterValidator(_posix_user)]


# ---------------------------------------------------------------- URLs
def _url(schemes: tuple[str, ...], *, path: bool = True, example: str):
    def check(value: str) -> str:
        _no_control(value)
        if any(c.isspace() for c in value) or any(c in value for c in "\"'<>\\`{}|^"):
            raise ValueError(f"'{value}' holds whitespace or characters a URL may not contain; expected e.g. {example}")
        parts = urlsplit(value)
        if parts.scheme not in schemes:
            want = " or ".join(f"{s}://" for s in schemes)
            raise ValueError(f"'{value}' must start with {want} (e.g. {example})")
        if parts.scheme != "file":
            if parts.username is not None or parts.password is not None:
                raise ValueError("a URL may not carry a user or password; put credentials in a secret reference")
            if parts.netloc.count(":") > 1 and "[" not in parts.netloc:
                raise ValueError("an IPv6 address in a URL must be written in brackets, e.g. https://[2001:db8::1]:8443")
            if not parts.hostname:
                raise ValueError(f"'{value}' has no host; expected e.g. {example}")
            netloc_host = parts.netloc.rsplit("@", 1)[-1]
            if ":" in parts.hostname and not netloc_host.startswith("["):
                raise ValueError("an IPv6 address in a URL must be written in brackets, e.g. https://[2001:db8::1]:8443")
            if parts.netloc.startswith("[") or netloc_host.startswith("["):
                ip_literal(parts.hostname)
            elif not _HOSTNAME.match(parts.hostname):
                raise ValueError(f"'{parts.hostname}' is not a valid host name")
            try:
                parts.port  # noqa: B018 - raises on an out-of-range or non-numeric port
            except ValueError:
                raise ValueError(f"'{value}' has an invalid port (1-65535)") from None
            if parts.port == 0:
                raise ValueError(f"'{value}' has an invalid port (1-65535)")
        segments = parts.path.split("/")
        if ".." in segments or "." in segments or "%2e" in parts.path.lower():
            raise ValueError(f"'{value}' has a '.' or '..' path segment")
        if (not path and parts.path not in ("", "/")) or (not path and (parts.query or parts.fragment)):
            raise ValueError(f"'{value}' must be a bare origin without a path, e.g. {example}")
        return value

    return check


_http_url = _url(("http", "https"), example="https://example.org/file.gguf")
HttpUrl = Annotated[str, AfterValidator(_http_url)]


def env_or_http_url(value: str) -> str:
    """``env:NAME`` as it is, anything else parsed as an http(s) URL."""
    return value if value.startswith("env:") else _http_url(value)


HttpsUrl = Annotated[str, AfterValidator(_url(("https",), example="https://api.example.com/v1"))]
HttpsOrigin = Annotated[str, AfterValidator(_url(("https",), path=False, example="https://hs.example.net"))]
MirrorUrl = Annotated[str, AfterValidator(_url(("http", "https", "file"), example="http://mirror.internal/llmfleet/"))]


# ---------------------------------------------------------------- images
# The distribution reference grammar (github.com/distribution/reference): domain[:port]/path[:tag][@digest].
_IMAGE = re.compile(
    r"^(?:(?P<domain>(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?)/)?"
    r"(?P<path>[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*)"
    r"(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?"
    r"(?:@(?P<digest>sha256:[0-9a-f]{64}))?$"
)


def _image(value: str) -> str:
    _no_control(value)
    match = _IMAGE.match(value)
    if not match:
        raise ValueError(f"'{value}' is not an image reference (registry/name:tag[@sha256:...]; no '$' or spaces)")
    if not match["tag"] and not match["digest"]:
        raise ValueError(f"'{value}' names no tag or digest: pin a release, e.g. redis:7.4.6")
    return value


ImageRef = Annotated[str, AfterValidator(_image)]

# ---------------------------------------------------------------- model ids
#: Servers llmfleet renders an id into a command line or a line-based file for (``--alias``, models.txt) get the
#: strict grammar; any other id only reaches YAML (escaped) and JSON: printable text, trimmed, not a comment.
_MODEL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,255}$")
#: Ollama's model name grammar: [host[:port]/][namespace/]model[:tag].
OLLAMA_MODEL = re.compile(
    r"^(?:[a-z0-9][a-z0-9.-]*(?::[0-9]+)?/)?(?:[A-Za-z0-9][A-Za-z0-9._-]*/)?[A-Za-z0-9][A-Za-z0-9._-]*(?::[A-Za-z0-9_][A-Za-z0-9._-]{0,127})?$"
)


def _model_id(value: str) -> str:
    _no_control(value)
    if value != value.strip() or not value or len(value) > 256 or value.startswith("#"):
        raise ValueError(f"'{value}' is not a model id (1-256 characters, no leading/trailing spaces, not starting with '#')")
    return value


ModelId = Annotated[str, AfterValidator(_model_id)]


# ---------------------------------------------------------------- llama-server extra_args
#: Flags llmfleet sets itself, or that would fetch weights around the sha256 pin, or open another listener (the one table).
LLAMA_MANAGED_FLAGS = NOT_IN_EXTRA_ARGS


def _extra_args(args: list[str]) -> list[str]:
    for arg in args:
        _no_control(arg)
    flags = {a.split("=", 1)[0] for a in args if a.startswith("-")}
    clashing = sorted(flags & LLAMA_MANAGED_FLAGS)
    if clashing:
        raise ValueError(
            f"{', '.join(clashing)} may not be set in extra_args: llmfleet manages them (ctx_size, parallel, threads, n_gpu_layers, "
            "cache_type_k/v, flash_attn, jinja) or they would load weights around the sha256 pin or open another listener"
        )
    return args


LlamaExtraArgs = Annotated[list[str], AfterValidator(_extra_args)]


def server_grammar_problems(inv: Any) -> Iterator[Problem]:
    """Model ids in the grammar of the server that serves them: Ollama's ``[host/][namespace/]name[:tag]``; a
    llama.cpp alias (a command-line argument) in the plain id grammar."""
    kinds = {b.name: b.kind for b in inv.backends}
    for i, model in enumerate(inv.models):
        kind = kinds.get(model.backend or "")
        if kind == "ollama" and not OLLAMA_MODEL.match(model.upstream):
            yield Problem(
                ("models", i, "upstream"),
                f"'{model.upstream}' is not an Ollama model name ([registry/][namespace/]name[:tag], e.g. qwen2.5:14b-instruct)",
            )
        elif kind == "llamacpp" and (not _MODEL_ID.match(model.upstream) or ".." in model.upstream):
            yield Problem(
                ("models", i, "upstream"),
                f"'{model.upstream}' is not a llama-server alias (letters, digits and . _ : / @ + -, starting with a letter or digit)",
            )
