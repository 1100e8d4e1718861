"""Which events notifiers may ask for, and the checks ``notifications`` config must pass at load time.

The checks raise ``ValueError``; pydantic reports them under the section's path and
``load_config`` turns that into a ``ConfigError`` that names the key.
"""

from __future__ import annotations

from email.utils import parseaddr
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from core.events import (
    Event,
    PhaseCompleted,
    PhaseStarted,
    PlanDecided,
    PlanProposed,
    RunFinished,
    RunStarted,
    TaskCreated,
)

if TYPE_CHECKING:
    from core.config import EmailNotificationsConfig, WebhookNotificationsConfig

#: The events notifiers hear about: every task, plan and run transition, in the order they happen.
NOTIFIED_EVENTS: tuple[type[Event], ...] = (
    TaskCreated,
    PlanProposed,
    PlanDecided,
    RunStarted,
    PhaseStarted,
    PhaseCompleted,
    RunFinished,
)
WEBHOOK_TOPICS: tuple[str, ...] = tuple(e.topic for e in NOTIFIED_EVENTS)

#: What ``notifications.email.on`` may list: how a run ended, or a plan that needs or lost a human.
EMAIL_TRIGGERS: tuple[str, ...] = ("rolled_back", "failed", "completed", "approval_required", "rejected")
DEFAULT_EMAIL_TRIGGERS: tuple[str, ...] = ("rolled_back", "failed")
#: The topic whose events can produce each email trigger.
EMAIL_TRIGGER_TOPICS: dict[str, str] = {
    "rolled_back": RunFinished.topic,
    "failed": RunFinished.topic,
    "completed": RunFinished.topic,
    "approval_required": PlanProposed.topic,
    "rejected": PlanDecided.topic,
}


_SECRET_KEYS = {
    "password": "SMTP_PASSWORD",
    "smtp_password": "SMTP_PASSWORD",
    "secret": "OPSPILOT_WEBHOOK_SECRET",
    "webhook_secret": "OPSPILOT_WEBHOOK_SECRET",
}


def _refuse_secrets(section: str, data: dict[object, Any], keys: tuple[str, ...]) -> None:
    for key in keys:
        if key in data:
            raise ValueError(
                f"notifications.{section}.{key} does not belong in the config file; "
                f"set the {_SECRET_KEYS[key]} environment variable instead"
            )


def email_section_from_file(data: object) -> object:
    """YAML 1.1 reads a bare ``on:`` key as the boolean true; take it as ``on``. Passwords stay out of files."""
    if not isinstance(data, dict):
        return data
    _refuse_secrets("email", data, ("password", "smtp_password"))
    if True in data and "on" not in data:
        data = {("on" if k is True else k): v for k, v in data.items()}
    return data


def webhook_section_from_file(data: object) -> object:
    if isinstance(data, dict):
        _refuse_secrets("webhook", data, ("secret", "webhook_secret"))
    return data


def _is_address(text: str) -> bool:
    _, address = parseaddr(text)
    local, at, domain = address.partition("@")
    return bool(local and at and domain) and " " not in address


def check_email_settings(section: EmailNotificationsConfig) -> None:
    if not section.enabled:
        return
    missing = [k for k in ("smtp_host", "from_address") if not (getattr(section, k) or "").strip()]
    if not section.to:
        missing.append("to")
    if missing:
        raise ValueError(
            f"email notifications are enabled but {', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set "
            "(set notifications.email.smtp_host, from_address and a non-empty to list, or enabled: false)"
        )
    bad = [a for a in [section.from_address or "", *section.to] if not _is_address(a)]
    if bad:
        raise ValueError(f"not an email address: {', '.join(repr(a) for a in bad)}")
    if not section.on:
        raise ValueError(f"notifications.email.on is empty; list some of {', '.join(EMAIL_TRIGGERS)} or set enabled: false")


def check_webhook_settings(section: WebhookNotificationsConfig) -> None:
    if section.events is not None:
        unknown = [t for t in section.events if t not in WEBHOOK_TOPICS]
        if unknown:
            raise ValueError(f"unknown webhook event(s) {', '.join(unknown)}; known: {', '.join(WEBHOOK_TOPICS)}")
    if not section.enabled:
        return
    if not (section.url or "").strip():
        raise ValueError("webhook notifications are enabled but url is not set (set notifications.webhook.url or enabled: false)")
    parts = urlsplit(section.url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"notifications.webhook.url must be an http(s) URL, got {section.url!r}")
    if section.events is not None and not section.events:
        raise ValueError("notifications.webhook.events is empty; leave it out to send every event, or set enabled: false")
