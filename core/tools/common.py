"""Schema fragments and helpers shared by the tool modules."""

from __future__ import annotations

import re
from typing import Any

from core.errors import ToolError
from core.tools.base import ToolContext

TEXT: dict[str, Any] = {"type": "string", "minLength": 1}
STRINGS: dict[str, Any] = {"type": "array", "items": TEXT}
ENVIRONMENT: dict[str, Any] = {"enum": ["production", "staging", "development", "all"]}
SEVERITY: dict[str, Any] = {"enum": ["info", "low", "medium", "high", "critical"]}
SUMMARY: dict[str, Any] = {"type": "string"}
SEVERITY_RANK = {"info": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}


def inputs(properties: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"type": "object", "required": list(required), "properties": properties, "additionalProperties": False}


def outputs(properties: dict[str, Any]) -> dict[str, Any]:
    """Every tool result carries a one-line ``summary`` besides its own keys."""
    return {"type": "object", "required": [*properties, "summary"], "properties": {**properties, "summary": SUMMARY}}


def array_of(item: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": item}


async def source(ctx: ToolContext, kind: str) -> dict[str, Any]:
    data = ctx.sources.get(kind)
    if data is None:
        raise ToolError(f"no {kind} data source is configured")
    return await data.document()


def version_key(version: str) -> tuple[int | str, ...]:
    """Order versions like 2.3.9 < 2.4.1 < 2.10.0; non-numeric parts compare as text after numbers."""
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"[.\-+]", str(version)))


def is_older(version: str, than: str) -> bool:
    try:
        return version_key(version) < version_key(than)
    except TypeError:
        return str(version) < str(than)


def environment_matches(wanted: str | None, actual: str | None) -> bool:
    return wanted in (None, "all") or actual in (None, wanted)


def money(value: float) -> str:
    return f"${value:,.0f}"


async def facts_resolver(ctx: ToolContext) -> Any:
    """A function from asset to its observed facts: defaults.all, then the role's defaults, then the asset's own."""
    data = await source(ctx, "facts")
    defaults, overrides = data.get("defaults", {}), data.get("assets", {}) or {}

    def facts(asset: Any) -> dict[str, Any]:
        return {**defaults.get("all", {}), **defaults.get(asset.role, {}), **overrides.get(asset.id, {})}

    return facts


def compact_duration(seconds: float) -> str:
    """A duration in the plan format (``"25m"``, ``"90s"``, ``"2h"``), rounded up to the unit used."""
    whole = int(-(-seconds // 1))
    if whole % 3600 == 0 and whole:
        return f"{whole // 3600}h"
    if whole % 60 == 0:
        return f"{whole // 60}m"
    return f"{whole}s"
