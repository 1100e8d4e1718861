"""The whole loop over Socket Mode: the emulator answers ``apps.connections.open`` and delivers envelopes over a
WebSocket; the bot (Bolt's aiohttp Socket Mode client, ``bot/socket_mode.py``) acks them."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.playground.emulator import APPROVER_1, APPROVER_2, OPS_CHANNEL, REQUESTER, SlackEmulator
from bot.playground.socket_mode import SocketModeServer
from bot.server import start
from core.config import load_config
from tests.bot.conftest import BOT_TOKEN, SIGNING_SECRET, SlackWorld
from tests.bot.test_slack_loop import ASK, buttons, wait_for_card

APP_TOKEN = "xapp-1-A0OPSPILOT-test"


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[SlackWorld]:
    emulator = SlackEmulator(signing_secret=SIGNING_SECRET, bot_token=BOT_TOKEN, app_token=APP_TOKEN)
    await emulator.start()
    config = load_config(
        env={
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_APP_TOKEN": APP_TOKEN,
            "SLACK_API_URL": emulator.api_url,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'bot.db'}",
        }
    )
    config.approvers = [APPROVER_1, APPROVER_2]
    config.executor.wait_scale = 0.0
    bot = await start(config, host="127.0.0.1", port=0, mode="socket")
    try:
        await sockets(emulator).wait_connected()
        yield SlackWorld(emulator, bot)
    finally:
        await bot.stop()
        await emulator.stop()


def sockets(emulator: SlackEmulator) -> SocketModeServer:
    assert emulator.socket_mode is not None
    return emulator.socket_mode


async def run_completed(emu: SlackEmulator, card_ts: str):
    return await emu.wait_for(
        lambda: next((m for m in emu.thread(OPS_CHANNEL, card_ts) if "Run completed" in m.text), None), timeout=30
    )


def acked(server: SocketModeServer) -> set[str]:
    return {ack["envelope_id"] for ack in server.acks}


async def test_drift_loop_runs_over_socket_mode(world: SlackWorld) -> None:
    emu, server = world.emulator, sockets(world.emulator)
    assert server.opened == 1 and emu.calls_to("apps.connections.open")[0].ok

    delivery = await emu.send_slash_command(REQUESTER, OPS_CHANNEL, "/ops", ASK)
    assert delivery.ok
    card = await wait_for_card(world)
    assert [b["action_id"] for b in buttons(card)] == ["plan_approve", "plan_reject"]

    await emu.click_button(APPROVER_1, OPS_CHANNEL, card.ts, "plan_approve")
    final = await run_completed(emu, card.ts)
    assert "assets changed" in final.text
    replies = [m.text for m in emu.thread(OPS_CHANNEL, card.ts)]
    assert replies[0].startswith(":rocket: Run started")

    assert [e["type"] for e in server.envelopes] == ["slash_commands", "interactive"]
    assert {e["envelope_id"] for e in server.envelopes} <= acked(server), "every envelope is acked"
    assert server.opened == 1, "no reconnect without a reason"
    assert not emu.warnings


@pytest.mark.parametrize("reason", ["refresh_requested", "link_disabled"])
async def test_disconnect_mid_way_reconnects_and_the_next_envelope_is_handled_once(world: SlackWorld, reason: str) -> None:
    emu, server, service = world.emulator, sockets(world.emulator), world.service
    await emu.send_slash_command(REQUESTER, OPS_CHANNEL, "/ops", ASK)
    card = await wait_for_card(world)

    await server.disconnect(reason)
    # After link_disabled the client also sees the socket close, so it may reconnect once more.
    await emu.wait_for(lambda: server.opened >= 2 and server.connected == 1)
    if reason == "refresh_requested":
        assert len(emu.calls_to("apps.connections.open")) == 2

    await emu.click_button(APPROVER_1, OPS_CHANNEL, card.ts, "plan_approve")
    await run_completed(emu, card.ts)
    plan_id = buttons(card)[0]["value"]
    assert len(await service.store.runs_for_plan(plan_id)) == 1
    replies = [m.text for m in emu.thread(OPS_CHANNEL, card.ts)]
    assert sum(r.startswith(":rocket: Run started") for r in replies) == 1
    assert sum("Run completed" in r for r in replies) == 1
    assert len(server.envelopes) == 2 and {e["envelope_id"] for e in server.envelopes} <= acked(server)


async def test_malformed_and_unknown_envelopes_are_acked_and_ignored(world: SlackWorld, caplog: pytest.LogCaptureFixture) -> None:
    emu, server = world.emulator, sockets(world.emulator)
    caplog.set_level(logging.WARNING, logger="bot.socket_mode")
    bad = {
        "no-payload": {"envelope_id": "no-payload", "type": "slash_commands"},
        "unknown-type": {"envelope_id": "unknown-type", "type": "mystery", "payload": {"text": "fix drift"}},
        "list-payload": {"envelope_id": "list-payload", "type": "events_api", "payload": [1, 2]},
        "empty-payload": {"envelope_id": "empty-payload", "type": "interactive", "payload": {}},
        "nonsense": {"envelope_id": "nonsense", "type": "interactive", "payload": {"type": "block_actions", "actions": 7}},
        # Shapes the HTTP front answers 400 to: refused before Bolt reads them.
        "bad-shape": {
            "envelope_id": "bad-shape",
            "type": "slash_commands",
            "payload": {"command": "/ops", "text": ASK, "user_id": {"id": [7]}, "channel_id": OPS_CHANNEL, "team_id": 5},
        },
    }
    await server.send_raw("this is not json")
    await server.send_raw('{"type": "events_api", "payload": {}}')  # no envelope id: nothing to ack
    for envelope in bad.values():
        await server.send_raw(envelope)
    await emu.wait_for(lambda: set(bad) <= acked(server))
    assert all("payload" not in ack for ack in server.acks), "an ignored envelope is acked without a payload"
    assert emu.messages(OPS_CHANNEL) == [] and emu.ephemerals() == []
    assert any("malformed payload" in r.getMessage() for r in caplog.records), "the shape check refused bad-shape"

    # The connection survived: the next real envelope is handled.
    await emu.send_slash_command(REQUESTER, OPS_CHANNEL, "/ops", ASK)
    await wait_for_card(world)
    assert server.opened == 1


async def test_redelivered_envelopes_change_nothing_twice(world: SlackWorld) -> None:
    emu, server, service = world.emulator, sockets(world.emulator), world.service
    await emu.send_slash_command(REQUESTER, OPS_CHANNEL, "/ops", ASK)
    card = await wait_for_card(world)
    command = server.envelopes[-1]

    # Slack redelivers the command (its ack was lost): same payload, new envelope id.
    again = await server.send_envelope({**command, "envelope_id": "redelivered-command"})
    assert again == {}, "a delivery seen before is acked with nothing"

    await emu.click_button(APPROVER_1, OPS_CHANNEL, card.ts, "plan_approve")
    await run_completed(emu, card.ts)
    click = server.envelopes[-1]
    assert click["type"] == "interactive"
    assert await server.send_envelope({**click, "envelope_id": "redelivered-click"}) == {}

    cards = [m for m in emu.messages(OPS_CHANNEL) if m.ts == card.ts or buttons(m)]
    assert len(cards) == 1, "one card for one command"
    plan_id = click["payload"]["actions"][0]["value"]
    assert len(await service.store.runs_for_plan(plan_id)) == 1
    replies = [m.text for m in emu.thread(OPS_CHANNEL, card.ts)]
    assert sum(r.startswith(":rocket: Run started") for r in replies) == 1


async def test_app_level_method_refuses_the_bot_token(world: SlackWorld) -> None:
    from slack_sdk.errors import SlackApiError
    from slack_sdk.web.async_client import AsyncWebClient

    client = AsyncWebClient(token=BOT_TOKEN, base_url=world.emulator.api_url)
    with pytest.raises(SlackApiError) as refused:
        await client.apps_connections_open(app_token=BOT_TOKEN)
    assert refused.value.response["error"] == "not_allowed_token_type"


async def test_playground_serves_the_bot_over_socket_mode(tmp_path: Path) -> None:
    config = load_config(env={"DATABASE_URL": f"sqlite:///{tmp_path / 'bot.db'}"})
    config.executor.wait_scale = 0.0
    running = await start(config, host="127.0.0.1", port=0, mode="playground", socket_mode=True)
    try:
        emu = running.emulator
        assert isinstance(emu, SlackEmulator)
        server = sockets(emu)
        await server.wait_connected()
        await emu.send_slash_command(REQUESTER, OPS_CHANNEL, "/ops", ASK)
        await wait_for_card(SlackWorld(emu, running))
        assert [e["type"] for e in server.envelopes] == ["slash_commands"]
        assert emu.deliveries[-1].ok
    finally:
        await running.stop()
