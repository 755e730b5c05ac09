"""Deploy a whole fleet, in order: base, mesh control server, mesh join, GPU backends, gateway.

    pyinfra inventories/<fleet>.py deploy/site.py            # from the repository root

pyinfra runs this file once per host; each host does what its roles in the typed inventory say.
The mesh comes first because backends bind to mesh IPs; the gateway comes last because it
routes to the backends. Safe to run again and again: a second run changes nothing.
"""

from deploy import common, gateway, gpu, mesh
from deploy.context import inventory, this_host

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
