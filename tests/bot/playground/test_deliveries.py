from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import pytest
from aiohttp import web
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.playground.delivery import DeliveryError
from bot.playground.emulator import APPROVER_1, OPS_CHANNEL, OUTSIDER, REQUESTER, SlackEmulator
from tests.fakes.block_kit import MODAL

if TYPE_CHECKING:
    from tests.bot.playground.conftest import BotPeer, Received

pytestmark = pytest.mark.asyncio

APPROVAL_BLOCKS: list[dict[str, Any]] = [
    {"type": "section", "block_id": "summary", "text": {"type": "mrkdwn", "text": "*Fix drift* on prod web"}},
    {
        "type": "actions",
        "block_id": "decision",
        "elements": [
            {
                "type": "button",
                "action_id": "approve",
                "text": {"type": "plain_text", "text": "Approve"},
                "style": "primary",
                "value": "run-1",
            },
            {
                "type": "button",
                "action_id": "reject",
                "text": {"type": "plain_text", "text": "Reject"},
                "style": "danger",
                "value": "run-1",
            },
        ],
    },
]


async def test_slash_command_is_delivered_form_encoded_and_signed(emulator: SlackEmulator, bot_peer: BotPeer) -> None:
    delivery = await emulator.send_slash_command(REQUESTER, OPS_CHANNEL, command="/ops", text="fix drift on prod web servers")

    assert delivery.status == 200
    [received] = bot_peer.received
    assert received.kind == "slash_command"
    assert received.headers["Content-Type"].startswith("application/x-www-form-urlencoded")
    assert received.headers["X-Slack-Signature"].startswith("v0=")
    assert abs(int(received.headers["X-Slack-Request-Timestamp"]) - time.time()) < 10
    assert "X-Slack-Retry-Num" not in received.headers
    body = received.body
    assert {k: body[k] for k in ("team_id", "channel_id", "channel_name", "user_id", "user_name", "command", "text")} == {
        "team_id": "T0PLAYGRND",
        "channel_id": OPS_CHANNEL,
        "channel_name": "ops",
        "user_id": REQUESTER,
        "user_name": "riley",
        "command": "/ops",
        "text": "fix drift on prod web servers",
    }
    assert body["response_url"].startswith(f"{emulator.base_url}/response/")
    assert body["trigger_id"] and body["api_app_id"] and body["token"] and body["team_domain"]


async def test_deliveries_signed_with_another_secret_are_rejected(bot_peer: BotPeer) -> None:
    impostor = SlackEmulator(signing_secret="not-the-secret", bot_token="xoxb-playground", bot_url=bot_peer.url)
    await impostor.start()
    try:
        delivery = await impostor.send_slash_command(REQUESTER, OPS_CHANNEL, text="hi")
    finally:
        await impostor.stop()

    assert delivery.status == 401
    assert bot_peer.rejected == 1 and bot_peer.received == []


async def test_slash_command_ack_text_is_shown_only_to_the_invoker(emulator: SlackEmulator, bot_peer: BotPeer) -> None:
    async def ack_with_text(received: Received) -> web.Response:
        return web.json_response({"text": "Working on it"})

    bot_peer.answers["slash_command"] = ack_with_text

    await emulator.send_slash_command(REQUESTER, OPS_CHANNEL, text="status")

    assert [m.text for m in emulator.ephemerals(REQUESTER)] == ["Working on it"]
    assert emulator.messages(OPS_CHANNEL) == []


async def test_failing_bot_makes_slack_report_dispatch_failed(emulator: SlackEmulator, bot_peer: BotPeer) -> None:
    async def crash(received: Received) -> web.Response:
        return web.Response(status=500)

    bot_peer.answers["slash_command"] = crash

    delivery = await emulator.send_slash_command(REQUESTER, OPS_CHANNEL, text="boom")

    assert delivery.status == 500
    assert "dispatch_failed" in emulator.ephemerals(REQUESTER)[0].text
    assert any("HTTP 500" in w for w in emulator.warnings)


async def test_unreachable_bot_raises_delivery_error(emulator: SlackEmulator) -> None:
    emulator.bot_url = "http://127.0.0.1:9/slack/events"

    with pytest.raises(DeliveryError):
        await emulator.send_slash_command(REQUESTER, OPS_CHANNEL, text="anyone?")


async def test_mentioning_the_bot_delivers_an_app_mention_event(emulator: SlackEmulator, bot_peer: BotPeer) -> None:
    delivery = await emulator.send_message(APPROVER_1, OPS_CHANNEL, f"<@{emulator.bot_user_id}> status please")

    assert delivery is not None and delivery.status == 200
    [received] = bot_peer.received
    envelope = received.body
    assert received.headers["Content-Type"].startswith("application/json")
    assert envelope["type"] == "event_callback" and envelope["event_id"].startswith("Ev")
    assert envelope["authorizations"][0] == {
        "enterprise_id": None,
        "team_id": "T0PLAYGRND",
        "user_id": emulator.bot_user_id,
        "is_bot": True,
        "is_enterprise_install": False,
    }
    event = envelope["event"]
    [posted] = emulator.messages(OPS_CHANNEL)
    assert event["type"] == "app_mention"
    assert (event["user"], event["channel"], event["ts"], event["event_ts"]) == (APPROVER_1, OPS_CHANNEL, posted.ts, posted.ts)


