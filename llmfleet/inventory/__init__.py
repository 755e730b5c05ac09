"""The typed fleet inventory: model, loader and cross-object rules."""

from llmfleet.inventory.loader import Loaded, load, load_inventory, overlay_for
from llmfleet.inventory.model import Inventory, dump_json_schema
from llmfleet.inventory.problems import InventoryError, Problem

__all__ = ["Inventory", "InventoryError", "Loaded", "Problem", "dump_json_schema", "load", "load_inventory", "overlay_for"]
