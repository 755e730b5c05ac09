"""pyinfra inventory of fleet nova-litellm (inventories/nova-litellm.yml); see inventories/_adapter.py for the environment it reads."""

from inventories._adapter import fleet_groups

all, gateway, gpu, headscale = fleet_groups("nova-litellm")  # `all` is pyinfra's group of every host, in mesh join order
