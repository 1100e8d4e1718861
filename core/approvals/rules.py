"""Approval rules from the config (``approvals.rules``): the first rule whose ``match`` covers a plan applies.

``match`` looks at the plan's environment and the task's risk level; ``{}`` matches everything. The old top-level
``approvers:`` list is one more rule at the end: those users, one approval, any environment.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from core.domain.spec import Environment, RiskLevel
from core.timeutil import Duration

if TYPE_CHECKING:
    from core.config import Config

GROUP_ID = re.compile(r"^S[A-Z0-9]{2,}$")
HIGH_RISK: frozenset[str] = frozenset({"high", "critical"})


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class People(_Strict):
    """Slack user IDs and Slack user group IDs (``S…``)."""

    users: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()

    @field_validator("users")
    @classmethod
    def _user_ids(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for user_id in value:
            if not isinstance(user_id, str) or not user_id.strip():
                raise ValueError("users are Slack user IDs such as U0APPROVER1")
        return tuple(dict.fromkeys(u.strip() for u in value))

    @field_validator("groups")
    @classmethod
    def _group_ids(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for group_id in value:
            if not isinstance(group_id, str) or not GROUP_ID.match(group_id.strip()):
                raise ValueError(
                    f"{group_id!r} is not a Slack user group ID: group IDs start with S, e.g. S0SRELEADS "
                    "(the group's handle such as @sre-leads does not work)"
                )
        return tuple(dict.fromkeys(g.strip() for g in value))

    @property
    def empty(self) -> bool:
        return not self.users and not self.groups


class RuleMatch(_Strict):
    environment: tuple[Environment, ...] | None = None
    risk: tuple[RiskLevel, ...] | None = None

    @field_validator("environment", "risk", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value

    def covers(self, environment: str | None, risk: str | None) -> bool:
        # A plan or ask for "all" environments (or none named) may touch production, so it is held to the production
        # rules, never to a weaker catch-all.
        if environment in (None, "all"):
            environment = "production"
        if self.environment is not None and environment not in self.environment:
            return False
        return self.risk is None or risk in self.risk


class ApprovalRule(_Strict):
    match: RuleMatch = Field(default_factory=RuleMatch)
    approvers: People
    required: int = Field(default=1, ge=1)
    allow_self_approval: bool | None = None  # unset: allowed unless the risk is high or critical
    ttl: Duration | None = None
    on_expiry: str = "reject"
    run_control: People | None = None

    @field_validator("on_expiry")
    @classmethod
    def _expiry_action(cls, value: str) -> str:
        if value not in ("reject", "renotify"):
            raise ValueError(f"on_expiry is reject or renotify, not {value!r}")
        return value

    @model_validator(mode="after")
    def _reachable(self) -> ApprovalRule:
        if self.approvers.empty:
            raise ValueError("approvers lists nobody: add users or groups")
        if not self.approvers.groups and self.required > len(self.approvers.users):
            raise ValueError(
                f"required is {self.required} but only {len(self.approvers.users)} user(s) are listed and no group: "
                "list more users, add a group, or lower required"
            )
        return self

    def self_approval_allowed(self, risk: str | None) -> bool:
        if self.allow_self_approval is not None:
            return self.allow_self_approval
        return risk not in HIGH_RISK

    def describe(self, *, mentions: bool = True) -> str:
        """``2 of <!subteam^S0SRELEADS>, <@U0APPROVER1>`` (Slack mrkdwn), or ``2 of @S0SRELEADS, U0APPROVER1``."""
        groups = [f"<!subteam^{g}>" if mentions else f"@{g}" for g in self.approvers.groups]
        users = [f"<@{u}>" if mentions else u for u in self.approvers.users]
        return f"{self.required} of {', '.join(groups + users)}"


class ApprovalsConfig(_Strict):
    rules: tuple[ApprovalRule, ...] = ()


class RequesterRule(_Strict):
    match: RuleMatch = Field(default_factory=RuleMatch)
    users: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _ids(self) -> RequesterRule:
        People(users=self.users, groups=self.groups)  # the same ID checks
        return self

    @property
    def people(self) -> People:
        return People(users=self.users, groups=self.groups)


@dataclass(frozen=True)
class RuleBook:
    rules: tuple[ApprovalRule, ...]
    admins: People
    requesters: tuple[RequesterRule, ...] = ()

    @classmethod
    def from_config(cls, config: Config) -> RuleBook:
        rules = list(config.approvals.rules)
        if config.approvers:
            # The legacy list: these users, one approval, anywhere (self-approval by the risk default).
            rules.append(ApprovalRule(approvers=People(users=tuple(config.approvers)), required=1))
        return cls(tuple(rules), config.admins, tuple(config.requesters))

    def requesters_for(self, environment: str | None, risk: str | None) -> list[RequesterRule]:
        """Every requesters rule that covers the ask; none: anyone may ask."""
        return [r for r in self.requesters if r.match.covers(environment, risk)]

    def rules_of_environment(self, environment: str) -> list[ApprovalRule]:
        """The rules that name the environment, or (when none does) those that cover it at any risk: whose
        approvers may freeze it."""
        named = [r for r in self.rules if r.match.environment is not None and environment in r.match.environment]
        return named or [r for r in self.rules if r.match.environment is None]

    def rule_for(self, environment: str | None, risk: str | None) -> ApprovalRule | None:
        """The first rule that covers the plan; None: no rule does, so nobody may approve it."""
        return next((r for r in self.rules if r.match.covers(environment, risk)), None)
