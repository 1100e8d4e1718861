from __future__ import annotations

from collections.abc import AsyncIterator

import anthropic
import pytest
from pydantic import SecretStr

from core.config import Config
from core.llm import AnthropicModel, ClaudeChat
from core.llm.budget import TokenBudget
from tests.fakes.anthropic_server import FakeAnthropic


@pytest.fixture
async def fake() -> AsyncIterator[FakeAnthropic]:
    async with FakeAnthropic() as server:
        yield server


def client_for(fake: FakeAnthropic, max_retries: int = 0) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(api_key="sk-ant-test", base_url=fake.url, max_retries=max_retries, timeout=10)


@pytest.fixture
def model(fake: FakeAnthropic) -> AnthropicModel:
    return AnthropicModel(ClaudeChat(client_for(fake), "claude-sonnet-4-6", 1024))


def budgeted(fake: FakeAnthropic, store: object, tokens_per_minute: int) -> AnthropicModel:
    return AnthropicModel(ClaudeChat(client_for(fake), "claude-sonnet-4-6", 1024, TokenBudget(store, tokens_per_minute)))


@pytest.fixture
def anthropic_config(config: Config, fake: FakeAnthropic) -> Config:
    config.anthropic_api_key = SecretStr("sk-ant-test")
    config.anthropic_base_url = fake.url
    return config
