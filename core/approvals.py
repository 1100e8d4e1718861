"""Who may decide on a plan. The language model never appears here: only people approve."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from core.domain import Plan, Run

# The actor OpsPilot itself uses in the audit log (validation, runs, opted-in auto-approvals).
SYSTEM_ACTOR = "opspilot"

DecisionStatus = Literal["approved", "rejected", "not_allowed", "already_decided", "not_found", "allowed"]


class ApproverList:
    def __init__(self, user_ids: list[str]) -> None:
        self.user_ids = frozenset(user_ids)

    def may_decide(self, user_id: str) -> bool:
        return user_id in self.user_ids


@dataclass
class DecisionOutcome:
    status: DecisionStatus
    message: str
    plan: Plan | None = None
    run: Run | None = None

    @property
    def changed(self) -> bool:
        return self.status in ("approved", "rejected")
