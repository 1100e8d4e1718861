"""Real Anthropic SDK clients pointed at the loopback fake of the Messages API."""

from __future__ import annotations

import anthropic

from core.llm import AnthropicModel, ClaudeChat
from core.llm.budget import TokenBudget
from tests.fakes.anthropic_server import FakeAnthropic

MODEL = "claude-sonnet-4-6"


def client_for(fake: FakeAnthropic, max_retries: int = 0) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(api_key="sk-ant-test", base_url=fake.url, max_retries=max_retries, timeout=10)


def budgeted(fake: FakeAnthropic, store: object, tokens_per_minute: int) -> AnthropicModel:
    return AnthropicModel(ClaudeChat(client_for(fake), MODEL, 1024, TokenBudget(store, tokens_per_minute)))
