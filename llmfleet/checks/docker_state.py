"""Gateway container state through the Docker SDK (the engine API over SSH), not parsed CLI text.

``container_states(inv, host)`` connects to the Docker engine of a ``compose``-runtime gateway
host (``ssh://user@address:port``; the SDK runs ``docker system dial-stdio`` there) and reports,
for every service of the gateway's compose project (``litellm``, plus bundled ``postgres`` /
``redis``): whether its container runs, its health, its restart count, and whether the image it
runs is the one the inventory pins. A service with no container is reported as ``missing``.
``llmfleet health`` shows these; a host on the ``systemd-venv`` runtime has no containers.

SSH settings come from ``~/.ssh/config`` (the SDK's paramiko transport reads it); tests and other
transports pass ``client`` (any object with the docker SDK's ``containers``/``images`` API) or
``base_url`` (any Docker SDK URL: ``ssh://…``, ``unix:///var/run/docker.sock``, ``tcp://…``).

``llmfleet health --docker [HOST=]URL`` turns these states into check results
(:func:`docker_targets` reads the option, :func:`container_checks` runs them): per gateway host
``container_engine`` (the engine answered within ``--timeout``; an engine that does not is a
``fail`` whose message starts with ``error:``, never a pass), and per container
``container_running``, ``container_healthy``, ``container_image_pinned`` and
``container_restarts`` (fails above :data:`MAX_RESTARTS`). Without ``--docker``, or on the
``systemd-venv`` runtime, each gateway host gets one ``container_engine`` result with status
``skip`` saying why: nothing Docker-related runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from llmfleet.checks.results import CheckName, CheckResult, Status
from llmfleet.checks.targets import CannotRun
from llmfleet.inventory.model import Host, Inventory
from llmfleet.layout import COMPOSE_PROJECT

__all__ = [
    "MAX_RESTARTS",
    "ContainerState",
    "DockerStateError",
    "container_checks",
    "container_states",
    "docker_targets",
    "docker_url",
    "pinned_images",
]

PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"

Health = Literal["healthy", "unhealthy", "starting", "none"]

#: ``container_restarts`` fails when the engine restarted a container more often than this.
MAX_RESTARTS = 3

T = TypeVar("T")


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


def container_states(
    inv: Inventory, host: Host | str, client: Any = None, timeout: float = 20, base_url: str | None = None
) -> list[ContainerState]:
    """The state of every gateway container on ``host`` (a ``compose`` gateway; else ``[]``).

    The engine is ``client``, else the one at ``base_url`` (default: :func:`docker_url` of the host).

    Raises:
        DockerStateError: the engine cannot be reached or answered with an error.
    """
    h = inv.host_by_name[host] if isinstance(host, str) else host
    if "gateway" not in h.roles or inv.gateway.runtime != "compose":
        return []
    own_client = client is None
    if own_client:
        import docker

        url = base_url or docker_url(h)
        try:
            client = docker.DockerClient(base_url=url, timeout=timeout)
        except Exception as exc:
            raise DockerStateError(f"cannot reach the Docker engine of {h.name} at {url}: {exc}") from None
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


# ----------------------------------------------------------------------------- llmfleet health --docker
def docker_targets(inv: Inventory, specs: list[str] | None) -> dict[str, str]:
    """The ``--docker`` values (``URL`` or ``HOST=URL``) as {gateway host name: Docker SDK base URL}.

    A bare URL names the engine of the only gateway host. Nothing is contacted here.

    Raises:
        CannotRun: a value is not a URL, names no gateway host, names one twice, or is ambiguous.
    """
    gateways = {h.name: h for h in inv.hosts_with("gateway")}
    targets: dict[str, str] = {}
    for spec in specs or []:
        name, sep, url = spec.partition("=")
        if not sep or "://" in name:
            name, url = "", spec
        if "://" not in url:
            raise CannotRun(f"--docker {spec!r}: not a Docker URL (ssh://user@host, unix:///var/run/docker.sock, tcp://host:port)")
        if not name:
            if len(gateways) != 1:
                raise CannotRun(f"--docker {url}: the inventory has {len(gateways)} gateway hosts ({', '.join(gateways)}); use HOST=URL")
            name = next(iter(gateways))
        if name not in gateways:
            raise CannotRun(f"--docker {spec!r}: {name} is not a gateway host of the inventory ({', '.join(gateways) or 'none'})")
        if name in targets:
            raise CannotRun(f"--docker: {name} is given twice")
        targets[name] = url
    return targets


def _result(subject: str, check: CheckName, status: Status, message: str, **kw: Any) -> CheckResult:
    return CheckResult(kind="container", subject=subject, check=check, status=status, message=f"{subject} {check}: {message}", **kw)


def _state_results(state: ContainerState, url: str) -> list[CheckResult]:
    """The four container checks of one compose service."""
    subject = f"{state.host}/{state.container or state.service}"
    facts: dict[str, str | int | float | bool | None] = {
        "service": state.service,
        "container": state.container,
        "status": state.status,
        "health": state.health,
        "restart_count": state.restart_count,
        "image": state.image,
        "image_id": state.image_id,
        "pinned": state.pinned,
        "pinned_id": state.pinned_id,
        "docker_url": url,
    }

    def result(check: CheckName, status: Status, message: str) -> CheckResult:
        return _result(subject, check, status, message, facts=facts)

    svc = state.service
    if state.status == "missing":
        return [result("container_running", "fail", state.problems[0])] + [
            result(check, "skip", f"{svc} has no container")
            for check in ("container_healthy", "container_image_pinned", "container_restarts")
        ]
    out = [
        result("container_running", "pass", f"{svc} is running")
        if state.status == "running"
        else result("container_running", "fail", f"{svc} is {state.status}, not running")
    ]
    health: dict[str, tuple[Status, str]] = {
        "healthy": ("pass", f"{svc} is healthy"),
        "unhealthy": ("fail", f"{svc} is unhealthy (its healthcheck fails)"),
        "starting": ("warn", f"{svc}'s healthcheck has not passed yet (starting)"),
        "none": ("skip", f"{svc} has no healthcheck"),
    }
    out.append(result("container_healthy", *health[state.health]))
    if state.image_matches is None:
        out.append(result("container_image_pinned", "skip", f"the inventory pins no image for {svc}"))
    elif state.image_matches:
        out.append(result("container_image_pinned", "pass", f"{svc} runs the pinned {state.pinned} ({state.image_id})"))
    else:
        why = next(p for p in state.problems if p.startswith(f"{svc} runs "))
        out.append(result("container_image_pinned", "fail", why))
    if state.restart_count > MAX_RESTARTS:
        out.append(result("container_restarts", "fail", f"{svc} was restarted {state.restart_count} times (more than {MAX_RESTARTS})"))
    else:
        out.append(result("container_restarts", "pass", f"{svc} was restarted {state.restart_count} times (at most {MAX_RESTARTS})"))
    return out


async def _in_thread(fn: Callable[[], T], timeout: float) -> T:
    """``fn()`` in a daemon thread, awaited for at most ``timeout`` s.

    Raises:
        TimeoutError: it did not return in time (the thread is left to finish on its own, never joined).
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(result: Any, error: BaseException | None) -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)

    def work() -> None:
        result, error = None, None
        try:
            result = fn()
        except BaseException as exc:  # handed to the awaiting coroutine
            error = exc
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
            loop.call_soon_threadsafe(settle, result, error)

    threading.Thread(target=work, name="llmfleet-docker-state", daemon=True).start()
    return await asyncio.wait_for(future, timeout)


