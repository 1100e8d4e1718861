"""EmailSubscriber against a real aiosmtpd server: plain, STARTTLS and implicit TLS (with a certificate made
here), login, a recipient refused with 550, and what each failure becomes (retried or dead-lettered)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from core.config import NotificationRouteConfig
from core.errors import DeliveryFailed, DeliveryRejected
from core.notify import EmailSubscriber
from core.notify.routing import Router
from core.service import OpsPilot

from . import samples
from .conftest import free_port
from .servers import SMTP_PASSWORD, SMTP_USER, Certificate, SmtpRecorder, self_signed, smtp_server

ONCALL = ["oncall@example.com", "sre-lead@example.com"]
SENDER = "OpsPilot <opspilot@example.com>"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    return self_signed(Path(tmp_path_factory.mktemp("tls")))


@pytest.fixture
def plain() -> Iterator[SmtpRecorder]:
    with smtp_server("none") as server:
        yield server


def mailer(server: SmtpRecorder, *, to: list[str] | None = None, **kwargs) -> EmailSubscriber:
    kwargs.setdefault("tls", "none")
    kwargs.setdefault("timeout", 5)
    router = kwargs.pop("router", None) or Router((), to or ONCALL, ["rolled_back", "failed"])
    return EmailSubscriber(host=server.host, port=server.port, sender=SENDER, router=router, **kwargs)


async def test_a_rollback_is_mailed_with_its_subject_headers_and_body(plain: SmtpRecorder) -> None:
    event = samples.finished("rolled_back")
    result = await mailer(plain).deliver(samples.first(event))

    assert result == {"sent": 2}
    [mail] = plain.mails
    assert mail.sender == "opspilot@example.com" and mail.recipients == ONCALL
    message = mail.message
    assert message["Subject"].startswith("[OpsPilot] Run ROLLED BACK")
    assert message["Message-ID"] == f"<{event.id}@opspilot>"
    assert message["X-OpsPilot-Event"] == "run.rolled_back" and message["X-OpsPilot-Event-Id"] == event.id
    assert message["X-OpsPilot-Severity"] == "critical" and message["X-Priority"] == "1"
    assert message["X-OpsPilot-Environment"] == "production"
    assert (message["X-OpsPilot-Task"], message["X-OpsPilot-Run"]) == ("task-1", "run-1")
    body = message.get_content()
    assert body.startswith("Run ROLLED BACK.") and "Wave 1: rollback_if error_rate 9 > 5" in body
    assert "opspilot audit task-1" in body
    assert "because notifications.email.on includes rolled_back" in body


async def test_starttls_encrypts_before_logging_in(certificate: Certificate) -> None:
    with smtp_server("starttls", certificate) as server:
        email = mailer(
            server, tls="starttls", username=SMTP_USER, password=SMTP_PASSWORD, tls_context=certificate.client_context()
        )
        assert await email.deliver(samples.first(samples.finished("failed"))) == {"sent": 2}
    [mail] = server.mails
    assert mail.tls and server.logins == [(SMTP_USER, SMTP_PASSWORD)]


async def test_starttls_against_an_untrusted_certificate_sends_nothing(certificate: Certificate) -> None:
    with smtp_server("starttls", certificate) as server, pytest.raises(DeliveryFailed, match=r"certificate|SSL|TLS"):
        await mailer(server, tls="starttls").deliver(samples.first(samples.finished()))
    assert server.mails == []


async def test_starttls_required_but_not_offered_is_dead_lettered(plain: SmtpRecorder) -> None:
    with pytest.raises(DeliveryRejected, match="does not offer STARTTLS"):
        await mailer(plain, tls="starttls").deliver(samples.first(samples.finished()))
    assert plain.mails == []


async def test_implicit_tls_speaks_tls_from_the_first_byte(certificate: Certificate) -> None:
    with smtp_server("implicit", certificate) as server:
        email = mailer(
            server, tls="implicit", username=SMTP_USER, password=SMTP_PASSWORD, tls_context=certificate.client_context()
        )
        assert await email.deliver(samples.first(samples.finished())) == {"sent": 2}
        # plain SMTP to the same port gets nowhere
        with pytest.raises(DeliveryFailed):
            await mailer(server, tls="none", timeout=1).deliver(samples.first(samples.finished()))
    [mail] = server.mails
    assert mail.tls and server.logins == [(SMTP_USER, SMTP_PASSWORD)]


async def test_a_wrong_password_is_dead_lettered(plain: SmtpRecorder) -> None:
    with pytest.raises(DeliveryRejected, match="535"):
        await mailer(plain, username=SMTP_USER, password="wrong").deliver(samples.first(samples.finished()))
    assert plain.mails == []


async def test_a_refused_recipient_is_recorded_and_the_others_get_the_mail(plain: SmtpRecorder, service: OpsPilot) -> None:
    plain.refuse = {"gone@example.com": "550 5.1.1 no such user"}
    email = mailer(plain, to=["oncall@example.com", "gone@example.com", "sre-lead@example.com"], store=service.store)
    event = samples.finished("rolled_back")

    result = await email.deliver(samples.first(event))

    assert result == {"sent": 2, "refused": {"gone@example.com": "550 5.1.1 no such user"}}
    [mail] = plain.mails
    assert mail.recipients == ["oncall@example.com", "sre-lead@example.com"]
    [entry] = [e for e in await service.store.audit_entries(["run-1"]) if e.event == "notification.refused"]
    assert (entry.entity_type, entry.entity_id, entry.actor) == ("run", "run-1", "opspilot")
    assert entry.details["recipient"] == "gone@example.com" and entry.details["reply"].startswith("550")
    assert entry.details["event_id"] == event.id and entry.details["notifier"] == "email"


async def test_every_recipient_refused_for_good_is_dead_lettered_and_audited(plain: SmtpRecorder, service: OpsPilot) -> None:
    plain.refuse = dict.fromkeys(ONCALL, "550 5.1.1 no such user")
    email = mailer(plain, store=service.store)
    with pytest.raises(DeliveryRejected, match="every recipient refused"):
        await email.deliver(samples.first(samples.finished()))
    refused = [e for e in await service.store.audit_entries(["run-1"]) if e.event == "notification.refused"]
    assert sorted(e.details["recipient"] for e in refused) == sorted(ONCALL)


async def test_every_recipient_refused_for_now_is_retried(plain: SmtpRecorder) -> None:
    plain.refuse = {ONCALL[0]: "450 4.2.1 mailbox busy", ONCALL[1]: "550 5.1.1 no such user"}
    with pytest.raises(DeliveryFailed, match="for now"):
        await mailer(plain).deliver(samples.first(samples.finished()))


@pytest.mark.parametrize("answer, error", [("451 4.3.0 try again later", DeliveryFailed), ("554 5.6.0 no", DeliveryRejected)])
async def test_a_data_reply_is_retried_when_temporary_and_dead_lettered_when_permanent(
    plain: SmtpRecorder, answer: str, error: type[Exception]
) -> None:
    plain.answers = [answer]
    with pytest.raises(error, match=answer[:3]):
        await mailer(plain).deliver(samples.first(samples.finished()))
    assert plain.mails == []


async def test_a_server_that_is_down_is_retried() -> None:
    down = SmtpRecorder(port=free_port())
    with pytest.raises(DeliveryFailed, match=f"127.0.0.1:{down.port}"):
        await mailer(down, timeout=2).deliver(samples.first(samples.finished()))


async def test_routes_pick_the_recipients_by_type_environment_and_severity(plain: SmtpRecorder) -> None:
    routes = [
        NotificationRouteConfig(
            events=["task.failed", "run.rolled_back"], environments=["production"], email=True, to=["prod@example.com"]
        ),
        NotificationRouteConfig(severities=["critical"], email=True),  # to: notifications.email.to
        NotificationRouteConfig(events=["run.paused"], email=True, to=["prod@example.com"]),
    ]
    email = mailer(plain, router=Router(routes, ["ops-team@example.com"], ["completed"]))
    assert email.wants(samples.finished("rolled_back", "production"))
    assert email.wants(samples.paused())
    assert not email.wants(samples.phase_started())
    assert not email.wants(samples.finished("completed"))  # `on` is not read once routes exist

    await email.deliver(samples.first(samples.finished("rolled_back", "production")))
    await email.deliver(samples.first(samples.finished("failed", "staging")))
    production, staging = plain.mails
    assert production.recipients == ["prod@example.com", "ops-team@example.com"]
    assert staging.recipients == ["ops-team@example.com"]
    assert "notifications.routes entry 1, 2 matched (run.rolled_back, critical)" in production.message.get_content()


async def test_every_public_type_reads_as_a_mail(plain: SmtpRecorder) -> None:
    router = Router((), ONCALL, ["task.planned", "task.failed", "run.paused", "audit.appended", "approval_required"])
    email = mailer(plain, router=router)
    events = [
        samples.planned(),
        samples.planning_failed(),
        samples.paused(),
        samples.audit_appended("plan.approved"),
        samples.approval_required(),
    ]
    for event in events:
        await email.deliver(samples.first(event))
    subjects = [m.message["Subject"] for m in plain.mails]
    assert subjects[0].startswith("[OpsPilot] Plan ready")
    assert subjects[1].startswith("[OpsPilot] Planning FAILED") and "no valid plan" in plain.mails[1].message.get_content()
    assert subjects[2].startswith("[OpsPilot] Run paused")
    assert subjects[3].startswith("[OpsPilot] Audit appended")
    assert subjects[4].startswith("[OpsPilot] Approval needed")


def test_a_refusal_audit_and_front_only_events_are_never_mailed() -> None:
    router = Router((), ONCALL, ["audit.appended", "failed"])
    assert router.email_recipients(samples.audit_appended("plan.approved")) == ONCALL
    assert router.email_recipients(samples.audit_appended("notification.refused")) == []
    assert Router((), ONCALL, ["rolled_back"]).email_recipients(samples.ask_answered()) == []
