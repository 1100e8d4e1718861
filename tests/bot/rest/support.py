"""Tokens, a small API client and metric helpers for the REST API tests."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from bot.playground.emulator import APPROVER_1, APPROVER_2, OUTSIDER, REQUESTER

APPROVER_TOKEN = "approver1-token-0123456789abcdef"
APPROVER_2_TOKEN = "approver2-token-0123456789abcdef="  # base64 padding is fine
REQUESTER_TOKEN = "requester-token-0123456789abcdef"
OUTSIDER_TOKEN = "outsider-token-0123456789abcdef"
TOKENS = ",".join(
    f"{t}={u}"
    for t, u in [
        (APPROVER_TOKEN, APPROVER_1),
        (APPROVER_2_TOKEN, APPROVER_2),
        (REQUESTER_TOKEN, REQUESTER),
        (OUTSIDER_TOKEN, OUTSIDER),
    ]
)
API = "/api/v1/ai"


@dataclass
class Answer:
    status: int
    body: Any
    headers: Any


@dataclass
class ApiWorld:
    world: Any  # tests/bot/conftest.py SlackWorld
    session: aiohttp.ClientSession

    @property
    def service(self):
        return self.world.service

    @property
    def emulator(self):
        return self.world.emulator

    async def call(
        self,
        method: str,
        path: str,
        token: str | None = REQUESTER_TOKEN,
        *,
        json: Any = None,
        data: Any = None,
        headers: dict | None = None,
    ) -> Answer:
        headers = dict(headers or {})
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        async with self.session.request(method, path, json=json, data=data, headers=headers) as response:
            text = await response.text()
            try:
                body = await response.json(content_type=None)
            except ValueError:
                body = text
            return Answer(response.status, body, response.headers)

    async def execute(self, intent: str, token: str = REQUESTER_TOKEN, **extra: Any) -> Answer:
        return await self.call("POST", f"{API}/execute", token, json={"intent": intent, **extra})

    async def metrics(self) -> dict[tuple[str, tuple], float]:
        async with self.session.get("/metrics") as response:
            assert response.status == 200
            assert response.headers["Content-Type"].startswith("text/plain")
            text = await response.text()
        return {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples
        }

    async def wait_for_run(self, run_id: str, predicate: Callable[[dict], bool], timeout: float = 20.0) -> dict:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            answer = await self.call("GET", f"{API}/executions/{run_id}")
            assert answer.status == 200, answer.body
            if predicate(answer.body):
                return answer.body
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"run {run_id} stayed {answer.body['status']['state']}")
            await asyncio.sleep(0.05)


def metric(values: dict, name: str, **labels: str) -> float:
    return values.get((name, tuple(sorted(labels.items()))), 0.0)
