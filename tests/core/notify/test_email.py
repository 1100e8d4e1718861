"""The email notifier against a real aiosmtpd server on loopback."""

from __future__ import annotations

import pytest

from core.notify import EmailNotifier, NotificationError

from .conftest import SMTP_PASSWORD, SMTP_USER


async def _no_sleep(_: float) -> None:
    return None


def _notifier(smtp_server, **kwargs) -> EmailNotifier:
    options = {
        "smtp_host": smtp_server.host,
        "smtp_port": smtp_server.port,
        "starttls": False,
        "from_address": "OpsPilot <opspilot@example.com>",
        "to": ["oncall@example.com", "Lead <lead@example.com>"],
        "on": ["rolled_back", "failed"],
        "timeout_seconds": 5,
        "max_attempts": 3,
        "sleep": _no_sleep,
        **kwargs,
    }
    return EmailNotifier(**options)


async def test_sends_a_plain_text_mail_to_every_recipient(smtp_server, rolled_back_notice) -> None:
    await _notifier(smtp_server).notify(rolled_back_notice)

    [mail] = smtp_server.mails
    assert mail.sender == "opspilot@example.com"
    assert mail.recipients == ["oncall@example.com", "lead@example.com"]
    message = mail.message
    assert message["Subject"] == rolled_back_notice.subject
    assert message["From"] == "OpsPilot <opspilot@example.com>"
    assert "oncall@example.com" in message["To"] and "lead@example.com" in message["To"]
    assert message["X-OpsPilot-Event"] == "task.completed"
    assert message["X-OpsPilot-Run"] == "run-1"
    assert message["X-Priority"] == "1"
    assert message.get_content_type() == "text/plain"
    body = message.get_content()
    assert "Wave 1: rollback_if error_rate 9 > 5" in body
    assert "4 changed, 4 reverted" in body
    assert "2m 5s" in body
    assert "Run id: run-1" in body and "opspilot audit task-1" in body
    assert "notifications.email.on includes rolled_back" in body


async def test_logs_in_with_the_configured_user_and_password(smtp_server, rolled_back_notice) -> None:
    await _notifier(smtp_server, username=SMTP_USER, password=SMTP_PASSWORD).notify(rolled_back_notice)
    assert smtp_server.logins == [(SMTP_USER, SMTP_PASSWORD)]
    assert len(smtp_server.mails) == 1


async def test_a_wrong_password_is_not_retried(smtp_server, rolled_back_notice) -> None:
    with pytest.raises(NotificationError, match="SMTPAuthenticationError") as caught:
        await _notifier(smtp_server, username=SMTP_USER, password="wrong").notify(rolled_back_notice)
    assert caught.value.attempts == 1
    assert "wrong" not in str(caught.value)
    assert smtp_server.mails == []


async def test_a_temporary_refusal_is_retried(smtp_server, rolled_back_notice) -> None:
    smtp_server.answers = ["451 4.3.0 try again later"]
    await _notifier(smtp_server).notify(rolled_back_notice)
    assert smtp_server.attempts == 2 and len(smtp_server.mails) == 1


async def test_a_permanent_refusal_is_not_retried(smtp_server, rolled_back_notice) -> None:
    smtp_server.answers = ["554 5.7.1 rejected"]
    with pytest.raises(NotificationError, match="554") as caught:
        await _notifier(smtp_server).notify(rolled_back_notice)
    assert caught.value.attempts == 1 and smtp_server.attempts == 1


async def test_starttls_required_but_not_offered_fails_clearly(smtp_server, rolled_back_notice) -> None:
    with pytest.raises(NotificationError, match=r"STARTTLS|TLS"):
        await _notifier(smtp_server, starttls=True).notify(rolled_back_notice)
    assert smtp_server.mails == []


async def test_wants_only_the_listed_outcomes(rolled_back_notice) -> None:
    notifier = EmailNotifier(smtp_host="h", smtp_port=25, from_address="a@b.c", to=["x@y.z"], on=["failed"])
    assert not notifier.wants(rolled_back_notice)
    assert notifier.topics == frozenset({"task.completed"})
    approvals = EmailNotifier(
        smtp_host="h", smtp_port=25, from_address="a@b.c", to=["x@y.z"], on=["approval_required", "rejected"]
    )
    assert approvals.topics == frozenset({"task.approval.required", "plan.decided"})
