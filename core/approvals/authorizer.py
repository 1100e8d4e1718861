"""The one place that says whether a person may vote on a plan or control its run; Slack, REST and the CLI all
ask it through the service, so they all get the same answer and the same refusal code."""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal

from core.approvals import EXPIRED_REASON, SYSTEM_ACTOR, RefusalCode
from core.approvals.groups import GroupDirectory, GroupLookupFailed
from core.approvals.rules import ApprovalRule, People, RuleBook
from core.domain import Plan
from core.timeutil import format_duration, utcnow

if TYPE_CHECKING:
    from core.workspaces import Workspaces

logger = logging.getLogger(__name__)

Action = Literal["approve", "reject", "run_control"]


@dataclass(frozen=True)
class Allowed:
    rule: ApprovalRule | None = None


@dataclass(frozen=True)
class Refused:
    code: RefusalCode
    detail: str


Verdict = Allowed | Refused


class Authorizer:
    """``org`` arguments: the workspace that owns the plan (OAuth mode: its team ID), whose rules apply."""

    def __init__(
        self,
        rules: RuleBook,
        groups: GroupDirectory,
        now: Callable[[], datetime] = utcnow,
        workspaces: Workspaces | None = None,
    ) -> None:
        self.rules = rules
        self.groups = groups
        self.now = now
        self.workspaces = workspaces

    def book(self, org: str | None) -> RuleBook:
        """The rules of ``org``'s workspace (the top-level rules with one workspace)."""
        return self.workspaces.rules(org) if self.workspaces is not None else self.rules

    def rule_for(self, plan: Plan, risk: str | None, org: str | None = None) -> ApprovalRule | None:
        return self.book(org).rule_for(plan.environment, risk)

    async def authorize(
        self,
        actor: str,
        action: Action,
        plan: Plan,
        *,
        requester: str | None,
        risk: str | None,
        voters: Collection[str] = (),
        frozen: str | None = None,
        org: str | None = None,
    ) -> Verdict:
        """``voters``: who already voted on the plan's current version; ``frozen``: the reason of a freeze of the
        plan's environment. Refusals say why in ``detail``."""
        rule = self.rule_for(plan, risk, org)
        if action == "run_control":
            return await self._run_control(actor, rule, self.book(org).admins, org)
        if plan.state == "superseded":
            return Refused("superseded", "This plan was superseded by a newer plan for the same task; decide on that one.")
        if expired(plan):
            return Refused(
                "expired", "Approval expired: nobody decided on this plan in time, so OpsPilot rejected it; ask again."
            )
        if plan.state != "awaiting_approval":
            return Refused("already_decided", _already(plan))
        if rule is None:
            where = f"{plan.environment or 'no environment'}, risk {risk or 'unknown'}"
            if self.workspaces is not None and not self.workspaces.has_rules(org):
                return Refused(
                    "not_approver",
                    f"This workspace has no approval rules yet, so nobody may approve it ({where}); the platform team "
                    "adds them under workspaces in OpsPilot's config.",
                )
            return Refused("not_approver", f"No approval rule covers this plan ({where}), so nobody may approve it.")
        member, why = await self.member_of(actor, rule.approvers, org)
        if not member:
            needs = f"You are not allowed to approve or reject this plan; it needs {rule.describe(mentions=False)}."
            return Refused("not_approver", why or needs)
        if frozen is not None:
            env = plan.environment or "this environment"
            return Refused("frozen", f"{env} is frozen ({frozen}); votes wait until someone runs /ops unfreeze {env}.")
        if action == "approve" and actor == requester and not rule.self_approval_allowed(risk):
            return Refused("self_approval", f"You asked for this {risk}-risk change, so someone else has to approve it.")
        if rule.ttl is not None and rule.on_expiry == "reject":  # renotify: the plan keeps waiting
            since = plan.status.updated_at
            if self.now() - since > timedelta(seconds=rule.ttl):
                return Refused("expired", f"Approval expired: this plan waited longer than {format_duration(rule.ttl)}.")
        if actor in voters:
            return Refused("already_voted", "You already voted on this version of the plan; it needs someone else now.")
        return Allowed(rule)

    async def eligible(
        self, rule: ApprovalRule, *, requester: str | None, risk: str | None, org: str | None = None
    ) -> int | None:
        """How many people may approve under ``rule`` (the requester left out when self-approval is not allowed);
        None when a group cannot be read (the card then says nothing rather than something wrong)."""
        people = set(rule.approvers.users)
        for group in rule.approvers.groups:
            try:
                people |= await self._members(group, org)
            except GroupLookupFailed:
                return None
        if requester is not None and not rule.self_approval_allowed(risk):
            people.discard(requester)
        return len(people)

    async def _members(self, group: str, org: str | None) -> frozenset[str]:
        """A group's members, read in the plan's workspace (OAuth mode: with that workspace's token)."""
        workspace = org if self.workspaces is not None and self.workspaces.multi else None
        return await self.groups.members(group, workspace)

    async def member_of(self, actor: str, people: People, org: str | None = None) -> tuple[bool, str | None]:
        """Whether ``actor`` is one of ``people``; a group that cannot be read lets nobody through (fail closed)."""
        if actor in people.users:
            return True, None
        failures = []
        for group in people.groups:
            try:
                if actor in await self._members(group, org):
                    return True, None
            except GroupLookupFailed as exc:
                logger.warning("%s; nobody may approve through it", exc)
                failures.append(str(exc))
        if failures:
            return False, "You are not allowed to approve this plan: " + "; ".join(failures) + " (so it counts nobody in)."
        return False, None

    async def _run_control(self, actor: str, rule: ApprovalRule | None, admins: People, org: str | None) -> Verdict:
        """The rule's approvers, its ``run_control`` people, and admins."""
        allowed = [admins] if rule is None else [rule.approvers, rule.run_control or People(), admins]
        for people in allowed:
            if (await self.member_of(actor, people, org))[0]:
                return Allowed(rule)
        return Refused(
            "not_allowed",
            "Only approvers of this plan, its rule's run_control people or an admin can pause, resume or abort its run.",
        )

    async def may_request(self, actor: str, environment: str | None, risk: str | None, org: str | None = None) -> Refused | None:
        """``requesters`` rules: an ask covered by some rule must come from one of their people."""
        covering = self.book(org).requesters_for(environment, risk)
        for rule in covering:
            if (await self.member_of(actor, rule.people, org))[0]:
                return None
        if not covering:
            return None
        where = f"{environment or 'this environment'}" + (f" at {risk} risk" if risk else "")
        return Refused("not_allowed", f"You may not ask for changes in {where}: the requesters rules list who may.")

    async def may_freeze(self, actor: str, environment: str, org: str | None = None) -> Refused | None:
        """The approvers of the environment's rules, and admins."""
        book = self.book(org)
        for people in [*(r.approvers for r in book.rules_of_environment(environment)), book.admins]:
            if (await self.member_of(actor, people, org))[0]:
                return None
        return Refused("not_allowed", f"Only approvers of {environment} changes or an admin can freeze or unfreeze it.")


def expired(plan: Plan) -> bool:
    """OpsPilot rejected the plan because nobody decided on it within its rule's ttl."""
    approval = plan.approval
    return (
        plan.state == "rejected"
        and approval is not None
        and approval.decided_by == SYSTEM_ACTOR
        and approval.reason == EXPIRED_REASON
    )


def _already(plan: Plan) -> str:
    if plan.approval is not None:
        return f"This plan was already {plan.approval.decision} by {plan.approval.decided_by}."
    return f"This plan is {plan.state.replace('_', ' ')} and cannot be decided now."
