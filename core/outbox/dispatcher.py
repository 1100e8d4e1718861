"""Delivering the outbox: durable work of kind ``delivery``, one work item per (subscriber, partition).

A dispatcher claims a work item (exactly one replica holds it, under a lease), then delivers that subscriber's
pending events of that partition (one task) in event order, one at a time:

- before calling the subscriber, a fenced write bumps the attempt and sets ``started_at``; a delivery found with
  ``started_at`` set was cut by a crash, and the subscriber is told (``Delivery.unfinished``) so it can check
  before repeating a side effect;
- success is recorded (with the subscriber's result) in a fenced write; a failure is retried after an exponential
  backoff with jitter (or the peer's Retry-After), and the partition waits for it, so a thread never shows phase 2
  before phase 1; after ``attempts`` tries, or at once for :class:`DeliveryRejected` or a malformed row, the
  delivery is dead-lettered (audited, listed by ``opspilot events dead-letters``) and the partition moves on;
- a subscriber that hangs is cut after ``timeout`` and retried; it never holds up another subscriber (each has its
  own work items) or a rollout (which only writes rows).
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from pydantic import ValidationError
from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from core.clock import SYSTEM_CLOCK, Clock
from core.errors import DeliveryError, DeliveryRejected, LeaseLost
from core.logcontext import bind
from core.outbox.base import Delivery
from core.outbox.envelope import CloudEvent
from core.outbox.writer import DELIVERY_WORK, Outbox, split_subject, work_subject
from core.store import Database
from core.store.tables import outbox_deliveries, outbox_events, work_items
from core.work.queue import Claim, WorkQueue, worker_id
from core.work.worker import LeasedWorker

logger = logging.getLogger(__name__)

BASE_BACKOFF_SECONDS = 1.0
UNKNOWN_SUBSCRIBER_RECHECK_SECONDS = 60.0  # a subscriber another replica has and this one has not


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 8
    max_backoff: float = 300.0
    timeout: float = 30.0  # one attempt
    base: float = BASE_BACKOFF_SECONDS

    def backoff(self, attempt: int, rng: random.Random | None = None) -> float:
        """Exponential (base × 2^(attempt-1)) capped at ``max_backoff``, with equal jitter: half fixed, half random."""
        ceiling = min(self.max_backoff, self.base * (2 ** max(0, attempt - 1)))
        return ceiling / 2 + (rng or random).uniform(0, ceiling / 2)


@dataclass(frozen=True)
class DeadLetter:
    id: int
    event_id: str
    type: str
    subscriber: str
    subject: str | None
    attempt: int
    last_error: str | None
    at: datetime


DeadLettered = Callable[[DeadLetter, CloudEvent | None], Awaitable[None]]


class Dispatcher:
    def __init__(
        self,
        outbox: Outbox,
        work: WorkQueue,
        *,
        retry: RetryPolicy | None = None,
        clock: Clock = SYSTEM_CLOCK,
        scheduler: AsyncIOScheduler | None = None,
        lease_seconds: Callable[[], float] = lambda: 60.0,
        poll_interval: Callable[[], float] = lambda: 2.0,
        capacity: int = 16,
        owner: str | None = None,
        on_dead_letter: DeadLettered | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.outbox = outbox
        self.work = work
        self.retry = retry or RetryPolicy()
        self.clock = clock
        self.on_dead_letter = on_dead_letter
        self.rng = rng or random.Random()
        self.owner = owner or worker_id()
        self.delivered = 0  # counters for metrics (this replica)
        self.failed = 0
        self.dead = 0
        self.worker = LeasedWorker(
            work,
            DELIVERY_WORK,
            self.owner,
            self._drive,
            lease_seconds=lease_seconds,
            poll_interval=poll_interval,
            capacity=capacity,
            scheduler=scheduler,
            log_key=None,
        )

    @property
    def database(self) -> Database:
        return self.work.database

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        self.worker.start()

    def wake(self) -> None:
        self.worker.wake()

    async def stop(self, timeout: float = 5.0) -> None:
        await self.worker.stop(timeout)

    @property
    def running(self) -> bool:
        return self.worker.running

    async def run_until_idle(self, timeout: float = 10.0) -> None:
        """Deliver everything due now (tests, the CLI): claim rounds until nothing is due or held."""
        await self.worker.run_until_idle(timeout)

    # -- one claim: a subscriber's pending events of one partition -----------------------------

    async def _drive(self, claim: Claim) -> None:
        with bind(task_id=split_subject(claim.subject)[1]):  # most partitions are task ids
            await self._drive_partition(claim)

    async def _drive_partition(self, claim: Claim) -> None:
        name, partition = split_subject(claim.subject)
        subscriber = self.outbox.subscribers.get(name)
        if subscriber is None:
            logger.warning("no subscriber %r here; leaving its deliveries to a replica that has it", name)
            async with self.work.fenced(claim) as conn:
                due = self.clock.now() + timedelta(seconds=UNKNOWN_SUBSCRIBER_RECHECK_SECONDS)
                await self.work.release(conn, claim, due_at=due)
            return
        while True:
            row = await self._next(name, partition)
            if row is None:
                async with self.work.fenced(claim) as conn:
                    # Checked again under the fence: a delivery written meanwhile re-enqueued the item (its enqueue
                    # waits for this row lock on PostgreSQL), so marking it done here loses nothing.
                    if await self._next(name, partition, conn) is None:
                        await self.work.release(conn, claim, done=True)
                        return
                continue
            now = self.clock.now()
            due = _aware(row.due_at)
            if due > now:
                async with self.work.fenced(claim) as conn:
                    await self.work.release(conn, claim, due_at=due)
                return
            if not await self._attempt(claim, subscriber, row):
                return

    async def _next(self, subscriber: str, partition: str, conn: AsyncConnection | None = None) -> Any:
        query = (
            select(
                outbox_deliveries.c.id,
                outbox_deliveries.c.event_id,
                outbox_deliveries.c.attempt,
                outbox_deliveries.c.due_at,
                outbox_deliveries.c.started_at,
                outbox_deliveries.c.result,
                outbox_events.c.type,
                outbox_events.c.subject,
                outbox_events.c.envelope,
            )
            .join(outbox_events, outbox_events.c.seq == outbox_deliveries.c.event_seq)
            .where(
                outbox_deliveries.c.subscriber == subscriber,
                outbox_deliveries.c.partition == partition,
                outbox_deliveries.c.status == "pending",
            )
            .order_by(outbox_deliveries.c.event_seq)
            .limit(1)
        )
        if conn is not None:
            return (await conn.execute(query)).first()
        async with self.database.engine.connect() as own:
            return (await own.execute(query)).first()

    async def _attempt(self, claim: Claim, subscriber: Any, row: Any) -> bool:
        """One try of one delivery; True to go on with the partition's next event, False when the claim ended."""
        try:
            event = CloudEvent.from_json(row.envelope)
        except (ValidationError, ValueError) as exc:
            await self._dead(claim, row, f"malformed event row: {_short(exc)}", None, row.attempt)
            return True
        attempt = row.attempt + 1
        unfinished = row.started_at is not None
        async with self.work.fenced(claim) as conn:
            await conn.execute(
                update(outbox_deliveries)
                .where(outbox_deliveries.c.id == row.id, outbox_deliveries.c.status == "pending")
                .values(attempt=attempt, started_at=self.clock.now(), updated_at=self.clock.now())
            )
        previous = _json_or_none(row.result)
        delivery = Delivery(event=event, attempt=attempt, unfinished=unfinished, previous_result=previous)
        try:
            result = await asyncio.wait_for(subscriber.deliver(delivery), timeout=self.retry.timeout)
        except LeaseLost:
            raise
        except DeliveryRejected as exc:
            await self._dead(claim, row, _short(exc), event, attempt)
            return True
        except TimeoutError:
            return await self._failed(claim, row, event, attempt, f"no answer within {self.retry.timeout:.0f}s", None)
        except DeliveryError as exc:
            return await self._failed(claim, row, event, attempt, _short(exc), exc.retry_after)
        except Exception as exc:
            logger.exception("subscriber %s failed on %s %s", subscriber.name, event.type, event.id)
            return await self._failed(claim, row, event, attempt, f"{type(exc).__name__}: {_short(exc)}", None)
        now = self.clock.now()
        async with self.work.fenced(claim) as conn:
            await conn.execute(
                update(outbox_deliveries)
                .where(outbox_deliveries.c.id == row.id)
                .values(
                    status="delivered",
                    delivered_at=now,
                    started_at=None,
                    last_error=None,
                    result=json.dumps(result, default=str) if result is not None else None,
                    updated_at=now,
                )
            )
        self.delivered += 1
        logger.debug("delivered %s %s to %s (attempt %d)", event.type, event.id, subscriber.name, attempt)
        return True

    async def _failed(
        self, claim: Claim, row: Any, event: CloudEvent, attempt: int, error: str, retry_after: float | None
    ) -> bool:
        self.failed += 1
        if attempt >= self.retry.attempts:
            await self._dead(claim, row, f"gave up after {attempt} attempt(s): {error}", event, attempt)
            return True
        # The peer's Retry-After wins (even beyond max_backoff: calling earlier would only be refused again).
        wait = retry_after if retry_after is not None and retry_after > 0 else self.retry.backoff(attempt, self.rng)
        due = self.clock.now() + timedelta(seconds=wait)
        logger.warning(
            "delivery of %s %s to %s failed (attempt %d of %d): %s; next try in %.1fs",
            event.type,
            event.id,
            split_subject(claim.subject)[0],
            attempt,
            self.retry.attempts,
            error,
            wait,
        )
        async with self.work.fenced(claim) as conn:
            await conn.execute(
                update(outbox_deliveries)
                .where(outbox_deliveries.c.id == row.id)
                .values(due_at=due, started_at=None, last_error=error[:2000], updated_at=self.clock.now())
            )
            await self.work.release(conn, claim, due_at=due)
        self.worker.arm(due)
        return False

    async def _dead(self, claim: Claim, row: Any, error: str, event: CloudEvent | None, attempt: int) -> None:
        self.dead += 1
        now = self.clock.now()
        subscriber = split_subject(claim.subject)[0]
        logger.error("dead-lettered %s %s for %s: %s", row.type, row.event_id, subscriber, error)
        async with self.work.fenced(claim) as conn:
            await conn.execute(
                update(outbox_deliveries)
                .where(outbox_deliveries.c.id == row.id)
                .values(status="dead", started_at=None, last_error=error[:2000], updated_at=now)
            )
        if self.on_dead_letter is not None:
            letter = DeadLetter(row.id, row.event_id, row.type, subscriber, row.subject, attempt, error, now)
            try:
                await self.on_dead_letter(letter, event)
            except Exception:
                logger.exception("recording the dead letter of %s failed", row.event_id)


