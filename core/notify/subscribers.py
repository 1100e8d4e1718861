"""``build_subscribers``: the outbox subscribers ``notifications`` and ``events`` in the config enable.

Every process builds the same list from the shared config (subscriber names are stable), whether or not it runs
the dispatcher: the writer decides per subscriber, when an event is written, whether a delivery row is needed.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from core.clock import SYSTEM_CLOCK, Clock
from core.config import Config
from core.errors import ConfigError
from core.notify.email_subscriber import EmailSubscriber
from core.notify.nats_subscriber import NatsSubscriber
from core.notify.routing import Router
from core.notify.webhook_subscriber import WebhookSubscriber
from core.outbox.base import Subscriber

if TYPE_CHECKING:
    from core.store import Store

logger = logging.getLogger(__name__)


def build_subscribers(config: Config, store: Store | None = None, *, clock: Clock = SYSTEM_CLOCK) -> list[Subscriber]:
    """Email, one per webhook entry, NATS, as configured. Raises ConfigError for a login without its password."""
    section = config.notifications
    subscribers: list[Subscriber] = []
    email = section.email
    if email.enabled:
        password = config.secret(email.password_env)
        if email.username and not password:
            raise ConfigError(
                f"notifications.email.username is set but {email.password_env} is not; set it in the environment "
                "(notifications.email.password_env names the variable)"
            )
        subscribers.append(
            EmailSubscriber(
                host=email.host or "",
                port=email.smtp_port,
                sender=email.from_ or "",
                router=Router(section.routes, email.to, email.on),
                tls=email.tls,
                username=email.username,
                password=password,
                timeout=email.timeout,
                store=store,
            )
        )
    webhook_router = Router(section.routes)
    for entry in section.webhooks:
        secret = config.secret(entry.secret_env)
        if secret is None:
            logger.warning("%s is not set; webhook requests will not be signed", entry.secret_env)
        subscribers.append(
            WebhookSubscriber(
                url=entry.url,
                secret=secret,
                format=entry.format,
                events=entry.events,
                timeout=entry.timeout,
                router=webhook_router,
                store=store,
                clock=clock,
            )
        )
    nats = config.events.nats
    if nats.url:
        subscribers.append(NatsSubscriber(url=nats.url, stream=nats.stream, subject_prefix=nats.subject_prefix))
    if subscribers:
        logger.info("event subscribers: %s", ", ".join(repr(s) for s in subscribers))
    return subscribers
