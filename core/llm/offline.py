"""The offline planner: rules that map common phrasings to a TaskSpec without any network.

Each rule recognizes one kind of task; the first that matches builds the spec. When nothing
matches, the person is told which asks work, one example per agent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from core.domain import AgentRef, Constraints, Scope, SpecContext, TaskSpec
from core.errors import InvalidAsk
from core.intake import vocabulary as words
from core.llm import phrases
from core.llm.base import LanguageModel, SpecDraft, SpecRequest

RISK_BY_ENVIRONMENT = {"production": "high", "staging": "medium", "development": "low", "all": "medium"}


@dataclass(frozen=True)
class Rule:
    task_type: str
    agent: str
    tools: tuple[str, ...]
    matches: Callable[[str], bool]
    goal: Callable[[str, Scope, dict[str, Any]], str]
    example: str
    # None: the ask must name an environment; otherwise the environment assumed when it names none.
    default_environment: str | None = None
    parameters: Callable[[str], dict[str, Any]] = field(default=lambda text: {})
    scoped: bool = True
    rollout: bool = True
    risk: str | None = None

    @property
    def needs_environment(self) -> bool:
        return self.default_environment is None


def _scope(text: str) -> Scope:
    roles = words.roles(text)
    return Scope(
        roles=roles,
        platforms=words.platforms(text),
        regions=words.regions(text),
        asset_filter=" ".join(f"role:{r}" for r in roles) or None,
    )


def _scope_words(environment: str, scope: Scope) -> str:
    parts = [environment if environment != "all" else "all environments"]
    parts += [r.replace("-", " ") + "s" for r in scope.roles] or ["assets"]
    if scope.platforms or scope.regions:
        parts.append("in " + " ".join([*scope.platforms, *scope.regions]))
    return " ".join(parts)


def _where(environment: str) -> str:
    return environment if environment != "all" else "all environments"


def _compliance_parameters(text: str) -> dict[str, Any]:
    found = phrases.controls(text)
    if words.has_any(text, "fix", "remediate", "enforce", "make us compliant", "bring into compliance"):
        found["remediate"] = True
    return found


def _security_parameters(text: str) -> dict[str, Any]:
    exposure = words.has_any(text, "exposed", "exposure", "open port", "attack surface", "public", "internet")
    vulns = words.has_any(text, "vuln", "cve")
    return {"focus": "exposure"} if exposure and not vulns else {}


def _api_parameters(text: str) -> dict[str, Any]:
    found: dict[str, Any] = {}
    name = phrases.api(text)
    if name:
        found["api"] = name
    if words.has_any(text, "including writes", "with writes", "read and write", "read/write", "read-write"):
        found["include_writes"] = True
    return found


def _label(params: dict[str, Any], key: str, fallback: str) -> str:
    value = params.get(key)
    return ", ".join(value) if isinstance(value, list) else str(value) if value else fallback


RULES: list[Rule] = [
    Rule(
        task_type="drift_remediation",
        agent="drift_agent",
        tools=("query_assets", "compare_versions", "generate_patch_plan"),
        matches=lambda t: words.has_any(t, "drift", "out of sync", "golden image version", "reconcile"),
        goal=lambda env, scope, p: f"Remediate drift for {_scope_words(env, scope)}",
        example="fix drift on prod web servers",
    ),
    Rule(
        task_type="adapter_generation",
        agent="adapter_agent",
        tools=("discover_api", "generate_adapter"),
        matches=lambda t: words.has_any(t, "integrate", "integration with", "integration for", "adapter", "connector for"),
        goal=lambda env, scope, p: f"Generate an adapter for the {_label(p, 'api', 'named')} API",
        example="integrate the PagerDuty API",
        default_environment="all",
        parameters=_api_parameters,
        scoped=False,
        rollout=False,
        risk="medium",
    ),
    Rule(
        task_type="sop_authoring",
        agent="sop_agent",
        tools=("generate_sop", "validate_sop"),
        matches=lambda t: words.has_any(
            t, "sop", "standard operating procedure", "procedure for", "runbook for", "playbook for", "checklist for"
        ),
        goal=lambda env, scope, p: f"Write an SOP for {p['topic']}"[:500],
        example="write an SOP for rotating TLS certificates",
        default_environment="all",
        parameters=lambda t: {"topic": phrases.topic(t)},
        scoped=False,
        rollout=False,
        risk="medium",
    ),
    Rule(
        task_type="dr_drill",
        agent="dr_agent",
        tools=("infra_graph", "simulate_failover"),
        matches=lambda t: (
            words.has_any(
                t, "dr drill", "dr test", "dr plan", "dr exercise", "disaster recovery", "failover", "fail over", "region outage"
            )
            or (words.has_any(t, "dr") and words.has_any(t, "drill", "plan", "test", "runbook"))
        ),
        goal=lambda env, scope, p: f"Plan a disaster-recovery drill for {_label(p, 'region', 'a region')} in {_where(env)}",
        example="plan a DR drill for us-east-1",
        default_environment="production",
        parameters=lambda t: {"region": r[0]} if (r := phrases.region(t)) else {},
        scoped=False,
        rollout=False,
    ),
    Rule(
        task_type="patch_rollout",
        agent="patch_agent",
        tools=("cve_feed", "query_assets", "risk_score", "generate_rollout"),
        matches=lambda t: (
            words.has_any(t, "patch", "security update", "security updates")
            or (bool(phrases.cve_ids(t)) and words.has_any(t, "fix", "remediate", "upgrade", "roll out"))
        ),
        goal=lambda env, scope, p: f"Patch {_label(p, 'cve_ids', 'high and critical CVEs')} on {_scope_words(env, scope)}",
        example="patch CVE-2024-3094 on staging db servers",
        parameters=lambda t: {"cve_ids": ids} if (ids := phrases.cve_ids(t)) else {},
    ),
    Rule(
        task_type="image_management",
        agent="image_agent",
        tools=("validate", "query_assets", "build_image", "promote"),
        matches=lambda t: (
            words.has_any(t, "golden image", "new image", "base image", "build an image", "image build", "promote image")
            or (words.has_any(t, "build", "bake", "promote", "rebuild") and bool(phrases.image(t).get("image")))
        ),
        goal=lambda env, scope, p: f"Build, validate and promote a new {_label(p, 'image', 'golden')} image to {_where(env)}",
        example="build a new golden image for ubuntu-base",
        default_environment="staging",
        parameters=phrases.image,
        scoped=False,
        rollout=False,
    ),
    Rule(
        task_type="compliance_audit",
        agent="compliance_agent",
        tools=("check_controls", "generate_evidence"),
        matches=lambda t: words.has_any(
            t, "compliant", "compliance", "cis", "soc2", "soc 2", "pci", "hipaa", "benchmark", "audit", "controls"
        ),
        goal=lambda env, scope, p: (
            f"Audit {_label(p, 'control_ids', '') or _label(p, 'framework', 'compliance controls')} on {_scope_words(env, scope)}"
        ),
        example="are we compliant with CIS 5.2 in prod",
        default_environment="all",
        parameters=_compliance_parameters,
        rollout=False,
        risk="low",
    ),
    Rule(
        task_type="security_scan",
        agent="security_agent",
        tools=("check_exposure", "scan_vulns"),
        matches=lambda t: words.has_any(
            t, "scan", "exposed", "exposure", "open port", "vulnerab", "vulns", "security", "attack surface"
        ),
        goal=lambda env, scope, p: (
            f"Scan {_scope_words(env, scope)} for "
            + ("exposed ports" if p.get("focus") == "exposure" else "vulnerabilities and exposed ports")
        ),
        example="scan prod for exposed ports",
        default_environment="all",
        parameters=_security_parameters,
        rollout=False,
        risk="low",
    ),
    Rule(
        task_type="cost_optimization",
        agent="cost_agent",
        tools=("billing_data", "forecast", "recommend"),
        matches=lambda t: words.has_any(
            t, "cost", "spend", "bill", "save money", "savings", "cheaper", "budget", "rightsiz", "finops"
        ),
        goal=lambda env, scope, p: f"Find cost savings in {_where(env)}",
        example="where can we cut cost",
        default_environment="all",
        scoped=False,
        rollout=False,
        risk="low",
    ),
    Rule(
        task_type="incident_investigation",
        agent="incident_agent",
        tools=("query_logs", "infra_graph", "correlate_events"),
        matches=lambda t: words.has_any(
            t,
            "erroring",
            "errors",
            "error",
            "failing",
            "is down",
            "are down",
            "outage",
            "incident",
            "broken",
            "5xx",
            "500s",
            "slow",
            "latency",
            "timing out",
            "timeouts",
            "investigate",
            "crashing",
        ),
        goal=lambda env, scope, p: f"Investigate {p.get('service', 'errors')} in {_where(env)}",
        example="why is checkout erroring",
        default_environment="production",
        parameters=lambda t: {"service": s} if (s := phrases.service(t)) else {},
        scoped=False,
        rollout=False,
        risk="low",
    ),
]

AGENT_ORDER = (
    "drift_agent",
    "patch_agent",
    "compliance_agent",
    "incident_agent",
    "dr_agent",
    "cost_agent",
    "security_agent",
    "image_agent",
    "sop_agent",
    "adapter_agent",
)
# One example per agent, in the order of the agents table; the bot shows them as help.
EXAMPLE_ASKS: tuple[str, ...] = tuple(next(r.example for r in RULES if r.agent == agent) for agent in AGENT_ORDER)


class OfflinePlanner(LanguageModel):
    name = "offline"

    def __init__(self, rules: list[Rule] | None = None, examples: tuple[str, ...] = EXAMPLE_ASKS) -> None:
        self.rules = rules if rules is not None else RULES
        self.examples = examples

    def help_text(self) -> str:
        return "Asks that work today: " + "; ".join(f"`{e}`" for e in self.examples)

    async def draft_spec(self, request: SpecRequest) -> SpecDraft:
        text = request.text
        rule = next((r for r in self.rules if r.matches(text)), None)
        if rule is None:
            raise InvalidAsk("I can't map that to a task yet. " + self.help_text())
        environments = words.environments(text)
        if len(environments) > 1:
            raise InvalidAsk(
                f"That ask names more than one environment ({', '.join(environments)}); ask for one at a time, "
                f"e.g. `{rule.example}`."
            )
        environment = environments[0] if environments else request.default_environment or rule.default_environment
        if environment is None:
            raise InvalidAsk(f"Which environment? Say prod, staging or dev, e.g. `{_with_environment(rule.example)}`.")
        scope = _scope(text) if rule.scoped else Scope()
        parameters = rule.parameters(text)
        if "region" in parameters:
            scope = Scope(regions=[parameters["region"]])
        spec = TaskSpec(
            task_type=rule.task_type,
            goal=rule.goal(environment, scope, parameters),
            context=SpecContext(environment=environment, scope=scope, parameters=parameters),
            agents=[AgentRef(name=rule.agent, priority=1)],
            tools_required=list(rule.tools),
            risk_level=rule.risk or RISK_BY_ENVIRONMENT[environment],
            hitl_required=True,
            constraints=Constraints(
                canary_required=environment in ("production", "staging"),
                max_batch_percent=20 if environment == "production" else None,
                rollback_trigger="error_rate > 1%",
            )
            if rule.rollout
            else None,
        )
        return SpecDraft(spec=spec, provider=self.name)


def _with_environment(example: str) -> str:
    return example if words.environments(example) else example.replace(" on ", " on staging ", 1)
