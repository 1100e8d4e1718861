"""OAuth mode turns on with all four variables, and only then: none keeps single-workspace token mode, some is refused
naming the missing ones, and a malformed OPSPILOT_TOKEN_KEY is refused at startup with how to make a key."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from bot.server import choose_mode
from core.config import OAUTH_VARIABLES, load_config
from core.errors import ConfigError
from core.token_crypto import TokenCipher
from tests.bot.cli.test_cli import opspilot

KEY = Fernet.generate_key().decode()
OAUTH = {"SLACK_CLIENT_ID": "1.2", "SLACK_CLIENT_SECRET": "s", "SLACK_STATE_SECRET": "t", "OPSPILOT_TOKEN_KEY": KEY}
MAKE_A_KEY = "Fernet.generate_key().decode()"


def test_all_four_variables_turn_on_oauth_mode_over_http() -> None:
    config = load_config(env={**OAUTH, "SLACK_SIGNING_SECRET": "x"})
    assert config.slack.oauth and config.slack.client_id == "1.2" and config.slack.bot_token is None
    assert choose_mode(config) == "http"
    assert KEY not in repr(config) and "SecretStr('**********')" in repr(config.slack.token_key)
    assert choose_mode(load_config(env={**OAUTH, "SLACK_APP_TOKEN": "xapp-1"})) == "socket"


def test_without_them_token_mode_and_the_playground_stay_as_they_were() -> None:
    token = load_config(env={"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "x"})
    assert not token.slack.oauth and choose_mode(token) == "http"
    assert choose_mode(load_config(env={})) == "playground"


@pytest.mark.parametrize("left_out", OAUTH_VARIABLES)
def test_a_partial_oauth_configuration_is_refused_naming_what_is_missing(left_out: str) -> None:
    env = {k: v for k, v in OAUTH.items() if k != left_out}
    with pytest.raises(ConfigError, match=f"OAuth mode needs all of .* but {left_out} is not"):
        load_config(env=env)


def test_a_bot_token_together_with_oauth_is_refused() -> None:
    with pytest.raises(ConfigError, match="unset SLACK_BOT_TOKEN"):
        load_config(env={**OAUTH, "SLACK_BOT_TOKEN": "xoxb-1"})


@pytest.mark.parametrize("key", ["not-a-key", "c2hvcnQ=", KEY[:-2], f"{KEY},oops"])
def test_a_malformed_token_key_is_refused_with_how_to_make_one(key: str) -> None:
    with pytest.raises(ConfigError, match=r"OPSPILOT_TOKEN_KEY.* is not a Fernet key") as refused:
        load_config(env={**OAUTH, "OPSPILOT_TOKEN_KEY": key})
    assert MAKE_A_KEY in str(refused.value) and key not in str(refused.value).replace(MAKE_A_KEY, "")


def test_several_keys_rotate_the_newest_seals_and_every_one_opens() -> None:
    old, new = TokenCipher.from_key(KEY), Fernet.generate_key().decode()
    sealed = old.seal("xoxb-secret")
    both = TokenCipher.from_key(f"{new}, {KEY}")
    assert both.open(sealed) == "xoxb-secret"
    assert TokenCipher.from_key(new).open(both.seal("xoxb-2")) == "xoxb-2"


def test_opspilot_serve_refuses_a_malformed_key_before_starting(tmp_path: Path) -> None:
    result = opspilot("serve", tmp_path=tmp_path, env={**OAUTH, "OPSPILOT_TOKEN_KEY": "hunter2", "SLACK_SIGNING_SECRET": "x"})
    assert result.returncode == 2, result.stderr
    assert "OPSPILOT_TOKEN_KEY is not a Fernet key" in result.stderr and MAKE_A_KEY in result.stderr
    assert "Traceback" not in result.stderr and "hunter2" not in result.stderr
