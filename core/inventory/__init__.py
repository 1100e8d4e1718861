"""The fleet: which assets exist, what image version they run, and what the golden versions are."""

from core.inventory.fleet import Asset, AssetQuery, Fleet, load_fleet
from core.inventory.service import Inventory

__all__ = ["Asset", "AssetQuery", "Fleet", "Inventory", "load_fleet"]
