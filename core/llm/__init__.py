"""The meta-prompt engine: an ask becomes a TaskSpec, through a language model or offline rules."""

from core.llm.base import LanguageModel, SpecDraft, SpecRequest
from core.llm.engine import MetaPromptEngine
from core.llm.offline import OfflinePlanner

__all__ = ["LanguageModel", "MetaPromptEngine", "OfflinePlanner", "SpecDraft", "SpecRequest"]
