"""A real slack_bolt app sharing one aiohttp server with the emulator, as the playground runs it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond, AsyncSay
from slack_sdk.web.async_client import AsyncWebClient

from bot.playground.emulator import APPROVER_1, OPS_CHANNEL, REQUESTER, Message, SlackEmulator

pytestmark = pytest.mark.asyncio

SECRET = "bolt-secret"
TOKEN = "xoxb-bolt"


def build_bolt(client: AsyncWebClient) -> AsyncApp:
    bolt = AsyncApp(client=client, signing_secret=SECRET)

    @bolt.command("/ops")
    async def ops(ack: AsyncAck, command: dict[str, Any], say: AsyncSay) -> None:
        await ack()
        await say(
            text=f"Request: {command['text']}",
            blocks=[
                {"type": "section", "text": {"type": "mrkdwn", "text": f"*Request:* {command['text']}"}},
                {
                    "type": "actions",
                    "elements": [{"type": "button", "action_id": "approve", "text": {"type": "plain_text", "text": "Approve"}}],
                },
            ],
        )

    @bolt.action("approve")
    async def approve(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        await respond(replace_original=True, text=f"Approved by <@{body['user']['id']}>")

    @bolt.event("app_mention")
    async def mentioned(event: dict[str, Any], say: AsyncSay) -> None:
        await say(text="On it", thread_ts=event["ts"])

    return bolt


@pytest_asyncio.fixture
async def shared_server() -> AsyncIterator[SlackEmulator]:
    emulator = SlackEmulator(signing_secret=SECRET, bot_token=TOKEN)
    client = AsyncWebClient(token=TOKEN)
    bolt = build_bolt(client)

    async def slack_events(request: web.Request) -> web.Response:
        return await to_aiohttp_response(await bolt.async_dispatch(await to_bolt_request(request)))

    app = web.Application()
    emulator.register(app)
    app.router.add_post("/slack/events", slack_events)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    emulator.base_url = url
    emulator.bot_url = f"{url}/slack/events"
    client.base_url = emulator.api_url
    try:
        yield emulator
    finally:
        await runner.cleanup()


async def test_bolt_handles_command_click_and_mention_through_the_emulator(shared_server: SlackEmulator) -> None:
    emu = shared_server

    ack = await emu.send_slash_command(REQUESTER, OPS_CHANNEL, "/ops", "fix drift")
    request = await emu.wait_for(lambda: emu.messages(OPS_CHANNEL)[-1])
    click = await emu.click_button(APPROVER_1, OPS_CHANNEL, request.ts, "approve")

    def approved_version() -> Message | None:
        current = emu.find_message(OPS_CHANNEL, request.ts)
        return current if current is not None and current.text.startswith("Approved") else None

    approved = await emu.wait_for(approved_version)
    await emu.send_message(REQUESTER, OPS_CHANNEL, f"<@{emu.bot_user_id}> status?")
    mention = emu.messages(OPS_CHANNEL)[-1]
    reply = await emu.wait_for(lambda: emu.thread(OPS_CHANNEL, mention.ts)[0])

    assert (ack.status, click.status) == (200, 200)
    assert request.text == "Request: fix drift"
    assert approved.text == f"Approved by <@{APPROVER_1}>" and approved.blocks == []
    assert reply.text == "On it"
    assert [c.method for c in emu.calls if not c.ok] == []
    assert emu.warnings == []
