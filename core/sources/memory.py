from __future__ import annotations

import copy
from typing import Any

from core.sources.base import DataSource, check_document


class StaticSource(DataSource):
    """A document held in memory, e.g. built by another system or a test."""

    def __init__(self, kind: str, document: Any) -> None:
        self.kind = kind
        self._document = check_document(kind, document, f"{kind} document")

    async def document(self) -> dict[str, Any]:
        return copy.deepcopy(self._document)
