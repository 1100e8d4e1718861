"""Members of a user group (Slack's ``S…`` groups), behind a port so core never talks to Slack.

A lookup that fails raises ``GroupLookupFailed``; the authorizer then lets nobody approve through that group
(fail closed) and says why.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from core.errors import OpsPilotError


class GroupLookupFailed(OpsPilotError):
    def __init__(self, group_id: str, reason: str) -> None:
        super().__init__(f"could not read the members of group {group_id}: {reason}")
        self.group_id = group_id
        self.reason = reason


class GroupDirectory(Protocol):
    async def members(self, group_id: str, workspace: str | None = None) -> frozenset[str]:
        """The user IDs in the group; raises GroupLookupFailed when that cannot be known. ``workspace``: the team
        whose group it is (OAuth mode; None with one workspace)."""
        ...


class StaticGroupDirectory:
    """Groups held in memory (tests, the CLI, a deployment without Slack). An unknown group fails closed."""

    def __init__(self, groups: Mapping[str, Sequence[str]] | None = None) -> None:
        self.groups = {g: frozenset(users) for g, users in (groups or {}).items()}

    async def members(self, group_id: str, workspace: str | None = None) -> frozenset[str]:
        found = self.groups.get(group_id)
        if found is None:
            raise GroupLookupFailed(group_id, "no such group")
        return found
