"""The application service every front calls: submit an ask, decide on a plan, look things up.

    ask → MetaPromptEngine → TaskSpec → Agent (tools) → Plan → ValidationPipeline → awaiting_approval
    approve → Executor (APScheduler) → phases → completed | rolled_back | failed

Fronts render what comes back and subscribe to :mod:`core.events` for what happens later.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from typing import Literal

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from core.agents import AgentContext, AgentRegistry, default_agents
from core.approvals import ApproverList, DecisionOutcome
from core.config import Config
from core.domain import Approval, Plan, Task, TaskSpec, Usage
from core.errors import IllegalTransition, InvalidAsk, LLMError, NotFound, OpsPilotError, PlanningError, SpecError, ToolError
from core.events import EventBus, PlanDecided, PlanProposed, TaskCreated
from core.executor import Executor
from core.executor.drivers import build_driver
from core.executor.health import build_probe
from core.intake import Ask
from core.inventory import Inventory
from core.llm import MetaPromptEngine, OfflinePlanner, SpecRequest
from core.store import Database, Store
from core.store.database import scratch_database_url
from core.tools import ToolContext, ToolRegistry, default_registry
from core.validation import PlanContext, SchemaCheck, ValidationPipeline

logger = logging.getLogger(__name__)

OutcomeKind = Literal["plan", "no_change", "invalid", "failed"]


@dataclass
class AskOutcome:
    kind: OutcomeKind
    message: str
    task: Task | None = None
    spec: TaskSpec | None = None
    plan: Plan | None = None
    usage: Usage = field(default_factory=Usage)
    note: str | None = None
    errors: list[str] = field(default_factory=list)

    @property
    def needs_decision(self) -> bool:
        return self.plan is not None and self.plan.state == "awaiting_approval"


class OpsPilot:
    def __init__(
        self,
        config: Config,
        *,
        store: Store,
        inventory: Inventory,
        engine: MetaPromptEngine,
        agents: AgentRegistry,
        tools: ToolRegistry,
        validator: ValidationPipeline,
        executor: Executor,
        scheduler: AsyncIOScheduler,
        bus: EventBus,
        tool_context: ToolContext,
    ) -> None:
        self.config = config
        self.store = store
        self.inventory = inventory
        self.engine = engine
        self.agents = agents
        self.tools = tools
        self.validator = validator
        self.executor = executor
        self.scheduler = scheduler
        self.bus = bus
        self.tool_context = tool_context
        self.approvers = ApproverList(config.approvers)

    # -- wiring ------------------------------------------------------------------------------

    @classmethod
    async def create(
        cls, config: Config, *, migrate: bool = True, bus: EventBus | None = None, read_only: bool = False
    ) -> OpsPilot:
        """Wire everything from config. ``read_only`` (dry runs) never creates or migrates a database."""
        bus = bus or EventBus()
        database = Database(scratch_database_url(config.database_url) if read_only else config.database_url)
        if migrate or database.is_scratch:
            await database.upgrade()
        store = Store(database, bus)
        inventory = Inventory(config.inventory.path, store)
        tools = default_registry()
        tool_context = ToolContext(inventory=inventory, config=config)
        validator = ValidationPipeline([SchemaCheck()])
        scheduler = AsyncIOScheduler(timezone="UTC")
        executor = Executor(
            store, build_driver(config.executor.driver, inventory, config.executor),
            build_probe("simulate", config.executor.simulate), scheduler, bus=bus,
            wait_scale=config.executor.wait_scale,
        )
        service = cls(
            config, store=store, inventory=inventory, engine=MetaPromptEngine(OfflinePlanner()), agents=default_agents(),
            tools=tools, validator=validator, executor=executor, scheduler=scheduler, bus=bus, tool_context=tool_context,
        )
        executor.pre_start_check = service.recheck_before_run
        return service

    async def start(self) -> None:
        if not self.scheduler.running:
            self.scheduler.start()
        resumed = await self.executor.resume_unfinished()
        if resumed:
            logger.info("resumed %d unfinished run(s)", resumed)

    async def close(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        await self.store.database.dispose()

    # -- asks --------------------------------------------------------------------------------

    def _request(self, ask: Ask) -> SpecRequest:
        return SpecRequest(text=ask.text, user_id=ask.user_id, channel_id=ask.channel_id)

    async def submit(self, ask: Ask) -> AskOutcome:
        """Turn an ask into a plan awaiting approval (or a reason why not). Persists everything."""
        if not ask.text.strip():
            raise InvalidAsk("The ask is empty.")
        try:
            draft = await self.engine.task_spec(self._request(ask))
        except InvalidAsk as exc:
            return AskOutcome("invalid", str(exc))
        except (SpecError, LLMError) as exc:
            task = await self._failed_task(ask, str(exc), getattr(exc, "errors", []))
            return AskOutcome("failed", f"I could not understand that ask reliably: {exc}", task=task,
                              errors=getattr(exc, "errors", []))

        task = Task(
            id=str(uuid.uuid4()), org_id=self.config.org_id, created_by=ask.user_id, user_intent=ask.text,
            task_spec=draft.spec, origin=ask.origin, usage=draft.usage,
        )
        await self.store.add_task(task, ask.user_id)
        await self.bus.publish(TaskCreated(task_id=task.id, user_intent=task.user_intent, origin=task.origin))
        await self.store.transition("task", task.id, "parsing", actor=ask.user_id, details={"provider": draft.provider})
        outcome = await self._plan(task, draft.spec, ask.user_id, persist=True)
        outcome.usage, outcome.note = draft.usage, draft.note
        return outcome

    async def dry_run(self, ask: Ask) -> AskOutcome:
        """The same reading and planning as ``submit``, but nothing is stored and nothing starts."""
        try:
            draft = await self.engine.task_spec(self._request(ask))
        except InvalidAsk as exc:
            return AskOutcome("invalid", str(exc))
        except (SpecError, LLMError) as exc:
            return AskOutcome("failed", str(exc), errors=getattr(exc, "errors", []))
        task = Task(id=str(uuid.uuid4()), created_by=ask.user_id, user_intent=ask.text, task_spec=draft.spec)
        outcome = await self._plan(task, draft.spec, ask.user_id, persist=False)
        outcome.usage, outcome.note = draft.usage, draft.note
        return outcome

    async def _failed_task(self, ask: Ask, reason: str, errors: list[str]) -> Task:
        task = Task(id=str(uuid.uuid4()), org_id=self.config.org_id, created_by=ask.user_id, user_intent=ask.text, origin=ask.origin)
        await self.store.add_task(task, ask.user_id)
        await self.store.transition("task", task.id, "parsing", actor=ask.user_id)
        await self.store.transition("task", task.id, "failed", actor="opspilot", reason=reason[:1000], details={"errors": errors[:20]})
        return await self.store.get_task(task.id)

    async def _plan(self, task: Task, spec: TaskSpec, actor: str, *, persist: bool) -> AskOutcome:
        try:
            agent = self.agents.for_spec(spec)
            result = await agent.plan(spec, task.id, AgentContext(self.tools, self.tool_context))
        except (PlanningError, ToolError) as exc:
            if persist:
                await self.store.transition("task", task.id, "failed", actor="opspilot", reason=str(exc)[:1000])
            return AskOutcome("failed", f"Planning failed: {exc}", task=task, spec=spec)

        if result.plan is None:
            if persist:
                await self.store.transition("task", task.id, "planned", actor="opspilot", details={"message": result.message})
            return AskOutcome("no_change", result.message, task=task, spec=spec)

        plan = result.plan
        context = PlanContext(plan=plan, task_spec=spec, requester=actor, fleet=await self.inventory.fleet())
        plan.validation = await self.validator.validate(context)
        if not persist:
            plan.status.state = "validated" if plan.validation.overall_valid else "draft"
            return AskOutcome("plan", result.message, task=task, spec=spec, plan=plan)

        await self.store.add_plan(plan, "opspilot")
        await self.store.save_plan_review(plan)
        if plan.validation.overall_valid:
            await self.store.transition("plan", plan.id, "validated", actor="opspilot")
            if not plan.is_report:
                await self.store.transition("plan", plan.id, "awaiting_approval", actor="opspilot")
        else:
            await self.store.append_audit(
                "plan", plan.id, "plan.validation_failed", "opspilot", {"errors": plan.validation.errors[:50]}
            )
        await self.store.transition(
            "task", task.id, "planned", actor="opspilot", details={"plan_id": plan.id, "tools": [c.name for c in result.tool_calls]}
        )
        plan = await self.store.get_plan(plan.id)
        task = await self.store.get_task(task.id)
        await self.bus.publish(PlanProposed(task_id=task.id, plan_id=plan.id, requires_approval=plan.state == "awaiting_approval"))
        return AskOutcome("plan", result.message, task=task, spec=spec, plan=plan)

    # -- decisions ---------------------------------------------------------------------------

    async def decide(self, plan_id: str, actor: str, decision: Literal["approved", "rejected"], reason: str | None = None) -> DecisionOutcome:
        try:
            plan = await self.store.get_plan(plan_id)
        except NotFound:
            return DecisionOutcome("not_found", "That plan no longer exists.")
        if not self.approvers.may_decide(actor):
            await self.store.append_audit("plan", plan_id, "plan.decision_refused", actor, {"decision": decision})
            return DecisionOutcome("not_allowed", "You are not allowed to approve or reject plans.", plan)
        approval = Approval(decision=decision, decided_by=actor, reason=reason)
        try:
            await self.store.transition(
                "plan", plan_id, decision, actor=actor, reason=reason, expect=("awaiting_approval",),
                changes={"approval": approval.to_document()},
            )
        except IllegalTransition:
            current = await self.store.get_plan(plan_id)
            return DecisionOutcome("already_decided", _already(current), current)
        plan = await self.store.get_plan(plan_id)
        await self.bus.publish(PlanDecided(task_id=plan.task_id, plan_id=plan.id, decision=decision, actor=actor))
        run = await self.executor.start(plan, actor) if decision == "approved" else None
        return DecisionOutcome(decision, f"Plan {decision}.", plan, run)

    async def recheck_before_run(self, plan: Plan) -> list[str]:
        """Policies or inventory may have changed since approval: validate once more before starting."""
        task = await self.store.get_task(plan.task_id)
        context = PlanContext(plan=plan, task_spec=task.task_spec, requester=task.created_by, fleet=await self.inventory.fleet())
        validation = await self.validator.validate(context)
        return [] if validation.overall_valid else validation.errors

    # -- lookups -----------------------------------------------------------------------------

    async def get_plan(self, plan_id: str) -> Plan:
        return await self.store.get_plan(plan_id)

    async def get_task(self, task_id: str) -> Task:
        return await self.store.get_task(task_id)


def _already(plan: Plan) -> str:
    if plan.approval is not None:
        return f"This plan was already {plan.approval.decision} by {plan.approval.decided_by}."
    return f"This plan is {plan.state.replace('_', ' ')} and cannot be decided now."


