from __future__ import annotations

from core.agents.base import Agent, AgentContext, AgentResult
from core.agents.common import describe_scope
from core.domain import TaskSpec

__all__ = ["DriftAgent", "describe_scope"]


class DriftAgent(Agent):
    name = "drift_agent"
    title = "DriftAgent"
    description = "Detect and remediate configuration drift against golden images."
    task_types = ("drift_remediation",)
    plan_type = "drift_plan"
    tools = ("query_assets", "compare_versions", "generate_patch_plan")

    async def draft(self, spec: TaskSpec, task_id: str, ctx: AgentContext) -> AgentResult:
        scope = spec.context.scope
        found = await ctx.call(
            "query_assets",
            environment=spec.environment,
            roles=scope.roles,
            platforms=scope.platforms,
            regions=scope.regions,
            asset_ids=scope.asset_ids,
        )
        where = describe_scope(spec)
        if found["count"] == 0:
            return AgentResult(None, f"No assets match {where}.", ctx.trace)
        compared = await ctx.call("compare_versions", asset_ids=[a["id"] for a in found["assets"]])
        drifted = compared["drifted"]
        if not drifted:
            return AgentResult(
                None, f"No drift: all {found['count']} assets in {where} run their golden image versions.", ctx.trace
            )
        arguments = {"environment": spec.environment, "drifted": drifted}
        if spec.constraints and spec.constraints.max_batch_percent:
            arguments["max_batch_percent"] = spec.constraints.max_batch_percent
        drafted = await ctx.call("generate_patch_plan", **arguments)
        targets = sorted({f"{d['image']} {d['golden']}" for d in drifted})
        payload = {
            "summary": f"Remediate {len(drifted)} drifted of {found['count']} assets in {where}: move to {', '.join(targets)}",
            "affected_assets": [d["asset_id"] for d in drifted],
            "total_assets": found["count"],
            "phases": drafted["phases"],
            "changes": drafted["changes"],
            "estimated_duration": drafted["estimated_duration"],
            "risk_assessment": _risk(spec, len(drifted)),
        }
        plan = self.new_plan(spec, task_id, payload)
        return AgentResult(plan, payload["summary"], ctx.trace)


def _risk(spec: TaskSpec, count: int) -> str:
    level = {"critical": "Critical", "high": "High", "medium": "Medium", "low": "Low"}[spec.risk_level]
    return f"{level}: {count} assets in {spec.environment}; golden images are already in use elsewhere, canary first"