async def test_plain_messages_are_recorded_without_a_delivery(emulator: SlackEmulator, bot_peer: BotPeer) -> None:
    delivery = await emulator.send_message(REQUESTER, OPS_CHANNEL, "just chatting")

    assert delivery is None and bot_peer.received == []
    assert [(m.user, m.text) for m in emulator.messages(OPS_CHANNEL)] == [(REQUESTER, "just chatting")]


async def test_thread_reply_mention_carries_thread_ts(emulator: SlackEmulator, bot_peer: BotPeer) -> None:
    await emulator.send_message(REQUESTER, OPS_CHANNEL, "parent")
    parent = emulator.messages(OPS_CHANNEL)[0]

    await emulator.send_message(REQUESTER, OPS_CHANNEL, f"<@{emulator.bot_user_id}> in thread", thread_ts=parent.ts)

    assert bot_peer.received[0].body["event"]["thread_ts"] == parent.ts
    assert emulator.messages(OPS_CHANNEL)[0].reply_count == 1


async def test_button_click_delivers_block_actions_like_slack(
    emulator: SlackEmulator, bot_peer: BotPeer, slack: AsyncWebClient
) -> None:
    posted = await slack.chat_postMessage(channel=OPS_CHANNEL, text="Approve?", blocks=APPROVAL_BLOCKS)

    delivery = await emulator.click_button(APPROVER_1, OPS_CHANNEL, posted["ts"], "approve")

    assert delivery.status == 200
    [received] = bot_peer.received
    payload = received.body
    assert received.kind == "interactive" and payload["type"] == "block_actions"
    assert payload["user"] == {"id": APPROVER_1, "username": "avery", "name": "avery", "team_id": "T0PLAYGRND"}
    assert payload["container"] == {
        "type": "message",
        "message_ts": posted["ts"],
        "channel_id": OPS_CHANNEL,
        "is_ephemeral": False,
    }
    assert payload["channel"] == {"id": OPS_CHANNEL, "name": "ops"}
    assert payload["team"] == {"id": "T0PLAYGRND", "domain": "playground"}
    assert payload["message"]["ts"] == posted["ts"] and payload["message"]["blocks"][1]["block_id"] == "decision"
    assert payload["response_url"].startswith(f"{emulator.base_url}/response/")
    assert payload["trigger_id"] and payload["api_app_id"] and payload["token"]
    [action] = payload["actions"]
    assert {k: action[k] for k in ("action_id", "block_id", "value", "style", "type")} == {
        "action_id": "approve",
        "block_id": "decision",
        "value": "run-1",
        "style": "primary",
        "type": "button",
    }
    assert action["text"]["text"] == "Approve" and action["action_ts"]


async def test_clicking_a_missing_button_names_the_buttons_there(emulator: SlackEmulator, slack: AsyncWebClient) -> None:
    posted = await slack.chat_postMessage(channel=OPS_CHANNEL, text="Approve?", blocks=APPROVAL_BLOCKS)

    with pytest.raises(LookupError, match="decision/approve"):
        await emulator.click_button(APPROVER_1, OPS_CHANNEL, posted["ts"], "nope")


async def test_ephemeral_button_click_is_marked_ephemeral_and_has_no_message(
    emulator: SlackEmulator, bot_peer: BotPeer, slack: AsyncWebClient
) -> None:
    answer = await slack.chat_postEphemeral(channel=OPS_CHANNEL, user=REQUESTER, text="Confirm?", blocks=APPROVAL_BLOCKS)

    await emulator.click_button(REQUESTER, OPS_CHANNEL, answer["message_ts"], "reject")

    payload = bot_peer.received[0].body
    assert payload["container"]["is_ephemeral"] is True
    assert "message" not in payload
    with pytest.raises(LookupError):
        await emulator.click_button(OUTSIDER, OPS_CHANNEL, answer["message_ts"], "reject")


async def test_response_url_answers_ephemerally_replaces_and_deletes(
    emulator: SlackEmulator, bot_peer: BotPeer, slack: AsyncWebClient
) -> None:
    posted = await slack.chat_postMessage(channel=OPS_CHANNEL, text="Approve?", blocks=APPROVAL_BLOCKS)
    await emulator.click_button(APPROVER_1, OPS_CHANNEL, posted["ts"], "approve")
    respond = AsyncWebhookClient(bot_peer.received[0].body["response_url"])

    await respond.send(text="Noted, thanks")
    assert [m.text for m in emulator.ephemerals(APPROVER_1)] == ["Noted, thanks"]

    await respond.send(text="Approved by Avery", replace_original=True, blocks=[APPROVAL_BLOCKS[0]])
    [message] = emulator.messages(OPS_CHANNEL)
    assert (message.ts, message.text, len(message.blocks)) == (posted["ts"], "Approved by Avery", 1)

    await respond.send(delete_original=True)
    assert emulator.messages(OPS_CHANNEL) == []
    assert [c.ok for c in emulator.calls_to("response_url")] == [True, True, True]


