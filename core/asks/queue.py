"""Asks a front recorded and a worker plans: one ``asks`` row each, and a durable work item (kind ``ask``).

:meth:`AskQueue.record` stores, in one transaction, the delivery's intake key (:mod:`core.intake.keys`), the ask
(the :class:`~core.intake.Ask` and where to answer: channel, user, ``response_url``) and its work item. A delivery
whose key is already there records nothing. The front acks right after; planning never runs on its request path.

The row's ``task_id`` is chosen when the ask is recorded, so the task a worker creates for it has a known id: a
worker that takes over after a crash finds what the earlier attempt stored (:class:`core.asks.worker.AskWorker`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from core.asks.pressure import IntakePressure
from core.clock import SYSTEM_CLOCK, Clock
from core.intake import Ask
from core.intake.keys import IntakeKey, IntakeKeys, insert_ignoring_duplicates
from core.store import Database
from core.store.tables import asks, intake_keys, work_items
from core.work.queue import WorkQueue

logger = logging.getLogger(__name__)

ASK_WORK = "ask"
MAX_BATCH = 200  # asks per intake transaction
AskState = Literal["pending", "done", "failed"]


@dataclass(frozen=True)
class RecordedAsk:
    id: str
    front: str
    ask: Ask
    reply: dict[str, Any]  # where to answer that is not the task's business (Slack's response_url)
    state: str
    task_id: str | None
    created_at: datetime
    error: str | None = None

    @property
    def origin(self) -> dict[str, Any]:
        """The ask's origin plus where to answer: ``AskAnswered.origin``."""
        return {**self.ask.origin, **self.reply}


@dataclass
class _Pending:
    ask_id: str
    row: dict[str, Any]
    key: IntakeKey | None
    answer: asyncio.Future[str | None]


@dataclass
class AskQueue:
    database: Database
    clock: Clock = SYSTEM_CLOCK
    work: WorkQueue = field(init=False)
    keys: IntakeKeys = field(init=False)
    on_recorded: list[Callable[[str], None]] = field(default_factory=list)  # e.g. wake this replica's worker
    pressure: IntakePressure = field(default_factory=IntakePressure)  # deliveries this replica's front is handling
    _waiting: list[_Pending] = field(default_factory=list, init=False)
    _writer: asyncio.Task[None] | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.work = WorkQueue(self.database, self.clock)
        self.keys = IntakeKeys(self.database, self.clock)

    async def record(
        self, ask: Ask, *, front: str, key: IntakeKey | None = None, reply: dict[str, Any] | None = None
    ) -> str | None:
        """Record the ask for a worker; its id, or None when ``key`` was seen before (a retry: nothing changes).

        Asks recorded at the same moment share one transaction (a group commit): under a burst of deliveries the
        front writes a few transactions instead of one per ask, so acks do not queue on the database's write lock.
        Each ask is stored with its key and its work item, or not at all."""
        ask_id = str(uuid.uuid4())
        now = self.clock.now()
        ask = ask.model_copy(update={"origin": {**ask.origin, "ask_id": ask_id}})
        payload = {"ask": ask.model_dump(mode="json"), "reply": reply or {}}
        row = {
            "id": ask_id,
            "front": front[:20],
            "payload": json.dumps(payload, ensure_ascii=False),
            "state": "pending",
            "task_id": str(uuid.uuid4()),
            "created_at": now,
            "updated_at": now,
        }
        pending = _Pending(ask_id, row, key, asyncio.get_running_loop().create_future())
        self._waiting.append(pending)
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_all(), name="ask intake writer")
        recorded = await asyncio.shield(pending.answer)  # a client that hangs up does not undo the write
        if recorded is None and key is not None:
            logger.info("%s delivery seen before (%s); not recorded again", key.source, key.key[:80])
        return recorded

    async def _write_all(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting[:MAX_BATCH], self._waiting[MAX_BATCH:]
            try:
                recorded = await self._write(batch)
            except Exception as exc:
                for pending in batch:
                    if not pending.answer.done():
                        pending.answer.set_exception(exc)
                continue
            for pending in batch:
                if not pending.answer.done():
                    pending.answer.set_result(pending.ask_id if pending.ask_id in recorded else None)
            for ask_id in recorded:
                for hook in self.on_recorded:
                    hook(ask_id)

    async def _write(self, batch: list[_Pending]) -> set[str]:
        """One transaction: the keys first (a write, so SQLite takes its write lock at once), then the asks whose key
        is theirs (a key already there, or taken twice in this batch, belongs to the first) and their work items."""
        now = self.clock.now()
        keyed = {p.key.key: p for p in reversed(batch) if p.key is not None}  # the first delivery of a key wins
        async with self.database.engine.begin() as conn:
            if keyed:
                rows = [
                    {"key": k, "source": p.key.source, "ask_id": p.ask_id, "created_at": now} for k, p in keyed.items() if p.key
                ]
                await conn.execute(insert_ignoring_duplicates(conn, intake_keys), rows)
                owners = await conn.execute(
                    select(intake_keys.c.key, intake_keys.c.ask_id).where(intake_keys.c.key.in_(list(keyed)))
                )
                mine = {ask_id for key, ask_id in owners.all() if keyed[key].ask_id == ask_id}
            else:
                mine = set()
            recorded = [p for p in batch if p.key is None or p.ask_id in mine]
            if recorded:
                await conn.execute(asks.insert(), [p.row for p in recorded])
                await conn.execute(
                    work_items.insert(),
                    [
                        {
                            "kind": ASK_WORK,
                            "subject": p.ask_id,
                            "state": "pending",
                            "due_at": now,
                            "fence": 0,
                            "attempt": 0,
                            "created_at": now,
                            "updated_at": now,
                        }
                        for p in recorded
                    ],
                )
        return {p.ask_id for p in recorded}

    async def get(self, ask_id: str) -> RecordedAsk | None:
        async with self.database.engine.connect() as conn:
            row = (await conn.execute(select(asks).where(asks.c.id == ask_id))).mappings().first()
        if row is None:
            return None
        payload = json.loads(row["payload"])
        return RecordedAsk(
            id=row["id"],
            front=row["front"],
            ask=Ask.model_validate(payload["ask"]),
            reply=dict(payload.get("reply") or {}),
            state=row["state"],
            task_id=row["task_id"],
            created_at=row["created_at"],
            error=row["error"],
        )

    async def set_task_in(self, conn: AsyncConnection, ask_id: str, task_id: str) -> None:
        await conn.execute(update(asks).where(asks.c.id == ask_id).values(task_id=task_id, updated_at=self.clock.now()))

    async def finish_in(
        self, conn: AsyncConnection, ask_id: str, state: AskState, *, task_id: str | None, error: str | None = None
    ) -> None:
        await conn.execute(
            update(asks)
            .where(asks.c.id == ask_id)
            .values(state=state, task_id=task_id, error=(error or None) and error[:2000], updated_at=self.clock.now())
        )

    async def counts(self) -> dict[str, int]:
        """Asks by state (metrics, tests)."""
        async with self.database.engine.connect() as conn:
            rows = (await conn.execute(select(asks.c.state, func.count()).group_by(asks.c.state))).all()
        return {str(state): int(count) for state, count in rows}
