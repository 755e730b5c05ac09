"""What every host gets, and building blocks the role deploys share.

* :func:`base` — the remote helpers and llmfleet's directories;
* :func:`put_text` — a file llmfleet writes (a unit, rules), owned by root;
* :func:`put_rendered` — one rendered file where the render says, with its mode;
* :func:`install_pinned` — a pinned binary or release archive (mirror or its URL, SHA-256
  verified), or a refusal when the inventory pins none;
* :func:`unit_lifecycle` — daemon-reload / restart on change (``_if=any_changed``) / running + enabled;
* :func:`apt_repository` — a third-party apt repository whose signing key is fingerprint-checked;
* :func:`docker_engine` — Docker Engine and the compose plugin from Docker's repository.
"""

from __future__ import annotations

from io import StringIO

from pyinfra import host
from pyinfra.api import deploy
from pyinfra.api.operation import OperationMeta
from pyinfra.facts.deb import DebArch
from pyinfra.facts.server import LinuxDistribution
from pyinfra.operations import files, systemd
from pyinfra.operations.util import any_changed

from llmfleet.deploy.context import artifact_url
from llmfleet.deploy.operations import aptrepo, artifacts, guard, hosts, packages
from llmfleet.deploy.remote import HELPER_NAMES, helper_source
from llmfleet.inventory.model import Artifact, Inventory
from llmfleet.layout import ARTIFACT_CACHE, HELPERS_DIR, LLMFLEET_ETC, STATE_DIR
from llmfleet.render import RenderedFile

#: Docker's release signing key (https://docs.docker.com/engine/install/debian/).
DOCKER_KEY_FINGERPRINT = "9DC858229FC7DD38854AE2D88D81803C0EBFCD88"
DOCKER_PACKAGES = ("docker-ce", "docker-ce-cli", "containerd.io", "docker-compose-plugin")


@deploy("Prepare the host for llmfleet")
def base() -> None:
    """Install what the helpers need (python3, CA certificates), llmfleet's directories and the helpers."""
    packages.apt_installed(name="Install python3 and CA certificates for the deploy helpers", packages=["python3", "ca-certificates"])
    hosts.localhost_resolves(name="Make localhost resolve")
    for path, mode in ((HELPERS_DIR, "755"), (STATE_DIR, "755"), (ARTIFACT_CACHE, "755"), (LLMFLEET_ETC, "755")):
        files.directory(name=f"Create the directory {path}", path=path, user="root", group="root", mode=mode)
    for name in HELPER_NAMES:
        files.put(
            name=f"Upload the deploy helper {name}",
            src=str(helper_source(name)),
            dest=f"{HELPERS_DIR}/{name}",
            user="root",
            group="root",
            mode="755",
        )


def put_text(name: str, text: str, dest: str, mode: str = "644") -> OperationMeta:
    """Upload ``text`` to ``dest``, owned by root with ``mode`` (no-op when identical); ``name`` is the operation's."""
    return files.put(name=name, src=StringIO(text), dest=dest, user="root", group="root", mode=mode)


def put_rendered(f: RenderedFile, what: str | None = None) -> OperationMeta:
    """Upload one rendered file to its ``dest`` with its ``mode`` (no-op when identical)."""
    return put_text(f"Put the rendered {what or f.relpath.split('/', 1)[1]} at {f.dest}", f.content, f.dest, mode=f"{f.mode:o}")


def install_pinned(
    inv: Inventory,
    what: str,
    version: str,
    artifact: Artifact | None,
    dest_dir: str,
    binary: str,
    layout: str = "flat",
    *,
    unpinned: str = "",
    owner: str = "",
) -> OperationMeta | None:
    """Install ``what`` ``version`` from its pinned ``artifact`` into the versioned ``dest_dir``.

    The artifact is downloaded from the mirror (air-gapped) or its URL, verified against its SHA-256
    and unpacked with ``layout`` (:func:`llmfleet.deploy.operations.artifacts.install`: ``tree`` keeps
    ``bin/<binary>``, ``flat`` puts ``<binary>`` at the top); a no-op when ``dest_dir`` holds it
    already. Without an artifact nothing is downloaded: the deploy stops, saying ``unpinned`` (where
    the pin is missing), unless a previous deploy left the binary there. ``owner`` (e.g. the backend)
    is named in the operation.
    """
    if artifact is None:
        guard.file_present(
            name=f"Refuse to install an unpinned {what}" + (f" for {owner}" if owner else ""),
            path=f"{dest_dir}/bin/{binary}" if layout == "tree" else f"{dest_dir}/{binary}",
            message=f"{unpinned}: deploy refuses to install an unpinned {what}",
        )
        return None
    return artifacts.install(
        name=f"Install {what} {version} (sha256 {artifact.sha256[:12]})",
        artifact=artifact,
        url=artifact_url(inv, artifact),
        dest_dir=dest_dir,
        binary=binary,
        layout=layout,
    )


def unit_lifecycle(unit: str, what: str, unit_files: list[OperationMeta], restart_on: list[OperationMeta]) -> None:
    """Reload systemd when ``unit_files`` changed, restart ``unit`` when ``restart_on`` changed, keep it running and enabled."""
    if unit_files:
        systemd.daemon_reload(name=f"Reload systemd after the {what} unit changed", _if=any_changed(*unit_files))
    if restart_on:
        systemd.service(
            name=f"Restart {what} because its files changed",
            service=unit,
            running=None,
            restarted=True,
            _if=any_changed(*restart_on),
        )
    systemd.service(name=f"Keep {what} running and enabled", service=unit, running=True, enabled=True)


def apt_repository(name: str, key_url: str, key_file: str, fingerprint: str, url: str, suite: str, components: str) -> OperationMeta:
    """A third-party apt repository: its fingerprint-checked key and its ``.list`` file."""
    packages.apt_installed(name="Install gnupg to check apt signing keys", packages=["gnupg", "ca-certificates"])
    aptrepo.signing_key(
        name=f"Install the {name} signing key (fingerprint {fingerprint[-16:]})", url=key_url, dest=key_file, fingerprint=fingerprint
    )
    arch = host.get_fact(DebArch) or "amd64"
    return put_text(f"Add the {name} apt repository", aptrepo.source_line(url, suite, components, key_file, arch), aptrepo.list_path(name))


def codename() -> str:
    """The host's release codename (``bookworm``, ``noble``)."""
    meta = (host.get_fact(LinuxDistribution) or {}).get("release_meta") or {}
    return str(meta.get("VERSION_CODENAME") or meta.get("UBUNTU_CODENAME") or "stable")


@deploy("Install Docker Engine and the compose plugin")
def docker_engine(os_family: str) -> None:
    """Docker Engine + compose plugin from download.docker.com (``os_family``: debian or ubuntu)."""
    apt_repository(
        "docker",
        f"https://download.docker.com/linux/{os_family}/gpg",
        "/etc/apt/keyrings/docker.asc",
        DOCKER_KEY_FINGERPRINT,
        f"https://download.docker.com/linux/{os_family}",
        codename(),
        "stable",
    )
    packages.apt_installed(name="Install Docker Engine and the compose plugin", packages=list(DOCKER_PACKAGES))
    systemd.service(name="Keep Docker running and enabled", service="docker.service", running=True, enabled=True)
