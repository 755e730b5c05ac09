"""pyinfra inventory of fleet lab (inventories/lab.yml); see llmfleet/deploy/inventory.py for the environment it reads."""

from pathlib import Path

from llmfleet.deploy.inventory import fleet_groups

# `all` is pyinfra's group of every host, in mesh join order
all, gateway, gpu, headscale = fleet_groups("lab", inventory_dir=Path(__file__).parent)
