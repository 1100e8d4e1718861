"""Slack user groups: read with the bot's client, or (OAuth mode) with the client of the group's workspace."""

from __future__ import annotations

from typing import Any

import pytest

from bot.groups import SlackGroupDirectory
from core.approvals.groups import GroupLookupFailed
from core.errors import DeliveryRejected


class FakeClient:
    def __init__(self, members: dict[str, list[str]]) -> None:
        self.members = members
        self.calls: list[str] = []

    async def usergroups_users_list(self, usergroup: str) -> dict[str, Any]:
        self.calls.append(usergroup)
        return {"ok": True, "users": self.members.get(usergroup, [])}


async def test_one_workspace_reads_groups_with_the_bots_client() -> None:
    client = FakeClient({"S0LEADS": ["U0A"]})
    directory = SlackGroupDirectory(client)  # type: ignore[arg-type]
    assert await directory.members("S0LEADS") == {"U0A"}
    assert await directory.members("S0LEADS") == {"U0A"} and client.calls == ["S0LEADS"], "cached"


async def test_each_workspaces_groups_are_read_with_its_own_client_and_cached_apart() -> None:
    clients = {"T0AAAAAAA": FakeClient({"S0LEADS": ["U0ANNA"]}), "T0BBBBBBB": FakeClient({"S0LEADS": ["U0BEN"]})}

    async def client_for(team: str) -> Any:
        if team not in clients:
            raise DeliveryRejected(f"OpsPilot is not installed in Slack workspace {team}")
        return clients[team]

    directory = SlackGroupDirectory(FakeClient({}), client_for=client_for)  # type: ignore[arg-type]
    assert await directory.members("S0LEADS", "T0AAAAAAA") == {"U0ANNA"}
    assert await directory.members("S0LEADS", "T0BBBBBBB") == {"U0BEN"}
    with pytest.raises(GroupLookupFailed, match="not installed"):
        await directory.members("S0LEADS", "T0CCCCCCC")
