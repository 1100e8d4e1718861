"""Logs: JSON lines or the classic text, the task/plan/run ids in context, and never a secret."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from bot.cli import main
from core.events import PhaseStarted, PlanDecided, RunFinished, TaskCreated
from core.intake import Ask
from core.logcontext import ContextFilter, add, bind, current_ids, setup_logging

ROOT = Path(__file__).resolve().parents[2]
SECRETS = {
    "SLACK_SIGNING_SECRET": "signing-8f2a9c",
    "SMTP_PASSWORD": "smtp-pw-77x",
    "OPSPILOT_WEBHOOK_SECRET": "hook-secret-q1",
    "ANTHROPIC_API_KEY": "sk-ant-api03-abcdef",
}
API_TOKENS = "tok-approver-123=U0APPROVER1,tok-outsider-456=U0OUTSIDER"

log = logging.getLogger("opspilot.test")


class Captured:
    def __init__(self, stream: io.StringIO) -> None:
        self.stream = stream

    @property
    def lines(self) -> list[str]:
        return self.stream.getvalue().splitlines()

    def json(self) -> list[dict]:
        return [json.loads(line) for line in self.lines]


@pytest.fixture
def logs() -> Iterator:
    """``logs(log_format, env=...)`` installs OpsPilot's handler on a StringIO; removed afterwards."""
    root = logging.getLogger()
    level = root.level
    installed: list[logging.Handler] = []

    def install(log_format: str | None = None, *, env: dict[str, str] | None = None, level: str = "DEBUG") -> Captured:
        stream = io.StringIO()
        installed.append(setup_logging(log_format, level, env=env or {}, stream=stream))
        return Captured(stream)

    try:
        yield install
    finally:
        for handler in installed:
            root.removeHandler(handler)
        root.setLevel(level)


def test_json_lines_carry_time_level_logger_and_the_formatted_message(logs) -> None:
    out = logs("json")
    before = datetime.now().astimezone()
    log.info("phase %d of %s started", 2, "Canary")
    log.warning("plain")
    first, second = out.json()
    assert first["message"] == "phase 2 of Canary started"
    assert (first["level"], first["logger"]) == ("INFO", "opspilot.test")
    assert second["level"] == "WARNING" and second["message"] == "plain"
    assert first["time"].endswith("Z"), "UTC"
    stamp = datetime.fromisoformat(first["time"])
    assert stamp.utcoffset() == timedelta(0)
    assert abs(stamp - before) < timedelta(seconds=5)
    assert not {"task_id", "plan_id", "run_id", "exception"} & set(first), "ids and exception only when there are some"


def test_json_line_has_the_exception_text(logs) -> None:
    out = logs("json")
    try:
        raise ValueError("the driver exploded")
    except ValueError:
        log.exception("phase failed")
    [line] = out.json()
    assert line["message"] == "phase failed"
    assert "Traceback" in line["exception"] and "ValueError: the driver exploded" in line["exception"]


def test_ids_bound_in_context_appear_on_every_line_and_go_away_after(logs) -> None:
    out = logs("json")
    with bind(run_id="run-1"):
        log.info("one")
        add(plan_id="plan-1", task_id="task-1")
        with bind(run_id="run-2"):
            log.info("two")
        log.info("three")
    log.info("four")
    one, two, three, four = out.json()
    assert one["run_id"] == "run-1" and "plan_id" not in one
    assert (two["task_id"], two["plan_id"], two["run_id"]) == ("task-1", "plan-1", "run-2")
    assert (three["plan_id"], three["run_id"]) == ("plan-1", "run-1")
    assert not {"task_id", "plan_id", "run_id"} & set(four), "add() is undone when the enclosing bind exits"
    assert current_ids() == {}


async def test_ids_stay_with_their_own_asyncio_task(logs) -> None:
    out = logs("json")

    async def handle(run_id: str) -> None:
        with bind(run_id=run_id):
            await asyncio.sleep(0.01)
            log.info("handled")

    await asyncio.gather(handle("a"), handle("b"), handle("c"))
    assert sorted(line["run_id"] for line in out.json()) == ["a", "b", "c"]


def test_unknown_id_names_are_refused() -> None:
    with pytest.raises(TypeError, match="user_id"), bind(user_id="U1"):
        pass


SECRET_MESSAGES = [
    ("bot token %s", "xoxb-1234-5678-AbCdEfGh"),
    ("user token %s", "xoxp-1-2-3-deadbeef"),
    ("app token %s", "xapp-1-A0B1-2345-cafe"),
    ("rotating token %s", "xoxe.xoxp-1-Mi0yLTExMTE"),
    ("refresh token %s", "xoxe-1-My0xLTExMTE"),
    ("header Authorization: Bearer %s", "abc.DEF-123_xyz"),
    ("signing secret %s", SECRETS["SLACK_SIGNING_SECRET"]),
    ("smtp %s", SECRETS["SMTP_PASSWORD"]),
    ("webhook %s", SECRETS["OPSPILOT_WEBHOOK_SECRET"]),
    ("model key %s", SECRETS["ANTHROPIC_API_KEY"]),
    ("api token %s", "tok-outsider-456"),
    ("database postgresql://ops:%s@db.internal/ops", "pg-pass-9"),
]


