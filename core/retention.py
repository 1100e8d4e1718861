"""Retention: prune what has served its purpose, after the ages in ``retention`` (audit rows are always kept).

- delivered outbox events (every delivery of them delivered) and their delivery rows, after ``retention.outbox``
  (dead letters and anything still pending stay until someone redelivers them);
- Slack intake keys and REST ``Idempotency-Key`` answers, after ``retention.intake_keys`` (24 h: Slack retries
  within minutes, and a key older than a day is a new request);
- asks that were planned, and finished work items, after ``retention.outbox``;
- per-asset rows of runs that ended, after ``retention.asset_rows`` (the run row, its counters and the audit stay).

A worker runs it every ``retention.interval`` as durable work (kind ``retention``): one replica at a time.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import and_, delete, exists, select
from sqlalchemy.ext.asyncio import AsyncConnection

from core.clock import SYSTEM_CLOCK, Clock
from core.config import RetentionConfig
from core.domain.states import TERMINAL_RUN_STATES
from core.store import Database
from core.store.tables import api_idempotency, asks, intake_keys, outbox_deliveries, outbox_events, run_assets, runs, work_items
from core.work.queue import Claim, WorkQueue, worker_id
from core.work.worker import LeasedWorker

logger = logging.getLogger(__name__)

RETENTION_WORK = "retention"
RETENTION_SUBJECT = "prune"


@dataclass(frozen=True)
class Pruned:
    outbox_events: int = 0
    outbox_deliveries: int = 0
    intake_keys: int = 0
    idempotency_keys: int = 0
    asks: int = 0
    work_items: int = 0
    asset_rows: int = 0

    @property
    def total(self) -> int:
        return sum(vars(self).values())


async def prune(database: Database, settings: RetentionConfig, clock: Clock = SYSTEM_CLOCK) -> Pruned:
    async with database.engine.begin() as conn:
        return await prune_in(conn, settings, clock)


async def prune_in(conn: AsyncConnection, settings: RetentionConfig, clock: Clock = SYSTEM_CLOCK) -> Pruned:
    now = clock.now()
    outbox_cutoff = now - timedelta(seconds=settings.outbox)
    keys_cutoff = now - timedelta(seconds=settings.intake_keys)
    assets_cutoff = now - timedelta(seconds=settings.asset_rows)

    unfinished = exists().where(outbox_deliveries.c.event_seq == outbox_events.c.seq, outbox_deliveries.c.status != "delivered")
    old_events = select(outbox_events.c.seq).where(outbox_events.c.created_at < outbox_cutoff, ~unfinished)
    seqs = [row[0] for row in (await conn.execute(old_events)).all()]
    deliveries = events = 0
    for start in range(0, len(seqs), 500):
        chunk = seqs[start : start + 500]
        deliveries += (await conn.execute(delete(outbox_deliveries).where(outbox_deliveries.c.event_seq.in_(chunk)))).rowcount
        events += (await conn.execute(delete(outbox_events).where(outbox_events.c.seq.in_(chunk)))).rowcount

    keys = (await conn.execute(delete(intake_keys).where(intake_keys.c.created_at < keys_cutoff))).rowcount
    idempotency = (await conn.execute(delete(api_idempotency).where(api_idempotency.c.created_at < keys_cutoff))).rowcount
    old_asks = (await conn.execute(delete(asks).where(asks.c.state != "pending", asks.c.updated_at < outbox_cutoff))).rowcount
    items = (
        await conn.execute(delete(work_items).where(work_items.c.state == "done", work_items.c.updated_at < outbox_cutoff))
    ).rowcount

    ended = select(runs.c.id).where(
        runs.c.state.in_(TERMINAL_RUN_STATES),
        and_(runs.c.completed_at.is_not(None), runs.c.completed_at < assets_cutoff),
    )
    asset_rows = (await conn.execute(delete(run_assets).where(run_assets.c.run_id.in_(ended)))).rowcount
    return Pruned(events, deliveries, keys, idempotency, old_asks, items, asset_rows)


class RetentionWorker:
    """Prunes every ``interval`` under a lease, so one replica does it at a time."""

    def __init__(
        self,
        database: Database,
        settings: RetentionConfig,
        *,
        clock: Clock = SYSTEM_CLOCK,
        scheduler: AsyncIOScheduler | None = None,
        poll_interval: float = 60.0,
    ) -> None:
        self.database = database
        self.settings = settings
        self.clock = clock
        self.work = WorkQueue(database, clock)
        self.last: Pruned | None = None
        self.worker = LeasedWorker(
            self.work,
            RETENTION_WORK,
            worker_id(),
            self._drive,
            lease_seconds=lambda: 300.0,
            poll_interval=lambda: poll_interval,
            capacity=1,
            scheduler=scheduler,
            log_key=None,
        )

    async def start(self) -> None:
        if await self.work.state_of(RETENTION_WORK, RETENTION_SUBJECT) is None:
            await self.work.enqueue(RETENTION_WORK, RETENTION_SUBJECT)
        self.worker.start()

    async def stop(self, timeout: float = 5.0) -> None:
        await self.worker.stop(timeout)

    async def _drive(self, claim: Claim) -> None:
        async with self.work.fenced(claim) as conn:
            self.last = await prune_in(conn, self.settings, self.clock)
            await self.work.release(conn, claim, due_at=self.clock.now() + timedelta(seconds=self.settings.interval))
        if self.last.total:
            logger.info("retention pruned %s", {k: v for k, v in vars(self.last).items() if v})
