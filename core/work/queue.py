"""Claim / renew / fenced write / release over the ``work_items`` table.

- **Claim**: pick due rows whose lease is free or lapsed and take them with a conditional UPDATE that bumps
  ``fence``; on PostgreSQL the candidates are selected ``FOR UPDATE SKIP LOCKED`` so replicas don't queue on
  each other. Exactly one worker wins a row: the UPDATE re-checks the lease in the same statement.
- **Renew** while working; a renew that updates no row means the lease is lost.
- **Fenced writes**: :meth:`WorkQueue.fenced` opens a transaction whose first statement proves that the
  caller still holds the claim (same owner, same fence). On PostgreSQL that statement also locks the row, so
  no other worker can claim it until the write commits. Zero rows means :class:`LeaseLost`.
- **Release**: give the row back with its next due time, or mark it done, inside a fenced transaction.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from core.clock import SYSTEM_CLOCK, Clock
from core.errors import LeaseLost
from core.store import Database
from core.store.tables import work_items

logger = logging.getLogger(__name__)

# Claims taken over from a holder whose lease lapsed, by kind, in this process (``opspilot_lease_takeovers``).
TAKEOVERS: Counter[str] = Counter()


def worker_id() -> str:
    """Host, process id and a random suffix: unique across replicas and restarts."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(3)}"


@dataclass(frozen=True)
class Claim:
    id: int
    kind: str
    subject: str
    owner: str
    fence: int
    attempt: int
    lease_until: datetime
    taken_over: bool = False  # the previous holder's lease had lapsed


