"""Request bodies and query strings of the REST API, validated at the edge before any core call."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from core.domain.states import TRANSITIONS
from core.intake import MAX_ASK_CHARS

MAX_REASON_CHARS = 1000
MAX_LIST = 200


class RequestModel(BaseModel):
    """A request body or query string, with an ``example`` for error messages."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    example: ClassVar[str] = "{}"


class ExecuteRequest(RequestModel):
    example: ClassVar[str] = '{"intent": "fix drift on prod web servers", "dry_run": false}'

    intent: str = Field(min_length=1, max_length=MAX_ASK_CHARS, description="What you would type after /ops")
    dry_run: bool = False


class DecisionRequest(RequestModel):
    example: ClassVar[str] = '{"reason": "reviewed the canary"}'

    reason: str | None = Field(default=None, max_length=MAX_REASON_CHARS)
    # The plan hash (or a prefix of 8+ characters) the caller reviewed; the vote is refused (superseded) if it changed.
    plan_hash: str | None = Field(default=None, min_length=8, max_length=64, pattern=r"^[0-9a-f]+$")


class TaskQuery(RequestModel):
    example: ClassVar[str] = "?state=planned&limit=20"

    state: str | None = None
    limit: int = Field(default=20, ge=1, le=MAX_LIST)

    @field_validator("state")
    @classmethod
    def _known_state(cls, value: str | None) -> str | None:
        if value is not None and value not in TRANSITIONS["task"]:
            raise ValueError(f"a task is never {value!r}; task states are {', '.join(TRANSITIONS['task'])}")
        return value


def explain(exc: ValidationError, example: str) -> str:
    """One sentence per problem, then a request that would work."""
    problems = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"]) or "body"
        message = error["msg"]
        if error["type"] == "extra_forbidden":
            message = "is not a field this endpoint takes"
        problems.append(f"{where}: {message}")
    return "; ".join(problems) + f". Example: {example}"


def query_values(query: Any) -> dict[str, str]:
    """A query string as a plain dict; a repeated parameter keeps its last value."""
    return {key: query.getall(key)[-1] for key in query}
