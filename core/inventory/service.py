from __future__ import annotations

import asyncio
from pathlib import Path

from core.inventory.fleet import Asset, AssetQuery, Fleet, load_fleet
from core.store import Store


class Inventory:
    """The fleet file plus the versions the executor has applied since (kept in the store).

    The file is re-read when it changes on disk, so an operator's edit shows up in the next ask.
    """

    def __init__(self, path: str | Path, store: Store) -> None:
        self.path = Path(path)
        self.store = store
        self._fleet: Fleet | None = None
        self._mtime: float | None = None
        self._lock = asyncio.Lock()

    def _file_fleet(self) -> Fleet:
        mtime = self.path.stat().st_mtime if self.path.exists() else None
        if self._fleet is None or mtime != self._mtime:
            self._fleet = load_fleet(self.path)
            self._mtime = mtime
        return self._fleet

    def check(self) -> Fleet:
        """Read the fleet file now; raises ConfigError naming the file and the problem (startup calls this)."""
        return self._file_fleet()

    async def fleet(self) -> Fleet:
        """The fleet as it is now: file contents with applied versions laid over them."""
        base = self._file_fleet()
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
