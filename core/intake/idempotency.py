"""REST ``Idempotency-Key``: the first answer to a key is stored and replayed to every repeat of the request.

A key is scoped by the caller (the token's id, never the token) and the route (method and path); ``api_idempotency``
holds one row per key with the body's hash, whether the first request is still in progress, and its answer. Keys
are kept ``retention.intake_keys`` (24 h): an older row counts as absent and is pruned (core/retention.py).

- same key, same body, answered: the stored status and body again (nothing runs);
- same key, different body: a conflict (the caller reused a key for another request);
- same key while the first is still being processed: a conflict too (retry in a moment). A row left ``in_progress``
  by a process that died is taken over after ``STALE_SECONDS``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

from sqlalchemy import and_, delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from core.clock import SYSTEM_CLOCK, Clock
from core.intake.keys import insert_ignoring_duplicates
from core.store import Database
from core.store.tables import api_idempotency

KEEP_SECONDS = 24 * 3600.0
STALE_SECONDS = 600.0  # an answer not stored after this long: the process handling it died
MAX_KEY_CHARS = 255
MAX_SCOPE_CHARS = 100
MAX_ROUTE_CHARS = 200


@dataclass(frozen=True)
class Stored:
    status: int
    body: str
    headers: dict[str, str]


@dataclass(frozen=True)
class Begun:
    """What to do with a request that carries a key: ``run`` it (and ``finish`` or ``abandon`` afterwards), ``replay``
    the stored answer, or refuse it (``conflict``: another body; ``in_progress``: the first is still running)."""

    verdict: Literal["run", "replay", "conflict", "in_progress"]
    stored: Stored | None = None


def key_problem(key: str) -> str | None:
    """Why a header value cannot be a key, or None."""
    if not key.strip():
        return "is empty"
    if len(key) > MAX_KEY_CHARS:
        return f"is longer than {MAX_KEY_CHARS} characters"
    if any(not (0x20 <= ord(c) < 0x7F) for c in key):
        return "may only hold visible ASCII characters and spaces (no control characters)"
    return None


class IdempotencyKeys:
    def __init__(self, database: Database, clock: Clock = SYSTEM_CLOCK, keep_seconds: float = KEEP_SECONDS) -> None:
        self.database = database
        self.clock = clock
        self.keep_seconds = keep_seconds

    def _where(self, scope: str, route: str, key: str) -> Any:
        return and_(
            api_idempotency.c.scope == scope[:MAX_SCOPE_CHARS],
            api_idempotency.c.route == route[:MAX_ROUTE_CHARS],
            api_idempotency.c.key == key,
        )

    async def begin(self, scope: str, route: str, key: str, body_hash: str) -> Begun:
        now = self.clock.now()
        async with self.database.engine.begin() as conn:
            if await self._insert(conn, scope, route, key, body_hash):
                return Begun("run")
            row = (await conn.execute(select(api_idempotency).where(self._where(scope, route, key)))).mappings().first()
            if row is None:  # pruned in between
                return Begun("run") if await self._insert(conn, scope, route, key, body_hash) else Begun("in_progress")
            created = _aware(row["created_at"])
            expired = created < now - timedelta(seconds=self.keep_seconds)
            stale = row["state"] == "in_progress" and created < now - timedelta(seconds=STALE_SECONDS)
            if expired or (stale and row["body_hash"] == body_hash):
                taken = await conn.execute(
                    update(api_idempotency)
                    .where(self._where(scope, route, key), api_idempotency.c.created_at == row["created_at"])
                    .values(body_hash=body_hash, state="in_progress", status_code=None, response=None, created_at=now)
                )
                return Begun("run") if taken.rowcount == 1 else Begun("in_progress")
            if row["body_hash"] != body_hash:
                return Begun("conflict")
            if row["state"] != "done":
                return Begun("in_progress")
            stored = json.loads(row["response"] or "{}")
            return Begun(
                "replay", Stored(int(row["status_code"]), str(stored.get("body", "")), dict(stored.get("headers") or {}))
            )

    async def _insert(self, conn: AsyncConnection, scope: str, route: str, key: str, body_hash: str) -> bool:
        statement = insert_ignoring_duplicates(
            conn,
            api_idempotency,
            scope=scope[:MAX_SCOPE_CHARS],
            route=route[:MAX_ROUTE_CHARS],
            key=key,
            body_hash=body_hash,
            state="in_progress",
            created_at=self.clock.now(),
        )
        return (await conn.execute(statement)).rowcount == 1

    async def finish(self, scope: str, route: str, key: str, answer: Stored) -> None:
        """Store the first answer (replayed from now on)."""
        response = json.dumps({"body": answer.body, "headers": answer.headers}, ensure_ascii=False)
        async with self.database.engine.begin() as conn:
            await conn.execute(
                update(api_idempotency)
                .where(self._where(scope, route, key))
                .values(state="done", status_code=answer.status, response=response)
            )

    async def abandon(self, scope: str, route: str, key: str) -> None:
        """The request failed on our side (5xx): forget the key so a retry runs it."""
        async with self.database.engine.begin() as conn:
            await conn.execute(
                delete(api_idempotency).where(self._where(scope, route, key), api_idempotency.c.state == "in_progress")
            )


def _aware(moment: Any) -> Any:
    from datetime import UTC

    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment
