"""DriftAgent's tools: find assets, compare them with the golden images, draft a phased fix."""

from __future__ import annotations

from typing import Any

from core.errors import ConfigError, ExecutionError, ToolError
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
_PLAYBOOK_DRIFT = {
    "type": "object",
    "required": ["asset_id", "changed_tasks", "diff", "diff_hash"],
    "properties": {
        "asset_id": {"type": "string"},
        "changed_tasks": _STRINGS,
        "diff": {"type": "array", "items": {"type": "string"}},
        "diff_hash": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
    },
    "additionalProperties": False,
}
_UNCHECKED = {
    "type": "object",
    "required": ["host", "status", "message"],
    "properties": {
        "host": {"type": "string"},
        "status": {"enum": ["unreachable", "failed", "missing"]},
        "message": {"type": "string"},
        "task": {"type": "string"},
    },
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
    "check_playbook_drift",
    "Run the configured Ansible playbook in check mode with diffs on these hosts: the hosts it would change have "
    "drifted; unreachable or failing hosts are listed apart.",
    input_schema={
        "type": "object",
        "required": ["asset_ids"],
        "properties": {"asset_ids": {**_STRINGS, "minItems": 1}},
        "additionalProperties": False,
    },
    output_schema={
        "type": "object",
        "required": ["drifted", "in_sync", "failed", "dry_run", "summary"],
        "properties": {
            "drifted": {"type": "array", "items": _PLAYBOOK_DRIFT},
            "in_sync": _STRINGS,
            "failed": {"type": "array", "items": _UNCHECKED},
            "dry_run": {"type": "object", "required": ["diff_hash", "hosts_changed", "hosts_failed", "playbook"]},
            "summary": {"type": "string"},
        },
    },
    risk="read",
)
async def check_playbook_drift(args: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
    from core.ansible.drift import check_drift  # late: Ansible is an optional dependency

    if ctx.config is None:
        raise ToolError("check_playbook_drift needs the configuration (executor.ansible, inventory.ansible)")
    try:
        check = await check_drift(ctx.config, args["asset_ids"])
    except (ExecutionError, ConfigError) as exc:
        raise ToolError(f"the Ansible drift check failed, so drift is unknown: {exc}") from exc
    dry_run = check.dry_run()
    return {
        "drifted": [
            {"asset_id": d.host, "changed_tasks": d.changed_tasks, "diff": d.diff, "diff_hash": d.diff_hash}
            for d in check.drifted
        ],
        "in_sync": check.in_sync,
        "failed": dry_run["hosts_failed"],
        "dry_run": dry_run,
        "summary": f"{len(check.drifted)} would change, {len(check.in_sync)} in sync"
        + (f", {len(check.failed)} not checked" if check.failed else ""),
    }


@tool(
    "generate_patch_plan",
    "Draft a phased rollout (canary, then waves) that moves drifted assets to their golden image versions.",
    input_schema={
        "type": "object",
        "required": ["environment", "drifted"],
        "properties": {
            "environment": ENVIRONMENT,
            "drifted": {"type": "array", "items": {"oneOf": [_DRIFT, _PLAYBOOK_DRIFT]}, "minItems": 1},
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
    changes = [_change(d) for d in drifted]
    return {
        "phases": phases,
        "changes": changes,
        "estimated_duration": estimate_duration(phases, rules),
        "summary": f"{len(phases)} phases for {len(drifted)} assets",
    }


def _change(drift: dict[str, Any]) -> dict[str, Any]:
    if "changed_tasks" in drift:  # from check_playbook_drift: the executor runs the playbook on the host
        details = {k: drift[k] for k in ("changed_tasks", "diff", "diff_hash")}
        return {"asset_id": drift["asset_id"], "action": "ansible_playbook", "details": details}
    return {
        "asset_id": drift["asset_id"],
        "action": "set_image_version",
        "image": drift["image"],
        "from_version": drift["current"],
        "to_version": drift["golden"],
    }


TOOLS = [query_assets, compare_versions, check_playbook_drift, generate_patch_plan]
