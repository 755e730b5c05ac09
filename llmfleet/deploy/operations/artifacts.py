"""Pinned artifacts: downloaded (from their URL or the air-gapped mirror) and SHA-256 verified.

Both operations run :mod:`llmfleet.deploy.remote.artifact` on the host, which verifies the checksum
*before* anything is moved into place: a mismatch aborts with the expected and actual hashes and
leaves the previous file or directory as it was.
"""

from __future__ import annotations

from pyinfra import host
from pyinfra.api import QuoteString, StringCommand, operation
from pyinfra.facts.files import File, FileContents

from llmfleet.deploy.facts.files import VerifiedSha256
from llmfleet.deploy.operations.util import first_line
from llmfleet.inventory.model import Artifact
from llmfleet.layout import ARTIFACT_CACHE, ARTIFACT_HELPER

#: Marker inside an installed artifact directory: the archive's SHA-256.
INSTALLED_MARKER = ".llmfleet-artifact"


@operation()
def fetch(artifact: Artifact, dest: str, url: str, mode: int = 0o644):
    """Put ``artifact`` (downloaded from ``url``: its own URL or the mirror's) at ``dest``.

    No-op when ``dest`` is the file verified earlier with the pinned SHA-256 and has ``mode``.
    """
    if host.get_fact(VerifiedSha256, path=dest) == artifact.sha256:
        info = host.get_fact(File, path=dest) or {}
        if info.get("mode") == int(f"{mode:o}"):
            host.noop(f"{dest} is verified ({artifact.sha256[:12]})")
            return
        yield StringCommand("chmod", f"{mode:o}", QuoteString(dest))
        return
    yield StringCommand("python3", ARTIFACT_HELPER, "fetch", QuoteString(url), artifact.sha256, QuoteString(dest), "--mode", f"{mode:04o}")


def _install_command(subcommand: str, *source: object, dest_dir: str, binary: str, layout: str) -> StringCommand:
    """The remote helper's ``install``/``install-listed`` command line (download cache shared by both)."""
    return StringCommand(
        "python3",
        ARTIFACT_HELPER,
        subcommand,
        *source,
        QuoteString(dest_dir),
        "--binary",
        QuoteString(binary),
        "--layout",
        layout,
        "--cache",
        ARTIFACT_CACHE,
    )


@operation()
def install(artifact: Artifact, url: str, dest_dir: str, binary: str, layout: str = "tree"):
    """Install a pinned binary or release archive into the versioned ``dest_dir``.

    ``layout="tree"`` keeps the archive's layout and guarantees ``dest_dir/bin/<binary>``;
    ``"flat"`` makes the directory holding ``binary`` the root (``dest_dir/<binary>``).
    No-op when ``dest_dir`` already holds this artifact (its marker has the pinned SHA-256).
    """
    if layout not in ("tree", "flat"):
        raise ValueError(f"layout must be tree or flat, not {layout!r}")
    marker = first_line(host.get_fact(FileContents, path=f"{dest_dir}/{INSTALLED_MARKER}"))
    if marker == artifact.sha256:
        host.noop(f"{dest_dir} holds {artifact.filename} ({artifact.sha256[:12]})")
        return
    yield _install_command("install", QuoteString(url), artifact.sha256, dest_dir=dest_dir, binary=binary, layout=layout)


@operation()
def install_listed(sums_url: str, suffix: str, dest_dir: str, binary: str, layout: str = "tree"):
    """Install the archive the mirror's ``SHA256SUMS`` lists under a name ending with ``suffix``.

    For an artifact the inventory cannot pin (yet): verified against the mirror's published
    checksum instead of an inventory pin. No-op when ``dest_dir`` (versioned) already holds an
    installed artifact.
    """
    if layout not in ("tree", "flat"):
        raise ValueError(f"layout must be tree or flat, not {layout!r}")
    marker = first_line(host.get_fact(FileContents, path=f"{dest_dir}/{INSTALLED_MARKER}"))
    if marker:
        host.noop(f"{dest_dir} holds an installed artifact ({marker[:12]})")
        return
    yield _install_command("install-listed", QuoteString(sums_url), QuoteString(suffix), dest_dir=dest_dir, binary=binary, layout=layout)
