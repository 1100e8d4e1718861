from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid
from pathlib import Path

from pydantic import SecretStr
from sqlalchemy import text

from bot.cli import main
from core.audit import verify_chain
from core.domain import Plan, PlanPayload, Task
from core.intake import Ask
from core.service import OpsPilot
from core.store import Database, Store, upgrade

ROOT = Path(__file__).resolve().parents[3]


async def test_audit_replays_a_finished_task(config, tmp_path: Path) -> None:
    service = await OpsPilot.create(config)
    await service.start()
    outcome = await service.submit(Ask.from_front("fix drift on dev web servers", "U0REQUESTER"))
    await service.decide(outcome.plan.id, "U0APPROVER1", "approved")
    await service.executor.wait_idle(20)
    await service.close()
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "audit", outcome.task.id, "--json"],
        capture_output=True,
        text=True,
        env={"DATABASE_URL": config.database_url, "PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["consistent"] is True
    events = [e["event"] for e in document["entries"]]
    assert events[0] == "task.created" and "plan.approved" in events and events[-1] == "run.completed"
    # The rows the engine wrote inside its fenced transactions form one unbroken chain.
    database = Database(config.database_url)
    try:
        report = await verify_chain(Store(database), None)
    finally:
        await database.dispose()
    assert report.intact and report.rows >= len(events), report.to_text()


def _chain_database(tmp_path: Path, key: str | None) -> tuple[str, dict[str, str]]:
    """A migrated SQLite database with an approved plan (approver U0APPROVER1) and a few notes in the audit log."""
    url = f"sqlite:///{tmp_path / 'audit-cli.db'}"

    async def build() -> dict[str, str]:
        database = Database(url)
        await database.upgrade()
        store = Store(database, audit_key=SecretStr(key) if key else None)
        task = Task(id=str(uuid.uuid4()), created_by="U0REQUESTER", user_intent="fix drift on prod web servers")
        await store.add_task(task, "U0REQUESTER")
        payload = PlanPayload(summary="Patch the web tier", affected_assets=["a1"], phases=[{"name": "Canary", "assets": ["a1"]}])
        plan = Plan(id=str(uuid.uuid4()), task_id=task.id, type="drift_plan", agent="drift_agent", payload=payload)
        await store.add_plan(plan, "system")
        for target in ("validated", "awaiting_approval"):
            await store.transition("plan", plan.id, target, actor="system")
        await store.transition("plan", plan.id, "approved", actor="U0APPROVER1")
        for i in range(3):
            await store.append_audit("task", task.id, "task.note", "U0REQUESTER", {"i": i})
        await database.dispose()
        return {"task_id": task.id, "plan_id": plan.id}

    return url, asyncio.run(build())


def _tamper(url: str, statement: str) -> None:
    async def run() -> None:
        database = Database(url)
        async with database.engine.begin() as conn:
            await conn.execute(text(statement))
        await database.dispose()

    asyncio.run(run())


def _run_cli(monkeypatch, capsys, url: str, key: str | None, *argv: str) -> tuple[int, str, str]:
    for name in ("OPSPILOT_CONFIG", "OPSPILOT_AUDIT_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", url)
    if key:
        monkeypatch.setenv("OPSPILOT_AUDIT_KEY", key)
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_audit_verify_exits_0_on_an_untouched_log_and_checks_the_signature(tmp_path: Path, monkeypatch, capsys) -> None:
    url, _ = _chain_database(tmp_path, "k1")
    code, out, err = _run_cli(monkeypatch, capsys, url, "k1", "audit", "verify")
    assert code == 0, err
    assert "audit chain intact" in out and "signature valid" in out
    code, out, _ = _run_cli(monkeypatch, capsys, url, "k1", "audit", "verify", "--json")
    document = json.loads(out)
    assert code == 0 and document["intact"] is True and document["rows"] == 8 and document["signature"] == "valid"


def test_audit_verify_exits_1_and_names_the_first_changed_row(tmp_path: Path, monkeypatch, capsys) -> None:
    url, _ = _chain_database(tmp_path, "k1")
    _tamper(url, "UPDATE audit_log SET details = '{\"i\": 42}' WHERE seq = 7")
    code, out, _ = _run_cli(monkeypatch, capsys, url, "k1", "audit", "verify", "--json")
    problem = json.loads(out)["problem"]
    assert code == 1 and problem["kind"] == "changed" and problem["seq"] == 7
    code, out, _ = _run_cli(monkeypatch, capsys, url, "k1", "audit", "verify")
    assert code == 1 and f"BROKEN at row id {problem['id']} (seq 7)" in out


def test_audit_verify_with_a_different_key_exits_1(tmp_path: Path, monkeypatch, capsys) -> None:
    url, _ = _chain_database(tmp_path, "k1")
    code, out, _ = _run_cli(monkeypatch, capsys, url, "another key", "audit", "verify")
    assert code == 1 and "signature" in out


def test_audit_verify_says_the_head_is_unsigned_without_a_key(tmp_path: Path, monkeypatch, capsys) -> None:
    url, _ = _chain_database(tmp_path, None)
    code, out, _ = _run_cli(monkeypatch, capsys, url, None, "audit", "verify")
    assert code == 0 and "UNSIGNED" in out


def test_audit_actor_since_lists_what_an_approver_did(tmp_path: Path, monkeypatch, capsys) -> None:
    url, ids = _chain_database(tmp_path, None)
    code, out, err = _run_cli(monkeypatch, capsys, url, None, "audit", "--actor", "U0APPROVER1", "--since", "7d", "--json")
    assert code == 0, err
    document = json.loads(out)
    assert [(e["event"], e["entity"], e["task_id"], e["plan_summary"]) for e in document["entries"]] == [
        ("plan.approved", f"plan:{ids['plan_id']}", ids["task_id"], "Patch the web tier")
    ]
    _tamper(url, "UPDATE audit_log SET at = '2001-01-01 00:00:00.000000' WHERE actor = 'U0APPROVER1'")
    code, out, _ = _run_cli(monkeypatch, capsys, url, None, "audit", "--actor", "U0APPROVER1", "--since", "30m")
    assert code == 0 and "no audit entries by U0APPROVER1" in out
    code, out, _ = _run_cli(monkeypatch, capsys, url, None, "audit", "--actor", "U0APPROVER1")
    assert code == 0 and "plan.approved" in out and "Patch the web tier" in out


def test_audit_usage_errors_exit_2(tmp_path: Path, monkeypatch, capsys) -> None:
    url, ids = _chain_database(tmp_path, None)
    for argv in (
        ["audit"],
        ["audit", "--actor", "U1", "--since", "a week"],
        ["audit", "--since", "7d"],
        ["audit", ids["task_id"], "--actor", "U1"],
        ["audit", "verify", "--actor", "U1"],
    ):
        code, _, err = _run_cli(monkeypatch, capsys, url, None, *argv)
        assert code == 2 and err.startswith("opspilot audit:"), (argv, err)


def test_audit_verify_on_a_database_without_the_chain_exits_2(tmp_path: Path, monkeypatch, capsys) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"

    async def old_schema() -> None:
        database = Database(url)
        await upgrade(database.engine, "0002")
        await database.dispose()

    asyncio.run(old_schema())
    code, _, err = _run_cli(monkeypatch, capsys, url, None, "audit", "verify")
    assert code == 2 and "opspilot db upgrade" in err


def test_audit_task_id_still_replays_a_task(tmp_path: Path, monkeypatch, capsys) -> None:
    url, ids = _chain_database(tmp_path, None)
    code, out, _ = _run_cli(monkeypatch, capsys, url, None, "audit", ids["task_id"], "--json")
    document = json.loads(out)
    assert code == 0 and document["task_id"] == ids["task_id"] and document["consistent"] is True
