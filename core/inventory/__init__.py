"""The fleet: which assets exist, what image version they run, and what the golden versions are."""

from core.inventory.fleet import Asset, AssetQuery, Fleet, load_fleet
from core.inventory.service import Inventory, InventoryRefresh
from core.inventory.sources import AnsibleSource, FileSource, InventorySource

__all__ = [
    "AnsibleSource",
    "Asset",
    "AssetQuery",
    "FileSource",
    "Fleet",
    "Inventory",
    "InventoryRefresh",
    "InventorySource",
    "load_fleet",
]
