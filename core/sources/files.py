from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from core.errors import ConfigError
from core.sources.base import DataSource, check_document


class FileSource(DataSource):
    """A YAML or JSON file, re-read when it changes on disk."""

    def __init__(self, kind: str, path: str | Path) -> None:
        self.kind = kind
        self.path = Path(path)
        self._document: dict[str, Any] | None = None
        self._mtime: float | None = None

    async def document(self) -> dict[str, Any]:
        # Small files, re-read only when they change: reading inline is cheaper than a thread hop.
        return self._load()

    def _load(self) -> dict[str, Any]:
        try:
            mtime = self.path.stat().st_mtime
        except FileNotFoundError as exc:
            raise ConfigError(f"{self.kind} data file not found: {self.path} (inventory.data_dir in the config)") from exc
        if self._document is None or mtime != self._mtime:
            try:
                loaded = yaml.safe_load(self.path.read_text(encoding="utf-8"))
            except (OSError, yaml.YAMLError) as exc:
                raise ConfigError(f"cannot read {self.kind} data file {self.path}: {exc}") from exc
            self._document = check_document(self.kind, loaded, f"{self.kind} data file {self.path}")
            self._mtime = mtime
        return self._document
