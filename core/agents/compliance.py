from __future__ import annotations

from typing import Any

from core.agents.base import Agent, AgentContext, AgentResult
from core.agents.common import describe_scope, parameter_list
from core.agents.report import evidence as evidence_lines
from core.domain import TaskSpec


class ComplianceAgent(Agent):
    name = "compliance_agent"
    title = "ComplianceAgent"
    description = "Audit compliance controls (CIS, SOC2, PCI) on the fleet and write evidence; proposes fixes when asked."
    task_types = ("compliance_audit",)
    plan_type = "compliance_report"
    tools = ("check_controls", "generate_evidence", "generate_rollout")

    async def draft(self, spec: TaskSpec, task_id: str, ctx: AgentContext) -> AgentResult:
        params = spec.context.parameters
        where = describe_scope(spec)
        arguments: dict[str, Any] = {"environment": spec.environment}
        control_ids = parameter_list(spec, "control_ids", "control_id")
        if control_ids:
            arguments["control_ids"] = control_ids
        if params.get("framework"):
            arguments["framework"] = str(params["framework"])
        if spec.context.scope.roles:
            arguments["roles"] = spec.context.scope.roles
        checked = await ctx.call("check_controls", **arguments)
        results = checked["results"]
        if not results:
            asked = ", ".join(control_ids) or str(params.get("framework", "any framework"))
            return AgentResult(
                None, f"No control matches {asked}; the control catalogue has CIS, SOC2 and PCI controls.", ctx.trace
            )
        evidence = await ctx.call("generate_evidence", environment=spec.environment, results=results)
        failing = [r for r in results if r["failing"]]
        findings = [_finding(r, spec.environment) for r in sorted(results, key=lambda r: (not r["failing"], r["control_id"]))]
        findings.append(
            {
                "title": f"Evidence {evidence['evidence_id']}",
                "severity": "info",
                "detail": f"{evidence['digest']}\n{evidence['document']}",
            }
        )
        bad_assets = sorted({a for r in failing for a in r["failing"]})
        label = ", ".join(control_ids) or str(params.get("framework") or "all controls")
        verdict = (
            "compliant"
            if not failing
            else f"not compliant: {len(failing)} of {len(results)} controls fail on {len(bad_assets)} assets"
        )
        payload: dict[str, Any] = {
            "summary": f"{label} in {where}: {verdict} ({checked['assets_checked']} assets checked, evidence {evidence['evidence_id']})",
            "affected_assets": bad_assets,
            "total_assets": checked["assets_checked"],
            "findings": findings,
            "report": {
                "window_end": evidence["generated_at"],  # the facts were read when the evidence was written
                "sources": [
                    f"{len(results)} control{'s' if len(results) != 1 else ''} ({label})",
                    f"observed configuration facts of {checked['assets_checked']} assets in {where}",
                ],
            },
            "report_only": True,
            "risk_assessment": "No change proposed; this is a report." if failing else "Compliant; nothing to change.",
        }
        fixable = [r for r in failing if r.get("remediation", {}).get("automated")]
        if params.get("remediate") and fixable:
            await self._propose_fix(spec, ctx, fixable, payload)
        return AgentResult(self.new_plan(spec, task_id, payload), payload["summary"], ctx.trace)

    async def _propose_fix(
        self, spec: TaskSpec, ctx: AgentContext, fixable: list[dict[str, Any]], payload: dict[str, Any]
    ) -> None:
        per_asset: dict[str, list[dict[str, Any]]] = {}
        for result in fixable:
            for asset_id in result["failing"]:
                per_asset.setdefault(asset_id, []).append(result)
        ordered = sorted(per_asset)
        rollout = await ctx.call("generate_rollout", environment=spec.environment, asset_ids=ordered)
        payload.update(
            affected_assets=ordered,
            phases=rollout["phases"],
            changes=[
                {
                    "asset_id": a,
                    "action": "remediate_controls",
                    "details": {
                        "controls": [r["control_id"] for r in per_asset[a]],
                        "actions": sorted({r["remediation"]["action"] for r in per_asset[a]}),
                    },
                }
                for a in ordered
            ],
            estimated_duration=rollout["estimated_duration"],
            report_only=False,
            risk_assessment=f"Remediates {len(fixable)} controls on {len(ordered)} assets with automated fixes; canary first.",
        )
        payload["summary"] += f"; proposes automated remediation on {len(ordered)} assets"


def _finding(result: dict[str, Any], environment: str) -> dict[str, Any]:
    if not result["failing"]:
        return {
            "title": f"{result['control_id']} {result['title']}: passes",
            "severity": "info",
            "detail": f"{result['checked']} assets checked",
        }
    observed = result.get("observed") or {}
    finding: dict[str, Any] = {
        "title": f"{result['control_id']} {result['title']}: {len(result['failing'])} of {result['checked']} assets fail",
        "severity": result["severity"],
        "assets": result["failing"],
        "detail": f"expected {result['expected']!r}",
        "evidence": evidence_lines(
            f"{a}: {result.get('fact', 'fact')} = {observed[a]!r}"
            if a in observed
            else f"{a}: does not meet {result['expected']!r}"
            for a in result["failing"]
        ),
        "value": len(result["failing"]),
    }
    remediation = result.get("remediation") or {}
    if remediation:
        finding["recommendation"] = remediation.get("description", remediation["action"])
    if remediation.get("automated") and environment != "all":
        # Configuration drift from the control: the compliance agent plans its automated fix (remediate_controls
        # changes, canary first) when the ask says remediate; the driver applies it.
        finding["action"] = {"kind": "drift_fix", "ask": f"remediate {result['control_id']} in {environment}"}
    return finding
