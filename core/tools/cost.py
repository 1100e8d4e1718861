"""CostAgent's tools: read the bill, forecast the trend, and recommend savings with dollar amounts."""

from __future__ import annotations

import re
from typing import Any

from core.tools.base import ToolContext, tool
from core.tools.common import ENVIRONMENT, STRINGS, TEXT, array_of, environment_matches, inputs, money, outputs, source

_LINE = {"type": "object", "required": ["resource", "service", "environment", "monthly_usd"]}
_RECOMMENDATION = {
    "type": "object",
    "required": ["resource", "kind", "title", "monthly_savings_usd", "environment"],
    "properties": {
        "resource": TEXT,
        "kind": {"enum": ["rightsize", "schedule", "delete", "commit"]},
        "title": TEXT,
        "detail": {"type": "string"},
        "monthly_savings_usd": {"type": "number", "minimum": 0},
        "environment": TEXT,
        "assets": STRINGS,
        "effort": {"enum": ["low", "medium", "high"]},
    },
}
_SIZES = ["nano", "micro", "small", "medium", "large", "xlarge", "2xlarge", "4xlarge", "8xlarge"]
# Off-hours schedule: 12h on weekdays only is about 36% of a 720h month.
_SCHEDULE_SAVING = 0.64
_COMMIT_SAVING = 0.3


@tool(
    "billing_data",
    "Read this month's bill lines, filtered by environment and cloud service, with the total.",
    input_schema=inputs({"environment": ENVIRONMENT, "services": STRINGS}),
    output_schema=outputs({"month": TEXT, "lines": array_of(_LINE), "total_usd": {"type": "number"}}),
    risk="read",
)
async def billing_data(args: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
    bill = await source(ctx, "billing")
    services = set(args.get("services", []))
    lines = [
        line
        for line in bill["lines"]
        if environment_matches(args.get("environment"), line["environment"]) and (not services or line["service"] in services)
    ]
    total = round(sum(line["monthly_usd"] for line in lines), 2)
    return {
        "month": bill["month"],
        "lines": lines,
        "total_usd": total,
        "summary": f"{len(lines)} lines, {money(total)} in {bill['month']}",
    }


@tool(
    "forecast",
    "Project the monthly bill forward from the history with a linear trend.",
    input_schema=inputs({"months": {"type": "integer", "minimum": 1, "maximum": 24}}),
    output_schema=outputs(
        {
            "trend_usd_per_month": {"type": "number"},
            "projection": array_of({"type": "object", "required": ["months_ahead", "total_usd"]}),
        }
    ),
    risk="plan",
)
async def forecast(args: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
    history = [h["total_usd"] for h in (await source(ctx, "billing")).get("history", [])]
    months = args.get("months", 3)
    if len(history) < 2:
        last = history[-1] if history else 0.0
        return {
            "trend_usd_per_month": 0.0,
            "projection": [{"months_ahead": m, "total_usd": last} for m in range(1, months + 1)],
            "summary": "not enough history for a trend",
        }
    n = len(history)
    mean_x, mean_y = (n - 1) / 2, sum(history) / n
    slope = sum((x - mean_x) * (y - mean_y) for x, y in enumerate(history)) / sum((x - mean_x) ** 2 for x in range(n))
    intercept = mean_y - slope * mean_x
    projection = [{"months_ahead": m, "total_usd": round(intercept + slope * (n - 1 + m), 2)} for m in range(1, months + 1)]
    return {
        "trend_usd_per_month": round(slope, 2),
        "projection": projection,
        "summary": f"bill grows {money(slope)}/month; {money(projection[-1]['total_usd'])} in {months} months",
    }


@tool(
    "recommend",
    "Recommend savings from the bill: rightsize idle instances, schedule non-prod off-hours, delete unattached storage, commit steady load.",
    input_schema=inputs({"environment": ENVIRONMENT, "min_savings_usd": {"type": "number", "minimum": 0}}),
    output_schema=outputs({"recommendations": array_of(_RECOMMENDATION), "total_savings_usd": {"type": "number"}}),
    risk="plan",
)
async def recommend(args: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
    bill = await source(ctx, "billing")
    found = []
    for line in bill["lines"]:
        if not environment_matches(args.get("environment"), line["environment"]):
            continue
        found += _for_line(line)
    floor = args.get("min_savings_usd", 0)
    found = sorted((r for r in found if r["monthly_savings_usd"] >= floor), key=lambda r: -r["monthly_savings_usd"])
    total = round(sum(r["monthly_savings_usd"] for r in found), 2)
    return {
        "recommendations": found,
        "total_savings_usd": total,
        "summary": f"{len(found)} recommendations saving {money(total)}/month",
    }


def _for_line(line: dict[str, Any]) -> list[dict[str, Any]]:
    base = {"resource": line["resource"], "environment": line["environment"], "assets": line.get("assets", [])}
    cost, cpu = line["monthly_usd"], line.get("cpu_avg_percent")
    if line.get("state") == "unattached":
        return [
            {
                **base,
                "kind": "delete",
                "title": f"Delete unattached volume {line['resource']}",
                "effort": "low",
                "detail": f"{line.get('size_gb', '?')} GB not attached to any instance",
                "monthly_savings_usd": round(cost, 2),
            }
        ]
    if line.get("state") == "stale":
        return [
            {
                **base,
                "kind": "delete",
                "title": f"Expire stale snapshots {line['resource']}",
                "effort": "low",
                "detail": f"{line.get('age_days', '?')} days old",
                "monthly_savings_usd": round(cost * 0.9, 2),
            }
        ]
    found = []
    if line["environment"] != "production" and line.get("hours_running", 0) >= 700:
        found.append(
            {
                **base,
                "kind": "schedule",
                "title": f"Stop {line['resource']} outside working hours",
                "effort": "low",
                "detail": f"runs {line['hours_running']:g}h/month at {cpu if cpu is not None else '?'}% CPU",
                "monthly_savings_usd": round(cost * _SCHEDULE_SAVING, 2),
            }
        )
        return found
    smaller = _smaller(line.get("instance_type"))
    if cpu is not None and cpu < 15 and smaller:
        found.append(
            {
                **base,
                "kind": "rightsize",
                "title": f"Rightsize {line['resource']} {line['instance_type']} → {smaller}",
                "effort": "medium",
                "detail": f"average CPU {cpu:g}%",
                "monthly_savings_usd": round(cost / 2, 2),
            }
        )
    elif cpu is not None and cpu >= 35 and line.get("pricing") == "on_demand" and line.get("hours_running", 0) >= 700:
        found.append(
            {
                **base,
                "kind": "commit",
                "title": f"Cover {line['resource']} with a 1-year savings plan",
                "effort": "low",
                "detail": f"steady {cpu:g}% CPU around the clock on on-demand pricing",
                "monthly_savings_usd": round(cost * _COMMIT_SAVING, 2),
            }
        )
    return found


def _smaller(instance_type: str | None) -> str | None:
    if not instance_type:
        return None
    match = re.fullmatch(r"(.+?\.)([0-9]*x?large|medium|small|micro|nano)", instance_type)
    if not match or match.group(2) not in _SIZES or _SIZES.index(match.group(2)) == 0:
        return None
    return match.group(1) + _SIZES[_SIZES.index(match.group(2)) - 1]


TOOLS = [billing_data, forecast, recommend]
