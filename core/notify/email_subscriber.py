"""Email to people (aiosmtplib), as an outbox subscriber: one plain-text mail per event the routing picks.

TLS: ``none`` (plain SMTP), ``starttls`` (required: no STARTTLS offered, no mail) or ``implicit`` (TLS from the
first byte, usually port 465). Login when ``username`` is set, with the password from ``password_env``.

One SMTP conversation per ``deliver``. A server that refuses some recipients gets the mail sent to the others;
the result says who was refused (``{"refused": {address: "550 why"}}``) and each refusal is audited as
``notification.refused`` on the run, else the plan, else the task. Every recipient refused for good (5xx):
``DeliveryRejected``. Connection trouble, timeouts and 4xx replies: ``DeliveryFailed`` (retried).
The ``Message-ID`` derives from the event id, so a mail sent again after a crash threads with the first.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import TYPE_CHECKING, Any

import aiosmtplib

from core.errors import DeliveryFailed, DeliveryRejected, OpsPilotError
from core.notify.notice import notice_for
from core.notify.routing import Router
from core.outbox.base import Delivery, Subscriber
from core.outbox.envelope import CloudEvent

if TYPE_CHECKING:
    from core.store import Store

logger = logging.getLogger(__name__)

ACTOR = "opspilot"
TLS_MODES = ("none", "starttls", "implicit")


class EmailSubscriber(Subscriber):
    name = "email"

    def __init__(
        self,
        *,
        host: str,
        port: int,
        sender: str,
        router: Router,
        tls: str = "starttls",
        username: str | None = None,
        password: str | None = None,
        timeout: float = 30.0,
        store: Store | None = None,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        if tls not in TLS_MODES:
            raise ValueError(f"email tls is one of {', '.join(TLS_MODES)}, not {tls!r}")
        self.host = host
        self.port = port
        self.sender = sender
        self.router = router
        self.tls = tls
        self.username = username
        self._password = password
        self.timeout = timeout
        self.store = store
        self.tls_context = tls_context

    def __repr__(self) -> str:
        return f"EmailSubscriber({self.host}:{self.port}, tls={self.tls}, login={self.username is not None})"

    def wants(self, event: CloudEvent) -> bool:
        return bool(self.router.email_recipients(event))

    async def message(self, event: CloudEvent, recipients: Sequence[str]) -> EmailMessage:
        notice = await notice_for(event, self.store)
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = ", ".join(recipients)
        message["Subject"] = notice.subject
        message["Date"] = format_datetime(event.time)
        message["Message-ID"] = f"<{event.id}@opspilot>"
        message["X-OpsPilot-Event"] = event.type
        message["X-OpsPilot-Event-Id"] = event.id
        message["X-OpsPilot-Severity"] = event.severity
        if event.environment:
            message["X-OpsPilot-Environment"] = event.environment
        for key in ("task_id", "plan_id", "run_id"):
            value = event.data.get(key)
            if value:
                message[f"X-OpsPilot-{key.removesuffix('_id').capitalize()}"] = str(value)
        if event.severity == "critical":
            message["X-Priority"] = "1"
        footer = f"\n-- \nSent by OpsPilot because {self.router.email_reason(event)}.\n"
        message.set_content(notice.text + footer)
        return message

    async def deliver(self, delivery: Delivery) -> dict[str, Any] | None:
        event = delivery.event
        recipients = self.router.email_recipients(event)
        if not recipients:
            return {"skipped": "no recipient matches any more"}
        message = await self.message(event, recipients)
        try:
            refused_replies = await self._send(message, recipients)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            refused = {r.recipient: f"{r.code} {r.message}".strip() for r in exc.recipients}
            if any(400 <= r.code < 500 for r in exc.recipients):
                raise DeliveryFailed(f"email {event.type}: every recipient refused, some for now: {_listed(refused)}") from exc
            await self._audit_refused(event, refused)
            raise DeliveryRejected(f"email {event.type}: every recipient refused: {_listed(refused)}") from exc
        except aiosmtplib.SMTPResponseException as exc:
            problem = f"email {event.type} via {self.host}:{self.port}: {exc.code} {exc.message}"
            if 400 <= exc.code < 500:
                raise DeliveryFailed(problem) from exc
            raise DeliveryRejected(problem) from exc
        except aiosmtplib.SMTPNotSupported as exc:
            raise DeliveryRejected(f"email {event.type} via {self.host}:{self.port}: {exc}") from exc
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise DeliveryFailed(f"email {event.type} via {self.host}:{self.port}: {type(exc).__name__}: {exc}") from exc
        refused = {address: f"{reply.code} {reply.message}".strip() for address, reply in refused_replies.items()}
        logger.info(
            "emailed %s %s to %d of %d recipient(s)", event.type, event.id, len(recipients) - len(refused), len(recipients)
        )
        if refused:
            await self._audit_refused(event, refused)
            return {"sent": len(recipients) - len(refused), "refused": refused}
        return {"sent": len(recipients)}

    async def _send(self, message: EmailMessage, recipients: Sequence[str]) -> dict[str, aiosmtplib.SMTPResponse]:
        """One SMTP conversation; the replies of the recipients the server refused (the others got the mail)."""
        smtp = aiosmtplib.SMTP(
            hostname=self.host,
            port=self.port,
            use_tls=self.tls == "implicit",
            start_tls=False,  # below, so that a server without STARTTLS is told apart from one that is down
            tls_context=self.tls_context,
            timeout=self.timeout,
        )
        await smtp.connect()
        try:
            if self.tls == "starttls":
                await smtp.ehlo()
                if not smtp.supports_extension("starttls"):
                    raise DeliveryRejected(
                        f"{self.host}:{self.port} does not offer STARTTLS and notifications.email.tls is starttls; "
                        "nothing was sent (use tls: implicit for port 465, or none for a trusted relay)"
                    )
                await smtp.starttls()
            if self.username:
                await smtp.login(self.username, self._password or "")
            refused, _ = await smtp.send_message(message, sender=_bare(self.sender), recipients=[_bare(a) for a in recipients])
            return refused
        finally:
            await _quit(smtp)

    async def _audit_refused(self, event: CloudEvent, refused: dict[str, str]) -> None:
        """``notification.refused`` per refused recipient; the mail went out (or never will), so a failure here is
        logged, never raised: raising would send it again to those who got it."""
        logger.warning("email %s %s: recipients refused: %s", event.type, event.id, _listed(refused))
        entity = next(
            ((kind, event.data[f"{kind}_id"]) for kind in ("run", "plan", "task") if event.data.get(f"{kind}_id")), None
        )
        if self.store is None or entity is None:
            return
        for address, reply in refused.items():
            details = {"notifier": self.name, "event_id": event.id, "type": event.type, "recipient": address, "reply": reply}
            try:
                await self.store.append_audit(entity[0], str(entity[1]), "notification.refused", ACTOR, details)
            except OpsPilotError as exc:
                logger.warning("could not audit the refused recipient of %s on %s %s: %s", event.id, *entity, exc)
            except Exception:
                logger.exception("could not audit the refused recipient of %s on %s %s", event.id, *entity)


async def _quit(smtp: aiosmtplib.SMTP) -> None:
    """Say goodbye; the mail is sent (or not) already, so a server that hangs up first changes nothing."""
    if not smtp.is_connected:
        return
    try:
        await smtp.quit()
    except (aiosmtplib.SMTPException, OSError, TimeoutError):
        smtp.close()


def _bare(address: str) -> str:
    return parseaddr(address)[1] or address


def _listed(refused: dict[str, str]) -> str:
    return "; ".join(f"{address} ({reply})" for address, reply in refused.items())