class WorkQueue:
    def __init__(self, database: Database, clock: Clock = SYSTEM_CLOCK) -> None:
        self.database = database
        self.clock = clock

    @property
    def _engine(self) -> AsyncEngine:
        return self.database.engine

    # -- scheduling ------------------------------------------------------------------------

    async def enqueue(self, kind: str, subject: str, due_at: datetime | None = None, conn: AsyncConnection | None = None) -> None:
        """Make the work pending and due at ``due_at`` (now by default); creates the row when it is new.
        Keeps any current holder: its fence still guards its writes."""
        if conn is None:
            async with self._engine.begin() as own:
                await self.enqueue(kind, subject, due_at, own)
            return
        now = self.clock.now()
        due = due_at or now
        changed = await conn.execute(
            update(work_items)
            .where(work_items.c.kind == kind, work_items.c.subject == subject)
            .values(state="pending", due_at=due, updated_at=now)
        )
        if changed.rowcount == 0:
            await conn.execute(
                work_items.insert().values(
                    kind=kind,
                    subject=subject,
                    state="pending",
                    due_at=due,
                    fence=0,
                    attempt=0,
                    created_at=now,
                    updated_at=now,
                )
            )

    async def earliest_due(self, kind: str) -> datetime | None:
        """When the next pending row that nobody holds falls due (held rows come back through their holder, or
        through the poll once their lease lapses)."""
        now = self.clock.now()
        free = or_(work_items.c.lease_until.is_(None), work_items.c.lease_until < now, work_items.c.owner.is_(None))
        query = select(work_items.c.due_at).where(work_items.c.kind == kind, work_items.c.state == "pending", free)
        query = query.order_by(work_items.c.due_at).limit(1)
        async with self._engine.connect() as conn:
            due = (await conn.execute(query)).scalar()
        return _aware(due)

    async def pending(self, kind: str) -> int:
        from sqlalchemy import func

        query = select(func.count()).select_from(work_items).where(work_items.c.kind == kind, work_items.c.state == "pending")
        async with self._engine.connect() as conn:
            return int((await conn.execute(query)).scalar() or 0)

    # -- claiming ----------------------------------------------------------------------------

    async def claim(self, kind: str, owner: str, lease_seconds: float, limit: int = 10) -> list[Claim]:
        """Take up to ``limit`` due rows whose lease is free or lapsed."""
        if limit <= 0:
            return []
        now = self.clock.now()
        until = now + timedelta(seconds=lease_seconds)
        free = or_(work_items.c.lease_until.is_(None), work_items.c.lease_until < now, work_items.c.owner.is_(None))
        due = and_(work_items.c.kind == kind, work_items.c.state == "pending", work_items.c.due_at <= now, free)
        candidates = (
            select(work_items.c.id, work_items.c.subject, work_items.c.owner, work_items.c.fence, work_items.c.attempt)
            .where(due)
            .order_by(work_items.c.due_at)
            .limit(limit)
        )
        if not self.database.is_sqlite:
            candidates = candidates.with_for_update(skip_locked=True)
        claims: list[Claim] = []
        async with self._engine.begin() as conn:
            for row in (await conn.execute(candidates)).all():
                won = await conn.execute(
                    update(work_items)
                    .where(work_items.c.id == row.id, work_items.c.fence == row.fence, due)
                    .values(owner=owner, lease_until=until, fence=row.fence + 1, attempt=row.attempt + 1, updated_at=now)
                )
                if won.rowcount == 1:
                    claims.append(
                        Claim(row.id, kind, row.subject, owner, row.fence + 1, row.attempt + 1, until, row.owner is not None)
                    )
        for claim in claims:
            if claim.taken_over:
                TAKEOVERS[kind] += 1
                logger.warning("took over %s %s (fence %d): the previous holder's lease lapsed", kind, claim.subject, claim.fence)
        return claims

    async def renew(self, claim: Claim, lease_seconds: float) -> Claim | None:
        """Extend the lease; None when it was lost (another worker claimed the row)."""
        now = self.clock.now()
        until = now + timedelta(seconds=lease_seconds)
        async with self._engine.begin() as conn:
            result = await conn.execute(
                update(work_items)
                .where(work_items.c.id == claim.id, work_items.c.owner == claim.owner, work_items.c.fence == claim.fence)
                .values(lease_until=until, updated_at=now)
            )
        if result.rowcount != 1:
            return None
        return Claim(claim.id, claim.kind, claim.subject, claim.owner, claim.fence, claim.attempt, until, claim.taken_over)

    # -- fenced writes -----------------------------------------------------------------------

    @asynccontextmanager
    async def fenced(self, claim: Claim) -> AsyncIterator[AsyncConnection]:
        """A transaction that commits only while ``claim`` still holds the row; raises LeaseLost otherwise."""
        async with self._engine.begin() as conn:
            await self.check(conn, claim)
            yield conn

    async def check(self, conn: AsyncConnection, claim: Claim) -> None:
        held = await conn.execute(
            update(work_items)
            .where(work_items.c.id == claim.id, work_items.c.owner == claim.owner, work_items.c.fence == claim.fence)
            .values(updated_at=self.clock.now())
        )
        if held.rowcount != 1:
            raise LeaseLost(f"{claim.kind} {claim.subject}: fence {claim.fence} no longer holds it")

    async def release(self, conn: AsyncConnection, claim: Claim, *, due_at: datetime | None = None, done: bool = False) -> None:
        """Inside a fenced transaction: free the row, due again at ``due_at`` or done."""
        values: dict = {"owner": None, "lease_until": None, "updated_at": self.clock.now()}
        if done:
            values["state"] = "done"
        elif due_at is not None:
            values["due_at"] = due_at
        await conn.execute(
            update(work_items).where(work_items.c.id == claim.id, work_items.c.fence == claim.fence).values(**values)
        )

    async def mark_done(self, kind: str, subject: str, conn: AsyncConnection | None = None) -> None:
        """Unfenced: the work is over whoever holds it (a person ended it); a holder's next fenced write still
        succeeds, so holders re-read the subject's state before acting."""
        if conn is None:
            async with self._engine.begin() as own:
                await self.mark_done(kind, subject, own)
            return
        await conn.execute(
            update(work_items)
            .where(work_items.c.kind == kind, work_items.c.subject == subject)
            .values(state="done", updated_at=self.clock.now())
        )

    async def state_of(self, kind: str, subject: str) -> dict | None:
        async with self._engine.connect() as conn:
            row = (
                (await conn.execute(select(work_items).where(work_items.c.kind == kind, work_items.c.subject == subject)))
                .mappings()
                .first()
            )
        return dict(row) if row else None


def _aware(moment: datetime | None) -> datetime | None:
    if moment is None or moment.tzinfo is not None:
        return moment
    from datetime import UTC

    return moment.replace(tzinfo=UTC)