async def test_modal_submission_errors_keep_it_open_and_a_plain_ack_closes_it(
    emulator: SlackEmulator, bot_peer: BotPeer, slack: AsyncWebClient
) -> None:
    async def open_modal(received: Received) -> None:
        await slack.views_open(trigger_id=received.body["trigger_id"], view=MODAL)

    async def validate(received: Received) -> web.Response | None:
        values = received.body["view"]["state"]["values"]
        if not values["why"]["text"]["value"]:
            return web.json_response({"response_action": "errors", "errors": {"why": "Say why"}})
        return None

    bot_peer.answers["slash_command"] = open_modal
    bot_peer.answers["interactive"] = validate
    await emulator.send_slash_command(APPROVER_1, OPS_CHANNEL, text="reject run-1")
    view = emulator.open_modal(APPROVER_1)
    assert view is not None and view["title"]["text"] == "Reject change"

    await emulator.submit_view(APPROVER_1, view["id"], {"level": "high"})
    assert emulator.open_modal(APPROVER_1) is not None

    await emulator.submit_view(APPROVER_1, view["id"], {"why": {"text": "too risky"}, "severity": {"level": "low"}})
    assert emulator.open_modal(APPROVER_1) is None

    submission = bot_peer.of_kind("interactive")[-1].body
    assert submission["type"] == "view_submission"
    assert submission["user"]["id"] == APPROVER_1
    assert submission["view"]["id"] == view["id"] and submission["view"]["private_metadata"] == "run-1"
    assert submission["view"]["callback_id"] == "reason"
    assert submission["view"]["state"]["values"] == {
        "why": {"text": {"type": "plain_text_input", "value": "too risky"}},
        "severity": {
            "level": {"type": "static_select", "selected_option": {"text": {"type": "plain_text", "text": "Low"}, "value": "low"}}
        },
    }


async def test_views_open_needs_a_fresh_trigger_id(emulator: SlackEmulator, slack: AsyncWebClient) -> None:
    with pytest.raises(SlackApiError) as caught:
        await slack.views_open(trigger_id="123.456.bogus", view=MODAL)

    assert caught.value.response["error"] == "invalid_trigger_id"


async def test_views_update_changes_the_open_modal(emulator: SlackEmulator, bot_peer: BotPeer, slack: AsyncWebClient) -> None:
    opened: dict[str, Any] = {}

    async def open_modal(received: Received) -> None:
        opened.update((await slack.views_open(trigger_id=received.body["trigger_id"], view=MODAL))["view"])

    bot_peer.answers["slash_command"] = open_modal
    await emulator.send_slash_command(APPROVER_1, OPS_CHANNEL, text="reject")

    await slack.views_update(
        view_id=opened["id"], hash=opened["hash"], view={**MODAL, "title": {"type": "plain_text", "text": "Updated"}}
    )

    assert emulator.open_modal(APPROVER_1)["title"]["text"] == "Updated"  # type: ignore[index]
    with pytest.raises(SlackApiError) as stale:
        await slack.views_update(view_id=opened["id"], hash=opened["hash"], view=MODAL)
    assert stale.value.response["error"] == "hash_conflict"


async def test_home_tab_is_published_per_user_and_opening_it_is_delivered(
    emulator: SlackEmulator, bot_peer: BotPeer, slack: AsyncWebClient
) -> None:
    home = {"type": "home", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "Your approvals"}}]}
    await slack.views_publish(user_id=APPROVER_1, view=home)

    delivery = await emulator.open_home(APPROVER_1)

    assert delivery.status == 200
    event = bot_peer.received[0].body["event"]
    assert (event["type"], event["user"], event["tab"]) == ("app_home_opened", APPROVER_1, "home")
    assert event["view"]["blocks"][0]["text"]["text"] == "Your approvals"
    assert emulator.home_view(APPROVER_1)["type"] == "home"  # type: ignore[index]
    assert emulator.home_view(REQUESTER) is None


async def test_wait_for_returns_the_first_truthy_answer(emulator: SlackEmulator, slack: AsyncWebClient) -> None:
    await slack.chat_postMessage(channel=OPS_CHANNEL, text="ready")

    message = await emulator.wait_for(lambda: emulator.messages(OPS_CHANNEL)[-1])

    assert message.text == "ready"


async def test_wait_for_timeout_describes_what_happened(emulator: SlackEmulator, slack: AsyncWebClient) -> None:
    await slack.chat_postMessage(channel=OPS_CHANNEL, text="not it")

    with pytest.raises(TimeoutError, match=r"chat\.postMessage"):
        await emulator.wait_for(lambda: [m for m in emulator.messages(OPS_CHANNEL) if m.text == "it"], timeout=0.2)
