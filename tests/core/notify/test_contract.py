"""What every Notifier promises, checked against each implementation and a real loopback receiver."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from core.events import PhaseStarted, RunFinished
from core.notify import EmailNotifier, NotificationError, Notifier, WebhookNotifier, build_notice

from .conftest import SECRET, free_port


async def _no_sleep(_: float) -> None:
    return None


@dataclass
class Harness:
    make: Callable[..., Notifier]  # make(reachable=True) → a notifier aimed at the receiver (or at a closed port)
    delivered: Callable[[], list[str]]  # the topics the receiver got, in order


def _email(smtp_server) -> Harness:
    def make(reachable: bool = True) -> Notifier:
        return EmailNotifier(
            smtp_host="127.0.0.1",
            smtp_port=smtp_server.port if reachable else free_port(),
            starttls=False,
            from_address="OpsPilot <opspilot@example.com>",
            to=["oncall@example.com"],
            on=["rolled_back", "failed", "completed"],
            timeout_seconds=5,
            max_attempts=2,
            sleep=_no_sleep,
        )

    return Harness(make, lambda: [m.message["X-OpsPilot-Event"] for m in smtp_server.mails])


def _webhook(webhook_receiver) -> Harness:
    def make(reachable: bool = True) -> Notifier:
        url = webhook_receiver.url if reachable else f"http://127.0.0.1:{free_port()}/hooks/x"
        return WebhookNotifier(url=url, secret=SECRET, timeout_seconds=5, max_attempts=2, sleep=_no_sleep)

    return Harness(make, lambda: [r.headers["X-OpsPilot-Event"] for r in webhook_receiver.requests])


@pytest.fixture(params=["email", "webhook"])
def harness(request: pytest.FixtureRequest) -> Harness:
    if request.param == "email":
        return _email(request.getfixturevalue("smtp_server"))
    return _webhook(request.getfixturevalue("webhook_receiver"))


async def test_delivers_a_notice_it_wants(harness: Harness, rolled_back_notice) -> None:
    notifier = harness.make()
    try:
        assert notifier.wants(rolled_back_notice)
        assert rolled_back_notice.topic in notifier.topics
        await notifier.notify(rolled_back_notice)
    finally:
        await notifier.close()
    assert harness.delivered() == [rolled_back_notice.topic]


async def test_wants_only_what_it_was_configured_for(harness: Harness) -> None:
    notifier = harness.make()
    phase = await build_notice(
        PhaseStarted(task_id="t", plan_id="p", run_id="r", index=0, name="Canary", total_phases=2, assets=("a",))
    )
    finished = await build_notice(
        RunFinished(
            task_id="t",
            plan_id="p",
            run_id="r",
            state="completed",
            reason=None,
            assets_changed=1,
            assets_rolled_back=0,
            phases_completed=2,
            total_phases=2,
            duration_seconds=1.0,
        )
    )
    assert phase is not None and finished is not None
    assert notifier.wants(finished)
    # email is for outcomes, the webhook for every transition
    assert notifier.wants(phase) == isinstance(notifier, WebhookNotifier)
    assert (phase.topic in notifier.topics) == notifier.wants(phase)
    await notifier.close()


async def test_an_unreachable_receiver_raises_notification_error_after_its_attempts(harness: Harness, rolled_back_notice) -> None:
    notifier = harness.make(reachable=False)
    try:
        with pytest.raises(NotificationError) as caught:
            await notifier.notify(rolled_back_notice)
    finally:
        await notifier.close()
    assert caught.value.attempts == 2
    assert harness.delivered() == []


async def test_close_is_safe_before_use_and_twice(harness: Harness) -> None:
    notifier = harness.make()
    await notifier.close()
    await notifier.close()


async def test_repr_and_errors_never_show_secrets(harness: Harness, rolled_back_notice) -> None:
    notifier = harness.make(reachable=False)
    with pytest.raises(NotificationError) as caught:
        await notifier.notify(rolled_back_notice)
    await notifier.close()
    for text in (repr(notifier), str(caught.value)):
        assert SECRET not in text
        assert "/hooks/" not in text  # a webhook path may carry a token
