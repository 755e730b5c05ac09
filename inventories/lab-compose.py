"""pyinfra inventory of fleet lab-compose (inventories/lab-compose.yml); see llmfleet/deploy/inventory.py for the environment it reads."""

from pathlib import Path

from llmfleet.deploy.inventory import fleet_groups

# `all` is pyinfra's group of every host, in mesh join order
all, gateway, gpu, headscale = fleet_groups("lab-compose", inventory_dir=Path(__file__).parent)
