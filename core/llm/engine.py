"""Layer 1: user intent + context → a TaskSpec that validates against ``schemas/task-spec.schema.json``."""

from __future__ import annotations

import logging

from core.errors import LLMError, SpecError
from core.llm.base import LanguageModel, SpecDraft, SpecRequest
from core.llm.offline import OfflinePlanner
from core.schemas import errors_for

logger = logging.getLogger(__name__)


class MetaPromptEngine:
    def __init__(self, model: LanguageModel, fallback: LanguageModel | None = None) -> None:
        self.model = model
        self.fallback = fallback if fallback is not None else (None if isinstance(model, OfflinePlanner) else OfflinePlanner())

    @property
    def provider(self) -> str:
        return self.model.name

    async def task_spec(self, request: SpecRequest) -> SpecDraft:
        try:
            draft = await self.model.draft_spec(request)
        except (LLMError, SpecError) as exc:
            if self.fallback is None:
                raise
            why = "was unavailable" if isinstance(exc, LLMError) else "gave no valid TaskSpec"
            logger.warning("%s planner %s (%s); using %s", self.model.name, why, exc, self.fallback.name)
            draft = await self.fallback.draft_spec(request)
            said = f"The {self.model.name} planner {why} ({exc}); the offline planner answered."
            draft.note = f"{said} {draft.note}" if draft.note else said
        errors = errors_for("task-spec", draft.spec.to_document())
        if errors:
            raise SpecError("the planner produced a TaskSpec that breaks the schema", errors)
        return draft