@pytest.mark.parametrize("log_format", ["json", "text"])
def test_secrets_are_masked_in_messages_and_exceptions(logs, log_format: str) -> None:
    out = logs(log_format, env={**SECRETS, "OPSPILOT_API_TOKENS": API_TOKENS})
    for template, secret in SECRET_MESSAGES:
        log.warning(template, secret)
    try:
        raise RuntimeError(f"auth failed for {SECRETS['SMTP_PASSWORD']} with xoxb-999-leaked")
    except RuntimeError:
        log.exception("login failed")
    text = out.stream.getvalue()
    for _, secret in SECRET_MESSAGES:
        assert secret not in text
    assert "xoxb-999-leaked" not in text and SECRETS["SMTP_PASSWORD"] not in text
    assert "xoxb-***" in text and "Bearer ***" in text and "postgresql://ops:***@db.internal/ops" in text
    assert "RuntimeError: auth failed for *** with xoxb-***" in text, "the exception is kept, only the secrets go"
    assert len(out.lines) >= len(SECRET_MESSAGES)
    if log_format == "json":
        messages = [line["message"] for line in out.json()]
        assert messages[0] == "bot token xoxb-***"


def test_text_is_the_default_and_keeps_the_classic_layout(logs) -> None:
    out = logs(None)
    with bind(task_id="task-1"):
        log.error("disk %s is full", "/var")
    [line] = out.lines
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} ERROR opspilot\.test: disk /var is full", line), line


@pytest.mark.parametrize(
    ("variable", "value", "allowed"),
    [("LOG_FORMAT", "xml", "text, json"), ("LOG_LEVEL", "LOUD", "DEBUG, INFO, WARNING, ERROR, CRITICAL")],
)
def test_an_invalid_log_setting_stops_with_exit_2_naming_the_variable(
    monkeypatch,
    capsys,
    variable: str,
    value: str,
    allowed: str,
) -> None:
    monkeypatch.setenv(variable, value)
    handlers = list(logging.getLogger().handlers)
    assert main(["plan", "fix drift on prod web servers"]) == 2
    err = capsys.readouterr().err
    assert variable in err and allowed in err and repr(value) in err
    assert logging.getLogger().handlers == handlers, "nothing was installed"


# -- the binds at the entry points -----------------------------------------------------------


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.addFilter(ContextFilter())
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def ids(self, message: str) -> list[tuple[str | None, str | None, str | None]]:
        return [(r.task_id, r.plan_id, r.run_id) for r in self.records if r.getMessage() == message]  # type: ignore[attr-defined]


@pytest.fixture
def records() -> Iterator[Records]:
    handler = Records()
    heard = logging.getLogger("opspilot.test.heard")
    heard.addHandler(handler)
    heard.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        heard.removeHandler(handler)


async def test_submit_decide_and_the_run_bind_their_ids(service, records: Records) -> None:
    heard = logging.getLogger("opspilot.test.heard")

    async def on_event(event) -> None:
        heard.info("heard %s", event.topic)  # logs no ids itself: they come from the context

    service.bus.subscribe(on_event, TaskCreated, PlanDecided, PhaseStarted)
    outcome = await service.submit(Ask.from_front("fix drift on prod web servers", "U0REQUESTER"))
    plan = outcome.plan
    assert plan is not None
    assert records.ids("heard task.created") == [(plan.task_id, None, None)]
    assert current_ids() == {}, "nothing leaks out of submit"

    decision = await service.decide(plan.id, "U0APPROVER1", "approved")
    assert records.ids("heard plan.decided") == [(plan.task_id, plan.id, None)]
    await service.executor.wait_idle(timeout=30)
    phases = records.ids("heard run.phase.started")
    assert phases and set(phases) == {(plan.task_id, plan.id, decision.run.id)}


async def test_outbox_deliveries_bind_the_task_id(records: Records, tmp_path: Path) -> None:
    from core.outbox import CloudEvent, Delivery, Subscriber
    from core.outbox.dispatcher import Dispatcher
    from core.outbox.writer import Outbox
    from core.store import Database
    from core.work.queue import WorkQueue

    heard = logging.getLogger("opspilot.test.heard")

    class Logging(Subscriber):
        name = "logging"

        def wants(self, event: CloudEvent) -> bool:
            return True

        async def deliver(self, delivery: Delivery) -> None:
            heard.info("delivering")

    database = Database(f"sqlite:///{tmp_path / 'log.db'}")
    await database.upgrade()
    outbox = Outbox(WorkQueue(database))
    outbox.register(Logging())
    finished = RunFinished(
        task_id="task-n",
        plan_id="plan-n",
        run_id="run-n",
        state="failed",
        reason="x",
        assets_changed=0,
        assets_rolled_back=0,
        phases_completed=0,
        total_phases=1,
        duration_seconds=0.1,
    )
    async with database.engine.begin() as conn:
        await outbox.add(conn, finished)
    await Dispatcher(outbox, outbox.work).run_until_idle()
    await database.dispose()
    assert [ids[0] for ids in records.ids("delivering")] == ["task-n"]


# -- the real command ------------------------------------------------------------------------


def test_opspilot_plan_with_log_format_json_writes_only_json_lines_to_stderr(tmp_path: Path) -> None:
    environment = {
        k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "ANTHROPIC_", "OPSPILOT_", "DATABASE_URL", "LOG_"))
    }
    environment.update(
        DATABASE_URL=f"sqlite:///{tmp_path / 'cli.db'}",
        LOG_FORMAT="json",
        LOG_LEVEL="INFO",
        PYTHONPATH=str(ROOT),
    )
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "plan", "fix drift on prod web servers"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=environment,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    assert lines, "at INFO the planner says which planner it uses"
    for line in lines:
        document = json.loads(line)
        assert {"time", "level", "logger", "message"} <= set(document), line
    assert any(json.loads(line)["logger"].startswith("core.") for line in lines)
    assert "Canary" in result.stdout, "stdout still carries the plan itself"
