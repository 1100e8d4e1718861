from __future__ import annotations

from pathlib import Path

import pytest

from core.config import load_config
from core.errors import ConfigError


def test_config_file_keys_and_relative_paths(tmp_path: Path) -> None:
    (tmp_path / "fleet.yaml").write_text("golden_images: {}\nassets: []\n")
    path = tmp_path / "opspilot.yaml"
    path.write_text(
        "approvers: [U0APPROVER1, U0APPROVER2]\ninventory:\n  path: fleet.yaml\nexecutor:\n  driver: simulate\n  wait_scale: 0\n"
    )
    config = load_config(path, env={})
    assert config.approvers == ["U0APPROVER1", "U0APPROVER2"]
    assert config.inventory.path == tmp_path / "fleet.yaml"
    assert config.executor.wait_scale == 0


def test_environment_variables_are_read_and_secrets_hidden() -> None:
    config = load_config(
        env={
            "SLACK_BOT_TOKEN": "xoxb-secret",
            "SLACK_API_URL": "http://127.0.0.1:9/api",
            "OPA_URL": "http://opa:8181",
            "DATABASE_URL": "postgresql://u@h/db",
        }
    )
    assert "xoxb-secret" not in repr(config)
    assert config.slack.api_url == "http://127.0.0.1:9/api/"
    assert config.policies.opa_url == "http://opa:8181"
    assert config.database_url == "postgresql://u@h/db"


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("approvers: [U1]\nwho: me\n", "unknown key"),
        ("executor:\n  wait_scale: -1\n", "wait_scale"),
        ("executor:\n  driver: ssh\n", "driver"),
        ("- a\n- b\n", "must be a YAML mapping"),
        ("approvers: [''] ", "approvers"),
    ],
)
def test_bad_config_is_explained(tmp_path: Path, content: str, problem: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(content)
    with pytest.raises(ConfigError, match=problem):
        load_config(path, env={})


def test_missing_config_file_says_which_setting(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="OPSPILOT_CONFIG"):
        load_config(env={"OPSPILOT_CONFIG": str(tmp_path / "missing.yaml")})


@pytest.mark.parametrize(("value", "seconds"), [("30s", 30.0), ("10m", 600.0), ("45", 45.0), ("2.5", 2.5), ("0", 0.0)])
def test_shutdown_grace_reads_durations_and_numbers(tmp_path: Path, value: str, seconds: float) -> None:
    path = tmp_path / "opspilot.yaml"
    path.write_text(f"shutdown_grace: {value}\n")
    assert load_config(path, env={}).shutdown_grace == seconds
    assert load_config(env={}).shutdown_grace == 30.0


@pytest.mark.parametrize("value", ["soon", "-5", "true"])
def test_a_bad_shutdown_grace_names_the_key(tmp_path: Path, value: str) -> None:
    path = tmp_path / "opspilot.yaml"
    path.write_text(f"shutdown_grace: {value}\n")
    with pytest.raises(ConfigError, match="shutdown_grace"):
        load_config(path, env={})
