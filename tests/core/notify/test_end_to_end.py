"""The whole loop with notifications on: ask → plan → approve → run, through the outbox and its dispatcher, against
a real SMTP server and real webhook receivers (one CloudEvents, one legacy)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator

import pytest
from pydantic import SecretStr

from core.audit import replay
from core.config import Config, NotificationsConfig
from core.intake import Ask
from core.outbox.envelope import CloudEvent
from core.service import OpsPilot
from core.signing import verify

from .conftest import SECRET
from .servers import HookServer, SmtpRecorder, hook_server, smtp_server

ASK = "fix drift on staging web servers"
ONCALL = ["oncall@example.com", "sre-lead@example.com"]


@pytest.fixture
def smtp() -> Iterator[SmtpRecorder]:
    with smtp_server("none") as server:
        yield server


@pytest.fixture
async def hooks() -> AsyncIterator[HookServer]:
    async with hook_server() as server:
        yield server


@pytest.fixture
def config(config: Config, smtp: SmtpRecorder, hooks: HookServer) -> Config:
    base = hooks.url.rsplit("/", 1)[0]
    config.notifications = NotificationsConfig.model_validate(
        {
            "email": {
                "enabled": True,
                "host": smtp.host,
                "port": smtp.port,
                "tls": "none",
                "from": "OpsPilot <opspilot@example.com>",
                "to": ONCALL,
            },
            "webhooks": [
                {"url": f"{base}/cloudevents", "timeout": "5s"},
                {"url": f"{base}/legacy", "format": "legacy", "timeout": "5s"},
            ],
            "retry": {"attempts": 2, "max_backoff": "1s"},
        }
    )
    config.webhook_secret = SecretStr(SECRET)
    return config


async def _run(service: OpsPilot, *, fail_in_phase: int | None = None):
    outcome = await service.submit(Ask.from_front(ASK, "U0REQUESTER", "C1"))
    assert outcome.plan is not None and outcome.plan.state == "awaiting_approval"
    if fail_in_phase is not None:
        service.executor.probe.fail_assets = {outcome.plan.payload.phases[fail_in_phase].assets[0]}
    decision = await service.decide(outcome.plan.id, "U0APPROVER1", "approved")
    await service.executor.wait_idle(20)
    await service.dispatcher.run_until_idle(20)
    return outcome.plan, await service.store.get_run(decision.run.id)


def _received(hooks: HookServer, path: str) -> list:
    return [r for r in hooks.requests if r.path.endswith(path)]


async def test_a_rollback_is_mailed_and_every_event_posted_once_in_order(
    service: OpsPilot, smtp: SmtpRecorder, hooks: HookServer
) -> None:
    plan, run = await _run(service, fail_in_phase=2)
    assert run.state == "rolled_back"
    failed_phase = plan.payload.phases[2].name

    [mail] = smtp.mails
    assert mail.recipients == ONCALL
    assert mail.message["X-OpsPilot-Event"] == "run.rolled_back" and mail.message["X-OpsPilot-Environment"] == "staging"
    subject = mail.message["Subject"]
    assert "ROLLED BACK" in subject and "(staging)" in subject and ASK in subject
    body = mail.message.get_content().replace("\r\n", "\n")
    for expected in (
        "Run ROLLED BACK in staging.",
        f"3/{len(plan.payload.phases)} {failed_phase} (stopped here)",
        f'"{ASK}" (requested by U0REQUESTER)',
        "Approved by: U0APPROVER1",
        "reverted to their previous versions",
        f"Run id: {run.id}",
        f"opspilot audit {plan.task_id}",
    ):
        assert expected in body, expected

    posted = _received(hooks, "/cloudevents")
    events = [CloudEvent.from_json(r.body) for r in posted]
    for request in posted:
        headers = request.headers
        assert verify(SECRET, headers["X-OpsPilot-Timestamp"], request.body, headers["X-OpsPilot-Signature"])
    ids = [e.id for e in events]
    assert len(ids) == len(set(ids))  # once each
    task_events = [e for e in events if e.task_id == plan.task_id and e.type != "audit.appended"]
    assert [e.time for e in task_events] == sorted(e.time for e in task_events)  # in order within the task
    types = [e.type for e in task_events]
    assert types[:3] == ["task.created", "task.planned", "task.approval.required"]
    assert types.count("run.phase.started") == 3 and types.count("run.phase.completed") == 2
    assert types[-1] == "run.rolled_back" and "task.completed" not in types
    assert "audit.appended" in {e.type for e in events}
    [rolled_back] = [e for e in events if e.type == "run.rolled_back"]
    assert (rolled_back.severity, rolled_back.environment, rolled_back.subject) == ("critical", "staging", run.id)

    legacy = [json.loads(r.body) for r in _received(hooks, "/legacy")]
    topics = [h["topic"] for h in legacy]
    assert set(topics) == {
        "task.created",
        "task.approval.required",
        "plan.decided",
        "task.started",
        "run.phase.started",
        "run.phase.completed",
        "task.completed",
    }
    [finished] = [h for h in legacy if h["topic"] == "task.completed"]
    assert finished["state"] == finished["kind"] == "rolled_back"
    assert finished["context"]["phase"] == {"index": 2, "name": failed_phase}
    assert finished["text"] == body.split("\n-- \n")[0]  # the mail and the legacy webhook say the same thing


async def test_a_completed_run_is_not_mailed_by_default(service: OpsPilot, smtp: SmtpRecorder, hooks: HookServer) -> None:
    _, run = await _run(service)
    assert run.state == "completed"
    assert smtp.mails == []
    assert "task.completed" in {CloudEvent.from_json(r.body).type for r in _received(hooks, "/cloudevents")}


async def test_a_refused_recipient_and_a_refusing_receiver_are_audited_and_the_run_is_unaffected(
    service: OpsPilot, smtp: SmtpRecorder, hooks: HookServer
) -> None:
    smtp.refuse = {ONCALL[1]: "550 5.1.1 no such user"}
    hooks.plan = [("status", 410, {})] * 1000
    plan, run = await _run(service, fail_in_phase=1)
    assert run.state == "rolled_back"
    [mail] = smtp.mails
    assert mail.recipients == [ONCALL[0]]

    entries = await service.store.audit_trail(plan.task_id)
    [refused] = [e for e in entries if e.event == "notification.refused"]
    assert (refused.entity_type, refused.entity_id) == ("run", run.id)
    assert refused.details["recipient"] == ONCALL[1] and refused.details["reply"].startswith("550")
    dead = [e for e in entries if e.event == "notification.dead_lettered"]
    assert dead and all("HTTP 410" in e.details["error"] for e in dead)
    assert {e.details["subscriber"] for e in dead} <= {s for s in service.outbox.subscribers if s.startswith("webhook:")}
    assert (await replay(service.store, plan.task_id)).consistent  # notification entries change no state
