from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import aiohttp
import pytest
from aiohttp import web
from slack_sdk.web.async_client import AsyncWebClient

from bot.playground.emulator import APPROVER_1, OPS_CHANNEL, REQUESTER, SlackEmulator
from tests.fakes.block_kit import MODAL
from tests.fakes.browser import launch_chromium, needs_chromium

if TYPE_CHECKING:
    from tests.bot.playground.conftest import BotPeer, Received

pytestmark = pytest.mark.asyncio


def approval_blocks(summary: str) -> list[dict[str, Any]]:
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*{summary}* :rocket:"}},
        {
            "type": "actions",
            "block_id": "decision",
            "elements": [
                {
                    "type": "button",
                    "action_id": "approve",
                    "style": "primary",
                    "text": {"type": "plain_text", "text": "Approve"},
                    "confirm": {
                        "title": {"type": "plain_text", "text": "Approve this change?"},
                        "text": {"type": "mrkdwn", "text": "It runs on *prod*."},
                        "confirm": {"type": "plain_text", "text": "Approve"},
                        "deny": {"type": "plain_text", "text": "Not yet"},
                    },
                },
                {"type": "button", "action_id": "reject", "style": "danger", "text": {"type": "plain_text", "text": "Reject"}},
            ],
        },
    ]


def answer_like_a_bot(bot_peer: BotPeer, slack: AsyncWebClient) -> set[asyncio.Task[None]]:
    """Slash command -> approval message with a first thread reply; Approve click -> second reply."""
    running: set[asyncio.Task[None]] = set()

    async def post_request(received: Received) -> None:
        summary = received.body["text"]
        posted = await slack.chat_postMessage(channel=received.body["channel_id"], text=summary, blocks=approval_blocks(summary))
        await slack.chat_postMessage(channel=posted["channel"], thread_ts=posted["ts"], text="Plan: 3 steps")

    async def post_decision(received: Received) -> None:
        container = received.body["container"]
        await slack.chat_postMessage(
            channel=container["channel_id"],
            thread_ts=container["message_ts"],
            text=f"Approved by <@{received.body['user']['id']}>",
        )

    def in_background(work: Any) -> Any:
        async def answer(received: Received) -> None:
            task = asyncio.create_task(work(received))
            running.add(task)
            task.add_done_callback(running.discard)

        return answer

    bot_peer.answers["slash_command"] = in_background(post_request)
    bot_peer.answers["interactive"] = in_background(post_decision)
    return running


async def test_page_state_and_composer_are_served_over_http(emulator: SlackEmulator, bot_peer: BotPeer) -> None:
    async with aiohttp.ClientSession(base_url=emulator.base_url) as http:
        async with http.get("/") as page:
            html = await page.text()
        async with http.get("/ui/static/app.js") as script:
            script_status = script.status
        async with http.post(
            "/ui/message", json={"user": REQUESTER, "channel": OPS_CHANNEL, "text": "<b>hi</b> & @OpsPilot"}
        ) as sent:
            sent_answer = await sent.json()
        async with http.get("/ui/state", params={"user": REQUESTER, "channel": OPS_CHANNEL}) as state:
            snapshot = await state.json()

    assert page.status == 200 and "<title>OpsPilot Playground</title>" in html
    assert script_status == 200
    assert sent_answer == {"ok": True, "delivered": True, "status": 200}
    [message] = snapshot["messages"]
    assert message["text"] == f"&lt;b&gt;hi&lt;/b&gt; &amp; <@{emulator.bot_user_id}>"
    assert bot_peer.received[0].body["event"]["type"] == "app_mention"
    assert {c["name"] for c in snapshot["channels"]} == {"ops", "prod-changes", "sandbox"}


