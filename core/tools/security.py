"""SecurityAgent's tools: match the fleet against the CVE feed, and find services exposed to the internet."""

from __future__ import annotations

from typing import Any

from core.inventory import AssetQuery
from core.tools.base import ToolContext, tool
from core.tools.common import (
    ENVIRONMENT,
    SEVERITY,
    SEVERITY_RANK,
    STRINGS,
    array_of,
    facts_resolver,
    inputs,
    is_older,
    outputs,
    source,
)

# Ports that should never face the internet, and why.
RISKY_PORTS = {
    22: ("ssh", "high"),
    3389: ("rdp", "critical"),
    5985: ("winrm", "critical"),
    5432: ("postgres", "critical"),
    6379: ("redis", "critical"),
    9200: ("elasticsearch", "critical"),
    27017: ("mongodb", "critical"),
    8080: ("http-alt", "medium"),
}
_FINDING = {"type": "object", "required": ["cve_id", "severity", "assets"]}
_EXPOSURE = {"type": "object", "required": ["asset_id", "port", "service", "severity"]}


@tool(
    "scan_vulns",
    "Match assets' image versions against the CVE feed; returns each CVE with the assets still below the fixed version.",
    input_schema=inputs({"environment": ENVIRONMENT, "roles": STRINGS, "min_severity": SEVERITY}, ("environment",)),
    output_schema=outputs({"vulnerabilities": array_of(_FINDING), "assets_scanned": {"type": "integer"}}),
    risk="read",
)
async def scan_vulns(args: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
    feed = (await source(ctx, "cves"))["cves"]
    assets = await ctx.inventory.query(AssetQuery(environment=args["environment"], roles=args.get("roles", [])))
    floor = SEVERITY_RANK[args.get("min_severity", "low")]
    found = []
    for advisory in feed:
        if SEVERITY_RANK[advisory["severity"]] < floor:
            continue
        fixed = {x["image"]: x["fixed_in"] for x in advisory["affects"]}
        hit = [a.id for a in assets if a.image in fixed and is_older(a.image_version, fixed[a.image])]
        if hit:
            found.append(
                {
                    "cve_id": advisory["id"],
                    "title": advisory["title"],
                    "severity": advisory["severity"],
                    "cvss": advisory["cvss"],
                    "exploited": bool(advisory.get("exploited")),
                    "assets": hit,
                    "fixed_in": fixed,
                }
            )
    found.sort(key=lambda f: (-SEVERITY_RANK[f["severity"]], -f["cvss"]))
    return {
        "vulnerabilities": found,
        "assets_scanned": len(assets),
        "summary": f"{len(found)} CVEs affect {len({a for f in found for a in f['assets']})} of {len(assets)} assets",
    }


@tool(
    "check_exposure",
    "List internet-facing assets with ports open that should not face the internet (ssh, rdp, databases, caches).",
    input_schema=inputs({"environment": ENVIRONMENT, "roles": STRINGS}, ("environment",)),
    output_schema=outputs({"exposures": array_of(_EXPOSURE), "public_assets": STRINGS, "assets_checked": {"type": "integer"}}),
    risk="read",
)
async def check_exposure(args: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
    assets = await ctx.inventory.query(AssetQuery(environment=args["environment"], roles=args.get("roles", [])))
    facts = await facts_resolver(ctx)
    exposures, public = [], []
    for asset in assets:
        observed = facts(asset)
        if not observed.get("public"):
            continue
        public.append(asset.id)
        for port in observed.get("open_ports", []):
            if port in RISKY_PORTS:
                service, severity = RISKY_PORTS[port]
                exposures.append(
                    {
                        "asset_id": asset.id,
                        "port": port,
                        "service": service,
                        "severity": severity,
                        "environment": asset.environment,
                        "role": asset.role,
                    }
                )
    exposures.sort(key=lambda e: (-SEVERITY_RANK[e["severity"]], e["asset_id"]))
    return {
        "exposures": exposures,
        "public_assets": public,
        "assets_checked": len(assets),
        "summary": f"{len(exposures)} risky open ports on {len(public)} public assets of {len(assets)}",
    }


TOOLS = [scan_vulns, check_exposure]
