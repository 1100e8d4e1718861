"""Email to on-call people over SMTP (aiosmtplib), for the outcomes listed in ``notifications.email.on``."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr

import aiosmtplib

from core.notify.base import NotificationError, Notifier
from core.notify.notice import Notice
from core.notify.settings import EMAIL_TRIGGER_TOPICS

logger = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]


class EmailNotifier(Notifier):
    name = "email"

    def __init__(
        self,
        *,
        smtp_host: str,
        smtp_port: int,
        from_address: str,
        to: Sequence[str],
        on: Sequence[str],
        starttls: bool = True,
        username: str | None = None,
        password: str | None = None,
        timeout_seconds: float = 30.0,
        max_attempts: int = 3,
        backoff_seconds: float = 2.0,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.smtp_host = smtp_host
        self.smtp_port = smtp_port
        self.from_address = from_address
        self.to = list(to)
        self.on = frozenset(on)
        self.starttls = starttls
        self.username = username
        self._password = password
        self.timeout_seconds = timeout_seconds
        self.max_attempts = max_attempts
        self.backoff_seconds = backoff_seconds
        self._sleep = sleep

    def __repr__(self) -> str:
        return f"EmailNotifier({self.smtp_host}:{self.smtp_port}, to={len(self.to)} recipient(s))"

    @property
    def topics(self) -> frozenset[str]:
        return frozenset(EMAIL_TRIGGER_TOPICS[k] for k in self.on if k in EMAIL_TRIGGER_TOPICS)

    def wants(self, notice: Notice) -> bool:
        return notice.kind in self.on

    def message(self, notice: Notice) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self.from_address
        message["To"] = ", ".join(self.to)
        message["Subject"] = notice.subject
        message["Date"] = format_datetime(notice.at)
        message["Message-ID"] = make_msgid(domain="opspilot.local")
        message["X-OpsPilot-Event"] = notice.topic
        message["X-OpsPilot-Severity"] = notice.severity
        for key in ("task_id", "plan_id", "run_id"):
            value = getattr(notice, key)
            if value:
                message[f"X-OpsPilot-{key.removesuffix('_id').capitalize()}"] = value
        if notice.severity in ("error", "critical"):
            message["X-Priority"] = "1"
        footer = f"\n-- \nSent by OpsPilot because notifications.email.on includes {notice.kind}.\n"
        message.set_content(notice.text + footer)
        return message

    async def notify(self, notice: Notice) -> None:
        message = self.message(notice)
        for attempt in range(1, self.max_attempts + 1):
            try:
                await aiosmtplib.send(
                    message,
                    hostname=self.smtp_host,
                    port=self.smtp_port,
                    sender=_bare(self.from_address),
                    recipients=[_bare(a) for a in self.to],
                    start_tls=self.starttls,
                    username=self.username,
                    password=self._password if self.username else None,
                    timeout=self.timeout_seconds,
                )
            except aiosmtplib.SMTPException as exc:
                transient = _transient(exc)
                if not transient or attempt == self.max_attempts:
                    raise NotificationError(
                        f"email to {len(self.to)} recipient(s) via {self.smtp_host}:{self.smtp_port} failed after "
                        f"{attempt} attempt(s): {_describe(exc)}",
                        attempts=attempt,
                    ) from exc
                delay = self.backoff_seconds * 2 ** (attempt - 1)
                logger.warning(
                    "email for %s failed (attempt %d/%d, retrying in %.1fs): %s",
                    notice.topic,
                    attempt,
                    self.max_attempts,
                    delay,
                    _describe(exc),
                )
                await self._sleep(delay)
            else:
                logger.info("emailed %s (%s) to %d recipient(s)", notice.kind, notice.topic, len(self.to))
                return


def _bare(address: str) -> str:
    return parseaddr(address)[1] or address


def _transient(exc: aiosmtplib.SMTPException) -> bool:
    """Connection trouble and 4xx replies may pass; bad credentials, refused addresses and 5xx will not."""
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError | aiosmtplib.SMTPNotSupported):
        return False
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        return all(400 <= r.code < 500 for r in exc.recipients)
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return 400 <= exc.code < 500
    return isinstance(exc, aiosmtplib.SMTPConnectError | aiosmtplib.SMTPServerDisconnected | aiosmtplib.SMTPTimeoutError)


def _describe(exc: aiosmtplib.SMTPException) -> str:
    return f"{type(exc).__name__}: {exc}"
