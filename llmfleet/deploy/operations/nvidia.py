"""The NVIDIA driver as nvidia-smi reports it: verified against the inventory's branch and GPU count."""

from __future__ import annotations

from pyinfra import host
from pyinfra.api import operation

from llmfleet.deploy.facts.nvidia import NvidiaSmi, driver_branch
from llmfleet.deploy.operations.util import fail


@operation()
def driver_verified(branch: str, count: int):
    """Fail unless nvidia-smi sees ``count`` GPUs on a driver of ``branch`` (e.g. 550).

    A freshly installed driver is usually not loaded until the host reboots: the failure says so.
    """
    gpus = host.get_fact(NvidiaSmi)
    branches = sorted({driver_branch(g["driver_version"]) for g in gpus})
    if len(gpus) >= count and branches == [branch]:
        host.noop(f"nvidia-smi: {len(gpus)} GPU(s) on driver {gpus[0]['driver_version']}")
        return
    if not gpus:
        yield fail(f"nvidia-smi sees no GPU: the driver {branch} is not loaded (reboot the host after a first driver install)")
    elif branches != [branch]:
        yield fail(f"nvidia-smi reports driver branch {', '.join(branches)}, the inventory pins {branch} (reboot to load the new one)")
    else:
        yield fail(f"nvidia-smi sees {len(gpus)} GPU(s), the inventory says {count}")
