"""Where a plan's card lives in a front (``plans.message_ref``), changed key by key.

A front keeps more than the card's place there (the Slack front: what the card last showed, each run's progress
message). Two deliveries may change it at once (a freeze refreshing every open card while a run's thread is being
written), so a change is a read-modify-write under the row's lock, never a blind overwrite.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from core.store.database import Database
from core.store.tables import plans


async def merge_message_ref(database: Database, plan_id: str, changes: dict[str, Any]) -> dict[str, Any] | None:
    """Set ``changes`` in the plan's message ref (a key set to None is removed); returns the new ref, or None when
    there is no such plan."""
    async with database.engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            await conn.exec_driver_sql("BEGIN IMMEDIATE")  # the write lock first: no other writer between read and write
        query = select(plans.c.message_ref).where(plans.c.id == plan_id)
        if conn.dialect.name == "postgresql":
            query = query.with_for_update()
        row = (await conn.execute(query)).first()
        if row is None:
            return None
        ref = {**(row[0] or {}), **changes}
        ref = {key: value for key, value in ref.items() if value is not None}
        await conn.execute(update(plans).where(plans.c.id == plan_id).values(message_ref=ref))
        return ref
