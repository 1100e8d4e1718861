from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, Field

# Slack cuts message text at 40,000 characters; nothing longer can reach us from a front.
MAX_ASK_CHARS = 40_000
_MENTION = re.compile(r"<@[A-Z0-9]+(?:\|[^>]*)?>")
_SPACE = re.compile(r"\s+")


def normalize_text(text: str) -> str:
    """Drop user mentions and collapse white space; keep everything else as typed."""
    return _SPACE.sub(" ", _MENTION.sub(" ", text or "")).strip()[:MAX_ASK_CHARS]


class Ask(BaseModel):
    """One request from a person, independent of the front it came through."""

    text: str
    user_id: str
    channel_id: str | None = None
    origin: dict[str, Any] = Field(default_factory=dict)
    # The reading the person picked from "did you mean" choices (an agent name): the ask means that.
    agent: str | None = None

    @classmethod
    def from_front(
        cls, text: str, user_id: str, channel_id: str | None = None, *, agent: str | None = None, **origin: Any
    ) -> Ask:
        return cls(text=normalize_text(text), user_id=user_id, channel_id=channel_id, origin=origin, agent=agent)
