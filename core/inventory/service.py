from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from core.clock import SYSTEM_CLOCK, Clock
from core.errors import ConfigError
from core.inventory.fleet import Asset, AssetQuery, Fleet
from core.inventory.sources import FileSource, InventorySource, build_source
from core.store import Store

if TYPE_CHECKING:
    from core.config import InventoryConfig

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class InventoryRefresh:
    """What one re-read of the source changed (asset ids, sorted)."""

    source: str
    assets: int
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    left_out: Mapping[str, str] = field(default_factory=dict)  # host -> why it is not an asset


class Inventory:
    """The fleet from its source plus the versions the executor has applied since (kept in the store).

    The loaded fleet is cached. A source with ``refresh`` 0 (the fleet file) is asked on every read and
    re-reads the file only when it changed on disk; otherwise the cache is re-loaded once it is older
    than ``refresh`` seconds by ``clock``, and on demand (``refresh()``). When an interval re-load
    fails, the last good fleet is kept and the source's message logged.
    """

    def __init__(
        self, source: InventorySource | str | Path, store: Store, *, refresh: float = 0.0, clock: Clock = SYSTEM_CLOCK
    ) -> None:
        self.source = source if isinstance(source, InventorySource) else FileSource(source)
        self.store = store
        self.refresh_interval = refresh
        self.clock = clock
        self._fleet: Fleet | None = None
        self._loaded_at: datetime | None = None
        self._load_lock = asyncio.Lock()
        self._lock = asyncio.Lock()

    @classmethod
    def from_config(cls, config: InventoryConfig, store: Store, *, clock: Clock = SYSTEM_CLOCK) -> Inventory:
        refresh = config.ansible.refresh if config.source == "ansible" else 0.0
        return cls(build_source(config), store, refresh=refresh, clock=clock)

    async def _base(self) -> Fleet:
        async with self._load_lock:
            if self._fleet is not None and not self._stale():
                return self._fleet
            try:
                return await self._load()
            except ConfigError as exc:
                if self._fleet is None or self.refresh_interval <= 0:
                    raise
                self._loaded_at = self.clock.now()  # try again after another interval, not on every read
                logger.warning("inventory: keeping the last fleet; re-reading %s failed: %s", self.source.describe(), exc)
                return self._fleet

    def _stale(self) -> bool:
        if self.refresh_interval <= 0 or self._loaded_at is None:
            return True
        return (self.clock.now() - self._loaded_at).total_seconds() >= self.refresh_interval

    async def _load(self) -> Fleet:
        fleet = await self.source.load()
        if fleet is not self._fleet and self.refresh_interval > 0:
            logger.info("inventory: %d asset(s) from %s", len(fleet.assets), self.source.describe())
        self._fleet = fleet
        self._loaded_at = self.clock.now()
        return fleet

    async def check(self) -> Fleet:
        """Load the source now; raises ConfigError naming the source and the problem (startup calls this)."""
        async with self._load_lock:
            return await self._load()

    async def refresh(self) -> InventoryRefresh:
        """Re-read the source now (``/ops inventory refresh``); raises ConfigError when it cannot be read."""
        async with self._load_lock:
            before = self._fleet.by_id() if self._fleet is not None else {}
            after = (await self._load()).by_id()
        return InventoryRefresh(
            source=self.source.describe(),
            assets=len(after),
            added=tuple(sorted(after.keys() - before.keys())),
            removed=tuple(sorted(before.keys() - after.keys())),
            changed=tuple(sorted(i for i in after.keys() & before.keys() if after[i] != before[i])),
            left_out=dict(self.source.left_out()),
        )

    async def fleet(self) -> Fleet:
        """The fleet as it is now: the source's assets with applied versions laid over them."""
        base = await self._base()
        applied = await self.store.asset_versions()
        if not applied:
            return base
        assets = [
            a.model_copy(update={"image": applied[a.id][0], "image_version": applied[a.id][1]}) if a.id in applied else a
            for a in base.assets
        ]
        return Fleet(golden_images=base.golden_images, assets=assets)

    async def query(self, query: AssetQuery) -> list[Asset]:
        fleet = await self.fleet()
        return [a for a in fleet.assets if query.matches(a)]

    async def record_version(self, asset_id: str, image: str, version: str, run_id: str | None) -> None:
        async with self._lock:
            await self.store.record_asset_version(asset_id, image, version, run_id)
