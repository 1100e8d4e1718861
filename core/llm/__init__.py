"""The meta-prompt engine: an ask becomes a TaskSpec, through a language model or offline rules."""

from core.llm.anthropic_model import AnthropicModel
from core.llm.base import LanguageModel, SpecDraft, SpecRequest
from core.llm.claude import ChatReply, ClaudeChat
from core.llm.engine import MetaPromptEngine
from core.llm.offline import EXAMPLE_ASKS, OfflinePlanner
from core.llm.selection import build_language_model

__all__ = [
    "EXAMPLE_ASKS",
    "AnthropicModel",
    "ChatReply",
    "ClaudeChat",
    "LanguageModel",
    "MetaPromptEngine",
    "OfflinePlanner",
    "SpecDraft",
    "SpecRequest",
    "build_language_model",
]
