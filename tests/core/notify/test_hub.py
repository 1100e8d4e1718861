"""The hub: background delivery, failures audited and never raised, draining and cancelling at shutdown."""

from __future__ import annotations

import asyncio

from core.events import EventBus, PhaseStarted, RunFinished
from core.notify import NotificationError, NotificationHub, Notifier
from core.notify.notice import Notice
from core.notify.settings import WEBHOOK_TOPICS

FINISHED = RunFinished(
    task_id="task-h",
    plan_id="plan-h",
    run_id="run-h",
    state="failed",
    reason="driver exploded",
    assets_changed=0,
    assets_rolled_back=0,
    phases_completed=0,
    total_phases=2,
    duration_seconds=0.5,
)


class Recording(Notifier):
    name = "recording"

    def __init__(self, *, fail: Exception | None = None, delay: float = 0.0, topics: frozenset[str] | None = None) -> None:
        self.fail, self.delay = fail, delay
        self._topics = frozenset(WEBHOOK_TOPICS) if topics is None else topics
        self.notices: list[Notice] = []
        self.closed = False

    @property
    def topics(self) -> frozenset[str]:
        return self._topics

    def wants(self, notice: Notice) -> bool:
        return notice.topic in self._topics

    async def notify(self, notice: Notice) -> None:
        await asyncio.sleep(self.delay)
        if self.fail is not None:
            raise self.fail
        self.notices.append(notice)

    async def close(self) -> None:
        self.closed = True


async def test_a_failing_notifier_is_audited_and_never_stops_the_others(service) -> None:
    broken, fine = Recording(fail=NotificationError("receiver said no", attempts=3)), Recording()
    hub = NotificationHub([broken, fine], service.store)
    bus = EventBus()
    hub.subscribe(bus)
    await bus.publish(FINISHED)  # must not raise
    assert await hub.drain(5)

    assert [n.kind for n in fine.notices] == ["failed"]
    [entry] = await service.store.audit_entries(["run-h"])
    assert (entry.entity_type, entry.event, entry.actor) == ("run", "notification.failed", "opspilot")
    assert entry.details == {
        "notifier": "recording",
        "topic": "task.completed",
        "kind": "failed",
        "attempts": 3,
        "error": "receiver said no",
    }
    await hub.close()
    assert broken.closed and fine.closed


async def test_unexpected_errors_are_contained_too(service) -> None:
    hub = NotificationHub([Recording(fail=RuntimeError("bug"))], service.store)
    await hub.on_event(FINISHED)
    assert await hub.drain(5)
    [entry] = await service.store.audit_entries(["run-h"])
    assert entry.details["error"] == "bug" and entry.details["attempts"] == 1
    await hub.close()


async def test_publishing_returns_before_a_slow_notifier_is_done() -> None:
    slow = Recording(delay=30.0)
    hub = NotificationHub([slow])
    bus = EventBus()
    hub.subscribe(bus)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await bus.publish(FINISHED)
    assert loop.time() - started < 0.5
    assert hub.in_flight == 1

    started = loop.time()
    await hub.close(timeout=0.1)  # waits a little, then cancels what is left
    assert loop.time() - started < 2
    assert hub.in_flight == 0 and slow.notices == [] and slow.closed


async def test_close_lets_deliveries_in_flight_finish() -> None:
    notifier = Recording(delay=0.1)
    hub = NotificationHub([notifier])
    await hub.on_event(FINISHED)
    await hub.close(timeout=5)
    assert len(notifier.notices) == 1


async def test_events_after_close_and_unwanted_topics_are_ignored() -> None:
    notifier = Recording(topics=frozenset({"task.completed"}))
    hub = NotificationHub([notifier])
    bus = EventBus()
    hub.subscribe(bus)
    await bus.publish(PhaseStarted(task_id="t", plan_id="p", run_id="r", index=0, name="Canary", total_phases=1, assets=()))
    assert hub.in_flight == 0
    await hub.close()
    await bus.publish(FINISHED)
    await hub.on_event(FINISHED)
    assert hub.in_flight == 0 and notifier.notices == []


async def test_without_notifiers_nothing_subscribes() -> None:
    bus = EventBus()
    NotificationHub([]).subscribe(bus)
    assert bus._handlers == []
