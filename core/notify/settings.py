"""What ``notifications`` and ``events`` in the config may say, and the checks they pass at load time.

Today's keys keep working: ``smtp_host``, ``smtp_port``, ``from_address``, ``starttls: true|false`` and
``timeout_seconds`` under ``email`` are read as ``host``, ``port``, ``from``, ``tls`` and ``timeout``; a single
``webhook:`` section becomes one entry of ``webhooks`` (``format: legacy``, so its receiver gets the body it
always got). The per-notifier ``max_attempts`` / ``backoff_seconds`` are read and ignored: every delivery follows
``notifications.retry``.

The checks raise ``ValueError``; pydantic reports them under the section's path and ``load_config`` turns that
into a ``ConfigError`` that names the key.
"""

from __future__ import annotations

import logging
import re
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
from core.outbox.envelope import INTERNAL_TOPICS, TOPICS

if TYPE_CHECKING:
    from core.config import (
        EmailNotificationsConfig,
        NatsConfig,
        NotificationRouteConfig,
        NotificationsConfig,
        WebhookConfig,
    )

logger = logging.getLogger(__name__)

#: The events today's webhook body (``format: legacy``) describes, in the order they happen.
NOTIFIED_EVENTS: tuple[type[Event], ...] = (
    TaskCreated,
    PlanProposed,
    PlanDecided,
    RunStarted,
    PhaseStarted,
    PhaseCompleted,
    RunFinished,
)
#: Their topics as today's webhook named them (every run ending is ``task.completed`` there).
WEBHOOK_TOPICS: tuple[str, ...] = tuple(e.topic for e in NOTIFIED_EVENTS)

#: What ``notifications.email.on`` may list besides event types: how a run ended, or a plan that needs or lost a human.
EMAIL_TRIGGERS: tuple[str, ...] = ("rolled_back", "failed", "completed", "approval_required", "rejected")
DEFAULT_EMAIL_TRIGGERS: tuple[str, ...] = ("rolled_back", "failed")
#: The event type each trigger means (``rejected``: a ``plan.decided`` whose decision is rejected).
EMAIL_TRIGGER_TYPES: dict[str, str] = {
    "rolled_back": "run.rolled_back",
    "failed": "task.failed",
    "completed": "task.completed",
    "approval_required": "task.approval.required",
    "rejected": "plan.decided",
}
#: Today's topic per trigger (the old hub still listens by topic).
EMAIL_TRIGGER_TOPICS: dict[str, str] = {
    "rolled_back": RunFinished.topic,
    "failed": RunFinished.topic,
    "completed": RunFinished.topic,
    "approval_required": PlanProposed.topic,
    "rejected": PlanDecided.topic,
}

_SECRET_KEYS = {
    "password": "password_env",
    "smtp_password": "password_env",
    "secret": "secret_env",
    "webhook_secret": "secret_env",
}
_EMAIL_ALIASES = {"smtp_host": "host", "smtp_port": "port", "from_address": "from", "timeout_seconds": "timeout"}
_WEBHOOK_ALIASES = {"timeout_seconds": "timeout"}
_IGNORED = ("max_attempts", "backoff_seconds")  # per-notifier retries: notifications.retry now
_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
_TOKEN = re.compile(r"^[A-Za-z0-9_-]+$")


def _refuse_secrets(section: str, data: dict[object, Any], keys: tuple[str, ...]) -> None:
    for key in keys:
        if key in data:
            raise ValueError(
                f"{section}.{key} does not belong in the config file; put it in an environment variable and name "
                f"that variable in {section}.{_SECRET_KEYS[key]}"
            )


def _renamed(section: str, data: dict[object, Any], aliases: dict[str, str]) -> dict[object, Any]:
    data = dict(data)
    for old, new in aliases.items():
        if old not in data:
            continue
        if new in data:
            raise ValueError(f"{section} sets both {old} and {new}; {old} is the old name of {new}, keep one")
        data[new] = data.pop(old)
    for key in _IGNORED:
        if key in data:
            logger.warning("%s.%s is no longer read: every delivery is retried per notifications.retry", section, key)
            data.pop(key)
    return data


def email_section_from_file(data: object) -> object:
    """Aliases to today's keys; YAML 1.1 reads a bare ``on:`` key as true, taken back as ``on``; no passwords."""
    if not isinstance(data, dict):
        return data
    _refuse_secrets("notifications.email", data, ("password", "smtp_password"))
    if True in data and "on" not in data:
        data = {("on" if k is True else k): v for k, v in data.items()}
    data = _renamed("notifications.email", data, _EMAIL_ALIASES)
    if "starttls" in data:
        if "tls" in data:
            raise ValueError("notifications.email sets both starttls and tls; starttls is the old name, keep tls")
        starttls = data.pop("starttls")
        if not isinstance(starttls, bool):
            raise ValueError(
                f"notifications.email.starttls is true or false (or use tls: none|starttls|implicit), got {starttls!r}"
            )
        data["tls"] = "starttls" if starttls else "none"
    return data


def webhook_entry_from_file(data: object) -> object:
    if not isinstance(data, dict):
        return data
    _refuse_secrets("notifications.webhooks", data, ("secret", "webhook_secret"))
    return _renamed("notifications.webhooks", data, _WEBHOOK_ALIASES)


