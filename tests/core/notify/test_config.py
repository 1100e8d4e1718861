"""``notifications`` and ``events`` in the config file: the contract's shape, today's keys as aliases, secrets from
the environment variables the file names, clear errors at load time, and the subscribers they build."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from core.config import load_config
from core.errors import ConfigError
from core.notify import EmailSubscriber, NatsSubscriber, WebhookSubscriber, build_subscribers

CONTRACT = """
notifications:
  email: {enabled: true, host: 127.0.0.1, port: 1025, tls: starttls, username: null, password_env: SMTP_PASSWORD,
          from: "OpsPilot <opspilot@example.com>", to: [ops-team@example.com]}
  webhooks: [{url: "http://127.0.0.1:9000/hook", secret_env: OPSPILOT_WEBHOOK_SECRET, format: cloudevents}]
  routes: [{events: [task.failed, run.rolled_back], environments: [production], severities: [critical],
            email: true, to: [oncall@example.com], webhooks: true}]
  retry: {attempts: 8, max_backoff: 5m}
events:
  nats: {url: null, stream: OPSPILOT, subject_prefix: opspilot}
"""

TODAY = """
notifications:
  email:
    enabled: true
    smtp_host: smtp.example.com
    smtp_port: 2525
    starttls: false
    username: opspilot
    from_address: "OpsPilot <opspilot@example.com>"
    to: [oncall@example.com]
    on: [rolled_back, failed, approval_required]
    timeout_seconds: 5
    max_attempts: 3
  webhook:
    enabled: true
    url: https://hooks.example.com/opspilot
    events: [task.completed, plan.decided]
    timeout_seconds: 5
    max_attempts: 4
    backoff_seconds: 1
"""

ENV = {"SMTP_PASSWORD": "pw-from-env", "OPSPILOT_WEBHOOK_SECRET": "secret-from-env"}


def _load(tmp_path: Path, text: str, env: dict[str, str] | None = None):
    path = tmp_path / "opspilot.yaml"
    path.write_text(text, encoding="utf-8")
    return load_config(path, env=env or {})


def test_notifications_and_nats_are_off_by_default() -> None:
    config = load_config(env={})
    assert not config.notifications.email.enabled and config.notifications.webhooks == []
    assert config.notifications.email.on == ["rolled_back", "failed"]
    assert config.events.nats.url is None
    assert (config.notifications.retry.attempts, config.notifications.retry.max_backoff) == (8, 300.0)
    assert build_subscribers(config) == []


def test_the_contract_loads_and_builds_its_subscribers(tmp_path: Path) -> None:
    config = _load(tmp_path, CONTRACT, ENV)
    section = config.notifications
    email = section.email
    assert (email.host, email.smtp_port, email.tls, email.from_, email.to) == (
        "127.0.0.1",
        1025,
        "starttls",
        "OpsPilot <opspilot@example.com>",
        ["ops-team@example.com"],
    )
    [hook] = section.webhooks
    assert (hook.url, hook.format, hook.secret_env, hook.timeout) == (
        "http://127.0.0.1:9000/hook",
        "cloudevents",
        "OPSPILOT_WEBHOOK_SECRET",
        10.0,
    )
    [route] = section.routes
    assert route.severities == ["critical"] and route.email and route.webhooks and route.to == ["oncall@example.com"]
    assert section.retry.max_backoff == 300.0
    assert (config.events.nats.stream, config.events.nats.subject_prefix) == ("OPSPILOT", "opspilot")
    subscribers = build_subscribers(config)
    assert [type(s) for s in subscribers] == [EmailSubscriber, WebhookSubscriber]
    assert [s.name for s in subscribers] == ["email", subscribers[1].name] and subscribers[1].name.startswith("webhook:")


def test_todays_keys_keep_working_as_aliases(tmp_path: Path) -> None:
    config = _load(tmp_path, TODAY, ENV)
    email = config.notifications.email
    assert (email.host, email.smtp_port, email.tls, email.from_, email.timeout) == (
        "smtp.example.com",
        2525,
        "none",
        "OpsPilot <opspilot@example.com>",
        5.0,
    )
    [hook] = config.notifications.webhooks
    assert (hook.url, hook.format, hook.events, hook.timeout) == (
        "https://hooks.example.com/opspilot",
        "legacy",  # its receiver keeps getting today's body
        ["task.completed", "plan.decided"],
        5.0,
    )
    email_subscriber, webhook = build_subscribers(config)
    assert isinstance(email_subscriber, EmailSubscriber) and email_subscriber._password == "pw-from-env"
    assert isinstance(webhook, WebhookSubscriber) and webhook.format == "legacy"


@pytest.mark.parametrize(
    "email, tls, port",
    [("starttls: true", "starttls", 587), ("tls: implicit", "implicit", 465), ("tls: none", "none", 25)],
)
def test_the_port_follows_tls_unless_given(tmp_path: Path, email: str, tls: str, port: int) -> None:
    config = _load(tmp_path, f"notifications:\n  email:\n    {email}\n")
    assert (config.notifications.email.tls, config.notifications.email.smtp_port) == (tls, port)


def test_a_disabled_old_webhook_section_adds_nothing(tmp_path: Path) -> None:
    config = _load(tmp_path, "notifications:\n  webhook: {enabled: false}\n  email: {enabled: false, smtp_host: h}\n")
    assert config.notifications.webhooks == [] and build_subscribers(config) == []


@pytest.mark.parametrize("value, seconds", [("30s", 30.0), ("5m", 300.0), ("4h", 14400.0), (90, 90.0)])
def test_durations_accept_units(tmp_path: Path, value: object, seconds: float) -> None:
    config = _load(tmp_path, f"notifications:\n  retry: {{max_backoff: {value}}}\n  email: {{timeout: {value}}}\n")
    assert config.notifications.retry.max_backoff == seconds and config.notifications.email.timeout == seconds


def test_secrets_come_from_the_variables_the_file_names(tmp_path: Path) -> None:
    text = """
