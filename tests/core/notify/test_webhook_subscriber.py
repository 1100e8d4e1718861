"""WebhookSubscriber against a real loopback receiver: the CloudEvents body and its v1 signature, today's legacy
body and sha256 signature, and what each bad answer becomes (retried or dead-lettered)."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from core.clock import ManualClock
from core.config import NotificationRouteConfig
from core.errors import DeliveryFailed, DeliveryRejected
from core.notify import WebhookSubscriber, build_notice
from core.notify.revive import revive
from core.notify.routing import Router
from core.outbox.envelope import CloudEvent
from core.signing import verify

from . import samples
from .conftest import SECRET, free_port
from .servers import HookServer, hook_server

NOW = datetime(2026, 11, 21, 6, 10, 57, tzinfo=UTC)


@pytest.fixture
async def receiver() -> AsyncIterator[HookServer]:
    async with hook_server() as server:
        yield server


def subscriber(url: str, **kwargs) -> WebhookSubscriber:
    kwargs.setdefault("secret", SECRET)
    kwargs.setdefault("timeout", 2.0)
    return WebhookSubscriber(url=url, **kwargs)


async def test_a_cloudevent_is_posted_with_a_v1_signature_over_timestamp_and_body(receiver: HookServer) -> None:
    hook = subscriber(receiver.url, clock=ManualClock(NOW))
    event = samples.finished()
    result = await hook.deliver(samples.first(event, attempt=3))
    await hook.close()

    assert result == {"status": 200}
    [request] = receiver.requests
    assert request.headers["Content-Type"] == "application/cloudevents+json"
    assert CloudEvent.from_json(request.body) == event
    assert json.loads(request.body)["specversion"] == "1.0"
    assert request.headers["X-OpsPilot-Event"] == "run.rolled_back"
    assert request.headers["X-OpsPilot-Delivery"] == event.id
    assert request.headers["X-OpsPilot-Attempt"] == "3"
    timestamp = request.headers["X-OpsPilot-Timestamp"]
    assert timestamp == str(int(NOW.timestamp()))
    signature = request.headers["X-OpsPilot-Signature"]
    assert signature.startswith("v1=")
    expected = hmac.new(SECRET.encode(), f"{timestamp}.".encode() + request.body, hashlib.sha256).hexdigest()
    assert signature == f"v1={expected}"
    assert verify(SECRET, timestamp, request.body, signature, now=NOW.timestamp() + 60)
    assert not verify(SECRET, timestamp, request.body, signature, now=NOW.timestamp() + 301)  # older than 5 minutes
    assert not verify(SECRET, timestamp, request.body + b" ", signature, now=NOW.timestamp())


async def test_every_attempt_of_one_event_carries_the_same_delivery_id_and_body(receiver: HookServer) -> None:
    hook = subscriber(receiver.url)
    event = samples.phase_started()
    await hook.deliver(samples.first(event, attempt=1))
    await hook.deliver(samples.first(event, attempt=2))
    await hook.close()
    first, second = receiver.requests
    assert first.body == second.body
    assert first.headers["X-OpsPilot-Delivery"] == second.headers["X-OpsPilot-Delivery"] == event.id


async def test_legacy_format_keeps_todays_body_and_sha256_signature(receiver: HookServer) -> None:
    hook = subscriber(receiver.url, format="legacy")
    event = samples.finished("rolled_back")
    await hook.deliver(samples.first(event))
    await hook.close()

    [request] = receiver.requests
    domain_event = revive(event)
    assert domain_event is not None
    notice = await build_notice(domain_event)
    assert notice is not None
    # byte for byte what WebhookNotifier.body built from the same event
    assert request.body == json.dumps(notice.data, separators=(",", ":"), ensure_ascii=False, default=str).encode()
    body = json.loads(request.body)
    assert (body["topic"], body["kind"], body["state"]) == ("task.completed", "rolled_back", "rolled_back")
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["X-OpsPilot-Event"] == "task.completed"  # today's topic for every run ending
    assert request.headers["X-OpsPilot-Delivery"] == event.id
    assert "X-OpsPilot-Timestamp" not in request.headers
    expected = "sha256=" + hmac.new(SECRET.encode(), request.body, hashlib.sha256).hexdigest()
    assert request.headers["X-OpsPilot-Signature"] == expected


async def test_legacy_format_wants_only_the_events_todays_body_described() -> None:
    hook = subscriber("http://127.0.0.1:9/hooks/x", format="legacy")
    assert hook.wants(samples.finished("failed")) and hook.wants(samples.phase_started())
    assert hook.wants(samples.approval_required()) and hook.wants(samples.decided("approved"))
    assert not hook.wants(samples.planned()) and not hook.wants(samples.planning_failed())
    assert not hook.wants(samples.paused()) and not hook.wants(samples.audit_appended("run.started"))
    # today's topic names still filter: task.completed means every run ending
    narrowed = subscriber("http://127.0.0.1:9/hooks/x", format="legacy", events=["task.completed"])
    assert narrowed.wants(samples.finished("rolled_back")) and narrowed.wants(samples.finished("completed"))
    assert not narrowed.wants(samples.phase_started())


async def test_unsigned_when_no_secret_is_set(receiver: HookServer) -> None:
    hook = WebhookSubscriber(url=receiver.url, secret=None, timeout=2)
    await hook.deliver(samples.first(samples.finished()))
    await hook.close()
    [request] = receiver.requests
    assert "X-OpsPilot-Signature" not in request.headers and "X-OpsPilot-Timestamp" not in request.headers


@pytest.mark.parametrize(
    "answer, retry_after",
    [
        (("status", 500, {}), None),
        (("status", 503, {"Retry-After": "7"}), 7.0),
        (("status", 429, {"Retry-After": "120"}), 120.0),
        (("status", 408, {}), None),
        (("status", 502, {"Retry-After": "soon"}), None),
    ],
)
async def test_server_errors_timeouts_and_rate_limits_are_retried_with_the_receivers_retry_after(
    receiver: HookServer, answer: tuple, retry_after: float | None
) -> None:
    receiver.plan = [answer]
    hook = subscriber(receiver.url)
    with pytest.raises(DeliveryFailed) as caught:
        await hook.deliver(samples.first(samples.finished()))
    assert caught.value.retry_after == retry_after
    assert f"HTTP {answer[1]}" in str(caught.value)
    # the next attempt goes through
    assert await hook.deliver(samples.first(samples.finished(), attempt=2)) == {"status": 200}
    await hook.close()


async def test_retry_after_as_an_http_date_counts_from_the_clock(receiver: HookServer) -> None:
    receiver.plan = [("status", 503, {"Retry-After": "Sat, 21 Nov 2026 06:11:27 GMT"})]
    hook = subscriber(receiver.url, clock=ManualClock(NOW))
    with pytest.raises(DeliveryFailed) as caught:
        await hook.deliver(samples.first(samples.finished()))
    await hook.close()
    assert caught.value.retry_after == 30.0


@pytest.mark.parametrize("status", [400, 401, 404, 410, 302])
async def test_other_answers_are_dead_lettered_at_once(receiver: HookServer, status: int) -> None:
    receiver.plan = [("status", status, {"Location": "/elsewhere"} if status == 302 else {})]
    hook = subscriber(receiver.url)
    with pytest.raises(DeliveryRejected, match=f"HTTP {status}"):
        await hook.deliver(samples.first(samples.finished()))
    await hook.close()
    assert len(receiver.requests) == 1  # redirects are not followed


async def test_a_hanging_receiver_fails_within_the_timeout(receiver: HookServer) -> None:
    receiver.plan = [("hang",)]
    hook = subscriber(receiver.url, timeout=0.5)
    started = time.monotonic()
    with pytest.raises(DeliveryFailed, match=r"no answer within 0\.5s"):
        await hook.deliver(samples.first(samples.finished()))
    assert time.monotonic() - started < 2.0
    await hook.close()


async def test_a_receiver_that_hangs_up_is_retried(receiver: HookServer) -> None:
    receiver.plan = [("close",)]
    hook = subscriber(receiver.url)
    with pytest.raises(DeliveryFailed):
        await hook.deliver(samples.first(samples.finished()))
    assert await hook.deliver(samples.first(samples.finished(), attempt=2)) == {"status": 200}
    await hook.close()


async def test_a_slow_answer_within_the_timeout_is_delivered(receiver: HookServer) -> None:
    receiver.plan = [("slow", 0.3)]
    hook = subscriber(receiver.url, timeout=2)
    assert await hook.deliver(samples.first(samples.finished())) == {"status": 200}
    await hook.close()


async def test_nobody_listening_is_retried_and_errors_never_show_the_path_or_secret() -> None:
    hook = subscriber(f"http://user:pw@127.0.0.1:{free_port()}/hooks/secret-token")
    with pytest.raises(DeliveryFailed) as caught:
        await hook.deliver(samples.first(samples.finished()))
    await hook.close()
    for text in (str(caught.value), repr(hook), hook.name):
        assert "secret-token" not in text and SECRET not in text and "pw@" not in text


def test_the_name_is_stable_per_url_and_short() -> None:
    a = subscriber("https://hooks.example.com/a")
    assert a.name == "webhook:" + hashlib.sha256(b"https://hooks.example.com/a").hexdigest()[:8]
    assert a.name == subscriber("https://hooks.example.com/a").name != subscriber("https://hooks.example.com/b").name
    assert len(a.name) <= 39


def test_wants_public_events_narrowed_by_its_events_list() -> None:
    hook = subscriber("http://127.0.0.1:9/hooks/x")
    assert hook.wants(samples.planned()) and hook.wants(samples.audit_appended()) and hook.wants(samples.paused())
    assert not hook.wants(samples.ask_answered())  # for fronts only
    narrowed = subscriber("http://127.0.0.1:9/hooks/x", events=["task.failed"])
    assert narrowed.wants(samples.finished("failed")) and narrowed.wants(samples.planning_failed())
    assert not narrowed.wants(samples.finished("rolled_back"))


def test_with_routes_webhooks_get_only_what_a_route_with_webhooks_true_matches() -> None:
    routes = [
        NotificationRouteConfig(severities=["critical"], environments=["production"], webhooks=True),
        NotificationRouteConfig(events=["run.paused"], email=True, to=["a@example.com"]),
    ]
    hook = subscriber("http://127.0.0.1:9/hooks/x", router=Router(routes))
    assert hook.wants(samples.finished("rolled_back", "production"))
    assert not hook.wants(samples.finished("rolled_back", "staging"))
    assert not hook.wants(samples.paused())  # matched, but by an email-only route
    assert not hook.wants(samples.phase_started())
