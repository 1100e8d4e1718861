from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from core.timeutil import utcnow


class Document(BaseModel):
    """Base of the schema-shaped models: dumps drop unset optionals, as the schemas expect."""

    def to_document(self) -> dict:
        return self.model_dump(mode="json", exclude_none=True)


class Status(Document):
    state: str
    reason: str | None = None
    updated_at: datetime = Field(default_factory=utcnow)
