from __future__ import annotations

from typing import Any

from core.agents.base import Agent, AgentContext, AgentResult
from core.domain import TaskSpec
from core.errors import ToolError
from core.timeutil import format_duration, parse_duration
from core.tools.common import compact_duration


class DRAgent(Agent):
    name = "dr_agent"
    title = "DRAgent"
    description = "Plan disaster-recovery drills: simulate losing a region, then write the failover and failback runbook."
    task_types = ("dr_drill",)
    plan_type = "dr_runbook"
    tools = ("infra_graph", "simulate_failover")

    async def draft(self, spec: TaskSpec, task_id: str, ctx: AgentContext) -> AgentResult:
        region = spec.context.parameters.get("region") or next(iter(spec.context.scope.regions), None)
        graph = await ctx.call("infra_graph", **({"regions": [region]} if region else {}))
        if region is None:
            return AgentResult(
                None, f"Which region should the drill take out? Regions: {', '.join(graph['regions'])}.", ctx.trace
            )
        try:
            simulated = await ctx.call("simulate_failover", region=region)
        except ToolError as exc:
            return AgentResult(None, str(exc).removeprefix("tool simulate_failover failed: "), ctx.trace)
        outcomes = simulated["outcomes"]
        failovers = [o for o in outcomes if o["outcome"] == "failover"]
        fleet = (await ctx.tool_context.inventory.fleet()).by_id()
        assets = [a for a in simulated["assets_in_region"] if a in fleet]
        steps = _steps(region, failovers, graph["services"])
        findings = [_finding(o) for o in sorted(outcomes, key=lambda o: (o.get("meets_rto", True), o["service"]))]
        findings.append(
            {
                "title": f"{len(assets)} assets in {region} stop taking traffic during the drill",
                "severity": "info",
                "assets": assets,
                "detail": "traffic is drained, not re-imaged; nothing on the assets changes",
            }
        )
        missed = [o["service"] for o in outcomes if o.get("meets_rto") is False or o["outcome"] != "failover"]
        longest = max((parse_duration(o["estimated_recovery"]) for o in failovers), default=0)
        payload: dict[str, Any] = {
            "summary": (
                f"DR drill for {region}: {len(failovers)} services fail over, "
                + (f"at risk: {', '.join(missed)}" if missed else "all within RTO")
                + f"; {len(steps)} runbook steps"
            ),
            # Nothing on the assets changes (traffic moves), so none are "affected" in the rollout sense.
            "affected_assets": [],
            "steps": steps,
            "findings": findings,
            "estimated_duration": format_duration(longest * 2 + 3600),
            "risk_assessment": (
                f"High: traffic leaves {region} for the drill; {len(assets)} assets drained. "
                "Every traffic move needs a person to confirm; failback is part of the runbook."
            ),
        }
        return AgentResult(self.new_plan(spec, task_id, payload), payload["summary"], ctx.trace)


def _steps(region: str, failovers: list[dict[str, Any]], services: list[dict[str, Any]]) -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = [
        {"name": "announce", "description": f"Announce the {region} drill, open a change record, freeze deploys"},
        {
            "name": "snapshot",
            "description": "Snapshot stateful services before traffic moves",
            "command": f"opsctl snapshot --region {region} --tier 1",
            "timeout": "30m",
            "depends_on": ["announce"],
        },
    ]
    lagging = [d for s in services for d in s["deployments"] if d.get("replication_lag")]
    if lagging:
        steps.append(
            {
                "name": "check-replication",
                "description": "Confirm standby replicas are caught up",
                "command": "opsctl replication-lag --max 60s",
                "retries": 3,
                "timeout": "5m",
                "depends_on": ["snapshot"],
            }
        )
    previous = steps[-1]["name"]
    for outcome in failovers:
        timeout = compact_duration(max(parse_duration(outcome["estimated_recovery"]) * 2, 300))
        name = f"failover-{outcome['service']}"
        steps.append(
            {
                "name": name,
                "description": f"Move {outcome['service']} to {outcome['target_region']}"
                + (f"; {outcome['reason']}" if outcome.get("reason") else ""),
                "command": f"opsctl failover --service {outcome['service']} --from {region} --to {outcome['target_region']}",
                "requires_confirmation": True,
                "retries": 1,
                "timeout": timeout,
                "depends_on": [previous],
            }
        )
    moved = [s["name"] for s in steps if s["name"].startswith("failover-")]
    steps.append(
        {
            "name": "verify",
            "description": "Check health and error rates in the target regions",
            "command": "opsctl health --services " + ",".join(o["service"] for o in failovers),
            "retries": 3,
            "timeout": "10m",
            "depends_on": moved or [previous],
        }
    )
    steps.append(
        {
            "name": "failback",
            "description": f"Return traffic to {region}",
            "command": f"opsctl failback --region {region}",
            "requires_confirmation": True,
            "timeout": "1h",
            "depends_on": ["verify"],
        }
    )
    steps.append(
        {
            "name": "report",
            "description": "Record measured recovery times against RTO and file follow-ups",
            "depends_on": ["failback"],
        }
    )
    return steps


def _finding(outcome: dict[str, Any]) -> dict[str, Any]:
    service = outcome["service"]
    if outcome["outcome"] == "outage":
        return {
            "title": f"{service} has no deployment outside the region",
            "severity": "critical",
            "assets": outcome.get("lost_assets", []),
            "detail": outcome.get("reason", ""),
            "recommendation": f"Add a standby for {service} in another region before relying on this drill",
        }
    if outcome["outcome"] == "degraded":
        return {"title": f"{service} degrades", "severity": "high", "detail": outcome.get("reason", "")}
    meets = outcome.get("meets_rto")
    return {
        "title": f"{service} fails over to {outcome['target_region']} in ~{outcome['estimated_recovery']} (RTO {outcome['rto']})",
        "severity": "info" if meets else "high",
        "detail": outcome.get("reason", "active-active"),
        **({} if meets else {"recommendation": f"Keep a warm standby for {service} to meet its {outcome['rto']} RTO"}),
    }
