"""Notifications: email to on-call people and a signed JSON webhook, fed by the domain events.

    EventBus → NotificationHub → build_notice(event) → Notice → EmailNotifier | WebhookNotifier

``attach_notifiers(config, bus, store)`` wires what ``notifications`` in the config enables.
"""

from core.notify.base import NotificationError, Notifier
from core.notify.email import EmailNotifier
from core.notify.hub import NotificationHub, attach_notifiers, build_notifiers
from core.notify.notice import Notice, build_notice
from core.notify.webhook import WebhookNotifier, signature, verify_signature

__all__ = [
    "EmailNotifier",
    "Notice",
    "NotificationError",
    "NotificationHub",
    "Notifier",
    "WebhookNotifier",
    "attach_notifiers",
    "build_notice",
    "build_notifiers",
    "signature",
    "verify_signature",
]
