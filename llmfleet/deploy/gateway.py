"""The LiteLLM gateway: runtime, rendered files, a 0600 ``.env``, apply with readiness wait and rollback.

Runtimes: ``compose`` (a Docker-API engine, the inventory's ``gateway.engine.source``: Docker
Engine + compose plugin from Docker's apt repository, or Debian's podman serving the Docker API
driven by the pinned Docker Compose v2 binary; the pinned image, pulled, or loaded from pinned
archives on air-gapped hosts) and
``systemd-venv`` (the pinned ``litellm[proxy]`` in a venv under the rendered ``litellm.service``);
both run the same rendered ``config.yaml``.

A change never leaves a half-configured gateway: the running configuration is snapshotted, the
new files are put in place, the gateway restarted and waited for; when it does not become ready
in time the snapshot is restored and the deploy fails (:mod:`llmfleet.deploy.operations.gateway`).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from pyinfra import host
from pyinfra.api import deploy
from pyinfra.operations import files, systemd
from pyinfra.operations.util import any_changed

from llmfleet.deploy import common
from llmfleet.deploy.context import artifact_url, files_for, inventory, this_host
from llmfleet.deploy.operations import compose, dotenv, images, packages, venv, wait
from llmfleet.deploy.operations import gateway as gateway_ops
from llmfleet.deploy.operations.util import sha256_text
from llmfleet.inventory.model import Host, Inventory
from llmfleet.inventory.secrets import SecretRef, check_master_key_value
from llmfleet.layout import COMPOSE_PROJECT, COMPOSE_ROOT, GATEWAY_SNAPSHOT, LITELLM_SERVICE, LITELLM_VENV, REQUEST_LOG_DIR
from llmfleet.render import RenderedFile, gateway_secrets
from llmfleet.versions import litellm_venv_requirements

#: In air-gapped mode: ``<mirror>/wheels/`` holds LiteLLM's wheel closure and this file pins every
#: wheel by hash (``name==version --hash=sha256:...``).
WHEELHOUSE_REQUIREMENTS = "requirements-litellm.txt"
#: Seconds a restarted gateway has to answer /health/readiness before the rollback (host data
#: ``llmfleet_ready_timeout`` overrides it).
READY_TIMEOUT = 180
#: Debian's podman with the Docker API: ``podman-docker`` links ``/run/docker.sock`` to podman's
#: socket and provides the ``docker`` CLI (``docker load``, ``docker image inspect``); crun, netavark
#: and aardvark-dns give containers their network and service-name DNS; netavark writes a bridge
#: network's rules with iptables (without it a bridged container fails to start: "netavark: No such
#: file or directory", seen on a lab host).
PODMAN_PACKAGES = ("podman", "podman-docker", "crun", "netavark", "aardvark-dns", "catatonit", "iptables")

ENV_HEADER = (
    "Written by llmfleet deploy from the operator's environment — do not edit, do not copy.\n"
    "Secret values: mode 0600, root. The names are documented in .env.example."
)


def wheelhouse_args(mirror: str | None) -> list[str] | None:
    """pip arguments for an air-gapped install from ``<mirror>/wheels/`` (hash-pinned requirements file)."""
    if not mirror:
        return None
    base = mirror.rstrip("/") + "/wheels/"
    args = ["--no-index", "--require-hashes", "--find-links", base, "-r", base + WHEELHOUSE_REQUIREMENTS]
    parts = urlsplit(base)
    if parts.scheme == "http" and parts.hostname:
        # pip ignores plain-http links unless the host is trusted; the hashes still bind every wheel.
        args[:0] = ["--trusted-host", parts.hostname]
    return args


def secret_refs(inv: Inventory) -> dict[str, SecretRef]:
    """The gateway's secret variables and the reference each is read from (first one, when several)."""
    return {v.name: SecretRef.parse(v.sources[0]) for v in gateway_secrets(inv)}


def env_content(inv: Inventory) -> dotenv.SecretContent:
    """The wanted ``.env`` (resolved from the operator's environment only when used)."""
    checks = {inv.gateway.master_key.env_name: check_master_key_value}
    return dotenv.SecretContent(secret_refs(inv), header=ENV_HEADER, checks=checks)


def gateway_files(host_name: str) -> list[RenderedFile]:
    """The rendered files of the gateway on ``host_name`` (config, .env.example, compose file or unit)."""
    return [
        f
        for f in files_for(host_name)
        if f.relpath.startswith(f"{host_name}/litellm/") or f.relpath == f"{host_name}/systemd/{LITELLM_SERVICE}"
    ]


def ready_url(inv: Inventory) -> str:
    """The readiness endpoint as seen from the gateway host itself."""
    gw = inv.gateway
    return f"http://{gw.local_address}:{gw.port}/health/readiness"


