"""One exception tree for the whole core.

    OpsPilotError
    ├── ConfigError              bad or unreadable configuration / data files
    │   └── SealedTokenUnreadable  a stored Slack token does not open with OPSPILOT_TOKEN_KEY
    ├── InvalidAsk               the ask cannot be turned into a task (empty, unknown, ambiguous)
    │   └── UnclearAsk           several readings are likely: the person picks one (carries the choices)
    ├── SpecError                a TaskSpec failed schema validation (after repair, for LLM output)
    ├── PlanningError            an agent could not produce a plan
    ├── ValidationFailed         a plan failed schema / policy / safety checks
    ├── IllegalTransition        a state machine refused a transition; nothing changed
    ├── NotFound                 no task / plan / run with that id
    ├── NotAllowed               the actor may not do this (e.g. approve)
    ├── ToolError                a registry tool failed or got bad input
    │   └── ToolNotAllowed       the tool's risk class is not allowed in this context
    ├── LLMError                 the language model failed (outage, budget, malformed output)
    │   └── BudgetExceeded       the per-minute token budget is spent
    ├── PolicyError              a policy file does not load or a policy errored at evaluation
    ├── ExecutionError           a driver or health probe failed during a run
    │   └── DriverError          one driver action failed or timed out (carries its captured output)
    ├── LeaseLost                another worker holds the work now; write nothing more
    └── DeliveryError            an outbox subscriber could not deliver an event
        ├── DeliveryFailed       retried with backoff, dead-lettered after the last attempt
        └── DeliveryRejected     dead-lettered at once (retrying cannot help: a malformed event, a 4xx)

Library errors are translated at the boundary (``raise ... from exc``), so callers only
need to know this tree.
"""

from __future__ import annotations


class OpsPilotError(Exception):
    """Base class of every error OpsPilot raises on purpose."""


class ConfigError(OpsPilotError):
    pass


class SealedTokenUnreadable(ConfigError):
    """A Slack token stored in the database does not decrypt with the configured OPSPILOT_TOKEN_KEY."""


class InvalidAsk(OpsPilotError):
    pass


class UnclearAsk(InvalidAsk):
    """The ask could mean several things; ``choices`` (core.intents.reader.Choice) are the likeliest readings to offer."""

    def __init__(self, message: str, choices: list | None = None) -> None:
        super().__init__(message)
        self.choices = choices or []


class SpecError(OpsPilotError):
    def __init__(self, message: str, errors: list[str] | None = None) -> None:
        super().__init__(message)
        self.errors = errors or []


class PlanningError(OpsPilotError):
    pass


class ValidationFailed(OpsPilotError):
    def __init__(self, message: str, errors: list[str] | None = None) -> None:
        super().__init__(message)
        self.errors = errors or []


class IllegalTransition(OpsPilotError):
    def __init__(self, kind: str, entity_id: str, current: str, target: str) -> None:
        super().__init__(f"{kind} {entity_id} cannot go from {current!r} to {target!r}")
        self.kind = kind
        self.entity_id = entity_id
        self.current = current
        self.target = target


class NotFound(OpsPilotError):
    pass


class NotAllowed(OpsPilotError):
    pass


class ToolError(OpsPilotError):
    pass


class ToolNotAllowed(ToolError):
    pass


class LLMError(OpsPilotError):
    pass


class BudgetExceeded(LLMError):
    pass


class PolicyError(OpsPilotError):
    pass


class ExecutionError(OpsPilotError):
    pass


class DriverError(ExecutionError):
    """One driver action (apply, revert, step) failed or timed out; ``output`` is what it printed, capped."""

    def __init__(self, message: str, output: str = "") -> None:
        super().__init__(message)
        self.output = output


class DriftChanged(DriverError):
    """Before a wave, the hosts would now change differently from what the approved plan showed (a fresh check-mode
    run's diff hash differs from the plan's). Nothing was applied; the executor pauses the run with this message."""


class LeaseLost(OpsPilotError):
    """A fenced write found that this worker no longer holds the work (its lease lapsed and another
    worker claimed it). The worker must stop at once and write nothing more."""


class DeliveryError(OpsPilotError):
    """An outbox subscriber could not deliver an event. ``retry_after`` (seconds), when the peer said how long to
    wait (Slack's 429, a webhook's Retry-After), replaces the computed backoff."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ChartUnavailable(OpsPilotError):
    """A chart cannot be drawn (its data is missing or unusable, or the plotting library is absent): its numbers are
    posted as text instead."""


class DeliveryFailed(DeliveryError):
    """Worth another try: the peer was down, slow, rate limited or answered 5xx."""


class DeliveryRejected(DeliveryError):
    """Retrying cannot help (a malformed event, a receiver that refuses it for good): dead-lettered at once."""
