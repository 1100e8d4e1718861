"""The fleet file source (YAML or JSON, see core/inventory/fleet.py), re-read when its mtime changes."""

from __future__ import annotations

from pathlib import Path

from core.inventory.fleet import Fleet, load_fleet
from core.inventory.sources.base import InventorySource


class FileSource(InventorySource):
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._fleet: Fleet | None = None
        self._mtime: float | None = None

    async def load(self) -> Fleet:
        # A stat per read is cheap; the file is parsed again only after an operator's edit.
        mtime = self.path.stat().st_mtime if self.path.exists() else None
        if self._fleet is None or mtime != self._mtime:
            self._fleet = load_fleet(self.path)
            self._mtime = mtime
        return self._fleet

    def describe(self) -> str:
        return f"fleet file {self.path}"
