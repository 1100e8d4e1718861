"""Rate-limit windows shared by every replica: ``(method, channel) → until``.

A front that is told "wait N seconds" (Slack's 429 and its ``Retry-After``) records the window here; every replica
checks it before calling that method for that channel, so one replica's 429 stops all of them. ``channel`` is ""
for a method limited as a whole (a call without a channel); such a window holds for every channel.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import delete, func, select
from sqlalchemy.dialects import postgresql, sqlite

from core.store.database import Database
from core.store.tables import slack_rate_limits

METHOD_CHARS = 60
CHANNEL_CHARS = 40


class RateLimits:
    def __init__(self, database: Database) -> None:
        self.database = database

    async def until(self, method: str, channel: str = "") -> datetime | None:
        """The end of the latest window that holds calls of ``method`` to ``channel`` (its own or the method's)."""
        method, channel = method[:METHOD_CHARS], channel[:CHANNEL_CHARS]
        query = select(func.max(slack_rate_limits.c.until)).where(
            slack_rate_limits.c.method == method, slack_rate_limits.c.channel.in_(sorted({channel, ""}))
        )
        async with self.database.engine.connect() as conn:
            found = (await conn.execute(query)).scalar()
        return _aware(found) if found is not None else None

    async def record(self, method: str, channel: str, until: datetime, now: datetime) -> None:
        """Hold ``method`` for ``channel`` until ``until`` (a later window already recorded is kept). Windows that
        ended before ``now`` are pruned on the way."""
        method, channel = method[:METHOD_CHARS], channel[:CHANNEL_CHARS]
        table = slack_rate_limits
        async with self.database.engine.begin() as conn:
            await conn.execute(delete(table).where(table.c.until < now))
            upsert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
            statement = upsert(table).values(method=method, channel=channel, until=until)
            await conn.execute(
                statement.on_conflict_do_update(
                    index_elements=[table.c.method, table.c.channel],
                    set_={"until": statement.excluded.until},
                    where=table.c.until < statement.excluded.until,
                )
            )


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
