from __future__ import annotations

from typing import Any

from core.agents.base import Agent, AgentContext, AgentResult
from core.agents.common import LEVEL_WORD, asset_query, describe_scope, listing, parameter_list
from core.domain import TaskSpec
from core.tools.common import is_older


class PatchAgent(Agent):
    name = "patch_agent"
    title = "PatchAgent"
    description = "Patch CVEs: find affected assets from the CVE feed, score their risk, roll the fix out in phases."
    task_types = ("patch_rollout",)
    plan_type = "patch_plan"
    tools = ("cve_feed", "query_assets", "risk_score", "generate_rollout")

    async def draft(self, spec: TaskSpec, task_id: str, ctx: AgentContext) -> AgentResult:
        where = describe_scope(spec)
        cve_ids = [c.upper() for c in parameter_list(spec, "cve_ids", "cve_id")]
        feed = await ctx.call("cve_feed", cve_ids=cve_ids) if cve_ids else await ctx.call("cve_feed", min_severity="high")
        advisories = feed["advisories"]
        if not advisories:
            missing = ", ".join(feed["missing"]) or "no high or critical advisory"
            return AgentResult(None, f"Nothing to patch: {missing} is not in the CVE feed.", ctx.trace)
        images = sorted({x["image"] for a in advisories for x in a["affects"]})
        found = await ctx.call("query_assets", **asset_query(spec, images=images))
        names = ", ".join(a["id"] for a in advisories)
        if found["count"] == 0:
            return AgentResult(None, f"No assets in {where} run an image affected by {names}.", ctx.trace)
        asset_ids = [a["id"] for a in found["assets"]]
        targets: dict[str, dict[str, Any]] = {}
        for advisory in advisories:
            scored = await ctx.call("risk_score", cve_id=advisory["id"], asset_ids=asset_ids)
            for entry in scored["scores"]:
                if not entry["affected"]:
                    continue
                target = targets.setdefault(
                    entry["asset_id"],
                    {
                        "image": entry["image"],
                        "current": entry["current"],
                        "fixed_in": entry["fixed_in"],
                        "cves": [],
                        "score": 0.0,
                    },
                )
                if is_older(target["fixed_in"], entry["fixed_in"]):
                    target["fixed_in"] = entry["fixed_in"]
                target["cves"].append(advisory["id"])
                target["score"] = max(target["score"], entry["score"])
        if not targets:
            return AgentResult(
                None, f"All {found['count']} assets in {where} already run a fixed version for {names}.", ctx.trace
            )
        # Lowest-risk assets go first, so the canary has the smallest blast radius.
        ordered = sorted(targets, key=lambda a: (targets[a]["score"], a))
        arguments: dict[str, Any] = {"environment": spec.environment, "asset_ids": ordered}
        if spec.constraints and spec.constraints.max_batch_percent:
            arguments["max_batch_percent"] = spec.constraints.max_batch_percent
        rollout = await ctx.call("generate_rollout", **arguments)
        changes = [
            {
                "asset_id": a,
                "action": "apply_patch",
                "image": t["image"],
                "from_version": t["current"],
                "to_version": t["fixed_in"],
                "details": {"cves": t["cves"], "risk_score": t["score"]},
            }
            for a, t in ((a, targets[a]) for a in ordered)
        ]
        findings = [
            {
                "title": f"{a['id']}: {a['title']}",
                "severity": a["severity"],
                "detail": f"CVSS {a['cvss']}, package {a['package']}" + (", exploited in the wild" if a.get("exploited") else ""),
                "assets": [x for x in ordered if a["id"] in targets[x]["cves"]],
                "recommendation": "Move to " + ", ".join(f"{x['image']} {x['fixed_in']}" for x in a["affects"]),
            }
            for a in advisories
            if any(a["id"] in t["cves"] for t in targets.values())
        ]
        fixes = sorted({f"{t['image']} {t['fixed_in']}" for t in targets.values()})
        worst = max(advisories, key=lambda a: a["cvss"])
        payload = {
            "summary": f"Patch {names} on {len(targets)} of {found['count']} assets in {where}: move to {', '.join(fixes)}",
            "affected_assets": ordered,
            "total_assets": found["count"],
            "phases": rollout["phases"],
            "changes": changes,
            "findings": findings,
            "estimated_duration": rollout["estimated_duration"],
            "risk_assessment": (
                f"{LEVEL_WORD[spec.risk_level]}: worst advisory {worst['id']} CVSS {worst['cvss']}"
                + (" (exploited)" if worst.get("exploited") else "")
                + f"; highest asset risk {max(t['score'] for t in targets.values()):g}/100; canary on the lowest-risk assets: "
                + listing(rollout["phases"][0]["assets"], 5)
            ),
        }
        return AgentResult(self.new_plan(spec, task_id, payload), payload["summary"], ctx.trace)
