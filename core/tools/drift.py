"""DriftAgent's tools: find assets, compare them with the golden images, draft a phased fix."""

from __future__ import annotations

from typing import Any

from core.inventory import AssetQuery
from core.tools.base import ToolContext, tool
from core.tools.rollout import build_phases, estimate_duration, rules_for

_STRINGS = {"type": "array", "items": {"type": "string", "minLength": 1}}
_ASSET = {
    "type": "object",
    "required": ["id", "environment", "role", "platform", "region", "image", "image_version"],
    "properties": {k: {"type": "string"} for k in ("id", "environment", "role", "platform", "region", "image", "image_version")},
}
_DRIFT = {
    "type": "object",
    "required": ["asset_id", "image", "current", "golden"],
    "properties": {k: {"type": "string"} for k in ("asset_id", "image", "current", "golden")},
    "additionalProperties": False,
}
ENVIRONMENT = {"enum": ["production", "staging", "development", "all"]}


@tool(
    "query_assets",
    "List fleet assets matching environment, roles, platforms, regions, images or ids.",
    input_schema={
        "type": "object",
        "properties": {
            "environment": ENVIRONMENT,
            "roles": _STRINGS,
            "platforms": _STRINGS,
            "regions": _STRINGS,
            "asset_ids": _STRINGS,
            "images": _STRINGS,
        },
        "additionalProperties": False,
    },
    output_schema={
        "type": "object",
        "required": ["assets", "count", "summary"],
        "properties": {"assets": {"type": "array", "items": _ASSET}, "count": {"type": "integer"}, "summary": {"type": "string"}},
    },
    risk="read",
)
async def query_assets(args: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
    assets = await ctx.inventory.query(AssetQuery(**args))
    documents = [
        a.model_dump(include={"id", "environment", "role", "platform", "region", "image", "image_version"}) for a in assets
    ]
    return {"assets": documents, "count": len(documents), "summary": f"{len(documents)} assets match"}


@tool(
    "compare_versions",
    "Compare the image version of each asset with the golden version of its image.",
    input_schema={
        "type": "object",
        "required": ["asset_ids"],
        "properties": {"asset_ids": _STRINGS},
        "additionalProperties": False,
    },
    output_schema={
        "type": "object",
        "required": ["drifted", "in_sync", "unknown", "summary"],
        "properties": {
            "drifted": {"type": "array", "items": _DRIFT},
            "in_sync": _STRINGS,
            "unknown": _STRINGS,
            "summary": {"type": "string"},
        },
    },
    risk="read",
)
async def compare_versions(args: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
    fleet = await ctx.inventory.fleet()
    by_id = fleet.by_id()
    drifted, in_sync, unknown = [], [], []
    for asset_id in args["asset_ids"]:
        asset = by_id.get(asset_id)
        if asset is None:
            unknown.append(asset_id)
        elif fleet.is_drifted(asset):
            drifted.append(
                {
                    "asset_id": asset.id,
                    "image": asset.image,
                    "current": asset.image_version,
                    "golden": fleet.golden_images[asset.image],
                }
            )
        else:
            in_sync.append(asset.id)
    return {
        "drifted": drifted,
        "in_sync": in_sync,
        "unknown": unknown,
        "summary": f"{len(drifted)} drifted, {len(in_sync)} in sync" + (f", {len(unknown)} unknown" if unknown else ""),
    }


@tool(
    "generate_patch_plan",
    "Draft a phased rollout (canary, then waves) that moves drifted assets to their golden image versions.",
    input_schema={
        "type": "object",
        "required": ["environment", "drifted"],
        "properties": {
            "environment": ENVIRONMENT,
            "drifted": {"type": "array", "items": _DRIFT, "minItems": 1},
            "max_batch_percent": {"type": "number", "exclusiveMinimum": 0, "maximum": 100},
        },
        "additionalProperties": False,
    },
    output_schema={
        "type": "object",
        "required": ["phases", "changes", "estimated_duration", "summary"],
        "properties": {
            "phases": {"type": "array"},
            "changes": {"type": "array"},
            "estimated_duration": {"type": "string"},
            "summary": {"type": "string"},
        },
    },
    risk="plan",
)
async def generate_patch_plan(args: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
    drifted = args["drifted"]
    rules = rules_for(args["environment"], args.get("max_batch_percent"))
    phases = build_phases([d["asset_id"] for d in drifted], rules)
    changes = [
        {
            "asset_id": d["asset_id"],
            "action": "set_image_version",
            "image": d["image"],
            "from_version": d["current"],
            "to_version": d["golden"],
        }
        for d in drifted
    ]
    return {
        "phases": phases,
        "changes": changes,
        "estimated_duration": estimate_duration(phases, rules),
        "summary": f"{len(phases)} phases for {len(drifted)} assets",
    }


TOOLS = [query_assets, compare_versions, generate_patch_plan]
