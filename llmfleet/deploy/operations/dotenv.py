"""Secret files (a gateway ``.env``, a llama-server API key): written 0600 without ever printing a value.

Secret values exist only on the operator's machine (resolved from :class:`SecretRef` when the
operation runs) and in the uploaded file. Whether the file must change is decided by comparing
the SHA-256 of the remote file with the hash of the wanted content; the content travels as an
in-memory upload (never in a shell command line, never in a diff: pyinfra's ``files.put`` prints
diffs under ``--diff``, this operation does not), into a file created 0600 *before* the upload.
"""

from __future__ import annotations

import hashlib
import posixpath
from collections.abc import Callable, Mapping
from io import StringIO

from pyinfra import host
from pyinfra.api import FileUploadCommand, QuoteString, StringCommand, operation
from pyinfra.facts.files import File, Sha256File

from llmfleet.inventory.secrets import SecretError, SecretRef
from llmfleet.layout import RUN_DIR

_ENV_NAME_OK = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


class SecretContent:
    """The wanted content of a secret file, resolved only when asked; its repr names no value.

    ``refs`` is either a mapping of environment variable names to references (a dotenv file:
    ``NAME='value'`` lines, single-quoted so neither Docker Compose nor systemd expands ``$`` or
    ``#``) or a single reference (a file holding just the value and a newline). ``checks`` maps a
    variable name to a validator of its resolved value (e.g. the master key policy).
    """

    def __init__(
        self,
        refs: Mapping[str, SecretRef] | SecretRef,
        header: str = "",
        environ: Mapping[str, str] | None = None,
        checks: Mapping[str, Callable[[str], None]] | None = None,
    ):
        self.refs = refs
        self.header = header
        self._environ = dict(environ) if environ is not None else None
        self._checks = dict(checks or {})

    def __repr__(self) -> str:
        if isinstance(self.refs, SecretRef):
            return f"SecretContent({self.refs})"
        return f"SecretContent({', '.join(sorted(self.refs))})"

    def names(self) -> list[str]:
        """The variable names (or the single reference) this content holds, for messages."""
        return [str(self.refs)] if isinstance(self.refs, SecretRef) else sorted(self.refs)

    def text(self) -> str:
        """Resolve every reference and build the file content. Never log the result."""
        if isinstance(self.refs, SecretRef):
            return _checked(str(self.refs), self.refs.resolve(self._environ)) + "\n"
        lines = [line for line in self.header.splitlines() if line.strip()]
        lines = [f"# {line.lstrip('# ')}" for line in lines]
        for name in sorted(self.refs):
            if not name or set(name) - _ENV_NAME_OK:
                raise SecretError(f"{name!r} is not a valid environment variable name")
            value = _checked(name, self.refs[name].resolve(self._environ))
            if name in self._checks:
                self._checks[name](value)  # raises SecretError naming the problem, never the value
            lines.append(f"{name}='{value}'")
        return "\n".join(lines) + "\n"

    def preflight(self) -> None:
        """Resolve and check every value now, so a missing secret stops the deploy before it starts.

        Raises :class:`pyinfra.api.exceptions.DeployError` naming the reference, never a value.
        """
        from pyinfra.api.exceptions import DeployError

        try:
            self.text()
        except SecretError as exc:
            raise DeployError(f"cannot deploy: {exc}") from None

    def sha256(self) -> str:
        """SHA-256 of :meth:`text` (what the remote file's hash is compared with)."""
        return hashlib.sha256(self.text().encode("utf-8")).hexdigest()


def _checked(name: str, value: str) -> str:
    if "'" in value or "\n" in value or "\r" in value or "\x00" in value:
        raise SecretError(f"the value of {name} contains a quote, a newline or NUL, which a .env file cannot hold safely")
    return value


def _owner_ok(info: Mapping[str, object], user: str, group: str) -> bool:
    return info.get("user") == user and info.get("group") == group


@operation()
def secret_file(dest: str, content: SecretContent, user: str = "root", group: str = "root"):
    """Write ``content`` to ``dest`` with mode 0600 (owned by ``user``:``group``) when it differs.

    No-op when the remote file's SHA-256 equals the wanted content's and mode and owner are right.
    """
    wanted = content.sha256()
    current = host.get_fact(Sha256File, path=dest)
    info = host.get_fact(File, path=dest) or {}
    mode_ok = info.get("mode") == 600 and _owner_ok(info, user, group)
    if current == wanted and mode_ok:
        host.noop(f"{dest} holds the wanted secrets ({', '.join(content.names())})")
        return
    q = QuoteString(dest)
    if current != wanted:
        parent = posixpath.dirname(dest)
        ssh_user = str(host.data.get("ssh_user") or "root")
        staging = f"{RUN_DIR}/upload-{ssh_user}"
        # The file exists with 0600 before a byte of the secret arrives; a sudo upload goes
        # through a 0700 staging directory of the SSH user (on tmpfs), not world-readable /tmp.
        yield StringCommand("mkdir", "-p", QuoteString(parent))
        yield StringCommand("install", "-d", "-m", "0700", "-o", QuoteString(ssh_user), QuoteString(staging))
        yield StringCommand("(", "umask", "077", "&&", "touch", q, ")", "&&", "chmod", "600", q)
        yield FileUploadCommand(
            StringIO(content.text()),
            dest,
            remote_temp_filename=f"{staging}/{hashlib.sha256(dest.encode()).hexdigest()[:16]}",
        )
    yield StringCommand("chown", f"{user}:{group}", q)
    yield StringCommand("chmod", "600", q)
