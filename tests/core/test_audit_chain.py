"""The audit log is a hash chain with a signed head: appends link up (also concurrently, across engines), and
`verify_chain` names the first row that was changed or removed, and a rewrite made without the key."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import delete, insert, select, update

from core.audit import entries_by_actor, verify_chain
from core.domain import Plan, PlanPayload, Task
from core.store import Database, Store, tables, upgrade
from core.store.audit_chain import GENESIS, hash_of_row, read_head
from core.timeutil import utcnow
from tests.support.postgres import POSTGRES_URL, SKIP_REASON, create_database, drop_database

KEY = "test-audit-key"


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """An empty database (not migrated) on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'audit.db'}"
        return
    if not POSTGRES_URL:
        pytest.skip(SKIP_REASON)
    url, name = await create_database("opspilot_audit")
    try:
        yield url
    finally:
        await drop_database(name)


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    db = Database(database_url)
    await db.upgrade()
    try:
        yield db
    finally:
        await db.dispose()


@pytest.fixture
def store(database: Database) -> Store:
    return Store(database, audit_key=SecretStr(KEY))


async def _append(store: Store, count: int, actor: str = "U1") -> None:
    for i in range(count):
        await store.append_audit("task", f"task-{i}", "task.note", actor, {"i": i, "pair": (i, "x"), "text": "café"})


async def _rows(database: Database) -> list[dict]:
    async with database.engine.connect() as conn:
        result = await conn.execute(select(tables.audit_log).order_by(tables.audit_log.c.seq))
        return [dict(r) for r in result.mappings()]


async def _sql(database: Database, statement) -> None:
    async with database.engine.begin() as conn:
        await conn.execute(statement)


async def test_appends_link_every_row_to_the_one_before_and_sign_the_head(store: Store, database: Database) -> None:
    await _append(store, 5)
    rows = await _rows(database)
    assert [r["seq"] for r in rows] == [1, 2, 3, 4, 5]
    assert rows[0]["prev_hash"] == GENESIS
    assert all(row["prev_hash"] == before["row_hash"] for before, row in itertools.pairwise(rows))
    assert all(hash_of_row(r) == r["row_hash"] for r in rows)
    report = await verify_chain(store, KEY)
    assert report.intact and report.rows == 5 and report.head_seq == 5 and report.signature == "valid"
    assert report.head_hash == rows[-1]["row_hash"]


async def test_a_failed_transaction_leaves_no_gap_in_the_chain(store: Store, database: Database) -> None:
    await _append(store, 2)
    with pytest.raises(RuntimeError):
        async with database.engine.begin() as conn:
            await store._audit(conn, "task", "t", "task.note", "U1")
            raise RuntimeError("the caller's transaction fails after the audit row")
    await _append(store, 1)
    assert [r["seq"] for r in await _rows(database)] == [1, 2, 3]
    assert (await verify_chain(store, KEY)).intact


async def test_concurrent_appends_from_two_engines_keep_one_unbroken_chain(database_url: str) -> None:
    first, second = Database(database_url), Database(database_url)
    await first.upgrade()
    try:
        stores = [Store(first, audit_key=SecretStr(KEY)), Store(second, audit_key=SecretStr(KEY))]

        async def writer(store: Store, name: str) -> None:
            for i in range(50):
                await store.append_audit("task", f"{name}-{i}", "task.note", name, {"i": i})

        await asyncio.gather(writer(stores[0], "A"), writer(stores[1], "B"), writer(stores[0], "C"), writer(stores[1], "D"))
        report = await verify_chain(stores[0], KEY)
        assert report.intact, report.to_text()
        assert report.rows == 200 and report.head_seq == 200 and report.signature == "valid"
        assert [r["seq"] for r in await _rows(first)] == list(range(1, 201))
    finally:
        await first.dispose()
        await second.dispose()


async def test_editing_a_rows_details_by_sql_is_reported_at_that_row(store: Store, database: Database) -> None:
    await _append(store, 6)
    target = (await _rows(database))[2]
    log = tables.audit_log
    await _sql(database, update(log).where(log.c.id == target["id"]).values(details={"i": 99}))
    report = await verify_chain(store, KEY)
    assert not report.intact and report.problem is not None
    assert (report.problem.kind, report.problem.id, report.problem.seq) == ("changed", target["id"], 3)
    assert report.rows == 2 and f"row id {target['id']}" in report.to_text()


