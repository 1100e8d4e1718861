"""The emulator speaks files_upload_v2's protocol (files.getUploadURLExternal, the POST of the bytes,
files.completeUploadExternal) to slack_sdk's real client, shows the file in the thread like Slack, serves its bytes,
and refuses what Slack refuses."""

from __future__ import annotations

import json
import struct
from typing import Any

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.playground.emulator import OPS_CHANNEL, SlackEmulator

PNG = (
    b"\x89PNG\r\n\x1a\n"
    + struct.pack(">I", 13)
    + b"IHDR"
    + struct.pack(">IIBBBBB", 640, 360, 8, 6, 0, 0, 0)
    + b"\0" * 4
    + b"rest"
)


async def thread_parent(slack: AsyncWebClient) -> str:
    return str((await slack.chat_postMessage(channel=OPS_CHANNEL, text="card"))["ts"])


async def slack_error(call: Any) -> SlackApiError:
    with pytest.raises(SlackApiError) as caught:
        await call
    return caught.value


async def test_files_upload_v2_puts_the_image_in_the_thread_with_its_alt_text(
    emulator: SlackEmulator, slack: AsyncWebClient
) -> None:
    parent = await thread_parent(slack)
    response = await slack.files_upload_v2(
        channel=(await slack.conversations_info(channel=OPS_CHANNEL))["channel"]["id"],
        thread_ts=parent,
        file=PNG,
        filename="cost-plan-1.png",
        title="Savings per recommendation",
        alt_txt="Rightsize db-3 $1,200/month; total $1,200/month",
        initial_comment=":bar_chart: Savings per recommendation",
    )
    file_id = response["file"]["id"]
    assert response["file"]["title"] == "Savings per recommendation"

    [message] = emulator.thread(OPS_CHANNEL, parent)
    assert message.text == ":bar_chart: Savings per recommendation"
    [shown] = message.raw["files"]
    assert shown["id"] == file_id and shown["name"] == "cost-plan-1.png" and shown["mimetype"] == "image/png"
    assert shown["alt_txt"] == "Rightsize db-3 $1,200/month; total $1,200/month"
    assert (shown["original_w"], shown["original_h"]) == (640, 360)
    assert shown["url_private"] == f"{emulator.base_url}/files/{file_id}/cost-plan-1.png"
    stored = emulator.file(file_id)
    assert stored is not None and stored.data == PNG and stored.completed

    async with aiohttp.ClientSession() as http, http.get(shown["url_private"]) as served:
        assert served.status == 200 and served.content_type == "image/png"
        assert await served.read() == PNG

    replies = await slack.conversations_replies(channel=OPS_CHANNEL, ts=parent)
    assert replies["messages"][-1]["files"][0]["name"] == "cost-plan-1.png", "a thread read shows the file"
    assert [c.method for c in emulator.calls[-3:-1]] == ["files.getUploadURLExternal", "files.completeUploadExternal"]


async def test_the_playground_page_state_carries_the_files_of_a_message(emulator: SlackEmulator, slack: AsyncWebClient) -> None:
    parent = await thread_parent(slack)
    channel = (await slack.conversations_info(channel=OPS_CHANNEL))["channel"]["id"]
    await slack.files_upload_v2(channel=channel, thread_ts=parent, file=PNG, filename="p.png", title="T", alt_txt="numbers 1, 2")
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{emulator.base_url}/ui/state", params={"user": "U0REQUESTER", "channel": channel, "thread": parent}) as answer,
    ):
        state = await answer.json()
    [reply] = state["thread"]["replies"]
    assert reply["files"][0]["alt_txt"] == "numbers 1, 2" and reply["files"][0]["url_private"].endswith("/p.png")


async def test_upload_errors_are_slacks(emulator: SlackEmulator, slack: AsyncWebClient) -> None:
    channel = (await slack.conversations_info(channel=OPS_CHANNEL))["channel"]["id"]
    assert (await slack_error(slack.files_getUploadURLExternal(filename="", length=3))).response["error"] == "invalid_arguments"
    assert (await slack_error(slack.files_getUploadURLExternal(filename="a.png", length=0))).response[
        "error"
    ] == "invalid_arguments"
    too_long = slack.files_getUploadURLExternal(filename="a.png", length=3, alt_txt="x" * 1001)
    assert (await slack_error(too_long)).response["error"] == "invalid_arguments"

    unknown = slack.files_completeUploadExternal(files=[{"id": "F0NOPE", "title": "x"}], channel_id=channel)
    assert (await slack_error(unknown)).response["error"] == "file_not_found"

    reserved = await slack.files_getUploadURLExternal(filename="a.png", length=len(PNG))
    not_uploaded = slack.files_completeUploadExternal(files=[{"id": reserved["file_id"]}], channel_id=channel)
    assert (await slack_error(not_uploaded)).response["error"] == "file_upload_incomplete"

    async with aiohttp.ClientSession() as http:
        async with http.post(reserved["upload_url"], data=PNG[:-1]) as short:
            assert short.status == 400 and "length mismatch" in await short.text()
        async with http.post(reserved["upload_url"], data=PNG) as right:
            assert right.status == 200
    bad_thread = slack.files_completeUploadExternal(files=[{"id": reserved["file_id"]}], channel_id=channel, thread_ts="1.000001")
    assert (await slack_error(bad_thread)).response["error"] == "thread_not_found"
    before = len(emulator.messages(OPS_CHANNEL))
    await slack.files_completeUploadExternal(files=[{"id": reserved["file_id"], "title": "A"}], channel_id=channel)
    assert len(emulator.messages(OPS_CHANNEL)) == before + 1, "shared in the channel, once"
    twice = slack.files_completeUploadExternal(files=[{"id": reserved["file_id"]}], channel_id=channel)
    assert (await slack_error(twice)).response["error"] == "file_already_completed"
    assert len(emulator.messages(OPS_CHANNEL)) == before + 1, "a refused completion posts nothing"

    emulator.fail_next("files.getUploadURLExternal", error="ratelimited", status=429, retry_after=7)
    limited = await slack_error(slack.files_upload_v2(channel=channel, file=PNG, filename="b.png"))
    assert limited.response.status_code == 429 and limited.response.headers["Retry-After"] == "7"


async def test_an_upload_url_takes_its_bytes_once_and_unknown_files_are_not_served(
    emulator: SlackEmulator, slack: AsyncWebClient
) -> None:
    channel = (await slack.conversations_info(channel=OPS_CHANNEL))["channel"]["id"]
    reserved = await slack.files_getUploadURLExternal(filename="c.png", length=len(PNG))
    async with aiohttp.ClientSession() as http:
        async with http.post(reserved["upload_url"], data=PNG) as first:
            assert first.status == 200
        await slack.files_completeUploadExternal(files=json.loads(json.dumps([{"id": reserved["file_id"]}])), channel_id=channel)
        async with http.post(reserved["upload_url"], data=PNG) as again:
            assert again.status == 404, "a completed file's upload URL is spent"
        async with http.get(f"{emulator.base_url}/files/F0NOPE/c.png") as missing:
            assert missing.status == 404
        async with http.get(f"{emulator.base_url}/files/{reserved['file_id']}/other.png") as wrong_name:
            assert wrong_name.status == 404