@pytest.mark.browser
@needs_chromium
async def test_person_runs_a_command_and_approves_it_in_the_browser(
    emulator: SlackEmulator, bot_peer: BotPeer, slack: AsyncWebClient
) -> None:
    from playwright.async_api import async_playwright, expect

    running = answer_like_a_bot(bot_peer, slack)
    async with async_playwright() as playwright:
        browser = await launch_chromium(playwright)
        try:
            page = await browser.new_page()
            page_errors: list[str] = []
            page.on("pageerror", lambda error: page_errors.append(str(error)))
            await page.goto(f"{emulator.base_url}/?user={REQUESTER}&channel={OPS_CHANNEL}")
            await expect(page.locator("#conn.live")).to_be_attached()

            await page.locator("#composer-input").fill("/ops fix drift on prod web servers")
            await page.locator("#composer-input").press("Enter")

            request = page.locator("#messages article.message", has_text="fix drift on prod web servers")
            await expect(request).to_be_visible()
            await expect(request.locator("b")).to_have_text("fix drift on prod web servers")
            await expect(request.locator(".replies")).to_have_text("1 reply")

            await request.get_by_role("button", name="Approve").click()
            dialog = page.locator("#confirm-root [role=dialog]")
            await expect(dialog).to_contain_text("Approve this change?")
            await dialog.get_by_role("button", name="Approve").click()
            await expect(request.locator(".replies")).to_have_text("2 replies")

            await request.locator(".replies").click()
            thread = page.locator("#thread-messages")
            await expect(thread).to_contain_text("Plan: 3 steps")
            await expect(thread).to_contain_text("Approved by @Riley Requester")

            await page.locator("#composer-input").fill("<script>window.pwned = 1</script> ping")
            await page.locator("#composer-input").press("Enter")
            await expect(page.locator("#messages")).to_contain_text("<script>window.pwned = 1</script> ping")
            assert await page.evaluate("window.pwned === undefined")
            assert page_errors == []
        finally:
            await browser.close()
    await asyncio.gather(*running)
    [click] = bot_peer.of_kind("interactive")
    assert click.body["actions"][0]["action_id"] == "approve"


def answer_with_modal_and_home(bot_peer: BotPeer, slack: AsyncWebClient) -> None:
    async def open_modal(received: Received) -> None:
        await slack.views_open(trigger_id=received.body["trigger_id"], view=MODAL)

    async def check_submission(received: Received) -> web.Response | None:
        if received.body["type"] != "view_submission":
            return None
        if not received.body["view"]["state"]["values"]["why"]["text"]["value"]:
            return web.json_response({"response_action": "errors", "errors": {"why": "Tell the approvers why"}})
        return None

    async def publish_home(received: Received) -> None:
        user = received.body["event"]["user"]
        await slack.views_publish(
            user_id=user,
            view={
                "type": "home",
                "blocks": [
                    {"type": "header", "text": {"type": "plain_text", "text": "Your change requests"}},
                    {
                        "type": "actions",
                        "elements": [
                            {"type": "button", "action_id": "new_request", "text": {"type": "plain_text", "text": "New request"}}
                        ],
                    },
                ],
            },
        )

    bot_peer.answers["slash_command"] = open_modal
    bot_peer.answers["interactive"] = check_submission
    bot_peer.answers["event"] = publish_home


@pytest.mark.browser
@needs_chromium
async def test_person_fills_a_modal_and_uses_the_home_tab_in_the_browser(
    emulator: SlackEmulator, bot_peer: BotPeer, slack: AsyncWebClient
) -> None:
    from playwright.async_api import async_playwright, expect

    answer_with_modal_and_home(bot_peer, slack)
    async with async_playwright() as playwright:
        browser = await launch_chromium(playwright)
        try:
            page = await browser.new_page()
            await page.goto(f"{emulator.base_url}/?user={APPROVER_1}&channel={OPS_CHANNEL}")
            await expect(page.locator("#conn.live")).to_be_attached()

            await page.locator("#composer-input").fill("/ops reject run-1")
            await page.locator("#composer-input").press("Enter")
            modal = page.locator("#modal-root [role=dialog]")
            await expect(modal).to_contain_text("Reject change")
            await modal.locator("select").select_option("high")
            await modal.get_by_role("button", name="Reject").click()
            await expect(modal).to_contain_text("Tell the approvers why")
            await expect(modal.locator("select")).to_have_value("high")

            await modal.locator("textarea").fill("too risky on a Friday")
            await modal.get_by_role("button", name="Reject").click()
            await expect(modal).to_have_count(0)

            await page.locator("#nav-home").click()
            await expect(page.locator("#home")).to_contain_text("Your change requests")
            await page.locator("#home").get_by_role("button", name="New request").click()
            await emulator.wait_for(lambda: len(bot_peer.of_kind("interactive")) == 3)
        finally:
            await browser.close()

    submitted = bot_peer.of_kind("interactive")[1].body["view"]["state"]["values"]
    assert submitted["why"]["text"]["value"] == "too risky on a Friday"
    assert submitted["severity"]["level"]["selected_option"]["value"] == "high"
    home_click = bot_peer.of_kind("interactive")[2].body
    assert home_click["container"]["type"] == "view" and home_click["actions"][0]["action_id"] == "new_request"
