"""The offline planner: rules that map common phrasings to a TaskSpec without any network.

Each rule recognizes one kind of task; the first that matches builds the spec. When nothing
matches, the person is told which asks work.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from core.domain import AgentRef, Constraints, Scope, SpecContext, TaskSpec
from core.errors import InvalidAsk
from core.intake import vocabulary as words
from core.llm.base import LanguageModel, SpecDraft, SpecRequest

EXAMPLE_ASKS = ("fix drift on prod web servers", "fix drift on staging db servers in aws us-east-1")

RISK_BY_ENVIRONMENT = {"production": "high", "staging": "medium", "development": "low", "all": "medium"}


@dataclass(frozen=True)
class Rule:
    task_type: str
    agent: str
    tools: tuple[str, ...]
    matches: Callable[[str], bool]
    goal: Callable[[str, Scope], str]
    needs_environment: bool = True


def _scope(text: str) -> Scope:
    roles = words.roles(text)
    return Scope(
        roles=roles, platforms=words.platforms(text), regions=words.regions(text),
        asset_filter=" ".join(f"role:{r}" for r in roles) or None,
    )


def _scope_words(environment: str, scope: Scope) -> str:
    parts = [environment if environment != "all" else "all environments"]
    parts += [r.replace("-", " ") + "s" for r in scope.roles] or ["assets"]
    if scope.platforms or scope.regions:
        parts.append("in " + " ".join([*scope.platforms, *scope.regions]))
    return " ".join(parts)


RULES: list[Rule] = [
    Rule(
        task_type="drift_remediation",
        agent="drift_agent",
        tools=("query_assets", "compare_versions", "generate_patch_plan"),
        matches=lambda t: words.has_any(t, "drift", "out of sync", "golden image version", "reconcile"),
        goal=lambda env, scope: f"Remediate drift for {_scope_words(env, scope)}",
    ),
]


class OfflinePlanner(LanguageModel):
    name = "offline"

    def __init__(self, rules: list[Rule] | None = None, examples: tuple[str, ...] = EXAMPLE_ASKS) -> None:
        self.rules = rules if rules is not None else RULES
        self.examples = examples

    async def draft_spec(self, request: SpecRequest) -> SpecDraft:
        text = request.text
        rule = next((r for r in self.rules if r.matches(text)), None)
        if rule is None:
            raise InvalidAsk(
                "I can't map that to a task yet. Asks that work today: "
                + "; ".join(f"`{e}`" for e in self.examples)
            )
        environments = words.environments(text)
        if len(environments) > 1:
            raise InvalidAsk(
                f"That ask names more than one environment ({', '.join(environments)}); ask for one at a time, "
                f"e.g. `{self.examples[0]}`."
            )
        environment = environments[0] if environments else request.default_environment
        if environment is None:
            if rule.needs_environment:
                raise InvalidAsk(
                    "Which environment? Say prod, staging or dev, e.g. `fix drift on staging web servers`."
                )
            environment = "all"
        scope = _scope(text)
        spec = TaskSpec(
            task_type=rule.task_type,
            goal=rule.goal(environment, scope),
            context=SpecContext(environment=environment, scope=scope),
            agents=[AgentRef(name=rule.agent, priority=1)],
            tools_required=list(rule.tools),
            risk_level=RISK_BY_ENVIRONMENT[environment],
            hitl_required=True,
            constraints=Constraints(
                canary_required=environment in ("production", "staging"),
                max_batch_percent=20 if environment == "production" else None,
                rollback_trigger="error_rate > 1%",
            ),
        )
        return SpecDraft(spec=spec, provider=self.name)
