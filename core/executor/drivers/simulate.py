"""The embedded default driver: changes nothing outside OpsPilot."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import TYPE_CHECKING

from core.errors import DriverError
from core.executor.drivers.base import Driver, DriverAction, DriverResult

if TYPE_CHECKING:
    from core.config import SimulateConfig
    from core.inventory.fleet import Asset
    from core.inventory.service import Inventory


class SimulateDriver(Driver):
    """Records the new version in the inventory, so the fleet reads as fixed afterwards, exactly as if a
    real driver had re-imaged the asset; a revert records the previous version back.

    ``latency_ms`` makes every action take that long; actions on assets listed in ``fail_assets`` or
    carrying a tag in ``fail_tags`` fail with DriverError. From the config only ``latency_ms`` and
    ``fail_tags`` are taken: ``executor.simulate.fail_assets`` is the health probe's knob.
    """

    name = "simulate"

    def __init__(
        self,
        inventory: Inventory,
        config: SimulateConfig | None = None,
        *,
        latency_ms: int | None = None,
        fail_assets: Iterable[str] = (),
        fail_tags: Iterable[str] | None = None,
    ) -> None:
        self.inventory = inventory
        self.config = config
        self.latency_ms = latency_ms if latency_ms is not None else getattr(config, "latency_ms", 0)
        self.fail_assets = set(fail_assets)
        self.fail_tags = set(fail_tags if fail_tags is not None else getattr(config, "fail_tags", []))
        self.ledger: list[tuple[str, int, str]] = []  # (key, attempt, action) of every call, for tests and demos

    async def perform(self, action: DriverAction) -> DriverResult:
        self.ledger.append((action.key, action.attempt, action.action))
        await asyncio.sleep(self.latency_ms / 1000 if self.latency_ms else 0)
        if action.action == "step":
            name = action.step.name if action.step is not None else "step"
            return DriverResult(output=f"simulated: {action.command or name}")
        if action.asset is None:
            raise DriverError(f"simulate: {action.action} needs an asset")
        found = (await self.inventory.fleet()).by_id().get(action.asset.id)
        self._maybe_fail(action, found)
        change = action.change
        if change is None or change.action != "set_image_version":
            what = change.action if change is not None else action.action
            return DriverResult(current=f"simulated {what}", output=f"simulated {action.action} {what} on {action.asset.id}")
        if found is None:
            raise DriverError(f"asset {action.asset.id} is not in the inventory")
        image = change.image or action.asset.image or found.image
        version = action.from_version if action.action == "revert" else (action.to_version or change.to_version)
        if version is None:
            if action.action == "revert":
                return DriverResult(found.image_version, found.image_version, "simulated revert: nothing recorded to restore")
            raise DriverError(f"simulate: no target version for {action.asset.id}")
        await self.inventory.record_version(found.id, image, version, action.run_id)
        return DriverResult(
            found.image_version, version, f"simulated {action.action}: {found.id} {image} {found.image_version} -> {version}"
        )

    def _maybe_fail(self, action: DriverAction, found: Asset | None) -> None:
        asset = action.asset
        assert asset is not None
        tags = set(asset.tags) | set(getattr(found, "tags", None) or [])
        if asset.id in self.fail_assets or tags & self.fail_tags:
            reason = "fail_assets" if asset.id in self.fail_assets else f"fail_tags {sorted(tags & self.fail_tags)}"
            raise DriverError(
                f"simulated {action.action} failure on {asset.id}",
                output=f"simulate: injected failure for {asset.id} ({reason})\n",
            )