# -- reading and redelivering (the CLI, metrics) -----------------------------------------------------


async def dead_letters(database: Database, limit: int = 200) -> list[DeadLetter]:
    query = (
        select(
            outbox_deliveries.c.id,
            outbox_deliveries.c.event_id,
            outbox_events.c.type,
            outbox_deliveries.c.subscriber,
            outbox_events.c.subject,
            outbox_deliveries.c.attempt,
            outbox_deliveries.c.last_error,
            outbox_deliveries.c.updated_at,
        )
        .join(outbox_events, outbox_events.c.seq == outbox_deliveries.c.event_seq)
        .where(outbox_deliveries.c.status == "dead")
        .order_by(outbox_deliveries.c.updated_at.desc(), outbox_deliveries.c.id.desc())
        .limit(limit)
    )
    async with database.engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    return [
        DeadLetter(r.id, r.event_id, r.type, r.subscriber, r.subject, r.attempt, r.last_error, _aware(r.updated_at)) for r in rows
    ]


async def redeliver(database: Database, work: WorkQueue, ident: str) -> list[DeadLetter]:
    """Put dead deliveries back in the queue, due now: ``ident`` is a delivery id (from ``dead-letters``) or an event
    id (every dead delivery of it). Returns what was requeued; empty when nothing dead matched."""
    matches = outbox_deliveries.c.event_id == ident
    if ident.isdigit():
        matches = or_(matches, outbox_deliveries.c.id == int(ident))
    query = (
        select(outbox_deliveries, outbox_events.c.type, outbox_events.c.subject)
        .join(outbox_events, outbox_events.c.seq == outbox_deliveries.c.event_seq)
        .where(outbox_deliveries.c.status == "dead", matches)
    )
    now = work.clock.now()
    letters: list[DeadLetter] = []
    async with database.engine.begin() as conn:
        for row in (await conn.execute(query)).all():
            await conn.execute(
                update(outbox_deliveries)
                .where(outbox_deliveries.c.id == row.id, outbox_deliveries.c.status == "dead")
                .values(status="pending", attempt=0, due_at=now, started_at=None, updated_at=now)
            )
            await work.enqueue(DELIVERY_WORK, work_subject(row.subscriber, row.partition), now, conn)
            letters.append(
                DeadLetter(
                    row.id,
                    row.event_id,
                    row.type,
                    row.subscriber,
                    row.subject,
                    row.attempt,
                    row.last_error,
                    _aware(row.updated_at),
                )
            )
    return letters


