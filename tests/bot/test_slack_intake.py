"""Idempotent intake through Slack's protocol: retries and replays are acked and change nothing; the ack never waits
for planning (a worker plans the recorded ask; the card comes through the outbox)."""

from __future__ import annotations

import asyncio
import json
import time
from urllib.parse import urlencode

import aiohttp
from sqlalchemy import func, select

from bot.blocks import REJECT_ACTION
from bot.playground.emulator import APPROVER_1, OPS_CHANNEL, REQUESTER
from bot.playground.seeds import BOT_USER_ID, TEAM_ID
from bot.playground.signing import signed_headers
from core.store.tables import asks, intake_keys, outbox_events, tasks
from tests.bot.conftest import SIGNING_SECRET
from tests.bot.test_slack_loop import buttons, wait_for_card

ASK = "fix drift on prod web servers"


async def post_signed(url: str, body: bytes, content_type: str, **headers: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session:
        sent = {"Content-Type": content_type, **signed_headers(SIGNING_SECRET, body), **headers}
        async with session.post(url, data=body, headers=sent) as response:
            return response.status, await response.text()


async def count(world, table, *where) -> int:
    query = select(func.count()).select_from(table)
    for condition in where:
        query = query.where(condition)
    async with world.service.store.database.engine.connect() as conn:
        return int((await conn.execute(query)).scalar() or 0)


async def planned(world, expected: int = 1) -> None:
    """Until ``expected`` asks are planned (the ask worker runs in the world; a tick only hurries it)."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if (await world.service.asks.counts()).get("done", 0) >= expected:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"asks not planned: {await world.service.asks.counts()}")


def mention_envelope(event_id: str, text: str) -> bytes:
    ts = f"{time.time():.6f}"
    event = {"type": "app_mention", "user": REQUESTER, "text": text, "ts": ts, "channel": OPS_CHANNEL, "event_ts": ts}
    envelope = {
        "token": "x",
        "team_id": TEAM_ID,
        "api_app_id": "A0PLAYGRND",
        "type": "event_callback",
        "event_id": event_id,
        "event_time": int(time.time()),
        "event": event,
        "authorizations": [{"team_id": TEAM_ID, "user_id": BOT_USER_ID, "is_bot": True}],
    }
    return json.dumps(envelope).encode()


async def test_a_mention_delivered_three_times_is_one_ask_one_task_and_one_card(world) -> None:
    url = f"{world.bot.url}/slack/events"
    body = mention_envelope("Ev0RETRIED1", f"<@{BOT_USER_ID}> {ASK}")
    first = await post_signed(url, body, "application/json")
    retries = [
        await post_signed(url, body, "application/json", **{"X-Slack-Retry-Num": str(n), "X-Slack-Retry-Reason": "http_timeout"})
        for n in (1, 2)
    ]
    assert [first[0]] + [r[0] for r in retries] == [200, 200, 200]

    await planned(world)
    card = await wait_for_card(world)
    await world.service.dispatcher.run_until_idle()
    assert await count(world, asks) == 1
    assert await count(world, tasks) == 1
    assert await count(world, intake_keys, intake_keys.c.key == "slack:event:Ev0RETRIED1") == 1
    assert await count(world, outbox_events, outbox_events.c.type == "ask.answered") == 1
    assert await count(world, outbox_events, outbox_events.c.type == "task.planned") == 1
    assert [m.ts for m in world.emulator.messages(OPS_CHANNEL) if buttons(m)] == [card.ts]


async def test_the_same_signed_slash_command_replayed_is_one_task(world) -> None:
    fields = {
        "token": "x",
        "team_id": TEAM_ID,
        "channel_id": OPS_CHANNEL,
        "user_id": REQUESTER,
        "command": "/ops",
        "text": ASK,
        "response_url": f"{world.emulator.base_url}/response/unused",
        "trigger_id": "1337.42.replayed",
    }
    body = urlencode(fields).encode()
    url = f"{world.bot.url}/slack/events"
    first = await post_signed(url, body, "application/x-www-form-urlencoded")
    replays = [await post_signed(url, body, "application/x-www-form-urlencoded") for _ in range(3)]
    assert first[0] == 200 and "Working on" in first[1]
    assert all(status == 200 and "Working on" not in text for status, text in replays)

    await planned(world)
    await wait_for_card(world)
    assert await count(world, asks) == 1
    assert await count(world, tasks) == 1
    assert await count(world, intake_keys, intake_keys.c.source == "slack_command") == 1


async def test_the_ack_does_not_wait_for_planning(world) -> None:
    """With the worker stopped, the ask is recorded and acked; nothing is planned until a worker claims it."""
    await world.service.ask_worker.stop(1.0)
    delivery = await world.emulator.send_slash_command(REQUESTER, OPS_CHANNEL, "/ops", ASK)
    assert delivery.status == 200 and "Working on" in str(delivery.body)
    assert await world.service.asks.counts() == {"pending": 1}
    assert await count(world, tasks) == 0

    await world.service.ask_worker.tick()
    await planned(world)
    card = await wait_for_card(world)
    task = (await world.service.queries.recent_tasks(limit=1))[0]
    assert task.origin["channel"] == OPS_CHANNEL and task.origin["front"] == "slack"
    assert "response_url" not in task.origin  # kept with the ask for the private answer only
    assert card.ts


async def test_an_interaction_replayed_is_handled_once(world) -> None:
    await world.emulator.send_slash_command(REQUESTER, OPS_CHANNEL, "/ops", ASK)
    card = await wait_for_card(world)
    sent: list[tuple[bytes, str]] = []
    deliverer = world.emulator._deliverer  # capture the exact body the emulator signs and sends
    original = deliverer._send

    async def recording(url, body, content_type, kind):
        sent.append((body, content_type))
        return await original(url, body, content_type, kind)

    deliverer._send = recording
    await world.emulator.click_button(APPROVER_1, OPS_CHANNEL, card.ts, REJECT_ACTION)
    await world.emulator.wait_for(lambda: world.emulator.calls_to("views.open"), timeout=10)
    body, content_type = sent[-1]
    status, _ = await post_signed(f"{world.bot.url}/slack/events", body, content_type)
    assert status == 200
    await world.service.ask_worker.tick()  # give a second handling time to show
    assert len(world.emulator.calls_to("views.open")) == 1
    assert await count(world, intake_keys, intake_keys.c.source == "slack_action") == 1
