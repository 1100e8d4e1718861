"""The whole loop in a browser against `opspilot serve` in playground mode (no Slack workspace).

Set OPSPILOT_UPDATE_SCREENSHOTS=1 to refresh docs/playground-card.png and docs/playground-thread.png.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from bot.playground.emulator import APPROVER_1, OPS_CHANNEL, OUTSIDER, REQUESTER
from bot.server import start
from core.config import load_config
from tests.fakes.browser import launch_chromium, needs_chromium

DOCS = Path(__file__).resolve().parents[2] / "docs"

pytestmark = [pytest.mark.browser, needs_chromium]


async def test_requester_asks_outsider_is_refused_approver_approves_and_the_thread_fills(tmp_path: Path) -> None:
    from playwright.async_api import async_playwright, expect

    config = load_config(env={"DATABASE_URL": f"sqlite:///{tmp_path / 'playground.db'}"})
    running = await start(config, host="127.0.0.1", port=0, mode="playground")
    running.service.executor.wait_scale = 0.0005  # phases follow each other within seconds
    try:
        async with async_playwright() as playwright:
            browser = await launch_chromium(playwright)
            try:
                page = await browser.new_page(viewport={"width": 1400, "height": 1000})
                errors: list[str] = []
                page.on("pageerror", lambda error: errors.append(str(error)))
                await page.goto(f"{running.url}/?user={REQUESTER}&channel={OPS_CHANNEL}")
                await expect(page.locator("#conn.live")).to_be_attached()

                await page.locator("#composer-input").fill("/ops fix drift on prod web servers")
                await page.locator("#composer-input").press("Enter")
                card = page.locator("#messages article.message", has_text="Drift remediation plan")
                await expect(card).to_be_visible(timeout=15_000)
                await expect(card).to_contain_text("Affected assets")
                await expect(card.get_by_role("button", name="Approve")).to_be_visible()
                await card.screenshot(path=str(tmp_path / "card.png"))

                # The outsider is refused, privately.
                await page.locator("#user-select").select_option(OUTSIDER)
                await card.get_by_role("button", name="Approve").click()
                await page.locator("#confirm-root [role=dialog]").get_by_role("button", name="Approve").click()
                refusal = page.locator("#messages article.message", has_text="not allowed")
                await expect(refusal).to_be_visible()
                await expect(refusal).to_contain_text("Only visible to you")
                await expect(card.get_by_role("button", name="Approve")).to_be_visible()

                # An approver approves; the card loses its buttons and the run reports in the thread.
                await page.locator("#user-select").select_option(APPROVER_1)
                await expect(refusal).to_be_hidden()
                await card.get_by_role("button", name="Approve").click()
                await page.locator("#confirm-root [role=dialog]").get_by_role("button", name="Approve").click()
                await expect(card).to_contain_text("Approved by", timeout=10_000)
                await expect(card.get_by_role("button", name="Approve")).to_have_count(0)

                await expect(card.locator(".replies")).to_be_visible(timeout=10_000)
                await card.locator(".replies").click()
                thread = page.locator("#thread-messages")
                await expect(thread).to_contain_text("Run started")
                await expect(thread).to_contain_text("Canary")
                await expect(thread).to_contain_text("Run completed", timeout=60_000)
                await expect(card).to_contain_text("Run completed")
                # The run's phase timeline is uploaded to the thread and shows as an image with its numbers as alt.
                chart = thread.locator("figure.file img")
                await expect(chart).to_have_count(1, timeout=15_000)
                assert (await chart.get_attribute("alt") or "").startswith("Phases of run ")
                await page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=await chart.element_handle())
                await page.screenshot(path=str(tmp_path / "thread.png"))
                assert errors == []
            finally:
                await browser.close()
    finally:
        await running.stop()

    if os.environ.get("OPSPILOT_UPDATE_SCREENSHOTS"):
        DOCS.mkdir(exist_ok=True)
        shutil.copy(tmp_path / "card.png", DOCS / "playground-card.png")
        shutil.copy(tmp_path / "thread.png", DOCS / "playground-thread.png")
