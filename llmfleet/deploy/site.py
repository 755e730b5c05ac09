"""Deploy a whole fleet, in order: base, mesh control server, mesh join, GPU backends, gateway.

pyinfra runs a deploy file once per host; :func:`apply` does, for the host pyinfra is running it
for, what its roles in the typed inventory say. The mesh comes first because backends bind to mesh
IPs; the gateway comes last because it routes to the backends. Safe to run again and again: a
second run changes nothing. Entry points: ``deploy/site.py`` in the repository, and
``llmfleet deploy`` from an installed llmfleet.
"""

from llmfleet.deploy import common, gateway, gpu, mesh
from llmfleet.deploy.context import inventory, this_host


def apply() -> None:
    """Queue every operation the current pyinfra host needs."""
    inv = inventory()
    me = this_host()
    common.base()
    if inv.mesh is not None and me.name == inv.mesh.headscale_host:
        mesh.control_server()
    if inv.mesh is not None and me.mesh is not None:
        mesh.node()
    if "gpu" in me.roles:
        gpu.apply()
    if "gateway" in me.roles:
        gateway.apply()
