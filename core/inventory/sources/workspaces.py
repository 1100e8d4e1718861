"""Every workspace's fleet as one (OAuth mode with ``workspaces.<team>.inventory``): what the executor, its driver
and the health probe look assets up in. Planning and validation read each workspace's own inventory instead.

An asset ID must be unique across the fleets: a run names assets by ID only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from core.errors import ConfigError
from core.inventory.fleet import Fleet
from core.inventory.sources.base import InventorySource

if TYPE_CHECKING:
    from core.inventory.service import Inventory


class WorkspaceFleets(InventorySource):
    """``inventories``: name (``default``, or a team ID) → that workspace's inventory, whose caches are reused."""

    def __init__(self, inventories: Mapping[str, Inventory]) -> None:
        self.inventories = dict(inventories)

    async def load(self) -> Fleet:
        golden: dict[str, str] = {}
        assets = []
        owner: dict[str, str] = {}
        for name, inventory in self.inventories.items():
            fleet = await inventory.fleet()
            for image, version in fleet.golden_images.items():
                golden.setdefault(image, version)
            for asset in fleet.assets:
                if asset.id in owner:
                    raise ConfigError(
                        f"asset {asset.id!r} is in the inventories of both {owner[asset.id]} and {name}; a run names "
                        "assets by ID, so give each workspace's assets their own IDs"
                    )
                owner[asset.id] = name
                assets.append(asset)
        return Fleet(golden_images=golden, assets=assets)

    def describe(self) -> str:
        return "the fleets of " + ", ".join(self.inventories)
