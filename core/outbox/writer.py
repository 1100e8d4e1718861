"""Writing events: in the caller's transaction, one ``outbox_events`` row per event and one pending
``outbox_deliveries`` row per subscriber that wants it, plus the durable work item (kind ``delivery``, subject
``<subscriber>|<partition>``) that a dispatcher claims. A rolled-back transaction leaves no event behind; a
committed one can no longer lose its deliveries.

Every process registers the same subscribers (they come from the shared config), whether or not it runs a
dispatcher: a front that records a vote writes the deliveries a worker replica then sends.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from core.clock import SYSTEM_CLOCK, Clock
from core.events import Event
from core.outbox.base import Subscriber
from core.outbox.envelope import CloudEvent, to_cloud_event
from core.store.tables import outbox_deliveries, outbox_events, plans, runs
from core.work.queue import WorkQueue

logger = logging.getLogger(__name__)

DELIVERY_WORK = "delivery"
SUBJECT_SEPARATOR = "|"


def work_subject(subscriber: str, partition: str) -> str:
    return f"{subscriber}{SUBJECT_SEPARATOR}{partition}"


def split_subject(subject: str) -> tuple[str, str]:
    subscriber, _, partition = subject.partition(SUBJECT_SEPARATOR)
    return subscriber, partition


class Outbox:
    def __init__(self, work: WorkQueue, clock: Clock = SYSTEM_CLOCK) -> None:
        self.work = work
        self.clock = clock
        self._subscribers: dict[str, Subscriber] = {}

    # -- subscribers ---------------------------------------------------------------------------

    def register(self, *subscribers: Subscriber) -> None:
        for subscriber in subscribers:
            if subscriber.name in self._subscribers and self._subscribers[subscriber.name] is not subscriber:
                raise ValueError(f"two outbox subscribers are named {subscriber.name!r}")
            self._subscribers[subscriber.name] = subscriber

    def unregister(self, name: str) -> None:
        self._subscribers.pop(name, None)

    @property
    def subscribers(self) -> dict[str, Subscriber]:
        return dict(self._subscribers)

    # -- writing -------------------------------------------------------------------------------

    async def add(self, conn: AsyncConnection, event: Event) -> CloudEvent:
        """Record ``event`` inside the caller's transaction; returns its envelope."""
        envelope = to_cloud_event(event, environment=await self._environment_of(conn, event))
        await self.add_envelope(conn, envelope)
        return envelope

    async def add_all(self, conn: AsyncConnection, events: Iterable[Event]) -> list[CloudEvent]:
        return [await self.add(conn, event) for event in events]

    async def add_envelope(self, conn: AsyncConnection, envelope: CloudEvent) -> None:
        now = self.clock.now()
        partition = envelope.partition
        result = await conn.execute(
            outbox_events.insert().values(
                id=envelope.id,
                type=envelope.type,
                subject=(envelope.subject or "")[:200] or None,
                partition=partition,
                severity=envelope.severity,
                environment=envelope.environment,
                envelope=envelope.to_json(),
                created_at=now,
            )
        )
        seq = result.inserted_primary_key[0] if result.inserted_primary_key else None
        if seq is None:  # pragma: no cover - every supported backend returns the key
            seq = (await conn.execute(select(outbox_events.c.seq).where(outbox_events.c.id == envelope.id))).scalar_one()
        for name, subscriber in self._subscribers.items():
            try:
                wanted = subscriber.wants(envelope)
            except Exception:
                logger.exception("subscriber %s failed to decide on %s; delivering it", name, envelope.type)
                wanted = True
            if not wanted:
                continue
            await conn.execute(
                outbox_deliveries.insert().values(
                    event_seq=seq,
                    event_id=envelope.id,
                    subscriber=name,
                    partition=partition,
                    status="pending",
                    attempt=0,
                    due_at=now,
                    created_at=now,
                    updated_at=now,
                )
            )
            await self.work.enqueue(DELIVERY_WORK, work_subject(name, partition), now, conn)

    async def _environment_of(self, conn: AsyncConnection, event: Event) -> str | None:
        """Routing needs the environment; most events name a run or a plan rather than carry it."""
        environment = getattr(event, "environment", None)
        if isinstance(environment, str):
            return environment
        run_id = getattr(event, "run_id", None)
        if run_id:
            found = (await conn.execute(select(runs.c.environment).where(runs.c.id == run_id))).scalar()
            if found:
                return str(found)
        plan_id = getattr(event, "plan_id", None)
        if plan_id:
            found = (await conn.execute(select(plans.c.environment).where(plans.c.id == plan_id))).scalar()
            if found:
                return str(found)
        return None
