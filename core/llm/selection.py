"""Which planner answers: Anthropic when a key is set (or forced), else the offline rules."""

from __future__ import annotations

import logging
from typing import Any

import anthropic

from core.errors import ConfigError
from core.llm.anthropic_model import AnthropicModel
from core.llm.base import LanguageModel
from core.llm.budget import TokenBudget
from core.llm.claude import ClaudeChat
from core.llm.offline import OfflinePlanner

logger = logging.getLogger(__name__)


def build_language_model(config: Any, store: Any, *, max_retries: int = 2) -> LanguageModel:
    llm = config.llm
    key = config.anthropic_api_key.get_secret_value() if config.anthropic_api_key is not None else None
    if llm.provider == "offline" or (llm.provider == "auto" and not key):
        logger.info("planner: offline intent model (provider=%s, API key %s)", llm.provider, "set" if key else "not set")
        return OfflinePlanner()
    if not key:
        raise ConfigError("llm.provider is anthropic but ANTHROPIC_API_KEY is not set")
    client = anthropic.AsyncAnthropic(
        api_key=key,
        base_url=config.anthropic_base_url or None,
        timeout=llm.timeout_seconds,
        max_retries=max_retries,
    )
    logger.info("planner: anthropic model %s", llm.model)
    return AnthropicModel(ClaudeChat(client, llm.model, llm.max_output_tokens, TokenBudget(store, llm.tokens_per_minute)))
