"""Which Slack workspace owns what, and what each workspace's rules are.

In single-workspace token mode (the default) everything belongs to ``org_id`` from the config and every viewer sees
everything. In OAuth mode (OpsPilot installed into many workspaces) each task belongs to the workspace it was asked
in: ``Task.org_id`` is that workspace's team ID. A viewer from one workspace then never sees or acts on another's
tasks, plans or runs (they answer "not found", so their existence does not leak either), and approval rules,
admins and requesters come from that workspace's own entry under ``workspaces:`` in the config. A workspace without
an entry gets no approval rules: its plans wait until the platform team adds some (fail closed), because user and
group IDs of one workspace mean nothing in another.

``org`` arguments throughout core: the viewer's workspace, or None for the system itself (workers, the CLI), which
sees every workspace.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING

from core.approvals.rules import ApprovalRule, People, RuleBook
from core.errors import NotFound

if TYPE_CHECKING:
    from core.config import WorkspaceConfig

TEAM_ID = re.compile(r"^[TE][A-Z0-9]{2,30}$")


def rule_book(entry: WorkspaceConfig) -> RuleBook:
    """A workspace's rules, built the way the top-level ones are (``approvers`` is the legacy one-approval list)."""
    rules = list(entry.approvals.rules)
    if entry.approvers:
        rules.append(ApprovalRule(approvers=People(users=tuple(entry.approvers)), required=1))
    return RuleBook(tuple(rules), entry.admins, tuple(entry.requesters))


def check_team_ids(value: Mapping[str, object]) -> None:
    for team in value:
        if not TEAM_ID.match(team):
            raise ValueError(f"workspaces: {team!r} is not a Slack team ID; use the workspace's ID such as T0123ABCD")


class Workspaces:
    """Ownership and per-workspace rules. ``multi``: OAuth mode (many workspaces); otherwise one workspace."""

    def __init__(
        self,
        default_org: str,
        default_rules: RuleBook,
        *,
        multi: bool = False,
        configured: Mapping[str, WorkspaceConfig] | None = None,
    ) -> None:
        self.default_org = default_org
        self.default_rules = default_rules
        self.multi = multi
        self._books = {team: rule_book(entry) for team, entry in (configured or {}).items()}
        self._closed = RuleBook((), People())

    def org_for(self, team_id: str | None) -> str:
        """The org a new task asked from ``team_id`` belongs to."""
        if self.multi and team_id:
            return team_id
        return self.default_org

    def viewer(self, team_id: str | None) -> str | None:
        """What a front passes as ``org`` for a request from ``team_id``: the team in OAuth mode, else None (one
        workspace sees everything)."""
        return (team_id or self.default_org) if self.multi else None

    def rules(self, org: str | None) -> RuleBook:
        """The approval rules for a task of ``org``: the top-level rules in single-workspace mode; in OAuth mode the
        workspace's own entry, or no rules at all (nobody may approve) when it has none."""
        if not self.multi or org is None or org == self.default_org:
            return self.default_rules
        return self._books.get(org, self._closed)

    def has_rules(self, org: str | None) -> bool:
        return not self.multi or org is None or org == self.default_org or org in self._books

    def visible(self, owner: str | None, org: str | None) -> bool:
        """Whether a viewer of ``org`` may see something owned by ``owner``."""
        return not self.multi or org is None or owner == org

    def check(self, owner: str | None, org: str | None, what: str) -> None:
        """NotFound (the same answer as for something that does not exist) when the viewer may not see it."""
        if not self.visible(owner, org):
            raise NotFound(what)
