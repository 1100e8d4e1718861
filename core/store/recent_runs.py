"""The newest runs, optionally of one channel (``/ops runs``, ``/ops status`` without an id).

One query: runs join plans join tasks, newest first. ``ix_runs_created`` lets the database walk runs from the newest
and stop at ``limit``; the channel is the task's origin (``origin.channel``, set by the Slack front).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Select, select

from core.store.database import Database
from core.store.tables import plans, runs, tasks


@dataclass(frozen=True)
class RecentRun:
    run_id: str
    state: str
    environment: str
    ask: str  # the task's words, as the person asked
    summary: str  # the plan's summary
    created_at: datetime


def recent_runs_query(channel: str | None = None, limit: int = 10, org: str | None = None) -> Select:
    """The query itself (tests read its plan). ``org``: only runs of that workspace's tasks."""
    query = (
        select(runs.c.id, runs.c.state, runs.c.environment, runs.c.created_at, tasks.c.user_intent, plans.c.payload)
        .select_from(runs.join(plans, plans.c.id == runs.c.plan_id).join(tasks, tasks.c.id == plans.c.task_id))
        .order_by(runs.c.created_at.desc(), runs.c.id.desc())
        .limit(limit)
    )
    if channel is not None:
        query = query.where(tasks.c.origin["channel"].as_string() == channel)
    if org is not None:
        query = query.where(tasks.c.org_id == org)
    return query


async def recent_runs(
    database: Database, *, channel: str | None = None, limit: int = 10, org: str | None = None
) -> list[RecentRun]:
    """At most ``limit`` runs, newest first; only those of tasks asked in ``channel`` (and of ``org``) when given."""
    query = recent_runs_query(channel, limit, org)
    async with database.engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    return [
        RecentRun(
            run_id=row.id,
            state=row.state,
            environment=row.environment,
            ask=row.user_intent,
            summary=str((row.payload or {}).get("summary") or ""),
            created_at=row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=UTC),
        )
        for row in rows
    ]
