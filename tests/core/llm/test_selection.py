from __future__ import annotations

import pytest
from pydantic import SecretStr

from core.config import Config
from core.errors import ConfigError
from core.llm import AnthropicModel, OfflinePlanner, build_language_model


def test_auto_without_a_key_plans_offline(config: Config) -> None:
    assert isinstance(build_language_model(config, store=None), OfflinePlanner)


def test_auto_with_a_key_plans_with_anthropic_at_the_configured_base_url(config: Config) -> None:
    config.anthropic_api_key = SecretStr("sk-ant-test")
    config.anthropic_base_url = "http://127.0.0.1:9"
    config.llm.model = "claude-sonnet-4-6"

    model = build_language_model(config, store=None)

    assert isinstance(model, AnthropicModel)
    assert model.chat.model == "claude-sonnet-4-6"
    assert str(model.chat.client.base_url).startswith("http://127.0.0.1:9")
    assert model.chat.max_output_tokens == config.llm.max_output_tokens


def test_config_can_force_offline_even_with_a_key(config: Config) -> None:
    config.anthropic_api_key = SecretStr("sk-ant-test")
    config.llm.provider = "offline"

    assert isinstance(build_language_model(config, store=None), OfflinePlanner)


def test_forcing_anthropic_without_a_key_is_a_config_error(config: Config) -> None:
    config.llm.provider = "anthropic"

    with pytest.raises(ConfigError, match="ANTHROPIC_API_KEY"):
        build_language_model(config, store=None)
