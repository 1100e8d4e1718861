"""The offline planner: the intent model (core/intents) picks the agent, the rules below build its TaskSpec.

The model reads the ask as a whole (word and character n-grams learnt from a corpus of labelled asks), so it
understands phrasings no keyword list foresaw; the entities (environment, services, regions, CVE ids, images, time
ranges...) fill the spec. When the model is unsure (confidence below ``intents.min_confidence``) the keywords of the
rules settle between its likeliest readings if exactly one of them matches; otherwise the person is offered the two
or three likeliest readings to pick from. An ask about something OpsPilot does not do is told so, with what it can do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from core.domain import AgentRef, Constraints, Scope, SpecContext, TaskSpec
from core.errors import InvalidAsk, UnclearAsk
from core.intake import vocabulary as words
from core.intake.screen import screen
from core.intents.entities import Entities
from core.intents.reader import Choice, IntentReader, Reading, default_reader
from core.llm import phrases
from core.llm.base import LanguageModel, SpecDraft, SpecRequest

RISK_BY_ENVIRONMENT = {"production": "high", "staging": "medium", "development": "low", "all": "medium"}
OFFER_FLOOR = 0.12  # a reading less likely than this is not worth a button
# Saying "OpsPilot does not do that" takes more certainty than planning: turning away an ask it could handle costs
# more than offering a choice. Below this, an ask read as out of scope is offered its likeliest agents instead.
NONE_CONFIDENCE = 0.8
REPORT_AGENTS = frozenset({"incident_agent", "cost_agent", "compliance_agent", "security_agent"})


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
    parameters: Callable[[str, Entities], dict[str, Any]] = field(default=lambda text, entities: {})
    scoped: bool = True
    rollout: bool = True
    risk: str | None = None
    # What the person is offered when the ask is unclear, e.g. "Investigate an incident on {service} ({environment})?"
    offer: Callable[[Entities, str], str] = field(default=lambda entities, environment: "")

    @property
    def needs_environment(self) -> bool:
        return self.default_environment is None


def _scope_words(environment: str, scope: Scope) -> str:
    parts = [environment if environment != "all" else "all environments"]
    if scope.services:
        parts.append("/".join(scope.services))
    parts += [r.replace("-", " ") + "s" for r in scope.roles] or ([] if scope.services else ["assets"])
    if scope.platforms or scope.regions:
        parts.append("in " + " ".join([*scope.platforms, *scope.regions]))
    return " ".join(parts)


def _where(environment: str) -> str:
    return environment if environment != "all" else "all environments"


def _compliance_parameters(text: str, entities: Entities) -> dict[str, Any]:
    found = phrases.controls(text)
    if words.has_any(text, "fix", "remediate", "enforce", "make us compliant", "bring into compliance", "bring staging into"):
        found["remediate"] = True
    return found


def _security_parameters(text: str, entities: Entities) -> dict[str, Any]:
    exposure = words.has_any(
        text, "exposed", "exposure", "open port", "attack surface", "public", "internet", "open to", "0.0.0.0"
    )
    vulns = words.has_any(text, "vuln", "cve") or bool(entities.cve_ids)
    found: dict[str, Any] = {"focus": "exposure"} if exposure and not vulns else {}
    if entities.cve_ids:
        found["cve_ids"] = list(entities.cve_ids)
    return found


def _patch_parameters(text: str, entities: Entities) -> dict[str, Any]:
    return {"cve_ids": list(entities.cve_ids)} if entities.cve_ids else {}


def _incident_parameters(text: str, entities: Entities) -> dict[str, Any]:
    found: dict[str, Any] = {}
    service = entities.services[0] if entities.services else phrases.service(text)
    if service:
        found["service"] = service
    if entities.time_range is not None:
        window = entities.time_range.to_document()
        found.update(since=window["since"], until=window["until"], time_range=window["text"])
    return found


def _dr_parameters(text: str, entities: Entities) -> dict[str, Any]:
    return {"region": entities.regions[0]} if entities.regions else {}


def _image_parameters(text: str, entities: Entities) -> dict[str, Any]:
    found = phrases.image(text)
    if entities.images:
        found["image"] = entities.images[0]
    return found


def _api_parameters(text: str, entities: Entities) -> dict[str, Any]:
    found: dict[str, Any] = {}
    name = phrases.api(text)
    if name:
        found["api"] = name
    if words.has_any(text, "including writes", "with writes", "read and write", "read/write", "read-write", "write access"):
        found["include_writes"] = True
    return found


def _label(params: dict[str, Any], key: str, fallback: str) -> str:
    value = params.get(key)
    return ", ".join(value) if isinstance(value, list) else str(value) if value else fallback


def _on(entities: Entities, fallback: str = "") -> str:
    """ " on payments web servers" for an offer, from what the ask named."""
    named = [*entities.services, *(r.replace("-", " ") + "s" for r in entities.roles), *entities.hosts[:2]]
    return f" on {' '.join(named)}" if named else fallback


def _in(environment: str) -> str:
    return f" ({environment})" if environment not in ("", "all") else " (all environments)" if environment else ""


RULES: list[Rule] = [
    Rule(
        task_type="drift_remediation",
        agent="drift_agent",
        tools=("query_assets", "compare_versions", "generate_patch_plan"),
        matches=lambda t: words.has_any(t, "drift", "out of sync", "golden image version", "reconcile"),
        goal=lambda env, scope, p: f"Remediate drift for {_scope_words(env, scope)}",
        example="fix drift on prod web servers",
        offer=lambda e, env: f"Fix drift{_on(e)}{_in(env)}?",
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
        offer=lambda e, env: "Generate an adapter for a third-party API?",
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
        parameters=lambda t, e: {"topic": phrases.topic(t)},
        offer=lambda e, env: "Write an SOP (a step-by-step procedure)?",
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
        parameters=_dr_parameters,
        offer=lambda e, env: f"Plan a DR drill for {e.regions[0] if e.regions else 'a region'}{_in(env)}?",
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
        parameters=_patch_parameters,
        offer=lambda e, env: f"Patch {', '.join(e.cve_ids) or 'security updates'}{_on(e)}{_in(env)}?",
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
        parameters=_image_parameters,
        offer=lambda e, env: f"Build and promote a new {e.images[0] if e.images else 'golden'} image{_in(env)}?",
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
        offer=lambda e, env: f"Audit compliance{_on(e)}{_in(env)}?",
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
        offer=lambda e, env: f"Scan{_on(e)} for vulnerabilities and exposed ports{_in(env)}?",
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
        offer=lambda e, env: f"Review cost{_in(env)}?",
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
        parameters=_incident_parameters,
        offer=lambda e, env: f"Investigate an incident{_on(e)}{_in(env)}?",
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


@dataclass(frozen=True)
class Decision:
    """What the planner makes of a reading: an agent to plan with, or nothing (unclear, or not something we do)."""

    agent: str | None
    how: str  # model | keywords | chosen | unclear | out_of_scope
    choices: tuple[str, ...] = ()  # the agents to offer when unclear, likeliest first


def decide(reading: Reading, text: str, rules: list[Rule] | None = None, chosen: str | None = None) -> Decision:
    """The agent for an ask: the person's choice, else the model's when confident, else the one of its likeliest
    readings the keyword rules single out, else the likeliest readings to offer."""
    if chosen:
        return Decision(chosen, "chosen")
    if reading.clear and not reading.out_of_scope:
        return Decision(reading.agent, "model")
    if reading.out_of_scope and reading.confidence >= max(NONE_CONFIDENCE, reading.min_confidence):
        return Decision(None, "out_of_scope")
    likely = reading.likely_agents(floor=OFFER_FLOOR)
    keyword = {r.agent for r in (rules if rules is not None else RULES) if r.matches(text)}
    hits = [a.agent for a in likely if a.agent in keyword]
    if len(hits) == 1:
        return Decision(hits[0], "keywords")
    if not likely:
        return Decision(None, "out_of_scope")
    return Decision(None, "unclear", tuple(a.agent for a in likely))


class OfflinePlanner(LanguageModel):
    name = "offline"

    def __init__(
        self, rules: list[Rule] | None = None, examples: tuple[str, ...] = EXAMPLE_ASKS, reader: IntentReader | None = None
    ) -> None:
        self.rules = rules if rules is not None else RULES
        self.examples = examples
        self._reader = reader

    @property
    def reader(self) -> IntentReader:
        if self._reader is None:
            self._reader = default_reader()
        return self._reader

    def help_text(self) -> str:
        return "Asks that work today: " + "; ".join(f"`{e}`" for e in self.examples)

    def rule_for(self, agent: str) -> Rule:
        rule = next((r for r in self.rules if r.agent == agent), None)
        if rule is None:
            raise InvalidAsk(f"No agent named {agent!r}. " + self.help_text())
        return rule

    def offer(self, agent: str, entities: Entities) -> str:
        """The words of a "did you mean" choice, e.g. "Investigate an incident on payments (production)?"."""
        rule = self.rule_for(agent)
        environment = entities.environment or rule.default_environment or ""
        return rule.offer(entities, environment if rule.agent in REPORT_AGENTS or entities.environment else "")

    def read(self, request: SpecRequest) -> Reading:
        reading = request.reading
        return reading if isinstance(reading, Reading) else self.reader.read(request.text)

    async def draft_spec(self, request: SpecRequest) -> SpecDraft:
        text = request.text
        problem = screen(text)
        if problem is not None:
            raise InvalidAsk(f"{problem} {self.help_text()}")
        reading = self.read(request)
        decision = decide(reading, text, self.rules, request.agent)
        if decision.agent is None:
            if decision.how == "unclear":
                choices = [
                    Choice(agent=agent, label=self.offer(agent, reading.entities), confidence=_confidence(reading, agent))
                    for agent in decision.choices
                ]
                raise UnclearAsk(
                    "I'm not sure what you mean. Did you mean: "
                    + " / ".join(f"_{c.label}_" for c in choices)
                    + " "
                    + self.help_text(),
                    choices,
                )
            raise InvalidAsk("I can't map that to anything OpsPilot does. " + self.help_text())
        rule = self.rule_for(decision.agent)
        entities = reading.entities
        parameters = rule.parameters(text, entities)
        environment, note = self._environment(rule, entities, request, parameters)
        scope, scope_note = _scope(rule, entities, environment) if rule.scoped else (Scope(), None)
        if "region" in parameters:
            scope = Scope(regions=[parameters["region"]])
        spec = TaskSpec(
            task_type=rule.task_type,
            goal=rule.goal(environment, scope, parameters)[:500],
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
        notes = [n for n in (note, scope_note) if n]
        return SpecDraft(spec=spec, provider=self.name, note=" ".join(notes) or None)

    def _environment(
        self, rule: Rule, entities: Entities, request: SpecRequest, parameters: dict[str, Any]
    ) -> tuple[str, str | None]:
        """The environment the ask names, or the default a read-only report may assume (saying so). A change that names
        none, or several, is asked about: an environment is never guessed for a change."""
        named = [e for e in entities.environments if e != "all"]
        change = rule.rollout or bool(parameters.get("remediate"))
        if len(named) > 1 and entities.environment != "all" and (change or rule.agent not in ("image_agent",)):
            if change:
                raise InvalidAsk(
                    f"That ask names more than one environment ({', '.join(named)}); ask for one at a time, "
                    f"e.g. `{_with_environment(rule.example)}`."
                )
            return "all", f"It names {', '.join(named)}: reporting on all environments."
        if entities.environment is not None:
            return entities.environment, None
        if request.default_environment:
            return request.default_environment, None
        if change or rule.default_environment is None:
            raise InvalidAsk(f"Which environment? Say prod, staging or dev, e.g. `{_with_environment(rule.example)}`.")
        environment = rule.default_environment
        if rule.agent in REPORT_AGENTS or rule.agent in ("dr_agent", "image_agent"):
            where = "all environments" if environment == "all" else environment
            return environment, f"No environment named: {where} assumed; name one (prod, staging, dev) to narrow it."
        return environment, None


def _confidence(reading: Reading, agent: str) -> float:
    if reading.agent == agent:
        return reading.confidence
    return next((a.confidence for a in reading.alternatives if a.agent == agent), 0.0)


def _scope(rule: Rule, entities: Entities, environment: str) -> tuple[Scope, str | None]:
    """Roles, platforms, regions, and the assets of the services, tags and hosts the ask names (in that environment)."""
    named = [*entities.services, *entities.tags, *entities.hosts]
    known = {name for name, _, _ in entities.scope_assets}
    unknown = [n for n in named if n not in known]
    in_environment = sorted({asset for name, asset, env in entities.scope_assets if environment in ("all", env)})
    if named and known and not in_environment:
        raise InvalidAsk(
            f"The inventory has no {' or '.join(sorted(known))} assets in {_where(environment)}; "
            f"they run in {', '.join(sorted({env for _, _, env in entities.scope_assets}))}."
        )
    roles = list(entities.scope_roles)
    scope = Scope(
        roles=roles,
        platforms=list(entities.scope_platforms),
        regions=list(entities.regions),
        services=[n for n in entities.services if n in known],
        tags=[n for n in entities.tags if n in known],
        asset_ids=in_environment,
        asset_filter=" ".join(f"role:{r}" for r in roles) or None,
    )
    note = f"{', '.join(unknown)}: not in the inventory, so not used to narrow the scope." if unknown else None
    return scope, note


def _with_environment(example: str) -> str:
    return example if words.environments(example) else example.replace(" on ", " on staging ", 1)
