"""LAB INFRASTRUCTURE: the operator's external Redis, for a fleet whose gateways share one (``gateway.redis.host``).

llmfleet does not deploy an external Redis: the inventory names where the operator runs it (with
several gateway hosts a bundled Redis would be per host; the rules refuse it). The lab has no such
machine, so when a lab overlay puts the external Redis at a fleet host's **mesh IP**, fleetlab
installs Debian's ``redis-server`` on that host before the deploy, as the operator would have:

* from the lab's apt repository (``redis-server`` is added to the mirror's packages: :data:`APT_PACKAGES`);
* bound to the mesh IP only (never ``0.0.0.0``), ``protected-mode yes``, ``requirepass`` = the lab's
  value of the inventory's password variable (sent over SSH's stdin, written 0640 root:redis, never
  on a command line or in a log);
* the mesh IP appears only when the deploy joins the host to the mesh, so the host's network
  namespace gets ``net.ipv4.ip_nonlocal_bind=1`` (what an operator sets for a service bound to an
  address that comes up later) and Redis listens from the start.

The gateways then reach it through the real mesh, allowed by the ACL llmfleet derives for an
external Redis at a mesh IP (``tag:gateway`` → ``<host>:<port>``).
"""

from __future__ import annotations

import shlex
import subprocess
from dataclasses import dataclass

from fleetlab import netns
from fleetlab.hosts import LabError, LabFleet
from llmfleet.inventory.model import Inventory

__all__ = ["APT_PACKAGES", "LabRedis", "lab_redis", "provide_redis"]

APT_PACKAGES = ("redis-server",)
CONF = "/etc/redis/llmfleet-lab.conf"


@dataclass(frozen=True)
class LabRedis:
    """Where the lab runs the fleet's external Redis."""

    host: str
    ip: str
    port: int
    password_env: str


def lab_redis(inv: Inventory) -> LabRedis | None:
    """The lab Redis ``inv`` needs: its external Redis is at a fleet host's mesh IP (else None)."""
    redis = inv.gateway.redis
    if redis is None or redis.host is None:
        return None
    owner = next((h for h in inv.hosts if h.mesh is not None and str(h.mesh.ip) == redis.host), None)
    if owner is None:
        return None
    return LabRedis(owner.name, redis.host, redis.port, redis.password.env_name)


def provide_redis(fleet: LabFleet, inv: Inventory, lab_secrets: dict[str, str], *, log=print) -> LabRedis | None:
    """Install and start the lab Redis of ``inv`` on its host (idempotent); None when the fleet needs none."""
    want = lab_redis(inv)
    if want is None:
        return None
    if want.password_env not in lab_secrets:
        raise LabError(f"no lab value for the Redis password {want.password_env}")
    sysctl = subprocess.run(
        ["ip", "netns", "exec", f"{netns.NETNS_PREFIX}{want.host}", "sysctl", "-qw", "net.ipv4.ip_nonlocal_bind=1"],
        capture_output=True,
        text=True,
        check=False,
    )
    if sysctl.returncode != 0:
        raise LabError(f"lab Redis on {want.host}: sysctl ip_nonlocal_bind failed: {sysctl.stderr.strip()}")
    install = fleet.ssh(
        want.host,
        "set -e; export DEBIAN_FRONTEND=noninteractive; apt-get update -qq && apt-get install -y -qq redis-server >/dev/null",
        timeout=300,
    )
    if install.returncode != 0:
        raise LabError(f"lab Redis on {want.host}: apt-get install redis-server failed: {install.stderr.strip()[-600:]}")
    conf = f"bind {want.ip}\nport {want.port}\nprotected-mode yes\n"
    script = (
        "set -e; umask 027; IFS= read -r pw; "
        f"printf '%s' {shlex.quote(conf)} > {CONF}.new; "
        f'printf \'requirepass "%s"\\n\' "$pw" >> {CONF}.new; '
        f"chown root:redis {CONF}.new; chmod 0640 {CONF}.new; mv {CONF}.new {CONF}; "
        f"grep -qx 'include {CONF}' /etc/redis/redis.conf || echo 'include {CONF}' >> /etc/redis/redis.conf; "
        "systemctl restart redis-server; systemctl is-active redis-server >/dev/null; "
        f"for i in $(seq 50); do ss -Hltn 'sport = :{want.port}' | grep -q '{want.ip}:{want.port}' && exit 0; sleep 0.2; done; "
        "echo 'redis-server does not listen where configured' >&2; exit 1"
    )
    proc = subprocess.run(
        ["ssh", "-F", str(fleet.ssh_config), want.host, script],
        input=lab_secrets[want.password_env] + "\n",
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if proc.returncode != 0:
        raise LabError(f"lab Redis on {want.host}: configuring redis-server failed: {proc.stderr.strip()[-600:]}")
    log(f"[lab] LAB INFRASTRUCTURE: the fleet's external Redis, Debian's redis-server on {want.host} at {want.ip}:{want.port}")
    return want
