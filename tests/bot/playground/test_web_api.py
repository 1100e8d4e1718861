from __future__ import annotations

import json
import re
import warnings
from typing import Any

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.playground.emulator import (
    APPROVER_1,
    APPROVER_2,
    APPROVERS_GROUP,
    OPS_CHANNEL,
    OUTSIDER,
    PROD_CHANGES_CHANNEL,
    REQUESTER,
    SlackEmulator,
)

pytestmark = pytest.mark.asyncio

TS_PATTERN = re.compile(r"^\d{10}\.\d{6}$")


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


async def slack_error(call: Any) -> SlackApiError:
    with pytest.raises(SlackApiError) as caught:
        await call
    return caught.value


async def test_missing_token_is_not_authed_and_wrong_token_is_invalid_auth(emulator: SlackEmulator) -> None:
    anonymous = AsyncWebClient(base_url=emulator.api_url)
    impostor = AsyncWebClient(token="xoxb-wrong", base_url=emulator.api_url)

    assert (await slack_error(anonymous.auth_test())).response["error"] == "not_authed"
    assert (await slack_error(impostor.auth_test())).response["error"] == "invalid_auth"


async def test_auth_test_identifies_the_bot(emulator: SlackEmulator, slack: AsyncWebClient) -> None:
    answer = await slack.auth_test()

    assert answer["user_id"] == emulator.bot_user_id == "U0OPSPILOT"
    assert answer["team_id"] == emulator.team_id == "T0PLAYGRND"
    assert answer["bot_id"]


async def test_posted_message_is_answered_like_slack_and_recorded(emulator: SlackEmulator, slack: AsyncWebClient) -> None:
    answer = await slack.chat_postMessage(channel=OPS_CHANNEL, text="hello", blocks=[section("*hello*")])

    assert answer["channel"] == OPS_CHANNEL
    assert TS_PATTERN.match(answer["ts"])
    assert answer["message"]["blocks"][0]["text"]["text"] == "*hello*"
    assert answer["message"]["blocks"][0]["block_id"]
    [message] = emulator.messages(OPS_CHANNEL)
    assert (message.ts, message.user, message.text) == (answer["ts"], emulator.bot_user_id, "hello")
    [call] = emulator.calls_to("chat.postMessage")
    assert call.ok and call.params["channel"] == OPS_CHANNEL
    assert "token" not in call.params


async def test_channel_names_resolve_to_their_ids(emulator: SlackEmulator, slack: AsyncWebClient) -> None:
    answer = await slack.chat_postMessage(channel="#prod-changes", text="by name")

    assert answer["channel"] == PROD_CHANGES_CHANNEL
    assert [m.text for m in emulator.messages("#prod-changes")] == ["by name"]


async def test_message_timestamps_are_unique_and_increasing(slack: AsyncWebClient) -> None:
    stamps = [(await slack.chat_postMessage(channel=OPS_CHANNEL, text=str(i)))["ts"] for i in range(5)]

    assert stamps == sorted(stamps, key=float)
    assert len(set(stamps)) == 5


async def test_thread_replies_are_counted_on_their_parent(emulator: SlackEmulator, slack: AsyncWebClient) -> None:
    parent = await slack.chat_postMessage(channel=OPS_CHANNEL, text="parent")
    for text in ("one", "two"):
        await slack.chat_postMessage(channel=OPS_CHANNEL, text=text, thread_ts=parent["ts"])

    [top] = emulator.messages(OPS_CHANNEL)
    assert top.reply_count == 2
    assert top.raw["reply_count"] == 2 and top.raw["thread_ts"] == parent["ts"]
    assert [r.text for r in emulator.thread(OPS_CHANNEL, parent["ts"])] == ["one", "two"]
    assert all(r.thread_ts == parent["ts"] for r in emulator.thread(OPS_CHANNEL, parent["ts"]))


async def test_unknown_channel_is_channel_not_found(slack: AsyncWebClient) -> None:
    error = await slack_error(slack.chat_postMessage(channel="C0NOWHERE", text="hi"))

    assert error.response["error"] == "channel_not_found"


async def test_thread_ts_that_is_not_a_top_level_message_there_is_thread_not_found(slack: AsyncWebClient) -> None:
    parent = await slack.chat_postMessage(channel=OPS_CHANNEL, text="parent")
    reply = await slack.chat_postMessage(channel=OPS_CHANNEL, text="reply", thread_ts=parent["ts"])

    for channel, thread_ts in (
        (OPS_CHANNEL, "1111111111.000100"),
        (OPS_CHANNEL, reply["ts"]),
        (PROD_CHANGES_CHANNEL, parent["ts"]),
    ):
        error = await slack_error(slack.chat_postMessage(channel=channel, text="x", thread_ts=thread_ts))
        assert error.response["error"] == "thread_not_found"


async def test_more_than_fifty_blocks_is_invalid_blocks(emulator: SlackEmulator, slack: AsyncWebClient) -> None:
    error = await slack_error(
        slack.chat_postMessage(channel=OPS_CHANNEL, text="many", blocks=[section(str(i)) for i in range(51)])
    )

    assert error.response["error"] == "invalid_blocks"
    assert any("50" in m for m in error.response["response_metadata"]["messages"])
    assert emulator.messages(OPS_CHANNEL) == []
    assert emulator.calls_to("chat.postMessage")[-1].error == "invalid_blocks"


