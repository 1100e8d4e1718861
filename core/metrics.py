"""Prometheus metrics of one OpsPilot service, fed from the core so that every front is counted.

- ``opspilot_tasks_total{state}``, ``opspilot_plans_total{state}``, ``opspilot_runs_total{state}``: how many
  times a task, plan or run entered each state. Derived from ``AuditAppended`` events, the same log the
  audit replay reads, so a transition made through Slack, the REST API or the executor counts alike.
- ``opspilot_agent_latency_seconds{agent}``: how long an agent took to draft (and have reviewed) a plan.
- ``opspilot_tool_calls_total{tool,result}``: registry tool calls while planning; ``result`` is ``ok``,
  ``error`` or ``refused`` (a write-class tool asked for outside the executor).
- ``opspilot_llm_tokens_total{kind}``: language model tokens by kind (input, output, cache_read,
  cache_write); zero with the offline planner.
- Delivery and durable work, read from the database at each scrape (:meth:`Metrics.refresh`):
  ``opspilot_outbox_backlog{subscriber}`` (deliveries pending), ``opspilot_outbox_dead_letters{subscriber}``,
  ``opspilot_outbox_lag_seconds`` (how long the oldest due delivery has waited), and for this replica
  ``opspilot_claimed_work{kind}`` (runs, asks, deliveries, expiries it holds now) and
  ``opspilot_lease_takeovers_total{kind}`` (claims it took over from a holder whose lease lapsed).

Each :class:`Metrics` has its own ``CollectorRegistry`` (never the process-wide default), so several
services in one process (tests, a dry run next to a server) never collide. Agent and tool timing wraps
the service's own registries, the one path every front's planning goes through.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from functools import wraps
from typing import TYPE_CHECKING, Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)

from core.domain.states import INITIAL_STATE, TRANSITIONS
from core.errors import ToolNotAllowed
from core.events import AuditAppended

if TYPE_CHECKING:
    from core.domain import Usage
    from core.service import OpsPilot

logger = logging.getLogger(__name__)

CONTENT_TYPE = CONTENT_TYPE_LATEST
TOKEN_KINDS = ("input", "output", "cache_read", "cache_write")
# Offline planning takes milliseconds; a model-reviewed plan can take a minute or more.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
_INSTRUMENTED = "_opspilot_metrics"


def state_entered(entity_type: str, event: str) -> str | None:
    """The state an audit event moved its entity into, or None for entries that are not transitions."""
    states = TRANSITIONS.get(entity_type)
    if states is None or not event.startswith(entity_type + "."):
        return None
    name = event[len(entity_type) + 1 :]
    if name == "created":
        return INITIAL_STATE[entity_type]
    return name if name in states else None


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        # The ``*_created`` timestamp series read like counts (``opspilot_tasks_created``) and nobody
        # graphs them; the switch is process-wide in prometheus_client, and OpsPilot is the only exporter.
        disable_created_metrics()
        self.registry = registry or CollectorRegistry()
        self.states: dict[str, Counter] = {
            kind: Counter(f"opspilot_{kind}s", f"{kind.capitalize()}s that entered each state", ["state"], registry=self.registry)
            for kind in TRANSITIONS
        }
        for kind, counter in self.states.items():
            for state in TRANSITIONS[kind]:
                counter.labels(state=state)  # every known state shows up, at 0, before it first happens
        self.agent_latency = Histogram(
            "opspilot_agent_latency_seconds",
            "Time an agent took to produce a plan or an answer",
            ["agent"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.tool_calls = Counter(
            "opspilot_tool_calls",
            "Registry tool calls while planning, by result (ok, error, refused)",
            ["tool", "result"],
            registry=self.registry,
        )
        self.llm_tokens = Counter("opspilot_llm_tokens", "Language model tokens by kind", ["kind"], registry=self.registry)
        for kind in TOKEN_KINDS:
            self.llm_tokens.labels(kind=kind)
        self.outbox_backlog = Gauge(
            "opspilot_outbox_backlog", "Outbox deliveries still pending, by subscriber", ["subscriber"], registry=self.registry
        )
        self.outbox_dead = Gauge(
            "opspilot_outbox_dead_letters",
            "Outbox deliveries dead-lettered, by subscriber",
            ["subscriber"],
            registry=self.registry,
        )
        self.outbox_lag = Gauge(
            "opspilot_outbox_lag_seconds", "How long the oldest due outbox delivery has waited", registry=self.registry
        )
        self.claimed = Gauge(
            "opspilot_claimed_work", "Durable work this replica holds now, by kind", ["kind"], registry=self.registry
        )
        self.takeovers = Gauge(
            "opspilot_lease_takeovers_total",
            "Claims this replica took over from a holder whose lease lapsed, by kind",
            ["kind"],
            registry=self.registry,
        )

    # -- feeding ------------------------------------------------------------------------------

    async def on_audit(self, event: AuditAppended) -> None:
        state = state_entered(event.entity_type, event.event)
        if state is not None:
            self.states[event.entity_type].labels(state=state).inc()

    def count_usage(self, usage: Usage | None) -> None:
        if usage is None:
            return
        for kind in TOKEN_KINDS:
            tokens = getattr(usage, f"{kind}_tokens", 0) or 0
            if tokens > 0:
                self.llm_tokens.labels(kind=kind).inc(tokens)

    def attach(self, service: OpsPilot) -> Callable[[], None]:
        """Count everything ``service`` does from now on; returns a function that stops counting audit entries.

        Attaching twice to the same service is refused, so nothing is counted twice.
        """
        if getattr(service, _INSTRUMENTED, None) is not None:
            raise ValueError("this service already feeds a Metrics instance")
        setattr(service, _INSTRUMENTED, self)
        unsubscribe = service.bus.subscribe(self.on_audit, AuditAppended)
        self._time_tools(service)
        for agent in service.agents.all():
            self._time_agent(agent)
        self._count_spec_usage(service)
        return unsubscribe

    def _time_tools(self, service: OpsPilot) -> None:
        registry = service.tools
        call = registry.call

        @wraps(call)
        async def counted(name: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
            result = "error"
            try:
                output = await call(name, *args, **kwargs)
                result = "ok"
                return output
            except ToolNotAllowed:
                result = "refused"
                raise
            finally:
                self.tool_calls.labels(tool=name, result=result).inc()

        registry.call = counted  # type: ignore[method-assign]

    def _time_agent(self, agent: Any) -> None:
        plan = agent.plan

        @wraps(plan)
        async def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                result = await plan(*args, **kwargs)
            finally:
                self.agent_latency.labels(agent=agent.name).observe(time.perf_counter() - started)
            self.count_usage(getattr(result, "usage", None))
            return result

        agent.plan = timed

    def _count_spec_usage(self, service: OpsPilot) -> None:
        engine = service.engine
        task_spec: Callable[..., Awaitable[Any]] = engine.task_spec

        @wraps(task_spec)
        async def counted(*args: Any, **kwargs: Any) -> Any:
            draft = await task_spec(*args, **kwargs)
            self.count_usage(getattr(draft, "usage", None))
            return draft

        engine.task_spec = counted  # type: ignore[method-assign]

    # -- exposition ---------------------------------------------------------------------------

    async def refresh(self, service: OpsPilot) -> None:
        """Read the delivery backlog and the claims held here, just before a scrape."""
        from core.work.queue import TAKEOVERS

        stats = await service.queries.delivery_stats()
        for gauge, values in ((self.outbox_backlog, stats.pending), (self.outbox_dead, stats.dead)):
            gauge.clear()
            for subscriber in service.outbox.subscribers:
                gauge.labels(subscriber=subscriber).set(0)
            for subscriber, count in values.items():
                gauge.labels(subscriber=subscriber).set(count)
        self.outbox_lag.set(stats.oldest_pending_seconds)
        for kind, count in service.claimed_work().items():
            self.claimed.labels(kind=kind).set(count)
        for kind, count in TAKEOVERS.items():
            self.takeovers.labels(kind=kind).set(count)

    def exposition(self) -> bytes:
        """The Prometheus text format of every metric in this instance's registry."""
        return generate_latest(self.registry)


def metrics_of(service: OpsPilot) -> Metrics | None:
    """The Metrics instance attached to ``service``, if any."""
    return getattr(service, _INSTRUMENTED, None)
