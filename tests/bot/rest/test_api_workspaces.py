"""OAuth mode over the REST API: a token names its workspace and sees only that workspace's tasks."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr

from bot.rest import rest_routes
from bot.rest.auth import parse_tokens
from core.config import Config
from core.errors import ConfigError
from core.service import OpsPilot
from tests.core.test_workspaces import ALICE, ANNA, BEN, TEAM_A, TEAM_B, multi_workspace

TOKEN_A, TOKEN_B, TOKEN_ASKER = "a" * 24, "b" * 24, "c" * 24
PREFIX = "/api/v1/ai"


@pytest.fixture
async def client(config: Config) -> AsyncIterator[TestClient]:
    multi_workspace(config)
    config.api_tokens = SecretStr(f"{TOKEN_A}={ANNA}@{TEAM_A},{TOKEN_B}={BEN}@{TEAM_B},{TOKEN_ASKER}={ALICE}@{TEAM_A}")
    service = await OpsPilot.create(config)
    app = web.Application()
    rest_routes(app, service, config)
    async with TestClient(TestServer(app)) as test_client:
        yield test_client
    await service.close()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_token_may_name_its_workspace() -> None:
    table = parse_tokens(f"{TOKEN_A}={ANNA}@{TEAM_A},{TOKEN_B}=U0PLAIN")
    assert table.identity_for(TOKEN_A) == (ANNA, TEAM_A)
    assert table.identity_for(TOKEN_B) == ("U0PLAIN", None)
    assert table.user_for(TOKEN_A) == ANNA
    assert table.unscoped() == ["U0PLAIN"]


async def test_in_oauth_mode_a_token_without_a_workspace_stops_startup(config: Config) -> None:
    multi_workspace(config)
    config.api_tokens = SecretStr(f"{TOKEN_A}={ANNA}")
    service = await OpsPilot.create(config)
    try:
        with pytest.raises(ConfigError, match="must name its workspace") as caught:
            rest_routes(web.Application(), service, config)
        assert TOKEN_A not in str(caught.value)
    finally:
        await service.close()


async def test_a_workspace_token_neither_sees_nor_decides_another_workspaces_task(client: TestClient) -> None:
    made = await client.post(f"{PREFIX}/execute", json={"intent": "fix drift on prod web servers"}, headers=bearer(TOKEN_ASKER))
    assert made.status == 201, await made.text()
    task_id = (await made.json())["task"]["id"]

    listed = await (await client.get(f"{PREFIX}/tasks", headers=bearer(TOKEN_B))).json()
    assert listed["count"] == 0
    assert (await client.get(f"{PREFIX}/tasks/{task_id}", headers=bearer(TOKEN_B))).status == 404
    refused = await client.post(f"{PREFIX}/tasks/{task_id}/approve", headers=bearer(TOKEN_B))
    assert refused.status == 404
    assert (await client.get(f"{PREFIX}/tasks/{task_id}/audit", headers=bearer(TOKEN_B))).status == 404

    mine = await (await client.get(f"{PREFIX}/tasks", headers=bearer(TOKEN_A))).json()
    assert [t["id"] for t in mine["tasks"]] == [task_id]
    approved = await client.post(f"{PREFIX}/tasks/{task_id}/approve", headers=bearer(TOKEN_A))
    assert approved.status == 200, await approved.text()