@pytest.mark.parametrize(
    ("block", "pointer"),
    [
        (section("x" * 3001), "/blocks/0/text/text"),
        ({"type": "header", "text": {"type": "plain_text", "text": "x" * 151}}, "/blocks/0/text/text"),
        (
            {
                "type": "actions",
                "elements": [{"type": "button", "text": {"type": "plain_text", "text": "x" * 76}, "action_id": "a"}],
            },
            "/blocks/0/elements/0/text/text",
        ),
        ({"type": "context", "elements": [{"type": "mrkdwn", "text": str(i)} for i in range(11)]}, "/blocks/0/elements"),
        (
            {
                "type": "actions",
                "elements": [
                    {"type": "button", "text": {"type": "plain_text", "text": str(i)}, "action_id": f"a{i}"} for i in range(26)
                ],
            },
            "/blocks/0/elements",
        ),
    ],
    ids=["section-text", "header-text", "button-text", "context-elements", "actions-elements"],
)
async def test_block_kit_limits_are_invalid_blocks_with_a_pointer(
    slack: AsyncWebClient, block: dict[str, Any], pointer: str
) -> None:
    error = await slack_error(slack.chat_postMessage(channel=OPS_CHANNEL, text="t", blocks=[block]))

    assert error.response["error"] == "invalid_blocks"
    assert any(f"[json-pointer:{pointer}]" in m for m in error.response["response_metadata"]["messages"])


async def test_blocks_without_text_are_posted_with_a_warning(emulator: SlackEmulator, slack: AsyncWebClient) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # slack_sdk warns client-side too
        answer = await slack.chat_postMessage(channel=OPS_CHANNEL, blocks=[section("only blocks")])

    assert answer["ok"] and answer["warning"] == "missing_text_in_blocks"
    assert any("without top-level text" in w for w in emulator.warnings)


async def test_text_beyond_40000_chars_is_truncated(emulator: SlackEmulator, slack: AsyncWebClient) -> None:
    await slack.chat_postMessage(channel=OPS_CHANNEL, text="y" * 40_010)

    assert len(emulator.messages(OPS_CHANNEL)[0].text) == 40_000
    assert any("truncated" in w for w in emulator.warnings)


async def test_update_replaces_content_in_place_and_marks_it_edited(emulator: SlackEmulator, slack: AsyncWebClient) -> None:
    posted = await slack.chat_postMessage(channel=OPS_CHANNEL, text="pending", blocks=[section("pending")])

    await slack.chat_update(
        channel=OPS_CHANNEL, ts=posted["ts"], text="approved", blocks=[section(":white_check_mark: approved")]
    )

    [message] = emulator.messages(OPS_CHANNEL)
    assert (message.ts, message.text, message.edited) == (posted["ts"], "approved", True)
    assert message.blocks[0]["text"]["text"] == ":white_check_mark: approved"


async def test_update_of_an_unknown_message_is_message_not_found(slack: AsyncWebClient) -> None:
    error = await slack_error(slack.chat_update(channel=OPS_CHANNEL, ts="1111111111.000100", text="x"))

    assert error.response["error"] == "message_not_found"


async def test_delete_removes_the_message(emulator: SlackEmulator, slack: AsyncWebClient) -> None:
    posted = await slack.chat_postMessage(channel=OPS_CHANNEL, text="bye")

    await slack.chat_delete(channel=OPS_CHANNEL, ts=posted["ts"])

    assert emulator.messages(OPS_CHANNEL) == []
    assert (await slack_error(slack.chat_delete(channel=OPS_CHANNEL, ts=posted["ts"]))).response["error"] == "message_not_found"


async def test_ephemeral_is_kept_apart_for_its_user(emulator: SlackEmulator, slack: AsyncWebClient) -> None:
    answer = await slack.chat_postEphemeral(channel=OPS_CHANNEL, user=REQUESTER, text="just you")

    [ephemeral] = emulator.ephemerals(REQUESTER)
    assert (ephemeral.ts, ephemeral.ephemeral_for, ephemeral.text) == (answer["message_ts"], REQUESTER, "just you")
    assert emulator.ephemerals(OUTSIDER) == []
    assert emulator.messages(OPS_CHANNEL) == []


async def test_people_channels_and_groups_can_be_looked_up(slack: AsyncWebClient) -> None:
    user = await slack.users_info(user=APPROVER_1)
    channel = await slack.conversations_info(channel=OPS_CHANNEL)
    group = await slack.usergroups_users_list(usergroup=APPROVERS_GROUP)

    assert user["user"]["real_name"] == "Avery Approver"
    assert channel["channel"]["name"] == "ops"
    assert group["users"] == [APPROVER_1, APPROVER_2]
    assert (await slack_error(slack.users_info(user="U0NOBODY"))).response["error"] == "user_not_found"


async def test_reactions_are_added_once_per_name(emulator: SlackEmulator, slack: AsyncWebClient) -> None:
    posted = await slack.chat_postMessage(channel=OPS_CHANNEL, text="react")

    await slack.reactions_add(channel=OPS_CHANNEL, timestamp=posted["ts"], name="eyes")
    error = await slack_error(slack.reactions_add(channel=OPS_CHANNEL, timestamp=posted["ts"], name="eyes"))

    assert error.response["error"] == "already_reacted"
    assert emulator.messages(OPS_CHANNEL)[0].raw["reactions"] == [{"name": "eyes", "users": [emulator.bot_user_id], "count": 1}]


async def test_form_encoded_calls_with_json_string_blocks_are_understood(emulator: SlackEmulator) -> None:
    form = {"channel": OPS_CHANNEL, "text": "form", "blocks": json.dumps([section("from a form")])}
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{emulator.api_url}chat.postMessage", data=form, headers={"Authorization": "Bearer xoxb-playground"}
        ) as response,
    ):
        answer = await response.json()

    assert answer["ok"], answer
    assert emulator.messages(OPS_CHANNEL)[0].blocks[0]["text"]["text"] == "from a form"