def notifications_from_file(data: object) -> object:
    """Today's single ``webhook:`` section becomes one entry of ``webhooks`` when enabled (``format: legacy``
    unless it says otherwise); a disabled one is dropped."""
    if not isinstance(data, dict) or "webhook" not in data:
        return data
    data = dict(data)
    old = data.pop("webhook")
    if old is None:
        return data
    if not isinstance(old, dict):
        raise ValueError("notifications.webhook is a section (enabled, url, events, ...); or use the webhooks list")
    _refuse_secrets("notifications.webhook", old, ("secret", "webhook_secret"))
    old = _renamed("notifications.webhook", old, _WEBHOOK_ALIASES)
    enabled = old.pop("enabled", False)
    if not isinstance(enabled, bool):
        raise ValueError(f"notifications.webhook.enabled is true or false, got {enabled!r}")
    if not enabled:
        return data
    if not (old.get("url") or "").strip():
        raise ValueError("webhook notifications are enabled but url is not set (set notifications.webhook.url or enabled: false)")
    old.setdefault("format", "legacy")
    webhooks = data.get("webhooks") or []
    if not isinstance(webhooks, list):
        return data  # the list's own validation says what is wrong
    data["webhooks"] = [old, *webhooks]
    return data


def is_address(text: str) -> bool:
    _, address = parseaddr(text)
    local, at, domain = address.partition("@")
    return bool(local and at and domain) and " " not in address


def _check_addresses(addresses: list[str]) -> None:
    bad = [a for a in addresses if not is_address(a)]
    if bad:
        raise ValueError(f"not an email address: {', '.join(repr(a) for a in bad)}")


def _check_types(where: str, types: list[str]) -> None:
    unknown = [t for t in types if t not in TOPICS]
    if unknown:
        internal = [t for t in unknown if t in INTERNAL_TOPICS]
        hint = f" ({', '.join(internal)} is for fronts only)" if internal else ""
        raise ValueError(f"unknown event type(s) in {where}: {', '.join(unknown)}{hint}; known: {', '.join(TOPICS)}")


def _check_env_name(where: str, name: str) -> None:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise ValueError(f"{where} names an environment variable, such as SMTP_PASSWORD; got {name!r}")


def check_email_settings(section: EmailNotificationsConfig) -> None:
    _check_env_name("notifications.email.password_env", section.password_env)
    unknown = [t for t in section.on if t not in EMAIL_TRIGGERS and t not in TOPICS]
    if unknown:
        raise ValueError(
            f"notifications.email.on: unknown {', '.join(repr(t) for t in unknown)}; list some of "
            f"{', '.join(EMAIL_TRIGGERS)} or event types such as run.paused"
        )
    if not section.enabled:
        return
    missing = [k for k in ("host", "from_") if not (getattr(section, k) or "").strip()]
    if missing:
        names = ["from" if k == "from_" else k for k in missing]
        raise ValueError(
            f"email notifications are enabled but {' and '.join(names)} {'is' if len(names) == 1 else 'are'} not set "
            "(set notifications.email.host, from and to, or enabled: false)"
        )
    _check_addresses([section.from_ or "", *section.to])


def check_webhook_entry(entry: WebhookConfig) -> None:
    parts = urlsplit(entry.url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"notifications.webhooks: url must be an http(s) URL, got {safe_url(entry.url)!r}")
    _check_env_name("notifications.webhooks.secret_env", entry.secret_env)
    if entry.events is not None:
        if not entry.events:
            raise ValueError("notifications.webhooks: events is empty; leave it out to send every event")
        _check_types("notifications.webhooks.events", entry.events)


def check_route(route: NotificationRouteConfig) -> None:
    _check_types("notifications.routes.events", route.events)
    _check_addresses(route.to)
    if not route.email and not route.webhooks:
        raise ValueError("a notifications.routes entry sends nothing: set email: true, webhooks: true or both")
    if route.to and not route.email:
        raise ValueError(f"a notifications.routes entry lists to: {route.to} but not email: true")


def check_notifications(section: NotificationsConfig) -> None:
    email = section.email
    if email.enabled and not email.to:
        emailing = [r for r in section.routes if r.email]
        if not emailing or any(not r.to for r in emailing):
            raise ValueError(
                "email notifications are enabled but to is not set (set notifications.email.to, or a to on every "
                "route with email: true, or enabled: false)"
            )
    if email.enabled and email.on == [] and not section.routes:
        raise ValueError(f"notifications.email.on is empty; list some of {', '.join(EMAIL_TRIGGERS)} or set enabled: false")
    urls = [hook.url for hook in section.webhooks]
    repeated = sorted({safe_url(u) for u in urls if urls.count(u) > 1})
    if repeated:
        raise ValueError(f"notifications.webhooks lists {', '.join(repeated)} more than once")


def check_nats(section: NatsConfig) -> None:
    if section.url is not None:
        schemes = [urlsplit(u.strip()).scheme for u in section.url.split(",")]
        if not all(s in ("nats", "tls", "ws", "wss") for s in schemes):
            raise ValueError(f"events.nats.url must be a nats:// (or tls://, ws://, wss://) URL, got {safe_url(section.url)!r}")
    if not _NAME.match(section.stream):
        raise ValueError(f"events.nats.stream is a JetStream stream name (letters, digits, - and _), got {section.stream!r}")
    tokens = section.subject_prefix.split(".")
    if not all(_TOKEN.match(t) for t in tokens):
        raise ValueError(
            f"events.nats.subject_prefix is one or more dot-separated tokens without wildcards, got {section.subject_prefix!r}"
        )


def safe_url(url: str) -> str:
    """The URL without credentials or path (either may hold a token), for messages and logs."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return f"{parts.scheme}://{host}" if parts.scheme else host or "?"