async def _host_checks(inv: Inventory, host: Host, url: str, timeout: float) -> list[CheckResult]:
    t0 = time.perf_counter()

    def engine(status: Status, message: str) -> CheckResult:
        ms = (time.perf_counter() - t0) * 1000
        return _result(host.name, "container_engine", status, message, duration_ms=ms, facts={"docker_url": url})

    try:
        states = await _in_thread(lambda: container_states(inv, host, timeout=timeout, base_url=url), timeout)
    except TimeoutError:
        return [engine("fail", f"error: the Docker engine at {url} did not answer within {timeout:g} s")]
    except DockerStateError as exc:
        return [engine("fail", f"error: {exc}")]
    except Exception as exc:  # a checker bug: reported, never a pass
        return [engine("fail", f"error: checker error reading {url}: {type(exc).__name__}: {exc}")]
    first = engine("pass", f"the Docker engine at {url} answered: {len(states)} service(s) of compose project {COMPOSE_PROJECT}")
    return [first] + [r for state in states for r in _state_results(state, url)]


async def container_checks(
    inv: Inventory,
    targets: dict[str, str] | None,
    timeout: float,
    on_result: Callable[[CheckResult], None] | None = None,
) -> list[CheckResult]:
    """``health``'s container results for every gateway host; never raises for engine faults.

    ``targets`` comes from :func:`docker_targets` (``None``: ``--docker`` was not given). Each
    engine is read in a thread of its own, bounded by ``timeout`` seconds; all at once.
    """
    hosts = inv.hosts_with("gateway")
    runtime = inv.gateway.runtime
    if runtime != "compose":
        ignored = "; --docker is not used" if targets else ""
        results = [
            _result(h.name, "container_engine", "skip", f"no container checks: the gateway runtime is {runtime}{ignored}") for h in hosts
        ]
    else:
        targets = targets or {}
        pending = {h.name: _host_checks(inv, h, targets[h.name], timeout) for h in hosts if h.name in targets}
        done = dict(zip(pending, await asyncio.gather(*pending.values()), strict=True))
        results = []
        for h in hosts:
            if h.name in done:
                results += done[h.name]
            else:
                flag = f"--docker {docker_url(h)}" if len(hosts) == 1 else f"--docker {h.name}={docker_url(h)}"
                results.append(_result(h.name, "container_engine", "skip", f"no container checks: not asked (pass {flag})"))
    if on_result:
        for r in results:
            on_result(r)
    return results
