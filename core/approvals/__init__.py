"""Who may decide on a plan. The language model never appears here: only people approve.

``rules`` (which rule applies to a plan, from the config), ``groups`` (Slack user groups), ``plan_hash`` (what a vote
is bound to), ``authorizer`` (the one place that says yes or no) and the outcomes every front renders.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, get_args

from core.domain import Plan, Run

# The actor OpsPilot itself uses in the audit log (validation, runs, opted-in auto-approvals).
SYSTEM_ACTOR = "opspilot"
# The reason OpsPilot gives a plan it rejects because nobody decided within its rule's ttl.
EXPIRED_REASON = "expired"

RefusalCode = Literal[
    "not_approver",
    "self_approval",
    "already_voted",
    "expired",
    "superseded",
    "frozen",
    "already_decided",
    "not_allowed",
]
REFUSAL_CODES: tuple[RefusalCode, ...] = get_args(RefusalCode)

DecisionStatus = Literal[
    "approved",
    "rejected",
    "voted",
    "not_found",
    "allowed",
    "not_approver",
    "self_approval",
    "already_voted",
    "expired",
    "superseded",
    "frozen",
    "already_decided",
    "not_allowed",
]


@dataclass
class DecisionOutcome:
    """What a decision did: ``approved`` / ``rejected`` (the plan is decided), ``voted`` (a vote counted, the quorum
    is not reached yet), ``allowed`` (``may_decide`` only), ``not_found``, or a refusal code."""

    status: DecisionStatus
    message: str
    plan: Plan | None = None
    run: Run | None = None
    votes: list[str] = field(default_factory=list)  # who approved this version of the plan so far
    required: int = 0

    @property
    def changed(self) -> bool:
        return self.status in ("approved", "rejected", "voted")

    @property
    def refused(self) -> bool:
        return self.status in REFUSAL_CODES


@dataclass(frozen=True)
class Ballot:
    """Where a plan's approval stands, for cards and the API."""

    who: str | None  # "2 of <!subteam^S0SRELEADS>, <@U0APPROVER1>"; None: no rule covers the plan
    required: int
    votes: tuple[str, ...]  # who approved the plan's current version so far
    plan_hash: str
    expires_at: datetime | None = None  # the rule's ttl runs out (on_expiry reject or renotify)
    eligible: int | None = None  # people who may still approve it (groups read now); None: could not be counted
