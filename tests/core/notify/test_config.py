"""``notifications`` in the config file: defaults, a complete example, and clear errors at load time."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from core.config import load_config
from core.errors import ConfigError
from core.notify import EmailNotifier, WebhookNotifier, build_notifiers

EXAMPLE = """
notifications:
  email:
    enabled: true
    smtp_host: smtp.example.com
    smtp_port: 587
    starttls: true
    username: opspilot
    from_address: "OpsPilot <opspilot@example.com>"
    to: [oncall@example.com]
    on: [rolled_back, failed, approval_required]
  webhook:
    enabled: true
    url: https://hooks.example.com/opspilot
    events: [task.completed, plan.decided]
    timeout_seconds: 5
    max_attempts: 4
"""

ENV = {"SMTP_PASSWORD": "pw-from-env", "OPSPILOT_WEBHOOK_SECRET": "secret-from-env"}


def _load(tmp_path: Path, text: str, env: dict[str, str] | None = None):
    path = tmp_path / "opspilot.yaml"
    path.write_text(text, encoding="utf-8")
    return load_config(path, env=env or {})


def test_notifications_are_off_by_default() -> None:
    config = load_config(env={})
    assert not config.notifications.email.enabled and not config.notifications.webhook.enabled
    assert config.notifications.email.on == ["rolled_back", "failed"]
    assert build_notifiers(config) == []


def test_the_documented_example_loads_with_secrets_from_the_environment(tmp_path: Path) -> None:
    config = _load(tmp_path, EXAMPLE, ENV)
    email, webhook = config.notifications.email, config.notifications.webhook
    assert email.to == ["oncall@example.com"] and email.on == ["rolled_back", "failed", "approval_required"]
    assert webhook.events == ["task.completed", "plan.decided"] and webhook.max_attempts == 4
    assert config.smtp_password.get_secret_value() == "pw-from-env"
    assert config.webhook_secret.get_secret_value() == "secret-from-env"
    assert "pw-from-env" not in repr(config) and "secret-from-env" not in repr(config)
    notifiers = build_notifiers(config)
    assert [type(n) for n in notifiers] == [EmailNotifier, WebhookNotifier]
    assert all("pw-from-env" not in repr(n) and "secret-from-env" not in repr(n) for n in notifiers)


@pytest.mark.parametrize(
    "section, needle",
    [
        ("email:\n    enabled: true\n    from_address: a@example.com\n    to: [b@example.com]", "smtp_host"),
        ("email:\n    enabled: true\n    smtp_host: smtp.example.com\n    to: [b@example.com]", "from_address"),
        ("email:\n    enabled: true\n    smtp_host: smtp.example.com\n    from_address: a@example.com", "to"),
        (
            "email:\n    enabled: true\n    smtp_host: h\n    from_address: a@example.com\n    to: [not-an-address]",
            "not an email address",
        ),
        (
            "email:\n    enabled: true\n    smtp_host: h\n    from_address: a@example.com\n    to: [b@example.com]\n    on: [exploded]",
            "on",
        ),
        (
            "email:\n    enabled: true\n    smtp_host: h\n    from_address: a@example.com\n    to: [b@example.com]\n    on: []",
            "on is empty",
        ),
        ("email:\n    password: hunter2", "SMTP_PASSWORD environment variable"),
        ("webhook:\n    enabled: true", "url is not set"),
        ("webhook:\n    enabled: true\n    url: ftp://example.com/x", "http(s) URL"),
        ("webhook:\n    enabled: true\n    url: https://example.com/x\n    events: [run.exploded]", "unknown webhook event"),
        ("webhook:\n    secret: hunter2", "OPSPILOT_WEBHOOK_SECRET environment variable"),
        ("slack:\n    enabled: true", "slack"),
    ],
)
def test_incomplete_or_wrong_settings_stop_loading_with_a_clear_message(tmp_path: Path, section: str, needle: str) -> None:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, f"notifications:\n  {section}\n")
    message = str(caught.value)
    assert "notifications" in message and needle in message
    assert "hunter2" not in message


def test_disabled_sections_may_be_incomplete(tmp_path: Path) -> None:
    config = _load(tmp_path, "notifications:\n  email:\n    enabled: false\n    smtp_host: h\n  webhook: {enabled: false}\n")
    assert build_notifiers(config) == []


def test_a_login_without_smtp_password_stops_startup(tmp_path: Path) -> None:
    config = _load(tmp_path, EXAMPLE, {"OPSPILOT_WEBHOOK_SECRET": "s"})
    with pytest.raises(ConfigError, match="SMTP_PASSWORD"):
        build_notifiers(config)


@pytest.mark.parametrize("doc", ["README.md", "docs/notifications.md"])
def test_the_yaml_in_the_docs_loads(tmp_path: Path, doc: str) -> None:
    text = (Path(__file__).resolve().parents[3] / doc).read_text(encoding="utf-8")
    blocks = [b for b in re.findall(r"```yaml\n(.*?)```", text, re.S) if "notifications:" in b]
    assert blocks
    for block in blocks:
        config = _load(tmp_path, block, ENV)
        assert len(build_notifiers(config)) == 2
