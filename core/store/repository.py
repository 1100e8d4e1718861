"""Repositories over the tables, and the one place where state transitions are written.

A transition is a compare-and-set (``UPDATE … WHERE id = ? AND state = <current>``) plus an audit
row in the same database transaction, so two approvers clicking at once cannot both win, and no
state changes without leaving a trace.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, overload

from pydantic import SecretStr
from sqlalchemy import Table, func, insert, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from core.domain import Approval, Plan, PlanPayload, Quality, Run, Status, Task, TaskSpec, Usage, Validation
from core.domain.run import AssetResult, PhaseResult, RunMetrics, RunProgress
from core.domain.states import check_transition
from core.errors import IllegalTransition, NotFound, OpsPilotError
from core.events import AuditAppended, Event, EventBus
from core.store import audit_chain, tables
from core.store.database import Database
from core.store.run_assets import AssetRow, RunAssets
from core.timeutil import utcnow

PAYLOAD_CACHE_SIZE = 64
_TABLES: dict[str, Table] = {"task": tables.tasks, "plan": tables.plans, "run": tables.runs}


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime
    entity_type: str
    entity_id: str
    event: str
    from_state: str | None
    to_state: str | None
    actor: str
    details: dict[str, Any] = field(default_factory=dict)
    seq: int | None = None  # place in the hash chain (core/store/audit_chain.py)


def _audit_entry(row: Any) -> AuditEntry:
    return AuditEntry(
        id=row["id"],
        at=_aware(row["at"]),
        entity_type=row["entity_type"],
        entity_id=row["entity_id"],
        event=row["event"],
        from_state=row["from_state"],
        to_state=row["to_state"],
        actor=row["actor"],
        details=row["details"] or {},
        seq=row["seq"],
    )


@overload
def _aware(moment: datetime) -> datetime: ...
@overload
def _aware(moment: None) -> None: ...
def _aware(moment: datetime | None) -> datetime | None:
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment


class Store:
    def __init__(self, database: Database, bus: EventBus | None = None, audit_key: SecretStr | None = None) -> None:
        self.database = database
        self.bus = bus or EventBus()
        # Signs the audit chain's head (OPSPILOT_AUDIT_KEY); never logged.
        self._audit_key = audit_key.get_secret_value() if audit_key is not None else None
        self.run_assets = RunAssets(database)
        self._payloads: dict[str, PlanPayload] = {}
        # The transactional outbox (core/outbox/writer.py), set when the service is wired: every event written
        # through ``emit_in`` (and every audit entry) is recorded in the transaction of the change that caused it.
        self.outbox: Any = None

    async def emit_in(self, conn: AsyncConnection, *events: Event) -> None:
        """Record domain events in the caller's transaction (the outbox); publish them on the bus after commit."""
        if self.outbox is None:
            return
        for event in events:
            await self.outbox.add(conn, event)

    @property
    def _engine(self) -> AsyncEngine:
        return self.database.engine

    # -- audit -------------------------------------------------------------------------------

    async def _audit(
        self,
        conn: AsyncConnection,
        entity_type: str,
        entity_id: str,
        event: str,
        actor: str,
        details: dict[str, Any] | None = None,
        from_state: str | None = None,
        to_state: str | None = None,
    ) -> AuditAppended:
        details = audit_chain.canonical_details(details)
        await audit_chain.append(
            conn,
            at=utcnow(),
            entity_type=entity_type,
            entity_id=entity_id,
            event=event,
            from_state=from_state,
            to_state=to_state,
            actor=actor,
            details=details,
            key=self._audit_key,
        )
        appended = AuditAppended(entity_type=entity_type, entity_id=entity_id, event=event, actor=actor, details=details)
        await self.emit_in(conn, appended)
        return appended

    async def append_audit(
        self,
        entity_type: str,
        entity_id: str,
        event: str,
        actor: str,
        details: dict[str, Any] | None = None,
        *,
        emit: Sequence[Event] = (),
    ) -> None:
        """Append an audit entry; ``emit``: domain events written to the outbox in the same transaction."""
        async with self._engine.begin() as conn:
            appended = await self._audit(conn, entity_type, entity_id, event, actor, details)
            await self.emit_in(conn, *emit)
        await self.publish(appended, *emit)

    async def publish(self, *events: Event) -> None:
        """After a commit: hand the committed events to in-process subscribers (metrics, tests). Durable delivery
        goes through the outbox, never through this."""
        for event in events:
            await self.bus.publish(event)

    async def append_audit_in(
        self,
        conn: AsyncConnection,
        entity_type: str,
        entity_id: str,
        event: str,
        actor: str,
        details: dict[str, Any] | None = None,
    ) -> AuditAppended:
        """``append_audit`` inside the caller's transaction; the caller publishes the returned event after the commit."""
        return await self._audit(conn, entity_type, entity_id, event, actor, details)

    async def audit_entries(self, entity_ids: Iterable[str]) -> list[AuditEntry]:
        ids = list(entity_ids)
        if not ids:
            return []
        query = select(tables.audit_log).where(tables.audit_log.c.entity_id.in_(ids)).order_by(tables.audit_log.c.id)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [_audit_entry(r) for r in rows]

    async def audit_by_actor(self, actor: str, since: datetime | None = None, limit: int = 1000) -> list[AuditEntry]:
        """The newest ``limit`` entries written by ``actor`` (since ``since``), oldest first."""
        log = tables.audit_log
        query = select(log).where(log.c.actor == actor).order_by(log.c.at.desc(), log.c.id.desc()).limit(limit)
        if since is not None:
            query = query.where(log.c.at >= since)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [_audit_entry(r) for r in reversed(rows)]

    async def audit_context(self, entries: Iterable[AuditEntry]) -> dict[str, tuple[str | None, str | None]]:
        """For each task, plan or run id among ``entries``: (task id, plan summary) where the store knows them.
        Summaries come from the plans' ``plan.created`` audit details, so no plan document is loaded."""
        ids = {kind: {e.entity_id for e in entries if e.entity_type == kind} for kind in ("task", "plan", "run")}
        run_plans: dict[str, str] = {}
        plan_tasks: dict[str, str] = {}
        async with self._engine.connect() as conn:
            if ids["run"]:
                query = select(tables.runs.c.id, tables.runs.c.plan_id).where(tables.runs.c.id.in_(ids["run"]))
                run_plans = {r.id: r.plan_id for r in await conn.execute(query)}
            plan_ids = ids["plan"] | set(run_plans.values())
            if plan_ids:
                query = select(tables.plans.c.id, tables.plans.c.task_id).where(tables.plans.c.id.in_(plan_ids))
                plan_tasks = {r.id: r.task_id for r in await conn.execute(query)}
                log = tables.audit_log
                query = select(log.c.entity_id, log.c.details).where(
                    log.c.entity_type == "plan", log.c.event == "plan.created", log.c.entity_id.in_(plan_ids)
                )
                summaries = {r.entity_id: (r.details or {}).get("summary") for r in await conn.execute(query)}
            else:
                summaries = {}
        context: dict[str, tuple[str | None, str | None]] = {task_id: (task_id, None) for task_id in ids["task"]}
        for plan_id in plan_ids:
            context[plan_id] = (plan_tasks.get(plan_id), summaries.get(plan_id))
        for run_id, plan_id in run_plans.items():
            context[run_id] = (plan_tasks.get(plan_id), summaries.get(plan_id))
        return context

    async def audit_trail(self, task_id: str) -> list[AuditEntry]:
        """Every entry of a task, its plans and their runs, in the order they were written."""
        plans = await self.plans_for_task(task_id)
        ids = [task_id] + [p.id for p in plans]
        for plan in plans:
            ids += [r.id for r in await self.runs_for_plan(plan.id, with_assets=False)]
        return await self.audit_entries(ids)

    # -- transitions -------------------------------------------------------------------------

    async def transition(
        self,
        kind: str,
        entity_id: str,
        target: str,
        *,
        actor: str,
        reason: str | None = None,
        details: dict[str, Any] | None = None,
        expect: Sequence[str] | None = None,
        changes: dict[str, Any] | None = None,
        emit: Sequence[Event] = (),
    ) -> str:
        """Move an entity to ``target``; returns the state it left. Raises IllegalTransition, changing nothing.
        ``emit``: domain events written to the outbox in the same transaction (and published after it)."""
        try:
            async with self._engine.begin() as conn:
                current, appended = await self.transition_in(
                    conn, kind, entity_id, target, actor=actor, reason=reason, details=details, expect=expect, changes=changes
                )
                await self.emit_in(conn, *emit)
        except SQLAlchemyError as exc:
            raise OpsPilotError(f"database error while moving {kind} {entity_id} to {target}: {exc}") from exc
        await self.publish(appended, *emit)
        return current

    async def transition_in(
        self,
        conn: AsyncConnection,
        kind: str,
        entity_id: str,
        target: str,
        *,
        actor: str,
        reason: str | None = None,
        details: dict[str, Any] | None = None,
        expect: Sequence[str] | None = None,
        changes: dict[str, Any] | None = None,
    ) -> tuple[str, AuditAppended]:
        """``transition`` inside the caller's transaction (a fenced one, for claimed work). The caller publishes
        the returned event after the commit."""
        table = _TABLES[kind]
        row = (await conn.execute(select(table.c.state).where(table.c.id == entity_id))).first()
        if row is None:
            raise NotFound(f"no {kind} with id {entity_id}")
        current = row.state
        if expect is not None and current not in expect:
            raise IllegalTransition(kind, entity_id, current, target)
        check_transition(kind, entity_id, current, target)
        values = {"state": target, "reason": reason, "updated_at": utcnow(), **(changes or {})}
        result = await conn.execute(update(table).where(table.c.id == entity_id, table.c.state == current).values(**values))
        if result.rowcount != 1:
            raise IllegalTransition(kind, entity_id, current, target)
        audit_details = dict(details or {})
        if reason:
            audit_details.setdefault("reason", reason)
        appended = await self._audit(conn, kind, entity_id, f"{kind}.{target}", actor, audit_details, current, target)
        return current, appended

    # -- tasks -------------------------------------------------------------------------------

    async def add_task(self, task: Task, actor: str, *, emit: Sequence[Event] = ()) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                insert(tables.tasks).values(
                    id=task.id,
                    org_id=task.org_id,
                    created_by=task.created_by,
                    user_intent=task.user_intent,
                    task_spec=task.task_spec.to_document() if task.task_spec else None,
                    origin=task.origin,
                    usage=task.usage.to_document() if task.usage else None,
                    state=task.status.state,
                    reason=task.status.reason,
                    created_at=task.created_at,
                    updated_at=task.created_at,
                )
            )
            appended = await self._audit(
                conn,
                "task",
                task.id,
                "task.created",
                actor,
                {"user_intent": task.user_intent[:500]},
                None,
                task.status.state,
            )
            await self.emit_in(conn, *emit)
        await self.publish(appended, *emit)

    async def update_task(self, task_id: str, *, task_spec: TaskSpec | None = None, usage: Usage | None = None) -> None:
        values: dict[str, Any] = {"updated_at": utcnow()}
        if task_spec is not None:
            values["task_spec"] = task_spec.to_document()
        if usage is not None:
            values["usage"] = usage.to_document()
        async with self._engine.begin() as conn:
            await conn.execute(update(tables.tasks).where(tables.tasks.c.id == task_id).values(**values))

    async def get_task(self, task_id: str) -> Task:
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(tables.tasks).where(tables.tasks.c.id == task_id))).mappings().first()
        if row is None:
            raise NotFound(f"no task with id {task_id}")
        return Task(
            id=row["id"],
            org_id=row["org_id"],
            created_by=row["created_by"],
            user_intent=row["user_intent"],
            task_spec=TaskSpec.model_validate(row["task_spec"]) if row["task_spec"] else None,
            origin=row["origin"] or {},
            usage=Usage.model_validate(row["usage"]) if row["usage"] else None,
            status=Status(state=row["state"], reason=row["reason"], updated_at=_aware(row["updated_at"])),
            created_at=_aware(row["created_at"]),
        )

    async def recent_tasks(
        self, limit: int = 20, created_by: str | None = None, state: str | None = None, org_id: str | None = None
    ) -> list[Task]:
        query = select(tables.tasks.c.id).order_by(tables.tasks.c.created_at.desc()).limit(limit)
        if org_id is not None:
            query = query.where(tables.tasks.c.org_id == org_id)
        if created_by:
            query = query.where(tables.tasks.c.created_by == created_by)
        if state:
            query = query.where(tables.tasks.c.state == state)
        async with self._engine.connect() as conn:
            ids = (await conn.execute(query)).scalars().all()
        return [await self.get_task(i) for i in ids]

    # -- plans -------------------------------------------------------------------------------

    async def add_plan(self, plan: Plan, actor: str) -> None:
        details: dict[str, Any] = {"task_id": plan.task_id, "type": plan.type, "summary": plan.payload.summary[:500]}
        # Checks turned off on purpose (policies.disable) are on the record with the plan they did not judge.
        disabled = [c.name for c in plan.validation.checks if c.disabled] if plan.validation else []
        if disabled:
            details["disabled_checks"] = disabled
        async with self._engine.begin() as conn:
            await conn.execute(insert(tables.plans).values(id=plan.id, **self._plan_values(plan), created_at=plan.created_at))
            appended = await self._audit(conn, "plan", plan.id, "plan.created", actor, details, None, plan.status.state)
        await self.bus.publish(appended)

    @staticmethod
    def _plan_values(plan: Plan) -> dict[str, Any]:
        return {
            "task_id": plan.task_id,
            "type": plan.type,
            "agent": plan.agent,
            "environment": plan.environment,
            "payload": plan.payload.to_document(),
            "validation": plan.validation.to_document() if plan.validation else None,
            "quality": plan.quality.to_document() if plan.quality else None,
            "quality_score": plan.quality_score,
            "approval": plan.approval.to_document() if plan.approval else None,
            "state": plan.status.state,
            "reason": plan.status.reason,
            "updated_at": utcnow(),
        }

    async def save_plan_review(self, plan: Plan) -> None:
        """Store validation and quality results (never the state: that goes through ``transition``)."""
        values = {
            "validation": plan.validation.to_document() if plan.validation else None,
            "quality": plan.quality.to_document() if plan.quality else None,
            "quality_score": plan.quality_score,
            "updated_at": utcnow(),
        }
        async with self._engine.begin() as conn:
            await conn.execute(update(tables.plans).where(tables.plans.c.id == plan.id).values(**values))

    async def set_message_ref(self, plan_id: str, ref: dict[str, Any]) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(update(tables.plans).where(tables.plans.c.id == plan_id).values(message_ref=ref))

    async def message_ref(self, plan_id: str) -> dict[str, Any] | None:
        async with self._engine.connect() as conn:
            return (await conn.execute(select(tables.plans.c.message_ref).where(tables.plans.c.id == plan_id))).scalar()

    def _payload(self, plan_id: str, document: dict[str, Any]) -> PlanPayload:
        """A plan's payload never changes once stored, so parsing it once per process is enough (a 10,000-asset
        plan takes longer to validate than a whole phase of its run). Read-only for everyone who gets it."""
        cached = self._payloads.get(plan_id)
        if cached is None:
            cached = PlanPayload.model_validate(document)
            self._payloads[plan_id] = cached
            if len(self._payloads) > PAYLOAD_CACHE_SIZE:
                self._payloads.pop(next(iter(self._payloads)))
        return cached

    def _row_to_plan(self, row: Any) -> Plan:
        return Plan(
            id=row["id"],
            task_id=row["task_id"],
            type=row["type"],
            agent=row["agent"],
            environment=row["environment"],
            payload=self._payload(row["id"], row["payload"]),
            validation=Validation.model_validate(row["validation"]) if row["validation"] else None,
            quality=Quality.model_validate(row["quality"]) if row["quality"] else None,
            quality_score=row["quality_score"],
            approval=Approval.model_validate(row["approval"]) if row["approval"] else None,
            status=Status(state=row["state"], reason=row["reason"], updated_at=_aware(row["updated_at"])),
            created_at=_aware(row["created_at"]),
        )

    async def get_plan(self, plan_id: str) -> Plan:
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(tables.plans).where(tables.plans.c.id == plan_id))).mappings().first()
        if row is None:
            raise NotFound(f"no plan with id {plan_id}")
        return self._row_to_plan(row)

    async def plans_for_task(self, task_id: str) -> list[Plan]:
        query = select(tables.plans).where(tables.plans.c.task_id == task_id).order_by(tables.plans.c.created_at)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [self._row_to_plan(r) for r in rows]

    async def plans_by(self, *, agent: str | None = None, state: str | None = None, limit: int = 200) -> list[Plan]:
        query = select(tables.plans).order_by(tables.plans.c.created_at.desc()).limit(limit)
        if agent:
            query = query.where(tables.plans.c.agent == agent)
        if state:
            query = query.where(tables.plans.c.state == state)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [self._row_to_plan(r) for r in rows]

    # -- runs --------------------------------------------------------------------------------

    async def add_run(self, run: Run, actor: str, conn: AsyncConnection | None = None) -> None:
        if conn is None:
            async with self._engine.begin() as own:
                appended = await self.add_run_in(own, run, actor)
            await self.bus.publish(appended)
            return
        await self.bus.publish(await self.add_run_in(conn, run, actor))

    async def add_run_in(self, conn: AsyncConnection, run: Run, actor: str) -> AuditAppended:
        await conn.execute(
            insert(tables.runs).values(id=run.id, plan_id=run.plan_id, created_at=run.created_at, **self._run_values(run))
        )
        return await self._audit(conn, "run", run.id, "run.created", actor, {"plan_id": run.plan_id}, None, run.status.state)

    @staticmethod
    def _run_values(run: Run) -> dict[str, Any]:
        return {
            "environment": run.environment,
            "progress": run.progress.to_document(),
            "phases": [_phase_document(p) for p in run.phases],
            "metrics": run.metrics.to_document(),
            "state": run.status.state,
            "reason": run.status.reason,
            "started_at": run.started_at,
            "completed_at": run.completed_at,
            "updated_at": utcnow(),
        }

    async def save_run_progress(self, run: Run, conn: AsyncConnection | None = None) -> None:
        """Store progress, phase summaries and metrics (never the state: that goes through ``transition``; never the
        per-asset state: that lives in ``run_assets``)."""
        values = {
            "progress": run.progress.to_document(),
            "phases": [_phase_document(p) for p in run.phases],
            "metrics": run.metrics.to_document(),
            "started_at": run.started_at,
            "completed_at": run.completed_at,
            "updated_at": utcnow(),
        }
        statement = update(tables.runs).where(tables.runs.c.id == run.id).values(**values)
        if conn is not None:
            await conn.execute(statement)
            return
        async with self._engine.begin() as own:
            await own.execute(statement)

    def _row_to_run(self, row: Any) -> Run:
        return Run(
            id=row["id"],
            plan_id=row["plan_id"],
            environment=row["environment"],
            progress=RunProgress.model_validate(row["progress"]),
            phases=[PhaseResult.model_validate(p) for p in row["phases"]],
            metrics=RunMetrics.model_validate(row["metrics"]),
            status=Status(state=row["state"], reason=row["reason"], updated_at=_aware(row["updated_at"])),
            started_at=_aware(row["started_at"]),
            completed_at=_aware(row["completed_at"]),
            created_at=_aware(row["created_at"]),
        )

    async def get_run(self, run_id: str, with_audit: bool = False, with_assets: bool = True) -> Run:
        """The run; ``with_assets`` fills each phase's assets from the per-asset rows (runs made before those rows
        existed keep the assets stored in their document)."""
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(tables.runs).where(tables.runs.c.id == run_id))).mappings().first()
            if row is None:
                raise NotFound(f"no run with id {run_id}")
            run = self._row_to_run(row)
            if with_assets:
                rows = await self.run_assets.rows(run_id, conn=conn)
                if rows:
                    _attach_assets(run, rows)
        if with_audit:
            run.audit_log = [
                {"timestamp": e.at.isoformat(), "event": e.event, "actor": e.actor, "details": e.details}
                for e in await self.audit_entries([run_id])
            ]
        return run

    async def request_rollback(self, run_id: str, reason: str, conn: AsyncConnection | None = None) -> bool:
        """Ask whichever worker holds the run to roll it back (or record that it is rolling back); False when the
        run has already ended."""
        statement = (
            update(tables.runs)
            .where(tables.runs.c.id == run_id, tables.runs.c.state.in_(["executing", "paused"]))
            .values(rollback_requested=reason, updated_at=utcnow())
        )
        if conn is not None:
            return (await conn.execute(statement)).rowcount == 1
        async with self._engine.begin() as own:
            return (await own.execute(statement)).rowcount == 1

    async def run_control_state(self, run_id: str, conn: AsyncConnection | None = None) -> tuple[str, str | None]:
        """(state, rollback requested reason): what the worker re-reads between batches."""
        query = select(tables.runs.c.state, tables.runs.c.rollback_requested).where(tables.runs.c.id == run_id)
        if conn is not None:
            row = (await conn.execute(query)).first()
        else:
            async with self._engine.connect() as own:
                row = (await own.execute(query)).first()
        if row is None:
            raise NotFound(f"no run with id {run_id}")
        return row.state, row.rollback_requested

    async def run_ids_starting_with(self, prefix: str, limit: int = 2) -> list[str]:
        """Ids of runs whose id starts with ``prefix`` (at most ``limit``): to accept a short id from a person."""
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = (
            select(tables.runs.c.id)
            .where(tables.runs.c.id.like(f"{escaped}%", escape="\\"))
            .order_by(tables.runs.c.id)
            .limit(limit)
        )
        async with self._engine.connect() as conn:
            return list((await conn.execute(query)).scalars().all())

    async def runs_for_plan(self, plan_id: str, with_assets: bool = True) -> list[Run]:
        query = select(tables.runs).where(tables.runs.c.plan_id == plan_id).order_by(tables.runs.c.created_at)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
            runs = [self._row_to_run(r) for r in rows]
            if with_assets:
                for run in runs:
                    assets = await self.run_assets.rows(run.id, conn=conn)
                    if assets:
                        _attach_assets(run, assets)
        return runs

    async def runs_in_states(self, states: Iterable[str]) -> list[Run]:
        query = select(tables.runs).where(tables.runs.c.state.in_(list(states)))
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [self._row_to_run(r) for r in rows]

    async def run_outcomes(self, agent: str) -> dict[str, int]:
        """Counts of finished runs by state for plans made by ``agent``."""
        query = (
            select(tables.runs.c.state, func.count())
            .select_from(tables.runs.join(tables.plans, tables.runs.c.plan_id == tables.plans.c.id))
            .where(tables.plans.c.agent == agent)
            .group_by(tables.runs.c.state)
        )
        async with self._engine.connect() as conn:
            return dict((await conn.execute(query)).all())

    # -- applied asset versions (what the executor changed) ------------------------------------

    async def asset_versions(self) -> dict[str, tuple[str, str]]:
        async with self._engine.connect() as conn:
            rows = (await conn.execute(select(tables.asset_versions))).mappings().all()
        return {r["asset_id"]: (r["image"], r["image_version"]) for r in rows}

    async def record_asset_version(self, asset_id: str, image: str, version: str, run_id: str | None) -> None:
        async with self._engine.begin() as conn:
            result = await conn.execute(
                update(tables.asset_versions)
                .where(tables.asset_versions.c.asset_id == asset_id)
                .values(image=image, image_version=version, run_id=run_id, updated_at=utcnow())
            )
            if result.rowcount == 0:
                await conn.execute(
                    insert(tables.asset_versions).values(
                        asset_id=asset_id, image=image, image_version=version, run_id=run_id, updated_at=utcnow()
                    )
                )

    # -- LLM usage ---------------------------------------------------------------------------

    async def record_llm_usage(self, org_id: str, tokens: int, cost_usd: float) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(insert(tables.llm_usage).values(org_id=org_id, at=utcnow(), tokens=tokens, cost_usd=cost_usd))

    async def llm_tokens_since(self, org_id: str, since: datetime) -> int:
        query = select(func.coalesce(func.sum(tables.llm_usage.c.tokens), 0)).where(
            tables.llm_usage.c.org_id == org_id, tables.llm_usage.c.at >= since
        )
        async with self._engine.connect() as conn:
            return int((await conn.execute(query)).scalar() or 0)

    # -- validation history (quality score) -----------------------------------------------------

    async def completed_plans(self, agent: str | None, plan_type: str, environments: Iterable[str]) -> list[Plan]:
        """Plans of ``agent`` and ``plan_type`` with at least one completed run in ``environments``."""
        envs = list(environments)
        if not envs:
            return []
        finished = select(tables.runs.c.plan_id).where(tables.runs.c.state == "completed", tables.runs.c.environment.in_(envs))
        query = select(tables.plans).where(tables.plans.c.type == plan_type, tables.plans.c.id.in_(finished))
        if agent is not None:
            query = query.where(tables.plans.c.agent == agent)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [self._row_to_plan(r) for r in rows]

    async def decision_counts(
        self, agent: str | None, plan_type: str, *, exclude_decided_by: str | None = None
    ) -> dict[str, int]:
        """How many plans of ``agent`` and ``plan_type`` were approved and rejected (not counting ``exclude_decided_by``)."""
        query = select(tables.plans.c.state, tables.plans.c.approval).where(
            tables.plans.c.type == plan_type, tables.plans.c.state.in_(["approved", "rejected"])
        )
        if agent is not None:
            query = query.where(tables.plans.c.agent == agent)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        counts: dict[str, int] = {}
        for state, approval in rows:
            if exclude_decided_by is None or (approval or {}).get("decided_by") != exclude_decided_by:
                counts[state] = counts.get(state, 0) + 1
        return counts

    async def set_plan_reason(self, plan_id: str, reason: str) -> None:
        """Why a plan stays where it is (e.g. a draft that failed validation); never changes the state."""
        async with self._engine.begin() as conn:
            await conn.execute(
                update(tables.plans).where(tables.plans.c.id == plan_id).values(reason=reason, updated_at=utcnow())
            )


_ASSET_STATUS = {"succeeded": "completed"}  # the run document keeps its schema's names


def _phase_document(phase: PhaseResult) -> dict[str, Any]:
    """A phase's summary for the run row; its assets live in ``run_assets``."""
    document = phase.to_document()
    document["assets"] = []
    return document


def _attach_assets(run: Run, rows: list[AssetRow]) -> None:
    by_phase: dict[int, list[AssetResult]] = {}
    for row in rows:
        if row.kind != "asset":
            continue
        by_phase.setdefault(row.phase_index, []).append(
            AssetResult(
                asset_id=row.asset_id,
                status=_ASSET_STATUS.get(row.status, row.status),
                previous=row.previous,
                current=row.current,
                error=row.error,
            )
        )
    for index, phase in enumerate(run.phases):
        phase.assets = by_phase.get(index, [])
