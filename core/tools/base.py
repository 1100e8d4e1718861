"""Tools: what agents may call to read the world and draft changes.

Each tool declares a name, a one-line description, JSON Schemas for its input and output, and a
risk class:

- ``read``: looks at data, changes nothing (query_assets, cve_feed, …);
- ``plan``: computes a proposal from data, changes nothing (generate_patch_plan, …);
- ``write``: changes the world. Never offered to a language model, never called while planning;
  only the executor may run one, and only for an approved plan.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from jsonschema import Draft202012Validator

from core.errors import ToolError, ToolNotAllowed

logger = logging.getLogger(__name__)

RiskClass = Literal["read", "plan", "write"]
PLANNING_RISKS: frozenset[str] = frozenset({"read", "plan"})


@dataclass
class ToolContext:
    """What tools read from. ``sources`` holds further data ports by name (CVE feed, billing, …)."""

    inventory: Any
    config: Any = None
    sources: dict[str, Any] = field(default_factory=dict)


Handler = Callable[[dict[str, Any], ToolContext], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class ToolSpec:
    name: str
    description: str
    input_schema: dict[str, Any]
    output_schema: dict[str, Any]
    risk: RiskClass
    handler: Handler

    def catalogue_entry(self) -> dict[str, Any]:
        """The shape the Anthropic Messages API expects in ``tools``."""
        return {"name": self.name, "description": self.description, "input_schema": self.input_schema}


def tool(
    name: str, description: str, *, input_schema: dict[str, Any], output_schema: dict[str, Any], risk: RiskClass
) -> Callable[[Handler], ToolSpec]:
    def wrap(handler: Handler) -> ToolSpec:
        for schema in (input_schema, output_schema):
            Draft202012Validator.check_schema(schema)
        return ToolSpec(name, description, input_schema, output_schema, risk, handler)

    return wrap


@dataclass(frozen=True)
class ToolCall:
    """One call as it happened, for the agent trace and the audit log."""

    name: str
    arguments: dict[str, Any]
    ok: bool
    duration_ms: float
    error: str | None = None
    summary: str | None = None


class ToolRegistry:
    def __init__(self) -> None:
        self._tools: dict[str, ToolSpec] = {}

    def register(self, spec: ToolSpec) -> None:
        if spec.name in self._tools:
            raise ValueError(f"tool {spec.name!r} is registered twice")
        self._tools[spec.name] = spec

    def get(self, name: str) -> ToolSpec:
        try:
            return self._tools[name]
        except KeyError:
            raise ToolError(f"unknown tool {name!r}; known tools: {', '.join(sorted(self._tools))}") from None

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def all(self) -> list[ToolSpec]:
        return sorted(self._tools.values(), key=lambda t: t.name)

    def for_planning(self, names: Iterable[str] | None = None) -> list[ToolSpec]:
        """Tools an agent (or a model) may call while planning: read and plan classes only."""
        wanted = set(names) if names is not None else None
        return [t for t in self.all() if t.risk in PLANNING_RISKS and (wanted is None or t.name in wanted)]

    async def call(
        self,
        name: str,
        arguments: dict[str, Any],
        context: ToolContext,
        *,
        allowed_risks: frozenset[str] = PLANNING_RISKS,
        trace: list[ToolCall] | None = None,
    ) -> dict[str, Any]:
        spec = self.get(name)
        if spec.risk not in allowed_risks:
            raise ToolNotAllowed(
                f"tool {name!r} is {spec.risk}-class and cannot run here; it runs only in the executor after approval"
            )
        errors = [e.message for e in Draft202012Validator(spec.input_schema).iter_errors(arguments)]
        if errors:
            self._record(trace, name, arguments, False, 0.0, "; ".join(errors))
            raise ToolError(f"bad input for {name}: {'; '.join(errors[:5])}")
        started = time.perf_counter()
        try:
            result = await spec.handler(arguments, context)
        except ToolError as exc:
            self._record(trace, name, arguments, False, _ms(started), str(exc))
            raise
        except Exception as exc:
            self._record(trace, name, arguments, False, _ms(started), repr(exc))
            raise ToolError(f"tool {name} failed: {exc}") from exc
        problems = [e.message for e in Draft202012Validator(spec.output_schema).iter_errors(result)]
        if problems:
            self._record(trace, name, arguments, False, _ms(started), "output schema: " + "; ".join(problems))
            raise ToolError(f"tool {name} returned output that breaks its schema: {'; '.join(problems[:5])}")
        self._record(trace, name, arguments, True, _ms(started), None, result.get("summary"))
        logger.debug("tool %s ok in %.1f ms", name, _ms(started))
        return result

    @staticmethod
    def _record(
        trace: list[ToolCall] | None,
        name: str,
        arguments: dict[str, Any],
        ok: bool,
        ms: float,
        error: str | None,
        summary: Any = None,
    ) -> None:
        if trace is not None:
            trace.append(ToolCall(name, arguments, ok, ms, error, summary if isinstance(summary, str) else None))


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000
