"""PatchAgent's tools: read the CVE feed, score the risk per asset, draft a phased rollout."""

from __future__ import annotations

from typing import Any

from core.errors import ToolError
from core.tools.base import ToolContext, tool
from core.tools.common import (
    ENVIRONMENT,
    SEVERITY,
    SEVERITY_RANK,
    STRINGS,
    TEXT,
    array_of,
    facts_resolver,
    inputs,
    is_older,
    outputs,
    source,
)
from core.tools.rollout import build_phases, estimate_duration, rules_for

ADVISORY: dict[str, Any] = {
    "type": "object",
    "required": ["id", "title", "severity", "cvss", "package", "affects"],
    "properties": {
        "id": TEXT,
        "title": TEXT,
        "severity": SEVERITY,
        "cvss": {"type": "number"},
        "package": TEXT,
        "exploited": {"type": "boolean"},
        "affects": array_of({"type": "object", "required": ["image", "fixed_in"]}),
    },
}
ENVIRONMENT_WEIGHT = {"production": 1.0, "staging": 0.6, "development": 0.3}


@tool(
    "cve_feed",
    "Look up CVE advisories: by id, or the latest by minimum severity; each lists affected images and fixed versions.",
    input_schema=inputs(
        {
            "cve_ids": STRINGS,
            "min_severity": SEVERITY,
            "images": STRINGS,
            "limit": {"type": "integer", "minimum": 1, "maximum": 50},
        }
    ),
    output_schema=outputs({"advisories": array_of(ADVISORY), "missing": STRINGS}),
    risk="read",
)
async def cve_feed(args: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
    feed = (await source(ctx, "cves"))["cves"]
    wanted = [c.upper() for c in args.get("cve_ids", [])]
    floor = SEVERITY_RANK[args.get("min_severity", "info")]
    images = set(args.get("images", []))
    found = [
        a
        for a in feed
        if (not wanted or a["id"] in wanted)
        and SEVERITY_RANK[a["severity"]] >= floor
        and (not images or images & {x["image"] for x in a["affects"]})
    ]
    found = found[: args.get("limit", 50)]
    missing = [c for c in wanted if c not in {a["id"] for a in found}]
    return {
        "advisories": found,
        "missing": missing,
        "summary": f"{len(found)} advisories" + (f"; not in the feed: {', '.join(missing)}" if missing else ""),
    }


@tool(
    "risk_score",
    "Score how exposed each asset is to one CVE (0-100) from CVSS, exploitation, environment and internet exposure.",
    input_schema=inputs({"cve_id": TEXT, "asset_ids": STRINGS}, ("cve_id", "asset_ids")),
    output_schema=outputs(
        {
            "scores": array_of(
                {
                    "type": "object",
                    "required": ["asset_id", "score", "affected"],
                    "properties": {
                        "asset_id": TEXT,
                        "score": {"type": "number"},
                        "affected": {"type": "boolean"},
                        "current": {"type": "string"},
                        "fixed_in": {"type": "string"},
                        "image": {"type": "string"},
                    },
                }
            ),
            "affected": STRINGS,
        }
    ),
    risk="read",
)
async def risk_score(args: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
    feed = (await source(ctx, "cves"))["cves"]
    advisory = next((a for a in feed if a["id"] == args["cve_id"].upper()), None)
    if advisory is None:
        raise ToolError(f"{args['cve_id']} is not in the CVE feed")
    fixed = {x["image"]: x["fixed_in"] for x in advisory["affects"]}
    facts = await facts_resolver(ctx)
    by_id = (await ctx.inventory.fleet()).by_id()
    scores = []
    for asset_id in args["asset_ids"]:
        asset = by_id.get(asset_id)
        if asset is None:
            continue
        fixed_in = fixed.get(asset.image)
        affected = fixed_in is not None and is_older(asset.image_version, fixed_in)
        score = 0.0
        if affected:
            public = bool(facts(asset).get("public"))
            score = advisory["cvss"] * 7 * ENVIRONMENT_WEIGHT.get(asset.environment, 1.0)
            score += 20 if advisory.get("exploited") else 0
            score += 10 if public else 0
        entry = {
            "asset_id": asset.id,
            "score": round(min(score, 100.0), 1),
            "affected": affected,
            "current": asset.image_version,
            "image": asset.image,
        }
        if fixed_in:
            entry["fixed_in"] = fixed_in
        scores.append(entry)
    scores.sort(key=lambda s: (-s["score"], s["asset_id"]))
    affected_ids = [s["asset_id"] for s in scores if s["affected"]]
    return {
        "scores": scores,
        "affected": affected_ids,
        "summary": f"{len(affected_ids)} of {len(scores)} assets affected by {advisory['id']}",
    }


@tool(
    "generate_rollout",
    "Split assets into a canary and waves with health checks and rollback conditions for an environment.",
    input_schema=inputs(
        {
            "environment": ENVIRONMENT,
            "asset_ids": {**STRINGS, "minItems": 1},
            "max_batch_percent": {"type": "number", "exclusiveMinimum": 0, "maximum": 100},
        },
        ("environment", "asset_ids"),
    ),
    output_schema=outputs({"phases": {"type": "array"}, "estimated_duration": {"type": "string"}}),
    risk="plan",
)
async def generate_rollout(args: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
    rules = rules_for(args["environment"], args.get("max_batch_percent"))
    phases = build_phases(list(args["asset_ids"]), rules)
    return {
        "phases": phases,
        "estimated_duration": estimate_duration(phases, rules),
        "summary": f"{len(phases)} phases for {len(args['asset_ids'])} assets",
    }


TOOLS = [cve_feed, risk_score, generate_rollout]
