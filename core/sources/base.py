"""The port tools read reference data through: CVE feed, controls, facts, logs, graph, billing, …

A source hands out one validated document of its kind. Files ship as samples; a team swaps in a
live feed by implementing :class:`DataSource` and passing it in ``ToolContext.sources``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from jsonschema import Draft202012Validator

from core.errors import ConfigError
from core.sources.schemas import SCHEMAS


class DataSource(ABC):
    kind: str

    @abstractmethod
    async def document(self) -> dict[str, Any]:
        """The whole document, checked against the schema of its kind; ConfigError when it is not."""


def check_document(kind: str, document: Any, where: str) -> dict[str, Any]:
    schema = SCHEMAS.get(kind)
    if schema is None:
        raise ConfigError(f"unknown data source kind {kind!r}; kinds: {', '.join(sorted(SCHEMAS))}")
    if not isinstance(document, dict):
        raise ConfigError(f"{where} must be a mapping, got {type(document).__name__}")
    errors = sorted(Draft202012Validator(schema).iter_errors(document), key=lambda e: list(e.absolute_path))
    if errors:
        problems = "; ".join(f"{'.'.join(str(p) for p in e.absolute_path) or kind}: {e.message}" for e in errors[:5])
        raise ConfigError(f"{where} is invalid: {problems}")
    return document
