"""Change freezes as rows: an environment is frozen while it has a row in ``freezes``.

Writes happen inside the caller's transaction, so the freeze and its audit entry commit together.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import RowMapping, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from core.store.database import Database
from core.store.tables import freezes


@dataclass(frozen=True)
class Freeze:
    environment: str
    reason: str
    actor: str
    at: datetime


class Freezes:
    def __init__(self, database: Database) -> None:
        self.database = database

    async def get(self, environment: str | None) -> Freeze | None:
        """The freeze that holds ``environment``; a plan for "all" environments (or none named) is held by any freeze,
        production's first."""
        if environment in (None, "all"):
            every = await self.all()
            return next((f for f in every if f.environment == "production"), every[0] if every else None)
        async with self.database.engine.connect() as conn:
            row = (await conn.execute(select(freezes).where(freezes.c.environment == environment))).mappings().first()
        return _freeze(row) if row else None

    async def all(self) -> list[Freeze]:
        async with self.database.engine.connect() as conn:
            rows = (await conn.execute(select(freezes).order_by(freezes.c.environment))).mappings().all()
        return [_freeze(r) for r in rows]

    async def set(self, conn: AsyncConnection, environment: str, reason: str, actor: str, at: datetime) -> None:
        """Freeze (or re-freeze with a new reason)."""
        values = {"reason": reason, "actor": actor, "at": at}
        changed = await conn.execute(update(freezes).where(freezes.c.environment == environment).values(**values))
        if changed.rowcount == 0:
            await conn.execute(insert(freezes).values(environment=environment, **values))

    async def clear(self, conn: AsyncConnection, environment: str) -> bool:
        """Unfreeze; False when the environment was not frozen."""
        return (await conn.execute(delete(freezes).where(freezes.c.environment == environment))).rowcount > 0


def _freeze(row: RowMapping) -> Freeze:
    at = row["at"]
    return Freeze(row["environment"], row["reason"], row["actor"], at if at.tzinfo else at.replace(tzinfo=UTC))
