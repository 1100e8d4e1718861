"""Fixtures for planning with Claude through the loopback fake of the Messages API."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from pydantic import SecretStr

from core.config import Config
from core.llm import AnthropicModel, ClaudeChat
from core.service import OpsPilot
from tests.fakes.anthropic_server import FakeAnthropic
from tests.fakes.claude import MODEL, client_for


@pytest.fixture
async def fake() -> AsyncIterator[FakeAnthropic]:
    async with FakeAnthropic() as server:
        yield server


@pytest.fixture
def model(fake: FakeAnthropic) -> AnthropicModel:
    return AnthropicModel(ClaudeChat(client_for(fake), MODEL, 1024))


@pytest.fixture
def anthropic_config(config: Config, fake: FakeAnthropic) -> Config:
    config.anthropic_api_key = SecretStr("sk-ant-test")
    config.anthropic_base_url = fake.url
    config.llm.model = MODEL
    return config


@pytest.fixture
async def claude_service(anthropic_config: Config) -> AsyncIterator[OpsPilot]:
    """The whole service planning with Claude, i.e. with the loopback fake."""
    service = await OpsPilot.create(anthropic_config)
    await service.start()
    try:
        yield service
    finally:
        await service.close()
