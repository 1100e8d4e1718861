"""DRAgent's tools: read the service graph, and simulate losing a region."""

from __future__ import annotations

from typing import Any

from core.errors import ToolError
from core.timeutil import parse_duration
from core.tools.base import ToolContext, tool
from core.tools.common import STRINGS, TEXT, array_of, compact_duration, inputs, outputs, source

_SERVICE = {"type": "object", "required": ["name", "rto", "deployments"]}
_OUTCOME = {
    "type": "object",
    "required": ["service", "outcome", "rto"],
    "properties": {
        "service": TEXT,
        "outcome": {"enum": ["failover", "degraded", "outage", "unaffected"]},
        "rto": TEXT,
        "target_region": {"type": "string"},
        "estimated_recovery": {"type": "string"},
        "meets_rto": {"type": "boolean"},
        "lost_assets": STRINGS,
        "reason": {"type": "string"},
    },
}


@tool(
    "infra_graph",
    "Read the service dependency graph: services, their dependencies, regions, deployments and recovery targets.",
    input_schema=inputs({"regions": STRINGS, "services": STRINGS}),
    output_schema=outputs({"services": array_of(_SERVICE), "edges": array_of({"type": "array"}), "regions": STRINGS}),
    risk="read",
)
async def infra_graph(args: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
    services = (await source(ctx, "infra"))["services"]
    regions, names = set(args.get("regions", [])), set(args.get("services", []))
    chosen = [
        s
        for s in services
        if (not names or s["name"] in names) and (not regions or regions & {d["region"] for d in s["deployments"]})
    ]
    edges = [[s["name"], dep] for s in chosen for dep in s.get("depends_on", [])]
    all_regions = sorted({d["region"] for s in services for d in s["deployments"]})
    return {
        "services": chosen,
        "edges": edges,
        "regions": all_regions,
        "summary": f"{len(chosen)} services, {len(edges)} dependencies",
    }


@tool(
    "simulate_failover",
    "Simulate losing one region: which services fail over where, how long recovery takes against the RTO, which go down.",
    input_schema=inputs({"region": TEXT}, ("region",)),
    output_schema=outputs({"region": TEXT, "outcomes": array_of(_OUTCOME), "assets_in_region": STRINGS}),
    risk="plan",
)
async def simulate_failover(args: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
    services = (await source(ctx, "infra"))["services"]
    region = args["region"]
    known = {d["region"] for s in services for d in s["deployments"]}
    if region not in known:
        raise ToolError(f"no service runs in {region!r}; regions in the graph: {', '.join(sorted(known))}")
    down = {s["name"] for s in services if all(d["region"] == region for d in s["deployments"])}
    outcomes, lost_all = [], []
    for service in services:
        lost = [d for d in service["deployments"] if d["region"] == region]
        if not lost:
            broken = sorted(down & set(service.get("depends_on", [])))
            if broken:
                outcomes.append(
                    {
                        "service": service["name"],
                        "outcome": "degraded",
                        "rto": service["rto"],
                        "reason": f"depends on {', '.join(broken)} which has no deployment outside {region}",
                    }
                )
            continue
        lost_assets = [a for d in lost for a in d["assets"]]
        lost_all += lost_assets
        remaining = [d for d in service["deployments"] if d["region"] != region]
        if not remaining:
            outcomes.append(
                {
                    "service": service["name"],
                    "outcome": "outage",
                    "rto": service["rto"],
                    "lost_assets": lost_assets,
                    "meets_rto": False,
                    "reason": f"no deployment outside {region}",
                }
            )
            continue
        target = min(remaining, key=lambda d: parse_duration(d.get("failover_time", "0s")))
        recovery = parse_duration(target.get("failover_time", "0s"))
        outcome = {
            "service": service["name"],
            "outcome": "failover",
            "rto": service["rto"],
            "target_region": target["region"],
            "estimated_recovery": compact_duration(recovery),
            "meets_rto": recovery <= parse_duration(service["rto"]),
            "lost_assets": lost_assets,
        }
        if target["mode"] == "standby":
            outcome["reason"] = f"standby in {target['region']} must be promoted" + (
                f" (replication lag {target['replication_lag']})" if target.get("replication_lag") else ""
            )
        outcomes.append(outcome)
    missed = [o["service"] for o in outcomes if o.get("meets_rto") is False]
    return {
        "region": region,
        "outcomes": outcomes,
        "assets_in_region": lost_all,
        "summary": f"losing {region} affects {len(outcomes)} services; RTO missed by: {', '.join(missed) or 'none'}",
    }


TOOLS = [infra_graph, simulate_failover]
