"""Per-asset run state: one row per (run, asset or step), written in batches.

The run row keeps counters and the due time of the next phase; nothing here grows a document with the fleet.
Statuses: ``pending`` → ``running`` (intent recorded: key, attempt and the previous state, before the driver is
called) → ``succeeded`` | ``failed``; a revert turns ``succeeded`` / ``running`` into ``rolled_back``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, bindparam, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from core.store.database import Database
from core.store.tables import run_assets

#: Statuses whose asset may have been changed by the run, so a rollback must revert it.
CHANGED = ("succeeded", "running")


@dataclass
class AssetRow:
    id: int
    run_id: str
    phase_index: int
    asset_id: str
    kind: str
    status: str
    attempt: int
    idempotency_key: str | None
    previous: str | None
    current: str | None
    error: str | None
    output: str | None
    revert_attempt: int
    started_at: datetime | None
    ended_at: datetime | None

    @classmethod
    def from_row(cls, row: Any) -> AssetRow:
        values = dict(row)
        values["started_at"] = _aware(values["started_at"])
        values["ended_at"] = _aware(values["ended_at"])
        return cls(**values)


class RunAssets:
    def __init__(self, database: Database) -> None:
        self.database = database

    @property
    def _engine(self) -> AsyncEngine:
        return self.database.engine

    async def insert(self, conn: AsyncConnection, run_id: str, entries: Iterable[tuple[int, str, str]]) -> None:
        """``entries``: (phase index, asset id or step name, kind) for every asset of the run, pending."""
        rows = [
            {
                "run_id": run_id,
                "phase_index": index,
                "asset_id": subject,
                "kind": kind,
                "status": "pending",
                "attempt": 0,
                "revert_attempt": 0,
            }
            for index, subject, kind in entries
        ]
        for start in range(0, len(rows), 5000):
            await conn.execute(insert(run_assets), rows[start : start + 5000])

    async def rows(
        self,
        run_id: str,
        *,
        phase_index: int | None = None,
        statuses: Sequence[str] | None = None,
        conn: AsyncConnection | None = None,
        output_chars: int | None = None,
    ) -> list[AssetRow]:
        """``output_chars`` reads only the beginning of each output (a replay of 10,000 rows skips the 64 KiB tails)."""
        columns: list[ColumnElement[Any]] = list(run_assets.c)
        if output_chars is not None:
            columns = [c for c in columns if c.name != "output"] + [
                func.substr(run_assets.c.output, 1, output_chars).label("output")
            ]
        query = select(*columns).where(run_assets.c.run_id == run_id)
        if phase_index is not None:
            query = query.where(run_assets.c.phase_index == phase_index)
        if statuses is not None:
            query = query.where(run_assets.c.status.in_(list(statuses)))
        query = query.order_by(run_assets.c.phase_index, run_assets.c.id)
        if conn is not None:
            return _asset_rows(await conn.execute(query))
        async with self._engine.connect() as own:
            return _asset_rows(await own.execute(query))

    async def counts(self, run_id: str) -> dict[str, int]:
        query = select(run_assets.c.status, func.count()).where(run_assets.c.run_id == run_id).group_by(run_assets.c.status)
        async with self._engine.connect() as conn:
            return {status: int(count) for status, count in (await conn.execute(query)).all()}

    async def mark_running(self, conn: AsyncConnection, marks: list[dict[str, Any]]) -> None:
        """Record intent before the driver is called: ``{id, idempotency_key, attempt, previous, started_at}`` each."""
        await _update_each(conn, marks, status="running", error=None)

    async def record(self, conn: AsyncConnection, results: list[dict[str, Any]]) -> None:
        """Results of a batch: ``{id, status, current, error, output, ended_at, attempt}`` each."""
        await _update_each(conn, results)

    async def adopt(self, conn: AsyncConnection, run_id: str, done: list[dict[str, Any]]) -> None:
        """Mark assets a run finished before it had rows (``{asset_id, previous, current}``) as succeeded."""
        if not done:
            return
        statement = (
            update(run_assets)
            .where(run_assets.c.run_id == run_id, run_assets.c.asset_id == bindparam("b_asset_id"))
            .values(status="succeeded", attempt=1, previous=bindparam("b_previous"), current=bindparam("b_current"))
        )
        await conn.execute(statement, [{f"b_{k}": v for k, v in d.items()} for d in done])

    async def mark_reverting(self, conn: AsyncConnection, ids: list[int], attempts: dict[int, int]) -> None:
        await _update_each(conn, [{"id": i, "revert_attempt": attempts[i]} for i in ids])

    async def record_reverts(self, conn: AsyncConnection, results: list[dict[str, Any]]) -> None:
        """``{id, status (rolled_back or unchanged), error, output, ended_at}`` each (``output``: the apply's output
        with the revert's appended, see core/executor/rollback.py)."""
        await _update_each(conn, results)


def _asset_rows(result: Any) -> list[AssetRow]:
    keys = list(result.keys())  # once: a mapping per row recomputes its keys (slow for 10,000 rows)
    return [AssetRow.from_row(dict(zip(keys, row, strict=True))) for row in result.all()]


async def _update_each(conn: AsyncConnection, rows: list[dict[str, Any]], **fixed: Any) -> None:
    """One ``executemany`` UPDATE by row id: each row's own values for its keys (besides ``id``), plus ``fixed``."""
    if not rows:
        return
    columns = [key for key in rows[0] if key != "id"]
    statement = (
        update(run_assets)
        .where(run_assets.c.id == bindparam("b_id"))
        .values(**{c: bindparam(f"b_{c}") for c in columns}, **fixed)
    )
    await conn.execute(statement, [{f"b_{k}": v for k, v in row.items()} for row in rows])


def _aware(moment: datetime | None) -> datetime | None:
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)
