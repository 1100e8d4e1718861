from __future__ import annotations

from typing import Any

from core.agents.base import Agent, AgentContext, AgentResult
from core.agents.common import describe_scope, listing
from core.agents.report import evidence, iso
from core.domain import TaskSpec
from core.inventory import AssetQuery
from core.timeutil import utcnow


class SecurityAgent(Agent):
    name = "security_agent"
    title = "SecurityAgent"
    description = "Scan for vulnerable image versions and services exposed to the internet; reports findings by severity."
    task_types = ("security_scan",)
    plan_type = "security_report"
    tools = ("check_exposure", "scan_vulns")

    async def draft(self, spec: TaskSpec, task_id: str, ctx: AgentContext) -> AgentResult:
        focus = spec.context.parameters.get("focus", "all")
        roles = {"roles": spec.context.scope.roles} if spec.context.scope.roles else {}
        where = describe_scope(spec)
        findings: list[dict[str, Any]] = []
        parts = []
        scanned_at = iso(utcnow())  # the tools read the fleet and the feed as they are now: the scan's time
        exposure = await ctx.call("check_exposure", environment=spec.environment, **roles)
        sources = [f"open ports of the {exposure['assets_checked']} assets in {where} (observed facts)"]
        for e in exposure["exposures"]:
            findings.append(
                {
                    "title": f"{e['service']} (port {e['port']}) open to the internet on {e['asset_id']}",
                    "severity": e["severity"],
                    "assets": [e["asset_id"]],
                    "detail": f"{e['role']} in {e['environment']}",
                    "evidence": [f"{e['asset_id']}: internet-facing, port {e['port']}/{e['service']} open"],
                    # No button: no agent plans firewall changes; a person closes the port.
                    "recommendation": f"Close port {e['port']} to 0.0.0.0/0; allow only the bastion or application subnets",
                }
            )
        parts.append(f"{len(exposure['exposures'])} risky open ports on {len(exposure['public_assets'])} internet-facing assets")
        scanned = exposure["assets_checked"]
        if focus != "exposure":
            scan = await ctx.call("scan_vulns", environment=spec.environment, min_severity="medium", **roles)
            scanned = scan["assets_scanned"]
            sources.append(f"CVE feed (medium and above) against the image versions of {scanned} assets")
            versions = await self._versions(ctx, spec.environment)
            for v in scan["vulnerabilities"]:
                fixed = v.get("fixed_in") or {}
                findings.append(
                    {
                        "title": f"{v['cve_id']}: {v['title']}",
                        "severity": v["severity"],
                        "assets": v["assets"],
                        "detail": f"CVSS {v['cvss']}"
                        + (", exploited in the wild" if v["exploited"] else "")
                        + f"; {len(v['assets'])} assets",
                        "evidence": evidence(
                            f"{a}: {versions.get(a, ('?', '?'))[0]} {versions.get(a, ('?', '?'))[1]}"
                            + (f" (fixed in {fixed[versions[a][0]]})" if a in versions and versions[a][0] in fixed else "")
                            for a in v["assets"]
                        ),
                        "value": v["cvss"],
                        "recommendation": f"Patch {v['cve_id']} on {spec.environment}",
                        **(
                            {"action": {"kind": "patch", "ask": f"patch {v['cve_id']} on {spec.environment}"}}
                            if fixed and spec.environment != "all"
                            else {}
                        ),
                    }
                )
            parts.append(
                f"{len(scan['vulnerabilities'])} CVEs on {len({a for v in scan['vulnerabilities'] for a in v['assets']})} assets"
            )
        if not findings:
            return AgentResult(
                None,
                f"Clean: no exposed risky ports{'' if focus == 'exposure' else ' or known CVEs'} on {scanned} assets in {where}.",
                ctx.trace,
            )
        rank = {"critical": 0, "high": 1, "medium": 2, "low": 3, "info": 4}
        findings.sort(key=lambda f: rank[f["severity"]])
        affected = sorted({a for f in findings for a in f.get("assets", [])})
        worst = [f["title"] for f in findings if f["severity"] == "critical"]
        summary = f"Security scan of {where} ({scanned} assets): " + "; ".join(parts)
        payload = {
            "summary": summary,
            "affected_assets": affected,
            "total_assets": scanned,
            "findings": findings,
            "report": {"window_end": scanned_at, "sources": sources},
            "report_only": True,
            "risk_assessment": (f"Critical: {listing(worst, 3)}" if worst else "No critical findings")
            + ". Report only; nothing was changed.",
        }
        return AgentResult(self.new_plan(spec, task_id, payload), summary, ctx.trace)

    @staticmethod
    async def _versions(ctx: AgentContext, environment: str) -> dict[str, tuple[str, str]]:
        """Each asset's image and version, for the evidence lines."""
        assets = await ctx.tool_context.inventory.query(AssetQuery(environment=environment))
        return {a.id: (a.image, a.image_version) for a in assets}
