"""Idempotent intake: one ``intake_keys`` row per delivery a front has acted on.

A front derives a key from what it received (Slack: ``slack:event:<event_id>``, or a key made of the team, the user
and the trigger of a command or interaction) and claims it. The claim is an insert that does nothing when the key is
already there, so a retried or replayed delivery is recognised without an error and without changing anything. An
ask claims its key inside the transaction that records the ask (:mod:`core.asks`): both are stored, or neither.

Retention (``retention.intake_keys``, 24 h by default) prunes old keys (core/retention.py).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.dml import Insert

from core.clock import SYSTEM_CLOCK, Clock
from core.store import Database
from core.store.tables import intake_keys

MAX_KEY_CHARS = 255
MAX_SOURCE_CHARS = 20


@dataclass(frozen=True)
class IntakeKey:
    """A delivery's key and what kind of delivery it was (``slack_event``, ``slack_command``, ``slack_action`` ...)."""

    key: str
    source: str

    @classmethod
    def of(cls, source: str, *parts: str) -> IntakeKey:
        """``<parts joined by ':'>``; a key that would not fit the column keeps its prefix and ends in a digest."""
        key = ":".join(parts)
        if len(key) > MAX_KEY_CHARS:
            digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
            key = f"{key[: MAX_KEY_CHARS - len(digest) - 1]}#{digest}"
        return cls(key, source[:MAX_SOURCE_CHARS])


def insert_ignoring_duplicates(conn: AsyncConnection, table: Any, **values: Any) -> Insert:
    """``INSERT ... ON CONFLICT DO NOTHING`` in the connection's dialect (a duplicate then inserts 0 rows, no error,
    and on PostgreSQL the transaction stays usable). Without ``values``: for a list of rows (executemany)."""
    insert = postgresql_insert if conn.dialect.name == "postgresql" else sqlite_insert
    statement = insert(table)
    return (statement.values(**values) if values else statement).on_conflict_do_nothing()


class IntakeKeys:
    def __init__(self, database: Database, clock: Clock = SYSTEM_CLOCK) -> None:
        self.database = database
        self.clock = clock

    async def claim(self, key: IntakeKey) -> bool:
        """True the first time ``key`` is seen; False for a retry or a replay (nothing is changed then)."""
        async with self.database.engine.begin() as conn:
            return await self.claim_in(conn, key)

    async def claim_in(self, conn: AsyncConnection, key: IntakeKey, ask_id: str | None = None) -> bool:
        """``claim`` inside the caller's transaction (the one that records what the delivery asked for)."""
        statement = insert_ignoring_duplicates(
            conn, intake_keys, key=key.key, source=key.source, ask_id=ask_id, created_at=self.clock.now()
        )
        return (await conn.execute(statement)).rowcount == 1

    async def seen(self, key: str) -> bool:
        async with self.database.engine.connect() as conn:
            return (await conn.execute(select(intake_keys.c.key).where(intake_keys.c.key == key))).first() is not None

    async def forget(self, key: IntakeKey) -> None:
        """Drop a claim whose handling failed before it changed anything, so Slack's retry is handled."""
        async with self.database.engine.begin() as conn:
            await conn.execute(delete(intake_keys).where(intake_keys.c.key == key.key))
