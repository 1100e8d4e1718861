from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
import pytest_asyncio
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from bot.playground.emulator import OPS_CHANNEL, PROD_CHANGES_CHANNEL, RateLimit, SlackEmulator

pytestmark = pytest.mark.asyncio

BOT_TOKEN = "xoxb-playground"


@pytest_asyncio.fixture
async def limited_emulator() -> AsyncIterator[SlackEmulator]:
    emu = SlackEmulator(signing_secret="s3cret", bot_token=BOT_TOKEN, rate_limit=RateLimit(per_second=1.0, burst=3))
    await emu.start()
    try:
        yield emu
    finally:
        await emu.stop()


async def test_posting_beyond_the_burst_answers_429_with_retry_after(limited_emulator: SlackEmulator) -> None:
    headers = {"Authorization": f"Bearer {BOT_TOKEN}"}
    url = f"{limited_emulator.api_url}chat.postMessage"
    statuses: list[int] = []
    async with aiohttp.ClientSession() as session:
        for i in range(4):
            async with session.post(url, json={"channel": OPS_CHANNEL, "text": str(i)}, headers=headers) as response:
                statuses.append(response.status)
                last_body, last_headers = await response.json(), response.headers
        async with session.post(url, json={"channel": PROD_CHANGES_CHANNEL, "text": "other"}, headers=headers) as other:
            other_status = other.status

    assert statuses == [200, 200, 200, 429]
    assert last_headers["Retry-After"] == "1"
    assert last_body == {"ok": False, "error": "ratelimited"}
    assert other_status == 200, "the limit is per channel"
    assert limited_emulator.calls_to("chat.postMessage")[3].error == "ratelimited"


async def test_sdk_rate_limit_retry_handler_recovers(limited_emulator: SlackEmulator) -> None:
    plain = AsyncWebClient(token=BOT_TOKEN, base_url=limited_emulator.api_url)
    patient = AsyncWebClient(
        token=BOT_TOKEN,
        base_url=limited_emulator.api_url,
        retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=2)],
    )
    for i in range(3):
        await plain.chat_postMessage(channel=OPS_CHANNEL, text=str(i))
    with pytest.raises(SlackApiError) as refused:
        await plain.chat_postMessage(channel=OPS_CHANNEL, text="refused")
    assert refused.value.response.status_code == 429

    answer = await patient.chat_postMessage(channel=OPS_CHANNEL, text="eventually")

    assert answer["ok"]
    assert [m.text for m in limited_emulator.messages(OPS_CHANNEL)][-1] == "eventually"