async def test_changing_who_acted_is_reported_too(store: Store, database: Database) -> None:
    await _append(store, 3)
    target = (await _rows(database))[1]
    log = tables.audit_log
    await _sql(database, update(log).where(log.c.id == target["id"]).values(actor="U0SOMEONEELSE"))
    problem = (await verify_chain(store, KEY)).problem
    assert problem is not None and (problem.kind, problem.id) == ("changed", target["id"])


async def test_deleting_a_row_is_reported_at_the_gap(store: Store, database: Database) -> None:
    await _append(store, 5)
    rows = await _rows(database)
    log = tables.audit_log
    await _sql(database, delete(log).where(log.c.id == rows[1]["id"]))
    problem = (await verify_chain(store, KEY)).problem
    assert problem is not None
    assert (problem.kind, problem.id, problem.seq) == ("removed", rows[2]["id"], 3)
    assert "seq 2" in problem.reason


async def test_deleting_the_newest_row_is_reported_against_the_head(store: Store, database: Database) -> None:
    await _append(store, 4)
    rows = await _rows(database)
    log = tables.audit_log
    await _sql(database, delete(log).where(log.c.id == rows[-1]["id"]))
    problem = (await verify_chain(store, KEY)).problem
    assert problem is not None and (problem.kind, problem.seq) == ("removed", 4)


async def _rewrite_from(database: Database, seq: int, details: dict, signature: str | bool | None = False) -> None:
    """What someone with database access but without the key can do: change a row, re-hash it and everything
    after it, and move the head along (keeping the old signature, or setting ``signature``)."""
    rows = await _rows(database)
    log, head = tables.audit_log, tables.audit_head
    prev_hash = rows[seq - 2]["row_hash"] if seq > 1 else GENESIS
    async with database.engine.begin() as conn:
        for row in rows[seq - 1 :]:
            if row["seq"] == seq:
                row["details"] = details
            row["prev_hash"] = prev_hash
            row["row_hash"] = hash_of_row(row)
            values = {"details": row["details"], "prev_hash": row["prev_hash"], "row_hash": row["row_hash"]}
            await conn.execute(update(log).where(log.c.id == row["id"]).values(**values))
            prev_hash = row["row_hash"]
        values = {"hash": prev_hash} if signature is False else {"hash": prev_hash, "signature": signature}
        await conn.execute(update(head).values(**values))


async def test_a_rewrite_rehashed_without_the_key_is_caught_by_the_head_signature(store: Store, database: Database) -> None:
    await _append(store, 5)
    await _rewrite_from(database, 3, {"i": "forged"})
    report = await verify_chain(store, KEY)
    assert not report.intact and report.problem is not None
    assert report.problem.kind == "signature" and report.signature == "invalid"
    # Without the key the hashes alone cannot tell, and verify says it did not check the signature.
    unkeyed = await verify_chain(store, None)
    assert unkeyed.intact and unkeyed.signature == "not checked"


async def test_a_rewrite_that_drops_the_signature_is_caught_when_a_key_is_set(store: Store, database: Database) -> None:
    await _append(store, 3)
    await _rewrite_from(database, 2, {"i": "forged"}, signature=None)
    problem = (await verify_chain(store, KEY)).problem
    assert problem is not None and problem.kind == "signature"


async def test_without_a_key_the_chain_is_kept_and_verify_says_the_head_is_unsigned(database: Database) -> None:
    store = Store(database)
    await _append(store, 3)
    report = await verify_chain(store, None)
    assert report.intact and report.rows == 3 and report.signature == "unsigned"
    assert "UNSIGNED" in report.to_text()
    async with database.engine.connect() as conn:
        head = await read_head(conn)
    assert head is not None and head.signature is None and head.seq == 3


async def test_an_untouched_empty_database_verifies(store: Store) -> None:
    report = await verify_chain(store, KEY)
    assert report.intact and report.rows == 0 and report.head_seq == 0


async def test_the_migration_hashes_rows_written_before_it(database_url: str) -> None:
    database = Database(database_url)
    try:
        await upgrade(database.engine, "0002")
        log = tables.audit_log
        async with database.engine.begin() as conn:
            for i in range(7):
                await conn.execute(
                    insert(log).values(
                        at=utcnow() - timedelta(minutes=10 - i),
                        entity_type="task",
                        entity_id=f"old-{i}",
                        event="task.created",
                        from_state=None,
                        to_state="created",
                        actor="U0OLD",
                        details={"user_intent": f"ask {i}", "nested": {"b": [1, 2], "a": None}},
                    )
                )
        await database.upgrade()
        store = Store(database, audit_key=SecretStr(KEY))
        before = await verify_chain(store, KEY)
        # Hashed, linked from the genesis, but not signed: the migration has no key.
        assert before.problem is not None and before.problem.kind == "signature" and before.rows == 7
        assert (await verify_chain(store, None)).intact
        await _append(store, 2)
        after = await verify_chain(store, KEY)
        assert after.intact and after.rows == 9 and after.signature == "valid"
        rows = await _rows(database)
        assert [r["entity_id"] for r in rows[:7]] == [f"old-{i}" for i in range(7)]
        assert rows[0]["seq"] == 1 and rows[0]["prev_hash"] == GENESIS
    finally:
        await database.dispose()


