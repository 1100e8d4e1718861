"""Approval votes: one row per person per plan version, written inside the caller's transaction.

The unique key (plan id, plan hash, user) makes a second vote of one person on one version fail in the database,
whatever the fronts did; votes cast for another hash of the plan are void and never counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from core.store.database import Database
from core.store.tables import plan_votes, plans
from core.timeutil import utcnow

VoteDecision = Literal["approve", "reject"]


@dataclass(frozen=True)
class Vote:
    plan_id: str
    plan_hash: str
    user_id: str
    decision: VoteDecision
    reason: str | None
    at: datetime


class AlreadyVoted(Exception):
    """The person already voted on this version of the plan."""


class Votes:
    def __init__(self, database: Database) -> None:
        self.database = database

    async def lock_plan(self, conn: AsyncConnection, plan_id: str) -> str | None:
        """The plan's state, its row write-locked until the transaction ends, so votes on one plan are counted one
        after the other (a no-op UPDATE: a row lock on PostgreSQL, the write lock on SQLite, taken before any read
        so SQLite waits for it instead of failing on a stale snapshot). None: no such plan."""
        await conn.execute(update(plans).where(plans.c.id == plan_id).values(state=plans.c.state))
        return (await conn.execute(select(plans.c.state).where(plans.c.id == plan_id))).scalar()

    async def cast(
        self,
        conn: AsyncConnection,
        plan_id: str,
        plan_hash: str,
        user_id: str,
        decision: VoteDecision,
        reason: str | None = None,
    ) -> None:
        """Raises AlreadyVoted when the person voted on this version already (checked after ``lock_plan``; the unique
        key is the backstop, and its IntegrityError is turned into AlreadyVoted too, the transaction then spoiled)."""
        mine = select(plan_votes.c.id).where(
            plan_votes.c.plan_id == plan_id, plan_votes.c.plan_hash == plan_hash, plan_votes.c.user_id == user_id
        )
        if (await conn.execute(mine)).first() is not None:
            raise AlreadyVoted(user_id)
        try:
            await conn.execute(
                insert(plan_votes).values(
                    plan_id=plan_id, plan_hash=plan_hash, user_id=user_id, decision=decision, reason=reason, at=utcnow()
                )
            )
        except IntegrityError as exc:
            raise AlreadyVoted(user_id) from exc

    async def for_version(self, plan_id: str, plan_hash: str, conn: AsyncConnection | None = None) -> list[Vote]:
        query = (
            select(plan_votes)
            .where(plan_votes.c.plan_id == plan_id, plan_votes.c.plan_hash == plan_hash)
            .order_by(plan_votes.c.id)
        )
        if conn is not None:
            rows = (await conn.execute(query)).mappings().all()
        else:
            async with self.database.engine.connect() as own:
                rows = (await own.execute(query)).mappings().all()
        return [
            Vote(
                plan_id=r["plan_id"],
                plan_hash=r["plan_hash"],
                user_id=r["user_id"],
                decision=r["decision"],
                reason=r["reason"],
                at=r["at"] if r["at"].tzinfo else r["at"].replace(tzinfo=UTC),
            )
            for r in rows
        ]
