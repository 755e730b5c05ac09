"""Gateway container state through the Docker SDK (the engine API over SSH), not parsed CLI text.

``container_states(inv, host)`` connects to the Docker engine of a ``compose``-runtime gateway
host (``ssh://user@address:port``; the SDK runs ``docker system dial-stdio`` there) and reports,
for every service of the gateway's compose project (``litellm``, plus bundled ``postgres`` /
``redis``): whether its container runs, its health, its restart count, and whether the image it
runs is the one the inventory pins. A service with no container is reported as ``missing``.
``llmfleet health`` shows these; a host on the ``systemd-venv`` runtime has no containers.

SSH settings come from ``~/.ssh/config`` (the SDK's paramiko transport reads it); tests and other
transports pass ``client`` (any object with the docker SDK's ``containers``/``images`` API).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from llmfleet.inventory.model import Host, Inventory
from llmfleet.render.context import COMPOSE_PROJECT

__all__ = ["ContainerState", "DockerStateError", "container_states", "docker_url", "pinned_images"]

PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"

Health = Literal["healthy", "unhealthy", "starting", "none"]


class DockerStateError(RuntimeError):
    """The Docker engine of the host could not be asked (the message says why)."""


class ContainerState(BaseModel):
    """One compose service of the gateway, as the host's Docker engine reports it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = Field(description="Inventory host name.")
    service: str = Field(description="Compose service (litellm, postgres, redis).")
    container: str | None = Field(description="Container name; None when the service has no container.")
    status: str = Field(description="Engine state: running, restarting, exited, created, ... or missing.")
    health: Health = Field(description="Healthcheck status; `none` when the container has no healthcheck.")
    restart_count: int = Field(ge=0, description="How often the engine restarted the container.")
    image: str | None = Field(description="The image reference the container was created from.")
    image_id: str | None = Field(description="ID of the image the container runs (sha256:...).")
    pinned: str | None = Field(description="The image reference the inventory pins for this service.")
    pinned_id: str | None = Field(description="ID of the pinned reference on this engine (None: not present).")
    image_matches: bool | None = Field(description="The running image is the pinned one; None when nothing is pinned.")
    problems: list[str] = Field(default_factory=list, description="Why this service is not in order (empty: it is).")

    @property
    def ok(self) -> bool:
        """Running, not unhealthy, on the pinned image."""
        return not self.problems


def docker_url(host: Host) -> str:
    """The Docker SDK URL of ``host``'s engine over SSH."""
    port = f":{host.ssh.port}" if host.ssh.port != 22 else ""
    return f"ssh://{host.ssh.user}@{host.address}{port}"


def pinned_images(inv: Inventory) -> dict[str, str]:
    """The image reference the inventory pins for each compose service of the gateway."""
    gw = inv.gateway
    pins = {"litellm": f"{gw.image}@{gw.image_digest}" if gw.image_digest else gw.image_ref}
    if gw.database is not None and gw.database.bundled is not None:
        pins["postgres"] = gw.database.bundled.image
    if gw.redis is not None and gw.redis.bundled:
        pins["redis"] = gw.redis.image
    return pins


def _image_id(client: Any, ref: str) -> str | None:
    try:
        return str(client.images.get(ref).id)
    except Exception:  # docker.errors.ImageNotFound and friends: the pinned image is not there
        return None


def _state(host_name: str, service: str, container: Any, pinned: str | None, pinned_id: str | None) -> ContainerState:
    attrs = container.attrs or {}
    state = attrs.get("State") or {}
    status = str(state.get("Status") or getattr(container, "status", "unknown"))
    health_raw = (state.get("Health") or {}).get("Status")
    health: Health = health_raw if health_raw in ("healthy", "unhealthy", "starting") else "none"
    restarts = int(attrs.get("RestartCount") or 0)
    image = (attrs.get("Config") or {}).get("Image")
    image_id = attrs.get("Image")
    matches = None if pinned is None else (pinned_id is not None and pinned_id == image_id)
    problems = []
    if status != "running":
        problems.append(f"{service} is {status}, not running")
    if health == "unhealthy":
        problems.append(f"{service} is unhealthy")
    if pinned is not None and not matches:
        where = f"image {image_id}" if pinned_id is None else f"{image_id}, not {pinned_id}"
        problems.append(f"{service} runs {image} ({where}); the inventory pins {pinned}")
    return ContainerState(
        host=host_name,
        service=service,
        container=str(getattr(container, "name", "") or "") or None,
        status=status,
        health=health,
        restart_count=restarts,
        image=image,
        image_id=image_id,
        pinned=pinned,
        pinned_id=pinned_id,
        image_matches=matches,
        problems=problems,
    )


def container_states(inv: Inventory, host: Host | str, client: Any = None, timeout: int = 20) -> list[ContainerState]:
    """The state of every gateway container on ``host`` (a ``compose`` gateway; else ``[]``).

    Raises:
        DockerStateError: the engine cannot be reached or answered with an error.
    """
    h = inv.host_by_name[host] if isinstance(host, str) else host
    if "gateway" not in h.roles or inv.gateway.runtime != "compose":
        return []
    own_client = client is None
    if own_client:
        import docker

        try:
            client = docker.DockerClient(base_url=docker_url(h), timeout=timeout)
        except Exception as exc:
            raise DockerStateError(f"cannot reach the Docker engine of {h.name} at {docker_url(h)}: {exc}") from None
    try:
        containers = client.containers.list(all=True, filters={"label": f"{PROJECT_LABEL}={COMPOSE_PROJECT}"})
        pins = pinned_images(inv)
        pinned_ids = {service: _image_id(client, ref) for service, ref in pins.items()}
        states = []
        seen = set()
        for c in sorted(containers, key=lambda c: (c.labels.get(SERVICE_LABEL, ""), c.name)):
            service = c.labels.get(SERVICE_LABEL, c.name)
            seen.add(service)
            states.append(_state(h.name, service, c, pins.get(service), pinned_ids.get(service)))
        for service in sorted(set(pins) - seen):
            states.append(
                ContainerState(
                    host=h.name,
                    service=service,
                    container=None,
                    status="missing",
                    health="none",
                    restart_count=0,
                    image=None,
                    image_id=None,
                    pinned=pins[service],
                    pinned_id=pinned_ids[service],
                    image_matches=None,
                    problems=[f"{service} has no container in compose project {COMPOSE_PROJECT}"],
                )
            )
        return states
    except DockerStateError:
        raise
    except Exception as exc:
        raise DockerStateError(f"the Docker engine of {h.name} answered with an error: {exc}") from None
    finally:
        if own_client:
            client.close()