@dataclass(frozen=True)
class OutboxStats:
    pending: dict[str, int]  # by subscriber
    dead: dict[str, int]
    oldest_pending_seconds: float  # lag: how long the oldest due delivery has waited


async def outbox_stats(database: Database, clock: Clock = SYSTEM_CLOCK) -> OutboxStats:
    now = clock.now()
    counts = select(outbox_deliveries.c.subscriber, outbox_deliveries.c.status, func.count()).group_by(
        outbox_deliveries.c.subscriber, outbox_deliveries.c.status
    )
    oldest = select(func.min(outbox_deliveries.c.created_at)).where(
        and_(outbox_deliveries.c.status == "pending", outbox_deliveries.c.due_at <= now)
    )
    pending: dict[str, int] = {}
    dead: dict[str, int] = {}
    async with database.engine.connect() as conn:
        for subscriber, status, count in (await conn.execute(counts)).all():
            if status == "pending":
                pending[subscriber] = int(count)
            elif status == "dead":
                dead[subscriber] = int(count)
        first = (await conn.execute(oldest)).scalar()
    lag = max(0.0, (now - _aware(first)).total_seconds()) if first is not None else 0.0
    return OutboxStats(pending, dead, lag)


async def requeue_orphans(database: Database, work: WorkQueue) -> int:
    """Safety net: pending deliveries whose work item is not pending (a hand edit, an interrupted redelivery) get it
    back. Returns how many items were enqueued."""
    query = (
        select(outbox_deliveries.c.subscriber, outbox_deliveries.c.partition)
        .where(outbox_deliveries.c.status == "pending")
        .group_by(outbox_deliveries.c.subscriber, outbox_deliveries.c.partition)
    )
    async with database.engine.connect() as conn:
        pairs = (await conn.execute(query)).all()
        subjects = [work_subject(s, p) for s, p in pairs]
        live = set()
        if subjects:
            found = await conn.execute(
                select(work_items.c.subject).where(
                    work_items.c.kind == DELIVERY_WORK, work_items.c.state == "pending", work_items.c.subject.in_(subjects)
                )
            )
            live = {r[0] for r in found}
    missing = [s for s in subjects if s not in live]
    for subject in missing:
        await work.enqueue(DELIVERY_WORK, subject)
    return len(missing)


def _short(exc: BaseException) -> str:
    return (str(exc) or type(exc).__name__)[:1000]


def _json_or_none(text: str | None) -> dict[str, Any] | None:
    if not text:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _aware(moment: datetime) -> datetime:
    from datetime import UTC

    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
