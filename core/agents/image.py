from __future__ import annotations

from typing import Any

from core.agents.base import Agent, AgentContext, AgentResult
from core.domain import TaskSpec
from core.errors import ToolError


class ImageAgent(Agent):
    name = "image_agent"
    title = "ImageAgent"
    description = "Golden image lifecycle: validate and scan a new version, then build and promote it after approval."
    task_types = ("image_management",)
    plan_type = "image_plan"
    # build_image and promote are write-class: the plan names them, only the executor runs them after approval.
    tools = ("validate", "query_assets", "build_image", "promote")

    async def draft(self, spec: TaskSpec, task_id: str, ctx: AgentContext) -> AgentResult:
        image = spec.context.parameters.get("image")
        fleet = await ctx.tool_context.inventory.fleet()
        if not image:
            return AgentResult(None, f"Which image? Golden images: {', '.join(sorted(fleet.golden_images))}.", ctx.trace)
        target = spec.environment if spec.environment != "all" else "staging"
        try:
            checked = await ctx.call(
                "validate",
                image=image,
                **({"version": spec.context.parameters["version"]} if spec.context.parameters.get("version") else {}),
            )
        except ToolError as exc:
            return AgentResult(None, str(exc).removeprefix("tool validate failed: "), ctx.trace)
        running = await ctx.call("query_assets", environment=target, images=[image])
        version, current, recipe = checked["version"], checked["current_golden"], checked["recipe"]
        scan = checked["scan"]
        scan_text = ", ".join(f"{scan[k]} {k}" for k in ("critical", "high", "medium", "low"))
        status = "passed" if checked["passed"] else "failed"
        common = {"image": image, "from_version": current, "to_version": version}
        # The evidence keys (validation, scan, critical_vulnerabilities, source, target) are what policies/image_safety.rego reads.
        evidence = {
            "validation": status,
            "scan": dict(scan),
            "scan_status": "passed" if scan["critical"] + scan["high"] == 0 else "failed",
            "critical_vulnerabilities": scan["critical"],
            "source": "build",
            "target": target,
            "target_environment": target,
        }
        changes: list[dict[str, Any]] = [
            {
                "asset_id": f"image:{image}@{version}",
                "action": "build",
                **common,
                "details": {"builder": recipe.get("builder", "unknown"), "template": recipe.get("template", ""), **evidence},
            }
        ]
        steps: list[dict[str, Any]] = [
            {
                "name": "build",
                "description": f"Build {image} {version} from {recipe.get('base', 'its base')}",
                "command": f"packer build -var version={version} {recipe.get('template', image + '.pkr.hcl')}",
                "retries": 1,
                "timeout": "1h",
            },
            {
                "name": "validate",
                "description": "Boot the image and run its tests: " + ", ".join(recipe.get("tests", [])),
                "command": f"opspilot image test {image} {version}",
                "retries": 1,
                "timeout": "30m",
                "depends_on": ["build"],
            },
            {
                "name": "scan",
                "description": f"CVE scan of the built image (pre-build scan: {scan_text})",
                "command": f"opspilot image scan {image} {version} --fail-on high",
                "timeout": "15m",
                "depends_on": ["validate"],
            },
        ]
        if checked["passed"]:
            changes.append(
                {
                    "asset_id": f"golden:{image}:{target}",
                    "action": "promote",
                    **common,
                    "details": evidence,
                }
            )
            steps.append(
                {
                    "name": "promote",
                    "description": f"Make {image} {version} golden in {target}",
                    "command": f"opspilot image promote {image} {version} --env {target}",
                    "requires_confirmation": True,
                    "depends_on": ["scan"],
                }
            )
        findings = [
            {
                "title": f"Check {c['name']}: {'pass' if c['passed'] else 'FAIL'}",
                "severity": "info" if c["passed"] else "high",
                "detail": c.get("detail", ""),
            }
            for c in checked["checks"]
        ]
        if running["count"]:
            findings.append(
                {
                    "title": f"{running['count']} {target} assets run {image}",
                    "severity": "info",
                    "assets": [a["id"] for a in running["assets"]],
                    "detail": f"after promotion they read as drifted until rolled to {version}",
                    "recommendation": f"Ask: fix drift on {target} afterwards",
                }
            )
        summary = f"Build {image} {version} (golden {current}), validate and scan ({status}; {scan_text})" + (
            f", then promote to {target}" if checked["passed"] else "; promotion withheld until validation passes"
        )
        payload = {
            "summary": summary,
            "steps": steps,
            "changes": changes,
            "findings": findings,
            "estimated_duration": "2h",
            "risk_assessment": (
                f"Medium: a new golden version for {target}; running assets change only in a later drift rollout."
                if checked["passed"]
                else "High: validation fails; only the build is proposed."
            ),
        }
        return AgentResult(self.new_plan(spec, task_id, payload), summary, ctx.trace)
