from __future__ import annotations

from typing import Any

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
    # With executor.driver ansible, draft also calls check_playbook_drift; it is not offered to the model, which
    # would otherwise re-run the playbook (minutes on a real fleet) on each of its turns.
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
        if _ansible_driver(ctx):
            return await self._draft_by_check_mode(spec, task_id, ctx, found, where)
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

    async def _draft_by_check_mode(
        self, spec: TaskSpec, task_id: str, ctx: AgentContext, found: dict[str, Any], where: str
    ) -> AgentResult:
        """executor.driver ansible: drift is what the playbook would change in check mode; only those hosts are planned."""
        checked = await ctx.call("check_playbook_drift", asset_ids=[a["id"] for a in found["assets"]])
        drifted, failed = checked["drifted"], checked["failed"]
        playbook = checked["dry_run"]["playbook"]
        if not drifted:
            message = f"No drift: {playbook} in check mode would change none of the {len(checked['in_sync'])} hosts it checked in {where}."
            if failed:
                message += " " + _not_checked(failed)
            return AgentResult(None, message, ctx.trace)
        arguments: dict[str, Any] = {"environment": spec.environment, "drifted": drifted}
        if spec.constraints and spec.constraints.max_batch_percent:
            arguments["max_batch_percent"] = spec.constraints.max_batch_percent
        drafted = await ctx.call("generate_patch_plan", **arguments)
        summary = (
            f"Converge {len(drifted)} drifted of {found['count']} hosts in {where}: {playbook} in check mode would change them"
        )
        if failed:
            summary += f". {_not_checked(failed)}"
        payload = {
            "summary": summary,
            "affected_assets": [d["asset_id"] for d in drifted],
            "total_assets": found["count"],
            "phases": drafted["phases"],
            "changes": drafted["changes"],
            "estimated_duration": drafted["estimated_duration"],
            "risk_assessment": _check_mode_risk(spec, len(drifted)),
            "dry_run": checked["dry_run"],
        }
        plan = self.new_plan(spec, task_id, payload)
        return AgentResult(plan, payload["summary"], ctx.trace)


def _ansible_driver(ctx: AgentContext) -> bool:
    config = ctx.tool_context.config
    return config is not None and config.executor.driver == "ansible"


def _not_checked(failed: list[dict[str, Any]]) -> str:
    hosts = ", ".join(f["host"] for f in failed[:5]) + (f" +{len(failed) - 5}" if len(failed) > 5 else "")
    return f"{len(failed)} host(s) could not be checked and are left out: {hosts}."


def _check_mode_risk(spec: TaskSpec, count: int) -> str:
    level = {"critical": "Critical", "high": "High", "medium": "Medium", "low": "Low"}[spec.risk_level]
    return f"{level}: the playbook changes {count} hosts in {spec.environment}; canary first, then waves"


def _risk(spec: TaskSpec, count: int) -> str:
    level = {"critical": "Critical", "high": "High", "medium": "Medium", "low": "Low"}[spec.risk_level]
    return f"{level}: {count} assets in {spec.environment}; golden images are already in use elsewhere, canary first"