def compose_command(inv: Inventory) -> list[str]:
    """The Docker Compose v2 command on the gateway: the pinned standalone binary, else Docker's compose plugin."""
    engine = inv.gateway.engine
    if engine.compose_binary is not None:
        return [f"{COMPOSE_ROOT.format(version=engine.compose_version)}/docker-compose"]
    return ["docker", "compose"]


@deploy("Install the container engine (podman's Docker API from Debian)")
def podman_engine() -> None:
    """Debian's podman with its Docker-API socket (``/run/docker.sock``) and the ``docker`` CLI wrapper."""
    packages.apt_installed(name="Install podman, its Docker API and networking (Debian)", packages=list(PODMAN_PACKAGES))
    systemd.service(name="Keep podman's Docker API socket running and enabled", service="podman.socket", running=True, enabled=True)


@deploy("Install the gateway runtime")
def runtime(inv: Inventory, me: Host) -> None:
    """Docker Engine + compose (the inventory's engine source) and its images, or the pinned LiteLLM venv."""
    gw = inv.gateway
    if gw.runtime == "compose":
        engine = gw.engine
        if engine.source == "debian-podman":
            podman_engine()
        else:
            common.docker_engine(me.os)
        if engine.compose_binary is not None:
            common.install_pinned(
                inv,
                "Docker Compose",
                engine.compose_version,
                engine.compose_binary,
                COMPOSE_ROOT.format(version=engine.compose_version),
                "docker-compose",
            )
        for archive in engine.images:
            images.loaded(
                name=f"Load the image {archive.ref} (archive sha256 {archive.sha256[:12]})", archive=archive, url=artifact_url(inv, archive)
            )
    else:
        packages.apt_installed(name="Install python3-venv for the LiteLLM venv", packages=["python3-venv"])
        venv.installed(
            name=f"Install LiteLLM {gw.litellm_version} into {LITELLM_VENV}",
            path=LITELLM_VENV,
            requirements=litellm_venv_requirements(gw.litellm_version, gw.logging.callbacks),
            install_args=wheelhouse_args(inv.artifacts.mirror),
        )


@deploy("Configure and run the LiteLLM gateway")
def configure(inv: Inventory, me: Host) -> None:
    """Snapshot, put the files and the .env, apply-or-rollback on change, keep running, verify ready."""
    gw = inv.gateway
    rendered = gateway_files(me.name)
    env = env_content(inv)
    env.preflight()
    env_path = f"{gw.install_dir}/.env"
    snapshot_dir = f"{gw.install_dir}/{GATEWAY_SNAPSHOT}"
    timeout = int(host.data.get("llmfleet_ready_timeout") or READY_TIMEOUT)
    files.directory(name=f"Create the gateway directory {gw.install_dir}", path=gw.install_dir, user="root", group="root", mode="755")
    if gw.logging.request_log and gw.runtime == "compose":  # systemd-venv: the unit's LogsDirectory=
        files.directory(
            name=f"Create the per-request record directory {REQUEST_LOG_DIR}", path=REQUEST_LOG_DIR, user="root", group="root", mode="750"
        )
    managed: dict[str, str | dotenv.SecretContent] = {f.dest: sha256_text(f.content) for f in rendered}
    managed[env_path] = env
    gateway_ops.snapshot(name="Keep the running gateway configuration for a rollback", files=managed, snapshot_dir=snapshot_dir)
    uploads = [common.put_rendered(f) for f in rendered]
    uploads.append(dotenv.secret_file(name=f"Write {env_path} (mode 0600) from the operator's environment", dest=env_path, content=env))
    compose_file = f"{gw.install_dir}/docker-compose.yml"
    target: dict = {"unit": LITELLM_SERVICE}
    if gw.runtime == "compose":
        target = {"compose_project": COMPOSE_PROJECT, "compose_file": compose_file, "compose": compose_command(inv)}
    gateway_ops.apply_or_rollback(
        name=f"Apply the new gateway configuration, roll back if not ready in {timeout} s",
        snapshot_dir=snapshot_dir,
        ready_url=ready_url(inv),
        timeout=timeout,
        _if=any_changed(*uploads),
        **target,
    )
    if gw.runtime == "compose":
        compose.up(
            name="Keep the gateway containers running",
            project=COMPOSE_PROJECT,
            compose_file=compose_file,
            services=["litellm"],
            compose=compose_command(inv),
        )
    else:
        systemd.service(name="Keep the LiteLLM gateway running and enabled", service=LITELLM_SERVICE, running=True, enabled=True)
    wait.http_ready(name="Verify the gateway is ready", url=ready_url(inv), what="LiteLLM gateway", timeout=timeout)


def apply() -> None:
    """Everything a ``gateway`` host runs."""
    inv = inventory()
    me = this_host()
    runtime(inv, me)
    configure(inv, me)