notifications:
  email: {enabled: true, host: h, username: u, password_env: MAIL_PW, from: a@example.com, to: [b@example.com]}
  webhooks:
    - {url: "https://one.example.com/h", secret_env: HOOK_ONE}
    - {url: "https://two.example.com/h"}
"""
    config = _load(
        tmp_path, text, {"MAIL_PW": "mail-secret", "HOOK_ONE": "one-secret", "OPSPILOT_WEBHOOK_SECRET": "default-secret"}
    )
    assert config.secret("MAIL_PW") == "mail-secret" and config.secret("HOOK_ONE") == "one-secret"
    email, one, two = build_subscribers(config)
    assert isinstance(email, EmailSubscriber) and email._password == "mail-secret"
    assert isinstance(one, WebhookSubscriber) and one._secret == "one-secret"
    assert isinstance(two, WebhookSubscriber) and two._secret == "default-secret"
    for text_ in (repr(config), *(repr(s) for s in (email, one, two))):
        assert "mail-secret" not in text_ and "one-secret" not in text_ and "default-secret" not in text_


def test_a_login_without_its_password_stops_startup(tmp_path: Path) -> None:
    config = _load(tmp_path, TODAY, {"OPSPILOT_WEBHOOK_SECRET": "s"})
    with pytest.raises(ConfigError, match="SMTP_PASSWORD"):
        build_subscribers(config)


def test_a_nats_url_adds_the_publisher(tmp_path: Path) -> None:
    config = _load(tmp_path, "events:\n  nats: {url: 'nats://127.0.0.1:4222', stream: EVENTS, subject_prefix: acme.ops}\n")
    [publisher] = build_subscribers(config)
    assert isinstance(publisher, NatsSubscriber)
    assert (publisher.stream, publisher.subject_prefix, publisher.name) == ("EVENTS", "acme.ops", "nats")


ENABLED = "email:\n    enabled: true\n    host: h\n    from: a@example.com\n    to: [b@example.com]\n"


@pytest.mark.parametrize(
    "section, needle",
    [
        ("email:\n    enabled: true\n    from: a@example.com\n    to: [b@example.com]", "host"),
        ("email:\n    enabled: true\n    smtp_host: h\n    to: [b@example.com]", "from"),
        ("email:\n    enabled: true\n    host: h\n    from: a@example.com", "to is not set"),
        ("email:\n    enabled: true\n    host: h\n    from: a@example.com\n    to: [not-an-address]", "not an email address"),
        (ENABLED + "    on: [exploded]", "exploded"),
        (ENABLED + "    on: []", "on is empty"),
        (ENABLED + "    tls: ssl", "tls"),
        (ENABLED + "    smtp_host: other", "both smtp_host and host"),
        (ENABLED + "    starttls: true\n    tls: implicit", "both starttls and tls"),
        (ENABLED + "    password_env: 'not a name'", "environment variable"),
        ("email:\n    password: hunter2", "password_env"),
        ("webhook:\n    enabled: true", "url is not set"),
        ("webhook:\n    secret: hunter2", "secret_env"),
        ("webhooks: [{url: 'ftp://example.com/x'}]", "http(s) URL"),
        ("webhooks: [{url: 'https://example.com/x', secret: hunter2}]", "secret_env"),
        ("webhooks: [{url: 'https://example.com/x', format: xml}]", "format"),
        ("webhooks: [{url: 'https://example.com/x', events: [run.exploded]}]", "unknown event type"),
        ("webhooks: [{url: 'https://example.com/x', events: [ask.answered]}]", "for fronts only"),
        ("webhooks: [{url: 'https://example.com/x'}, {url: 'https://example.com/x'}]", "more than once"),
        ("routes: [{events: [task.failed]}]", "sends nothing"),
        ("routes: [{to: [a@example.com], webhooks: true}]", "not email: true"),
        ("routes: [{severities: [error], email: true}]", "severities"),
        ("routes: [{events: [task.exploded], email: true}]", "unknown event type"),
        ("retry: {attempts: 0}", "attempts"),
        ("retry: {max_backoff: soon}", "max_backoff"),
        ("slack:\n    enabled: true", "slack"),
    ],
)
def test_wrong_settings_stop_loading_with_a_message_naming_the_key(tmp_path: Path, section: str, needle: str) -> None:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, f"notifications:\n  {section}\n")
    message = str(caught.value)
    assert "notifications" in message and needle in message
    assert "hunter2" not in message


@pytest.mark.parametrize(
    "nats, needle",
    [
        ("{url: 'http://127.0.0.1:4222'}", "nats://"),
        ("{stream: 'OPS.PILOT'}", "stream"),
        ("{subject_prefix: 'opspilot.>'}", "subject_prefix"),
        ("{subject_prefix: ''}", "subject_prefix"),
    ],
)
def test_wrong_nats_settings_stop_loading(tmp_path: Path, nats: str, needle: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(needle)):
        _load(tmp_path, f"events:\n  nats: {nats}\n")


def test_email_on_may_name_event_types(tmp_path: Path) -> None:
    config = _load(tmp_path, f"notifications:\n  {ENABLED}    on: [failed, run.paused, approval.expired]\n")
    assert config.notifications.email.on == ["failed", "run.paused", "approval.expired"]


def test_email_to_may_come_from_every_route(tmp_path: Path) -> None:
    text = (
        "notifications:\n  email: {enabled: true, host: h, from: a@example.com}\n  routes: [{email: true, to: [b@example.com]}]\n"
    )
    assert _load(tmp_path, text).notifications.routes[0].to == ["b@example.com"]


@pytest.mark.parametrize("doc", ["README.md", "docs/notifications.md", "docs/events.md"])
def test_the_yaml_in_the_docs_loads(tmp_path: Path, doc: str) -> None:
    text = (Path(__file__).resolve().parents[3] / doc).read_text(encoding="utf-8")
    blocks = [b for b in re.findall(r"```yaml\n(.*?)```", text, re.S) if "notifications:" in b or "events:" in b]
    assert blocks
    for block in blocks:
        config = _load(tmp_path, block, ENV)
        assert build_subscribers(config)
