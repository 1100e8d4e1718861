"""The whole loop with notifications on: ask → plan → approve → run, against real SMTP and webhook receivers."""

from __future__ import annotations

import json

import pytest
from pydantic import SecretStr

from core.audit import replay
from core.config import Config, EmailNotificationsConfig, NotificationsConfig, WebhookNotificationsConfig
from core.intake import Ask
from core.notify import verify_signature
from core.service import OpsPilot

from .conftest import SECRET

ASK = "fix drift on staging web servers"
ONCALL = ["oncall@example.com", "sre-lead@example.com"]


@pytest.fixture
def config(config: Config, smtp_server, webhook_receiver) -> Config:
    config.notifications = NotificationsConfig(
        email=EmailNotificationsConfig(
            enabled=True,
            smtp_host=smtp_server.host,
            smtp_port=smtp_server.port,
            starttls=False,
            from_address="OpsPilot <opspilot@example.com>",
            to=ONCALL,
            timeout_seconds=5,
        ),
        webhook=WebhookNotificationsConfig(enabled=True, url=webhook_receiver.url, timeout_seconds=5, backoff_seconds=0.01),
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
    assert service.notifications is not None and await service.notifications.drain(20)
    return outcome.plan, await service.store.get_run(decision.run.id)


def _hooks(webhook_receiver) -> list[dict]:
    return [json.loads(r.body) for r in webhook_receiver.requests]


async def test_a_rollback_emails_on_call_and_posts_signed_webhooks(service: OpsPilot, smtp_server, webhook_receiver) -> None:
    plan, run = await _run(service, fail_in_phase=2)
    assert run.state == "rolled_back"
    failed_phase = plan.payload.phases[2].name

    [mail] = smtp_server.mails
    assert mail.recipients == ONCALL
    subject = mail.message["Subject"]
    assert "ROLLED BACK" in subject and "(staging)" in subject and ASK in subject
    body = mail.message.get_content().replace("\r\n", "\n")
    assert body.startswith("Run ROLLED BACK in staging.")
    for expected in (
        "Environment: staging",
        f"3/{len(plan.payload.phases)} {failed_phase} (stopped here)",
        "error_rate",
        f'"{ASK}" (requested by U0REQUESTER)',
        "Approved by: U0APPROVER1",
        "reverted to their previous versions",
        f"Plan id: {plan.id}",
        f"Run id: {run.id}",
        f"opspilot audit {plan.task_id}",
        plan.payload.phases[0].assets[0],  # a reverted asset is named
    ):
        assert expected in body, expected

    for request in webhook_receiver.requests:
        assert verify_signature(request.body, request.headers["X-OpsPilot-Signature"], SECRET)
    hooks = _hooks(webhook_receiver)
    topics = [h["topic"] for h in hooks]
    assert {
        "task.created",
        "task.approval.required",
        "plan.decided",
        "task.started",
        "run.phase.started",
        "run.phase.completed",
        "task.completed",
    } <= set(topics)
    assert topics.count("run.phase.started") == 3 and topics.count("run.phase.completed") == 2
    [finished] = [h for h in hooks if h["topic"] == "task.completed"]
    assert finished["state"] == finished["kind"] == "rolled_back"
    assert (finished["task_id"], finished["plan_id"], finished["run_id"]) == (plan.task_id, plan.id, run.id)
    assert finished["context"]["environment"] == "staging"
    assert finished["context"]["decided_by"] == "U0APPROVER1"
    assert finished["context"]["phase"] == {"index": 2, "name": failed_phase}
    assert plan.payload.phases[0].assets[0] in finished["context"]["reverted_assets"]
    assert finished["text"] == body.split("\n-- \n")[0]  # email and webhook say the same thing

    entries = await service.store.audit_trail(plan.task_id)
    assert not [e for e in entries if e.event == "notification.failed"]


async def test_a_completed_run_sends_no_email_by_default_but_every_webhook(
    service: OpsPilot, smtp_server, webhook_receiver
) -> None:
    plan, run = await _run(service)
    assert run.state == "completed"
    assert smtp_server.mails == []
    hooks = _hooks(webhook_receiver)
    [finished] = [h for h in hooks if h["topic"] == "task.completed"]
    assert finished["state"] == "completed" and finished["severity"] == "info"
    phases = len(plan.payload.phases)
    assert [h["topic"] for h in hooks].count("run.phase.completed") == phases


async def test_a_receiver_that_refuses_is_audited_and_the_run_is_unaffected(service: OpsPilot, webhook_receiver) -> None:
    webhook_receiver.answers = [(403, {})] * 100
    plan, run = await _run(service)
    assert run.state == "completed"
    entries = await service.store.audit_trail(plan.task_id)
    failures = [e for e in entries if e.event == "notification.failed"]
    assert failures
    on_run = [e for e in failures if e.entity_id == run.id]
    assert {e.details["topic"] for e in on_run} >= {"task.started", "task.completed"}
    assert all(e.details["notifier"] == "webhook" and "HTTP 403" in e.details["error"] for e in failures)
    assert {e.entity_type for e in failures} <= {"run", "plan", "task"}
    assert (await replay(service.store, plan.task_id)).consistent  # notification entries change no state


async def test_approval_and_rejection_emails_when_asked_for(service: OpsPilot, smtp_server) -> None:
    [email] = [n for n in service.notifications.notifiers if n.name == "email"]
    email.on = frozenset({"approval_required", "rejected"})
    outcome = await service.submit(Ask.from_front(ASK, "U0REQUESTER", "C1"))
    await service.decide(outcome.plan.id, "U0APPROVER2", "rejected", reason="not during the freeze")
    assert await service.notifications.drain(20)

    subjects = sorted(m.message["Subject"].strip() for m in smtp_server.mails)  # folded headers unfold with a space
    assert len(subjects) == 2
    assert subjects[0].startswith("[OpsPilot] Approval needed (staging)")
    assert subjects[1].startswith("[OpsPilot] Plan rejected (staging)")
    [rejected] = [m for m in smtp_server.mails if "rejected" in m.message["Subject"]]
    body = rejected.message.get_content()
    assert "rejected by U0APPROVER2" in body and "not during the freeze" in body