async def test_a_row_written_outside_the_chain_is_reported(store: Store, database: Database) -> None:
    await _append(store, 2)
    log = tables.audit_log
    await _sql(
        database,
        insert(log).values(at=utcnow(), entity_type="task", entity_id="x", event="task.note", actor="U9", details={}),
    )
    problem = (await verify_chain(store, KEY)).problem
    assert problem is not None and problem.kind == "unchained"


def _task(created_by: str) -> Task:
    return Task(id=str(uuid.uuid4()), created_by=created_by, user_intent="fix drift on prod web servers")


def _plan(task_id: str, summary: str) -> Plan:
    payload = PlanPayload(
        summary=summary, affected_assets=["a1"], phases=[{"name": "Canary", "assets": ["a1"], "wait_time": "5m"}]
    )
    return Plan(
        id=str(uuid.uuid4()), task_id=task_id, type="drift_plan", agent="drift_agent", environment="production", payload=payload
    )


async def _approved_plan(store: Store, summary: str, approver: str) -> Plan:
    task = _task("U0REQUESTER")
    await store.add_task(task, "U0REQUESTER")
    plan = _plan(task.id, summary)
    await store.add_plan(plan, "system")
    for target in ("validated", "awaiting_approval"):
        await store.transition("plan", plan.id, target, actor="system")
    await store.transition("plan", plan.id, "approved", actor=approver)
    return plan


async def test_entries_by_actor_answer_who_approved_what_across_plans(store: Store, database: Database) -> None:
    first = await _approved_plan(store, "Patch web tier", "U0APPROVER1")
    second = await _approved_plan(store, "Fix drift on db", "U0APPROVER1")
    await _approved_plan(store, "Someone else's", "U0APPROVER2")
    report = await entries_by_actor(store, "U0APPROVER1", utcnow() - timedelta(days=7))
    assert [(e.entry.event, e.entry.entity_id) for e in report.entries] == [
        ("plan.approved", first.id),
        ("plan.approved", second.id),
    ]
    assert [(e.task_id, e.plan_summary) for e in report.entries] == [
        (first.task_id, "Patch web tier"),
        (second.task_id, "Fix drift on db"),
    ]
    document = report.to_document()
    assert document["entries"][0]["actor"] == "U0APPROVER1" and document["entries"][0]["task_id"] == first.task_id
    assert "Patch web tier" in report.to_text()


async def test_entries_by_actor_leave_out_entries_older_than_since(store: Store, database: Database) -> None:
    old = await _approved_plan(store, "Old change", "U0APPROVER1")
    recent = await _approved_plan(store, "New change", "U0APPROVER1")
    log = tables.audit_log
    await _sql(
        database,
        update(log).where(log.c.entity_id == old.id, log.c.event == "plan.approved").values(at=utcnow() - timedelta(days=10)),
    )
    within_week = await entries_by_actor(store, "U0APPROVER1", utcnow() - timedelta(days=7))
    assert [e.entry.entity_id for e in within_week.entries] == [recent.id]
    everything = await entries_by_actor(store, "U0APPROVER1", None)
    assert [e.entry.entity_id for e in everything.entries] == [old.id, recent.id]
    assert (await entries_by_actor(store, "U0NOBODY", None)).entries == []


async def test_the_service_signs_the_head_with_the_key_from_the_environment(config) -> None:
    from pydantic import SecretStr

    from core.audit import verify_chain
    from core.intake import Ask
    from core.service import OpsPilot

    config.audit_key = SecretStr("k" * 32)
    service = await OpsPilot.create(config)
    try:
        await service.submit(Ask.from_front("fix drift on staging web servers", "U0REQUESTER"))
        report = await verify_chain(service.store, "k" * 32)
        assert report.problem is None and report.signature == "valid" and report.rows > 0
        assert (await verify_chain(service.store, "another key")).signature == "invalid"
    finally:
        await service.close()
