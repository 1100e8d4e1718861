from __future__ import annotations

import asyncio

from core.domain import Change, Step
from core.errors import ExecutionError
from core.executor.drivers.base import AppliedChange, Driver


class SimulateDriver(Driver):
    """Changes nothing outside OpsPilot: records the new version in the inventory, so the fleet
    reads as fixed afterwards, exactly as if a real driver had re-imaged the asset."""

    name = "simulate"

    def __init__(self, inventory, config=None) -> None:
        self.inventory = inventory
        self.config = config

    async def apply(self, change: Change, run_id: str) -> AppliedChange:
        await asyncio.sleep(0)
        if change.action != "set_image_version":
            return AppliedChange(change.asset_id, None, f"simulated {change.action}")
        fleet = await self.inventory.fleet()
        asset = fleet.by_id().get(change.asset_id)
        if asset is None:
            raise ExecutionError(f"asset {change.asset_id} is not in the inventory")
        image = change.image or asset.image
        await self.inventory.record_version(asset.id, image, change.to_version, run_id)
        return AppliedChange(asset.id, asset.image_version, change.to_version)

    async def revert(self, change: Change, applied: AppliedChange, run_id: str) -> None:
        if change.action == "set_image_version" and applied.previous is not None:
            fleet = await self.inventory.fleet()
            asset = fleet.by_id()[change.asset_id]
            await self.inventory.record_version(asset.id, change.image or asset.image, applied.previous, run_id)

    async def run_step(self, step: Step, run_id: str) -> str:
        await asyncio.sleep(0)
        return f"simulated: {step.command or step.name}"
