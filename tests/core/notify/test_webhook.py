"""The webhook notifier against a loopback receiver: body, headers, signature, retries, Retry-After."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import timedelta
from email.utils import format_datetime

import pytest

from core.notify import NotificationError, WebhookNotifier, verify_signature
from core.timeutil import utcnow

from .conftest import SECRET


class Sleeps:
    """Stands in for asyncio.sleep: records the delays instead of waiting."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def _notifier(url: str, sleeps: Sleeps, **kwargs) -> WebhookNotifier:
    options = {"secret": SECRET, "max_attempts": 4, "backoff_seconds": 1.0, "timeout_seconds": 5.0, **kwargs}
    return WebhookNotifier(url=url, sleep=sleeps, **options)


async def test_posts_the_notice_as_signed_json(webhook_receiver, rolled_back_notice) -> None:
    notifier = _notifier(webhook_receiver.url, Sleeps())
    await notifier.notify(rolled_back_notice)
    await notifier.close()

    [request] = webhook_receiver.requests
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["X-OpsPilot-Event"] == "task.completed"
    assert request.headers["User-Agent"].startswith("OpsPilot-Webhook/")
    expected = "sha256=" + hmac.new(SECRET.encode(), request.body, hashlib.sha256).hexdigest()
    assert request.headers["X-OpsPilot-Signature"] == expected
    assert verify_signature(request.body, request.headers["X-OpsPilot-Signature"], SECRET)
    assert not verify_signature(request.body + b" ", request.headers["X-OpsPilot-Signature"], SECRET)
    body = json.loads(request.body)
    assert body["topic"] == "task.completed"
    assert (body["task_id"], body["plan_id"], body["run_id"]) == ("task-1", "plan-1", "run-1")
    assert body["kind"] == body["state"] == "rolled_back"
    assert body["severity"] == "error"
    assert body["at"].endswith("Z")
    assert body["reason"] == "Wave 1: rollback_if error_rate 9 > 5"
    assert body["assets_rolled_back"] == 4
    assert body["subject"] == rolled_back_notice.subject and body["text"] == rolled_back_notice.text


async def test_without_a_secret_requests_are_not_signed(webhook_receiver, rolled_back_notice) -> None:
    notifier = _notifier(webhook_receiver.url, Sleeps(), secret=None)
    await notifier.notify(rolled_back_notice)
    await notifier.close()
    assert "X-OpsPilot-Signature" not in webhook_receiver.requests[0].headers


async def test_5xx_is_retried_with_exponential_backoff_and_one_delivery_id(webhook_receiver, rolled_back_notice) -> None:
    webhook_receiver.answers = [(500, {}), (502, {}), (503, {})]
    sleeps = Sleeps()
    notifier = _notifier(webhook_receiver.url, sleeps)
    await notifier.notify(rolled_back_notice)
    await notifier.close()

    assert len(webhook_receiver.requests) == 4
    assert sleeps.delays == [1.0, 2.0, 4.0]
    assert len({r.headers["X-OpsPilot-Delivery"] for r in webhook_receiver.requests}) == 1
    assert [r.headers["X-OpsPilot-Attempt"] for r in webhook_receiver.requests] == ["1", "2", "3", "4"]
    assert len({r.body for r in webhook_receiver.requests}) == 1  # same body, so the same signature


async def test_each_notice_gets_its_own_delivery_id(webhook_receiver, rolled_back_notice) -> None:
    notifier = _notifier(webhook_receiver.url, Sleeps())
    await notifier.notify(rolled_back_notice)
    await notifier.notify(rolled_back_notice)
    await notifier.close()
    assert len({r.headers["X-OpsPilot-Delivery"] for r in webhook_receiver.requests}) == 2


@pytest.mark.parametrize("retry_after, low, high", [("7", 7.0, 7.0), ("0", 0.0, 0.0), (None, 25.0, 35.0)])
async def test_429_honours_retry_after(webhook_receiver, rolled_back_notice, retry_after, low, high) -> None:
    if retry_after is None:  # the HTTP-date form
        retry_after = format_datetime(utcnow() + timedelta(seconds=30), usegmt=True)
    webhook_receiver.answers = [(429, {"Retry-After": retry_after})]
    sleeps = Sleeps()
    notifier = _notifier(webhook_receiver.url, sleeps)
    await notifier.notify(rolled_back_notice)
    await notifier.close()
    assert len(webhook_receiver.requests) == 2
    [delay] = sleeps.delays
    assert low <= delay <= high


def test_a_huge_retry_after_is_capped() -> None:
    notifier = WebhookNotifier(url="http://127.0.0.1:9/x")
    assert notifier.delay(1, "86400") == 300.0
    assert notifier.delay(1, "nonsense") == 1.0
    assert notifier.delay(3, None) == 4.0


@pytest.mark.parametrize("status", [400, 401, 404, 410, 422, 302])
async def test_other_answers_are_not_retried(webhook_receiver, rolled_back_notice, status) -> None:
    webhook_receiver.answers = [(status, {"Location": "http://example.com/"})]
    sleeps = Sleeps()
    notifier = _notifier(webhook_receiver.url, sleeps)
    with pytest.raises(NotificationError, match=f"HTTP {status}") as caught:
        await notifier.notify(rolled_back_notice)
    await notifier.close()
    assert len(webhook_receiver.requests) == 1 and sleeps.delays == []
    assert caught.value.attempts == 1


async def test_gives_up_after_max_attempts(webhook_receiver, rolled_back_notice) -> None:
    webhook_receiver.answers = [(500, {})] * 10
    sleeps = Sleeps()
    notifier = _notifier(webhook_receiver.url, sleeps, max_attempts=3)
    with pytest.raises(NotificationError, match="after 3 attempt") as caught:
        await notifier.notify(rolled_back_notice)
    await notifier.close()
    assert len(webhook_receiver.requests) == 3 and len(sleeps.delays) == 2
    assert caught.value.attempts == 3
    assert webhook_receiver.url.split("/", 3)[3] not in str(caught.value)  # the path may be a token


async def test_a_slow_receiver_times_out_and_is_retried(webhook_receiver, rolled_back_notice) -> None:
    webhook_receiver.delay = 0.5
    notifier = _notifier(webhook_receiver.url, Sleeps(), timeout_seconds=0.1, max_attempts=2)
    with pytest.raises(NotificationError, match="Timeout"):
        await notifier.notify(rolled_back_notice)
    await notifier.close()
    assert len(webhook_receiver.requests) == 2


async def test_only_the_configured_events_are_wanted(rolled_back_notice) -> None:
    notifier = WebhookNotifier(url="http://127.0.0.1:9/x", events=["plan.decided"])
    assert not notifier.wants(rolled_back_notice)
    assert notifier.topics == frozenset({"plan.decided"})
