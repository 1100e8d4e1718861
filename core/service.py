"""The application service every front calls: submit an ask, decide on a plan, look things up.

    ask → MetaPromptEngine → TaskSpec → Agent (tools) → Plan → ValidationPipeline → awaiting_approval
    approve → Executor (APScheduler) → phases → completed | rolled_back | failed

Fronts render what comes back and subscribe to :mod:`core.events` for what happens later.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Literal

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from core.agents import AgentContext, AgentRegistry, default_agents
from core.agents.llm_loop import loop_for
from core.ansible.startup import check_ansible_setup
from core.approvals import SYSTEM_ACTOR, Ballot, DecisionOutcome
from core.approvals.authorizer import Action, Authorizer, Refused, Verdict
from core.approvals.expiry import ApprovalExpiry
from core.approvals.groups import GroupDirectory, StaticGroupDirectory
from core.approvals.plan_hash import plan_hash, policy_bundle_hash
from core.approvals.rules import HIGH_RISK, ApprovalRule, RuleBook
from core.asks import AskQueue, AskWorker
from core.clock import SYSTEM_CLOCK, Clock
from core.config import Config
from core.domain import Approval, Plan, Run, Task, TaskSpec, Usage
from core.errors import (
    ConfigError,
    IllegalTransition,
    InvalidAsk,
    LLMError,
    NotFound,
    PlanningError,
    SpecError,
    ToolError,
    UnclearAsk,
    ValidationFailed,
)
from core.events import (
    AuditAppended,
    Event,
    EventBus,
    FreezeChanged,
    PlanDecided,
    PlanProposed,
    PlanSuperseded,
    TaskCreated,
    TaskFailed,
    TaskPlanned,
    VoteRecorded,
)
from core.executor import Executor, engine_settings
from core.executor.drivers import build_driver
from core.executor.health import probe_for
from core.intake import Ask
from core.intake.idempotency import IdempotencyKeys
from core.intake.screen import screen
from core.intents import Choice, IntentReader, Lexicon, Reading, build_reader, default_reader
from core.inventory import Inventory, InventoryRefresh
from core.inventory.sources.workspaces import WorkspaceFleets
from core.llm import MetaPromptEngine, SpecRequest, build_language_model
from core.logcontext import add as add_log_ids
from core.logcontext import bind
from core.outbox import CloudEvent
from core.outbox.dispatcher import DeadLetter, Dispatcher, RetryPolicy, requeue_orphans
from core.outbox.writer import Outbox
from core.read_models import Queries
from core.replay import Replay
from core.replay import replay as replay_run
from core.report_actions import FindingActOutcome, act_on_finding
from core.retention import RetentionWorker
from core.sources import file_sources
from core.store import Database, Store
from core.store.database import scratch_database_url
from core.store.freezes import Freeze, Freezes
from core.store.votes import AlreadyVoted, Votes
from core.tools import ToolContext, ToolRegistry, default_registry
from core.validation import PlanContext, ValidationPipeline, build_evaluator, build_validator
from core.work.queue import WorkQueue
from core.workspaces import Workspaces

logger = logging.getLogger(__name__)

OutcomeKind = Literal["plan", "no_change", "invalid", "failed"]
Role = Literal["all", "front", "worker"]
OPEN_PLAN_STATES = ("draft", "validated", "awaiting_approval")


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
    intent: Reading | None = None  # the offline intent model's reading of the ask (plan --json shows it)
    choices: list[Choice] = field(default_factory=list)  # an unclear ask: the readings to offer ("did you mean")

    @property
    def needs_decision(self) -> bool:
        return self.plan is not None and self.plan.state == "awaiting_approval"


@dataclass
class RunControlOutcome:
    status: Literal["paused", "resumed", "aborted", "not_allowed", "not_found", "invalid"]
    message: str
    run: Run | None = None


@dataclass
class FreezeOutcome:
    status: Literal["frozen", "unfrozen", "not_frozen", "not_allowed", "invalid"]
    message: str
    freeze: Freeze | None = None


_CONTROL_DONE: dict[str, Literal["paused", "resumed", "aborted"]] = {"pause": "paused", "resume": "resumed", "abort": "aborted"}


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
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.config = config
        self.clock = clock
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
        self.fleets: dict[str, tuple[Inventory, ToolContext]] = {}  # OAuth mode: workspaces with their own inventory
        self.rules = RuleBook.from_config(config)
        # Who owns what: one workspace, or (OAuth mode) one per Slack team with its own rules (core/workspaces.py).
        self.workspaces = Workspaces(config.org_id, self.rules, multi=config.slack.oauth, configured=config.workspaces)
        self.authorizer = Authorizer(self.rules, StaticGroupDirectory(), now=clock.now, workspaces=self.workspaces)
        self.votes = Votes(store.database)
        self.freezes = Freezes(store.database)
        # Approval ttl as durable work (kind approval_expiry): a worker next to the executor's, stopped at drain.
        self.expiry = ApprovalExpiry(
            store,
            self._rule_of,
            bus=bus,
            clock=clock,
            scheduler=scheduler,
            poll_interval=lambda: executor.engine.settings.poll_interval,
        )
        # The transactional outbox: every event is written with its state change; the dispatcher (a worker role)
        # delivers it to each subscriber (Slack, email, webhooks, NATS) under a lease.
        self.outbox = Outbox(WorkQueue(store.database, clock), clock)
        store.outbox = self.outbox
        self.dispatcher = Dispatcher(
            self.outbox,
            self.outbox.work,
            retry=retry_policy(config),
            clock=clock,
            scheduler=scheduler,
            lease_seconds=lambda: executor.engine.settings.lease_seconds,
            poll_interval=lambda: executor.engine.settings.poll_interval,
            on_dead_letter=self._dead_lettered,
        )
        bus.subscribe(self._wake_dispatcher)  # committed events wake this replica's dispatcher at once (others poll)
        self.retention = RetentionWorker(store.database, config.retention, clock=clock, scheduler=scheduler)
        # Asks a front recorded (core/asks): planned by this replica's ask worker when its role runs workers.
        self.asks = AskQueue(store.database, clock)
        self.ask_worker = AskWorker(
            self.asks,
            self,
            capacity=config.intake.workers,
            lease_seconds=lambda: config.intake.lease,
            poll_interval=lambda: config.intake.poll_interval,
            scheduler=scheduler,
        )
        self.asks.on_recorded.append(self.ask_worker.wake)
        # REST Idempotency-Key answers (bot/rest/idempotency.py), kept retention.intake_keys.
        self.idempotency = IdempotencyKeys(store.database, clock, keep_seconds=config.retention.intake_keys)
        self.role: Role = "all"
        self.queries = Queries(store, self.authorizer, self.votes, self.plan_hash, self.workspaces)  # what fronts read
        self._reader: IntentReader | None = None  # create() trains it; else the shipped corpus and sample names
        self._drained = False

    # -- wiring ------------------------------------------------------------------------------

    @classmethod
    async def create(
        cls,
        config: Config,
        *,
        migrate: bool = True,
        bus: EventBus | None = None,
        read_only: bool = False,
        clock: Clock = SYSTEM_CLOCK,
    ) -> OpsPilot:
        """Wire everything from config. ``read_only`` (dry runs) never creates or migrates a database. ``clock``:
        the time runs, leases and approval expiries go by (tests move a manual one)."""
        bus = bus or EventBus()
        evaluator = build_evaluator(config.policies)  # a policy that does not parse stops startup here
        await check_ansible_setup(config)  # driver ansible: missing files or a playbook that does not parse stop it here
        database = Database(scratch_database_url(config.database_url) if read_only else config.database_url)
        store = Store(database, bus, audit_key=config.audit_key)
        inventory = Inventory.from_config(config.inventory, store)
        # OAuth mode: a workspace may plan against its own fleet (workspaces.<team>.inventory); runs look assets up
        # in all of them at once.
        own = (
            {team: Inventory.from_config(entry.inventory, store) for team, entry in config.workspaces.items() if entry.inventory}
            if config.slack.oauth
            else {}
        )
        every = Inventory(WorkspaceFleets({config.org_id: inventory, **own}), store) if own else inventory
        try:
            await inventory.check()  # a missing or invalid fleet file or Ansible inventory stops startup, not the first ask
            for team, theirs in own.items():
                try:
                    await theirs.check()
                except ConfigError as exc:
                    raise ConfigError(f"workspaces.{team}.inventory: {exc}") from exc
        except ConfigError:
            await database.dispose()
            raise
        if migrate or database.is_scratch:
            await database.upgrade()
        if own:
            try:
                await every.check()  # an asset ID in two workspaces' fleets (reads applied versions: after migrating)
            except ConfigError:
                await database.dispose()
                raise
        tools = default_registry()
        model = build_language_model(config, store)
        # Trained once per process and corpus (cached on disk too), before anything is served. Not in a thread: a
        # collection there would drop objects (the policy engine) that must die on the thread that made them.
        reader = build_reader(
            [config.intents.extra_corpus] if config.intents.extra_corpus else [],
            lexicon=await _lexicon(inventory, config),
            min_confidence=config.intents.min_confidence,
            clock=clock,
        )
        tool_context = ToolContext(inventory=inventory, config=config, sources=file_sources(config.inventory.data_dir))
        validator = build_validator(config, store, evaluator)
        scheduler = AsyncIOScheduler(timezone="UTC")
        probe = probe_for(config.executor, config.inventory.ansible.inventory)
        probe.use_addresses(_addresses_of(every))
        executor = Executor(
            store,
            build_driver(config.executor, every, ansible_inventory=config.inventory.ansible.inventory),
            probe,
            scheduler,
            bus=bus,
            wait_scale=config.executor.wait_scale,
            settings=engine_settings(config.executor),
            inventory=every,
            clock=clock,
        )
        service = cls(
            config,
            store=store,
            inventory=inventory,
            engine=MetaPromptEngine(model),
            agents=default_agents(loop_for(model, config.llm.max_agent_steps)),
            tools=tools,
            validator=validator,
            executor=executor,
            scheduler=scheduler,
            bus=bus,
            tool_context=tool_context,
            clock=clock,
        )
        for team, theirs in own.items():
            data_dir = config.workspaces[team].inventory.data_dir  # type: ignore[union-attr]  # own: entries with one
            service.fleets[team] = (theirs, ToolContext(inventory=theirs, config=config, sources=file_sources(data_dir)))
        service._reader = reader
        executor.pre_start_check = service.recheck_before_run
        executor.engine.pre_phase_check = service.check_before_phase
        executor.plan_hasher = service.plan_hash
        if not read_only:
            service.outbox.register(*_notification_subscribers(config, store, clock))
        return service

    async def start(self, role: Role = "all") -> None:
        """Start the workers of ``role``: ``all`` and ``worker`` run runs, approval expiries and outbox deliveries
        (and asks, where a front records them); ``front`` runs none: it only records work for the workers."""
        self.role = role
        if not self.scheduler.running:
            self.scheduler.start()
        if role == "front":
            return
        resumed = await self.executor.resume_unfinished()
        if resumed:
            logger.info("resumed %d unfinished run(s)", resumed)
        self.expiry.start()
        orphans = await requeue_orphans(self.store.database, self.outbox.work)
        if orphans:
            logger.info("requeued %d delivery queue(s) that had lost their work item", orphans)
        self.dispatcher.start()
        self.ask_worker.start()
        await self.retention.start()

    async def _wake_dispatcher(self, _event: Event) -> None:
        if self.dispatcher.running:
            self.dispatcher.wake()

    def claimed_work(self) -> dict[str, int]:
        """Durable work this replica holds now, by kind (metrics)."""
        workers = {
            "run": self.executor.worker,
            "approval_expiry": self.expiry.worker,
            "delivery": self.dispatcher.worker,
            "ask": self.ask_worker.worker,
        }
        return {kind: len(worker.holding) for kind, worker in workers.items()}

    @property
    def workers_running(self) -> bool:
        """For ``/ready`` of a worker: its ask, run, expiry and delivery workers are up."""
        return all(
            worker.running
            for worker in (self.ask_worker.worker, self.executor.worker, self.expiry.worker, self.dispatcher.worker)
        )

    async def _dead_lettered(self, letter: DeadLetter, event: CloudEvent | None) -> None:
        """A delivery that will not be retried: audited on the run, else the plan, else the task it was about."""
        data = event.data if event is not None else {}
        entity = next(((kind, data.get(f"{kind}_id")) for kind in ("run", "plan", "task") if data.get(f"{kind}_id")), None)
        if entity is None:
            return
        details = {
            "subscriber": letter.subscriber,
            "event_id": letter.event_id,
            "type": letter.type,
            "attempts": letter.attempt,
            "error": (letter.last_error or "")[:500],
        }
        await self.store.append_audit(entity[0], str(entity[1]), "notification.dead_lettered", SYSTEM_ACTOR, details)

    async def drain(self, grace: float | None = None) -> None:
        """Start no more phases and give the work in flight ``grace`` seconds (``shutdown_grace``) to finish.

        Scheduled phases (soaks) are dropped, not waited for: their due time is stored and the next
        start resumes them. The database stays open (``close`` disposes of it)."""
        if self._drained:
            return
        self._drained = True
        grace = self.config.shutdown_grace if grace is None else grace
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        # An ask cut short is given back and planned again at the next start (or by another replica).
        await self.ask_worker.stop(min(grace, 5.0))
        await self.expiry.stop(min(grace, 5.0))  # an expiry cut short is given back and fires at the next start
        await self.executor.close(grace)  # phases in flight finish (or are cut) while the database is still there
        # Deliveries in flight get what is left of the grace; the rest stays in the outbox for the next start or
        # another replica (nothing is dropped).
        await self.dispatcher.stop(max(0.5, min(5.0, deadline - loop.time())))
        await self.retention.stop(1.0)
        for subscriber in self.outbox.subscribers.values():
            try:
                await subscriber.close()
            except Exception:
                logger.exception("closing the %s subscriber failed", subscriber.name)

    async def close(self, grace: float | None = None) -> None:
        await self.drain(grace)
        await self.store.database.dispose()

    # -- asks --------------------------------------------------------------------------------

    @property
    def reader(self) -> IntentReader:
        """The intent model and the names it knows (core/intents)."""
        if self._reader is None:
            self._reader = default_reader()
        return self._reader

    def read(self, ask: Ask) -> tuple[Reading | None, AskOutcome | None]:
        """The intent model's reading of the ask, or the outcome for an ask no planner should read (empty, a paste,
        control characters, another language, an attempt to talk its way past approval): nothing is created."""
        problem = screen(ask.text)
        if problem is not None:
            logger.info("ask by %s refused before reading: %s", ask.user_id, problem.split(":")[0][:80])
            return None, AskOutcome("invalid", problem)
        return self.reader.read(ask.text, now=self.clock.now()), None

    def _request(self, ask: Ask, reading: Reading | None = None) -> SpecRequest:
        return SpecRequest(
            text=ask.text,
            user_id=ask.user_id,
            channel_id=ask.channel_id,
            org_id=self._org_of(ask),
            agents=tuple(a.describe() for a in self.agents.all()),
            tools=tuple({"name": t.name, "description": t.description, "risk": t.risk} for t in self.tools.all()),
            reading=reading,
            agent=ask.agent,
        )

    async def submit(self, ask: Ask, *, task_id: str | None = None) -> AskOutcome:
        """Turn an ask into a plan awaiting approval (or a reason why not). Persists everything. ``task_id``: the id
        the task gets (an ask worker records it before planning, so a retry finds what an earlier attempt stored)."""
        with bind():  # the task id, once there is one, is in every log record until the ask is handled
            return await self._submit(ask, task_id)

    async def _submit(self, ask: Ask, task_id: str | None = None) -> AskOutcome:
        if not ask.text.strip():
            raise InvalidAsk("The ask is empty.")
        reading, refused_input = self.read(ask)
        if refused_input is not None:
            return refused_input
        try:
            draft = await self.engine.task_spec(self._request(ask, reading))
        except UnclearAsk as exc:
            return AskOutcome("invalid", str(exc), intent=reading, choices=list(exc.choices))
        except InvalidAsk as exc:
            return AskOutcome("invalid", str(exc), intent=reading)
        except (SpecError, LLMError) as exc:
            task = await self._failed_task(ask, str(exc), getattr(exc, "errors", []), task_id)
            return AskOutcome(
                "failed", f"I could not understand that ask reliably: {exc}", task=task, errors=getattr(exc, "errors", [])
            )
        # requesters rules: decided on the understood ask, before anything is stored.
        org = self._org_of(ask)
        refused = await self.authorizer.may_request(ask.user_id, draft.spec.environment, draft.spec.risk_level, org)
        if refused is not None:
            logger.info("ask by %s refused by the requesters rules", ask.user_id)
            return AskOutcome("invalid", refused.detail, spec=draft.spec, intent=reading)

        task = Task(
            id=task_id or str(uuid.uuid4()),
            org_id=org,
            created_by=ask.user_id,
            user_intent=ask.text,
            task_spec=draft.spec,
            origin=ask.origin,
            usage=draft.usage,
        )
        add_log_ids(task_id=task.id)
        await self.store.add_task(
            task, ask.user_id, emit=[TaskCreated(task_id=task.id, user_intent=task.user_intent, origin=task.origin)]
        )
        await self.store.transition("task", task.id, "parsing", actor=ask.user_id, details={"provider": draft.provider})
        outcome = await self._plan(task, draft.spec, ask.user_id, persist=True)
        outcome.usage, outcome.note = draft.usage + outcome.usage, _notes(draft.note, outcome.note)
        outcome.intent = reading
        if outcome.usage != draft.usage:
            await self.store.update_task(task.id, usage=outcome.usage)
            if outcome.task is not None:
                outcome.task.usage = outcome.usage
        return outcome

    async def dry_run(self, ask: Ask) -> AskOutcome:
        """The same reading and planning as ``submit``, but nothing is stored and nothing starts."""
        reading, refused_input = self.read(ask)
        if refused_input is not None:
            return refused_input
        try:
            draft = await self.engine.task_spec(self._request(ask, reading))
        except UnclearAsk as exc:
            return AskOutcome("invalid", str(exc), intent=reading, choices=list(exc.choices))
        except InvalidAsk as exc:
            return AskOutcome("invalid", str(exc), intent=reading)
        except (SpecError, LLMError) as exc:
            return AskOutcome("failed", str(exc), errors=getattr(exc, "errors", []), intent=reading)
        task = Task(id=str(uuid.uuid4()), created_by=ask.user_id, user_intent=ask.text, task_spec=draft.spec)
        outcome = await self._plan(task, draft.spec, ask.user_id, persist=False)
        outcome.usage, outcome.note = draft.usage + outcome.usage, _notes(draft.note, outcome.note)
        outcome.intent = reading
        return outcome

    async def _failed_task(self, ask: Ask, reason: str, errors: list[str], task_id: str | None = None) -> Task:
        task = Task(
            id=task_id or str(uuid.uuid4()),
            org_id=self._org_of(ask),
            created_by=ask.user_id,
            user_intent=ask.text,
            origin=ask.origin,
        )
        await self.store.add_task(task, ask.user_id)
        await self.store.transition("task", task.id, "parsing", actor=ask.user_id)
        await self.store.transition(
            "task",
            task.id,
            "failed",
            actor=SYSTEM_ACTOR,
            reason=reason[:1000],
            details={"errors": errors[:20]},
            emit=[TaskFailed(task_id=task.id, reason=reason[:1000], errors=tuple(str(e) for e in errors[:20]))],
        )
        return await self.store.get_task(task.id)

    async def _plan(self, task: Task, spec: TaskSpec, actor: str, *, persist: bool) -> AskOutcome:
        try:
            agent = self.agents.for_spec(spec)
            inventory, tool_context = self._fleet_of(task.org_id)
            result = await agent.plan(
                spec, task.id, AgentContext(self.tools, tool_context, llm=self.agents.loop, org_id=task.org_id or "default")
            )
            fleet = await inventory.fleet()
        except (PlanningError, ToolError) as exc:
            if persist:
                await self._settle_task(task.id, "failed", reason=str(exc)[:1000])
            return AskOutcome("failed", f"Planning failed: {exc}", task=task, spec=spec)
        except Exception as exc:  # a broken agent must not leave the task in "parsing" forever
            logger.exception("agent failed on task %s", task.id)
            if persist:
                await self._settle_task(task.id, "failed", reason=f"internal error: {exc!r}"[:1000])
            return AskOutcome(
                "failed", "Planning failed because of an internal error; it is in OpsPilot's log.", task=task, spec=spec
            )

        if result.plan is None:
            if persist:
                await self._settle_task(task.id, "planned", details={"message": result.message})
            return AskOutcome("no_change", result.message, task=task, spec=spec, usage=result.usage, note=result.note)

        plan = result.plan
        context = PlanContext(plan=plan, task_spec=spec, requester=actor, fleet=fleet)
        review = await self.validator.review(context)
        plan.validation, plan.quality = review.validation, review.quality
        plan.quality_score = review.quality.total if review.quality else None
        if not persist:
            plan.status.state = "validated" if plan.validation.overall_valid else "draft"
            return AskOutcome("plan", result.message, task=task, spec=spec, plan=plan, usage=result.usage, note=result.note)

        await self.store.add_plan(plan, SYSTEM_ACTOR)
        await self.store.save_plan_review(plan)
        await self._supersede_older_plans(task.id, plan.id)
        if plan.validation.overall_valid:
            await self.store.transition("plan", plan.id, "validated", actor=SYSTEM_ACTOR, details={"quality": plan.quality_score})
            if not plan.is_report:
                await self._await_approval(plan, spec, task.org_id)
        else:
            await self.store.set_plan_reason(plan.id, ("failed validation: " + "; ".join(plan.validation.errors))[:1000])
            await self.store.append_audit(
                "plan", plan.id, "plan.validation_failed", SYSTEM_ACTOR, {"errors": plan.validation.errors[:50]}
            )
        plan = await self.store.get_plan(plan.id)
        auto_approve = (
            plan.state == "awaiting_approval"
            and plan.quality is not None
            and not plan.quality.requires_approval
            and self._may_auto_approve(plan, task)
        )
        requires_approval = plan.state == "awaiting_approval" and not auto_approve
        planned: list[Event] = [
            TaskPlanned(
                task_id=task.id,
                plan_id=plan.id,
                environment=plan.environment,
                agent=plan.agent,
                requires_approval=requires_approval,
                risk_level=spec.risk_level,
            )
        ]
        if requires_approval:
            planned.append(PlanProposed(task_id=task.id, plan_id=plan.id, requires_approval=True))
        await self._settle_task(
            task.id, "planned", details={"plan_id": plan.id, "tools": [c.name for c in result.tool_calls]}, emit=planned
        )
        task = await self.store.get_task(task.id)
        if auto_approve:
            await self._auto_approve(plan)
            plan = await self.store.get_plan(plan.id)
        return AskOutcome("plan", result.message, task=task, spec=spec, plan=plan, usage=result.usage, note=result.note)

    async def _await_approval(self, plan: Plan, spec: TaskSpec, org: str | None) -> None:
        """Move the plan to awaiting_approval and, when its rule has a ttl, write its expiry row in the same
        transaction (so a crash cannot leave a waiting plan that never expires)."""
        rule = self.authorizer.rule_for(plan, spec.risk_level, org)
        async with self.store.database.engine.begin() as conn:
            _, appended = await self.store.transition_in(conn, "plan", plan.id, "awaiting_approval", actor=SYSTEM_ACTOR)
            due = await self.expiry.schedule_in(conn, plan.id, rule)
        await self.bus.publish(appended)
        self.expiry.armed(due)

    async def _rule_of(self, plan: Plan) -> ApprovalRule | None:
        task = await self.store.get_task(plan.task_id)
        return self.authorizer.rule_for(plan, task.task_spec.risk_level if task.task_spec else None, task.org_id)

    def _fleet_of(self, org: str | None) -> tuple[Inventory, ToolContext]:
        """The inventory a workspace plans against (and the tools' view of it): its own, else the top-level one."""
        return self.fleets.get(org or "", (self.inventory, self.tool_context))

    def _org_of(self, ask: Ask) -> str:
        """The workspace a new task belongs to: the team it was asked from (OAuth mode), else ``org_id``."""
        team = ask.origin.get("team")
        return self.workspaces.org_for(team if isinstance(team, str) else None)

    async def replan(self, task_id: str, actor: str, *, org: str | None = None) -> AskOutcome:
        """Plan a task again (inventory or policies changed); the new plan supersedes the task's open plans.
        ``org``: the viewer's workspace (core/workspaces.py); another workspace's task is not found."""
        task = await self.store.get_task(task_id)
        self.workspaces.check(task.org_id, org, f"no task {task_id}")
        if actor != task.created_by and not await self._approver_of_task(actor, task):
            await self.store.append_audit("task", task.id, "task.replan_refused", actor)
            return AskOutcome("failed", "Only the requester or an approver can plan this task again.", task=task)
        if task.task_spec is None:
            return AskOutcome("failed", "This task was never understood, so there is nothing to plan again; ask anew.", task=task)
        await self.store.append_audit("task", task.id, "task.replan_requested", actor)
        return await self._plan(task, task.task_spec, actor, persist=True)

    async def _supersede_older_plans(self, task_id: str, newest_plan_id: str) -> None:
        for older in await self.store.plans_for_task(task_id):
            if older.id != newest_plan_id and older.state in OPEN_PLAN_STATES:
                try:
                    await self.store.transition(
                        "plan",
                        older.id,
                        "superseded",
                        actor=SYSTEM_ACTOR,
                        reason=f"superseded by plan {newest_plan_id}",
                        details={"superseded_by": newest_plan_id},
                        expect=OPEN_PLAN_STATES,
                        emit=[PlanSuperseded(task_id=task_id, plan_id=older.id, superseded_by=newest_plan_id)],
                    )
                except IllegalTransition:
                    logger.info("plan %s was decided meanwhile; not superseded", older.id)

    async def _settle_task(
        self,
        task_id: str,
        target: str,
        *,
        reason: str | None = None,
        details: dict | None = None,
        emit: Sequence[Event] = (),
    ) -> None:
        """A first planning settles the task; a replan only leaves a trace on a task already settled. A failure
        emits ``task.failed`` (and ``emit`` whatever else the caller has), in the same transaction."""
        if target == "failed":
            emit = [*emit, TaskFailed(task_id=task_id, reason=reason or "planning failed")]
        if (await self.store.get_task(task_id)).status.state == "parsing":
            await self.store.transition("task", task_id, target, actor=SYSTEM_ACTOR, reason=reason, details=details, emit=emit)
        else:
            await self.store.append_audit(
                "task", task_id, f"task.replanned.{target}", SYSTEM_ACTOR, {**(details or {}), "reason": reason}, emit=emit
            )

    async def _auto_approve(self, plan: Plan) -> None:
        """Only when a team opted in (approval.auto_approve_high_quality) and the score is high enough."""
        reason = f"auto-approved: quality {plan.quality_score}/100 (approval.auto_approve_high_quality is on)"
        approval = Approval(
            decision="approved", decided_by=SYSTEM_ACTOR, reason=reason, plan_hash=self.plan_hash(plan), votes=[SYSTEM_ACTOR]
        )
        await self.store.transition(
            "plan",
            plan.id,
            "approved",
            actor=SYSTEM_ACTOR,
            reason=reason,
            expect=("awaiting_approval",),
            changes={"approval": approval.to_document()},
            emit=[PlanDecided(task_id=plan.task_id, plan_id=plan.id, decision="approved", actor=SYSTEM_ACTOR)],
        )
        approved = await self.store.get_plan(plan.id)
        await self.executor.start(approved, SYSTEM_ACTOR)

    # -- decisions ---------------------------------------------------------------------------

    async def may_decide(self, plan_id: str, actor: str, *, org: str | None = None) -> DecisionOutcome:
        """Whether ``actor`` could vote on the plan now (status "allowed"). Changes nothing, but a refusal is
        audited like a refused decision."""
        try:
            plan = await self._plan_seen_by(plan_id, org)
        except NotFound:
            return DecisionOutcome("not_found", "That plan no longer exists.")
        gate = await self._authorize(actor, "reject", plan)
        if isinstance(gate.verdict, Refused):
            return DecisionOutcome(gate.verdict.code, gate.verdict.detail, plan)
        return DecisionOutcome("allowed", "", plan)

    async def decide(
        self,
        plan_id: str,
        actor: str,
        decision: Literal["approved", "rejected"],
        reason: str | None = None,
        *,
        seen_hash: str | None = None,
        org: str | None = None,
    ) -> DecisionOutcome:
        """A vote. A reject by an eligible approver rejects the plan; an approval counts towards the rule's quorum,
        and the vote that completes it approves the plan and starts its run, in one transaction. ``seen_hash``: the
        plan hash (or its prefix) the voter was shown; a vote on a plan that changed since is refused (superseded).
        ``org``: the voter's workspace; another workspace's plan is not found."""
        with bind(plan_id=plan_id):
            return await self._decide(plan_id, actor, decision, reason, seen_hash, org)

    async def _decide(
        self,
        plan_id: str,
        actor: str,
        decision: Literal["approved", "rejected"],
        reason: str | None,
        seen_hash: str | None,
        org: str | None,
    ) -> DecisionOutcome:
        try:
            plan = await self._plan_seen_by(plan_id, org)
        except NotFound:
            return DecisionOutcome("not_found", "That plan no longer exists.")
        add_log_ids(task_id=plan.task_id)
        gate = await self._authorize(actor, "approve" if decision == "approved" else "reject", plan, decision=decision)
        if isinstance(gate.verdict, Refused):
            return DecisionOutcome(gate.verdict.code, gate.verdict.detail, plan)
        if seen_hash and not gate.plan_hash.startswith(seen_hash):
            detail = (
                f"The plan changed since you saw it (version {seen_hash[:12]}, now {gate.plan_hash[:12]}: its content or "
                "the policies in force); look at it again, then decide."
            )
            await self.store.append_audit(
                "plan", plan.id, "plan.decision_refused", actor, {"code": "superseded", "detail": detail}
            )
            return DecisionOutcome("superseded", detail, plan)
        required = gate.verdict.rule.required if gate.verdict.rule is not None else 1
        return await self._vote(plan, gate.plan_hash, actor, decision, reason, required)

    async def _vote(
        self, plan: Plan, version: str, actor: str, decision: Literal["approved", "rejected"], reason: str | None, required: int
    ) -> DecisionOutcome:
        run: Run | None = None
        published: list[AuditAppended] = []
        try:
            async with self.store.database.engine.begin() as conn:
                state = await self.votes.lock_plan(conn, plan.id)
                if state != "awaiting_approval":
                    raise IllegalTransition("plan", plan.id, state or "missing", decision)
                await self.votes.cast(conn, plan.id, version, actor, "approve" if decision == "approved" else "reject", reason)
                ballot = [v.user_id for v in await self.votes.for_version(plan.id, version, conn) if v.decision == "approve"]
                vote_details = {"vote": decision, "plan_hash": version, "votes": len(ballot), "required": required}
                published.append(
                    await self.store.append_audit_in(conn, "plan", plan.id, "plan.vote_recorded", actor, vote_details)
                )
                if decision == "approved" and len(ballot) < required:
                    decided = False
                else:
                    votes = ballot if decision == "approved" else [actor]
                    approval = Approval(decision=decision, decided_by=actor, reason=reason, plan_hash=version, votes=votes)
                    _, appended = await self.store.transition_in(
                        conn,
                        "plan",
                        plan.id,
                        decision,
                        actor=actor,
                        reason=reason,
                        details={"plan_hash": version, "votes": votes, "required": required},
                        expect=("awaiting_approval",),
                        changes={"approval": approval.to_document()},
                    )
                    published.append(appended)
                    decided = True
                    if decision == "approved":
                        run, started = await self.executor.start_in(conn, plan.model_copy(update={"approval": approval}), actor)
                        published.append(started)
                    decided_event = PlanDecided(task_id=plan.task_id, plan_id=plan.id, decision=decision, actor=actor)
                    await self.store.emit_in(conn, decided_event)
                if not decided:
                    vote_event = VoteRecorded(
                        task_id=plan.task_id,
                        plan_id=plan.id,
                        actor=actor,
                        decision="approve",
                        votes=len(ballot),
                        required=required,
                    )
                    await self.store.emit_in(conn, vote_event)
        except AlreadyVoted:
            return DecisionOutcome(
                "already_voted", "You already voted on this version of the plan; it needs someone else now.", plan
            )
        except IllegalTransition:
            current = await self.store.get_plan(plan.id)
            return DecisionOutcome("already_decided", _already(current), current)
        await self.bus.publish(published.pop(0))  # the vote's audit entry, committed with the vote
        if not decided:
            await self.bus.publish(vote_event)
            message = f"Vote recorded: {len(ballot)} of {required} approvals."
            return DecisionOutcome("voted", message, plan, votes=ballot, required=required)
        for event in published:
            await self.bus.publish(event)
        if run is not None:
            self.executor.wake()
        plan = await self.store.get_plan(plan.id)
        await self.bus.publish(decided_event)
        return DecisionOutcome(decision, f"Plan {decision}.", plan, run, votes=ballot, required=required)

    async def control_run(
        self, run_id: str, actor: str, action: Literal["pause", "resume", "abort"], *, org: str | None = None
    ) -> RunControlOutcome:
        """Pause, resume or abort a run. Only the plan's approvers (and admins) may; an abort reverts what it changed.
        ``org``: the actor's workspace; another workspace's run is not found."""
        try:
            run = await self.store.get_run(run_id)
            plan = await self._plan_seen_by(run.plan_id, org)
        except NotFound:
            return RunControlOutcome("not_found", "That run no longer exists.")
        gate = await self._authorize(actor, "run_control", plan, run_id=run_id, control=action)
        if isinstance(gate.verdict, Refused):
            return RunControlOutcome("not_allowed", gate.verdict.detail, run)
        operation = {"pause": self.executor.pause, "resume": self.executor.resume, "abort": self.executor.abort}.get(action)
        if operation is None:
            return RunControlOutcome("invalid", f"Unknown action {action!r}; use pause, resume or abort.", run)
        try:
            run = await operation(run_id, actor)
        except ValidationFailed as exc:
            return RunControlOutcome("invalid", f"The run stays paused: {exc}: " + "; ".join(exc.errors), run)
        except IllegalTransition as exc:
            current = await self.store.get_run(run_id)
            return RunControlOutcome(
                "invalid", f"The run is {current.state.replace('_', ' ')}, so it cannot {action} ({exc.current}).", current
            )
        done: Literal["paused", "resumed", "aborted"] = _CONTROL_DONE[action]
        return RunControlOutcome(done, f"Run {done}.", run)

    # -- who may: one gate for every front ------------------------------------------------------

    async def _authorize(
        self,
        actor: str,
        action: Action,
        plan: Plan,
        *,
        decision: str | None = None,
        run_id: str | None = None,
        control: str | None = None,
    ) -> _Gate:
        """Load what the rules need, ask the authorizer, and audit a refusal (not a plain "already decided")."""
        task = await self.store.get_task(plan.task_id)
        risk = task.task_spec.risk_level if task.task_spec else None
        version = self.plan_hash(plan)
        voters: set[str] = set()
        if action != "run_control":
            voters = {v.user_id for v in await self.votes.for_version(plan.id, version)}
        freeze = await self.freezes.get(self._freeze_key(plan.environment, task.org_id)) if action != "run_control" else None
        verdict = await self.authorizer.authorize(
            actor,
            action,
            plan,
            requester=task.created_by,
            risk=risk,
            voters=voters,
            frozen=freeze.reason if freeze is not None else None,
            org=task.org_id,
        )
        if isinstance(verdict, Refused) and verdict.code != "already_decided":
            details = {"code": verdict.code, "detail": verdict.detail}
            if run_id is not None:
                await self.store.append_audit("run", run_id, "run.control_refused", actor, {"action": control, **details})
            else:
                refused = {"decision": decision or "rejected", "plan_hash": version, **details}
                await self.store.append_audit("plan", plan.id, "plan.decision_refused", actor, refused)
        return _Gate(verdict, version)

    def use_groups(self, directory: GroupDirectory) -> None:
        """Where group members come from (the Slack front sets its usergroups reader)."""
        self.authorizer.groups = directory

    def plan_hash(self, plan: Plan) -> str:
        """The plan's hash now: its content, the policies in force and its dry-run diff (votes are bound to it)."""
        return plan_hash(plan, policy_bundle_hash(self.config.policies))

    async def ballot(self, plan: Plan) -> Ballot:
        task = await self.store.get_task(plan.task_id)
        rule = self.authorizer.rule_for(plan, task.task_spec.risk_level if task.task_spec else None, task.org_id)
        version = plan.approval.plan_hash if plan.approval is not None and plan.approval.plan_hash else self.plan_hash(plan)
        votes = tuple(v.user_id for v in await self.votes.for_version(plan.id, version) if v.decision == "approve")
        if rule is None:
            return Ballot(None, 1, votes, version)
        risk = task.task_spec.risk_level if task.task_spec else None
        expires = plan.status.updated_at + timedelta(seconds=rule.ttl) if rule.ttl and plan.status.updated_at else None
        eligible = await self.authorizer.eligible(rule, requester=task.created_by, risk=risk, org=task.org_id)
        return Ballot(rule.describe(), rule.required, votes, version, expires, eligible)

    def _may_auto_approve(self, plan: Plan, task: Task) -> bool:
        """Auto-approval (approval.auto_approve_*) never stands in for several people or for a high-risk change."""
        risk = task.task_spec.risk_level if task.task_spec else None
        rule = self.authorizer.rule_for(plan, risk, task.org_id)
        return risk not in HIGH_RISK and (rule is None or rule.required <= 1)

    async def _approver_of_task(self, actor: str, task: Task) -> bool:
        risk = task.task_spec.risk_level if task.task_spec else None
        plans = await self.store.plans_for_task(task.id)
        environment = plans[-1].environment if plans else (task.task_spec.environment if task.task_spec else None)
        rule = self.authorizer.book(task.org_id).rule_for(environment, risk)
        return rule is not None and (await self.authorizer.member_of(actor, rule.approvers, task.org_id))[0]

    async def recheck_before_run(self, plan: Plan) -> list[str]:
        """Policies or inventory may have changed since approval: validate once more before starting."""
        task = await self.store.get_task(plan.task_id)
        context = PlanContext(
            plan=plan,
            task_spec=task.task_spec,
            requester=task.created_by,
            fleet=await self._fleet_of(task.org_id)[0].fleet(),
            stage="run",
        )
        validation = await self.validator.validate(context)
        errors = [] if validation.overall_valid else list(validation.errors)
        errors += await self._assets_in_other_runs(plan)
        errors += await self._freeze_problems(plan, task.org_id)
        if errors:
            await self.store.append_audit("plan", plan.id, "plan.revalidation_failed", SYSTEM_ACTOR, {"errors": errors[:50]})
        return errors

    async def check_before_phase(self, plan: Plan) -> list[str]:
        """At every phase boundary of a running run: a freeze of its environment pauses it there."""
        return await self._freeze_problems(plan, (await self.store.get_task(plan.task_id)).org_id)

    def _freeze_key(self, environment: str | None, org: str | None) -> str | None:
        """Freezes belong to a workspace in OAuth mode: one workspace's freeze never stops another's runs."""
        if environment is None or org is None or not self.workspaces.multi or org == self.workspaces.default_org:
            return environment
        return f"{org}/{environment}"

    async def _freeze_problems(self, plan: Plan, org: str | None) -> list[str]:
        freeze = await self.frozen(plan.environment, org=org)
        if freeze is None:
            return []
        return [
            f"{freeze.environment} is frozen by {freeze.actor}: {freeze.reason} (/ops unfreeze {freeze.environment} lifts it)"
        ]

    # -- change freeze -----------------------------------------------------------------------

    async def freeze(self, environment: str, actor: str, reason: str, *, org: str | None = None) -> FreezeOutcome:
        """Freeze an environment: votes there are refused, its runs do not start, running ones pause at their next
        phase boundary. Only the environment's rule approvers and admins may; audited either way. ``org``: the
        actor's workspace (OAuth mode: the freeze is that workspace's only)."""
        if not reason.strip():
            return FreezeOutcome("invalid", f"Say why: /ops freeze {environment} <reason>.")
        key = self._freeze_key(environment, org) or environment
        refused = await self.authorizer.may_freeze(actor, environment, org)
        if refused is not None:
            await self.store.append_audit("environment", key, "environment.freeze_refused", actor, {"code": refused.code})
            return FreezeOutcome("not_allowed", refused.detail)
        at = self.clock.now()
        reason = reason.strip()[:500]
        async with self.store.database.engine.begin() as conn:
            await self.freezes.set(conn, key, reason, actor, at)
            appended = await self.store.append_audit_in(conn, "environment", key, "environment.frozen", actor, {"reason": reason})
            changed = FreezeChanged(environment=environment, actor=actor, reason=reason, workspace=self._workspace_of(org))
            await self.store.emit_in(conn, changed)
        await self.store.publish(appended, changed)
        return FreezeOutcome("frozen", f"{environment} is frozen: {reason}", Freeze(environment, reason, actor, at))

    async def unfreeze(self, environment: str, actor: str, *, org: str | None = None) -> FreezeOutcome:
        """Lift a freeze; paused runs stay paused until a person resumes them."""
        key = self._freeze_key(environment, org) or environment
        refused = await self.authorizer.may_freeze(actor, environment, org)
        if refused is not None:
            await self.store.append_audit("environment", key, "environment.unfreeze_refused", actor, {"code": refused.code})
            return FreezeOutcome("not_allowed", refused.detail)
        async with self.store.database.engine.begin() as conn:
            if not await self.freezes.clear(conn, key):
                return FreezeOutcome("not_frozen", f"{environment} is not frozen.")
            appended = await self.store.append_audit_in(conn, "environment", key, "environment.unfrozen", actor)
            changed = FreezeChanged(environment=environment, actor=actor, reason=None, workspace=self._workspace_of(org))
            await self.store.emit_in(conn, changed)
        await self.store.publish(appended, changed)
        return FreezeOutcome("unfrozen", f"{environment} is no longer frozen; paused runs go on when someone resumes them.")

    async def frozen(self, environment: str | None, *, org: str | None = None) -> Freeze | None:
        """The freeze of an environment in ``org``'s workspace, if any (cards show it)."""
        found = await self.freezes.get(self._freeze_key(environment, org))
        if found is None or environment is None:
            return found
        return dataclasses.replace(found, environment=environment)

    def _workspace_of(self, org: str | None) -> str | None:
        """The workspace an event names: only in OAuth mode, and only another than the default org."""
        return org if self.workspaces.multi and org != self.workspaces.default_org else None

    async def open_plan_ids(self, environment: str, *, workspace: str | None = None) -> list[str]:
        """Plans of the environment whose card a freeze changes: waiting for votes, or with a running or paused run.
        ``workspace``: only that workspace's plans (OAuth mode; as FreezeChanged names it)."""
        ids = {p.id for p in await self.store.plans_by(state="awaiting_approval") if p.environment == environment}
        ids |= {r.plan_id for r in await self.store.runs_in_states(["executing", "paused"]) if r.environment == environment}
        if self.workspaces.multi:
            org = workspace or self.workspaces.default_org
            ids = {i for i in ids if (await self.store.get_task((await self.store.get_plan(i)).task_id)).org_id == org}
        return sorted(ids)

    async def _assets_in_other_runs(self, plan: Plan) -> list[str]:
        """Two runs changing one asset would undo each other's work (and rollbacks)."""
        mine = set(plan.payload.affected_assets)
        problems = []
        for run in await self.store.runs_in_states(["queued", "executing", "paused"]):
            if run.plan_id == plan.id:
                continue
            other = await self.store.get_plan(run.plan_id)
            shared = sorted(mine & set(other.payload.affected_assets))
            if shared:
                listed = ", ".join(shared[:5]) + (f" and {len(shared) - 5} more" if len(shared) > 5 else "")
                problems.append(
                    f"run {run.id[:8]} ({run.state}) is changing {listed}; wait for it to finish or abort it, then ask again"
                )
        return problems

    # -- lookups -----------------------------------------------------------------------------

    async def act_on_finding(
        self, plan_id: str, index: int, actor: str, origin: dict[str, Any], **options: Any
    ) -> FindingActOutcome:
        """A report's finding becomes the ask of its action, recorded like a typed ask (core/report_actions.py)."""
        return await act_on_finding(self, plan_id, index, actor, origin, **options)

    async def get_plan(self, plan_id: str, *, org: str | None = None) -> Plan:
        """NotFound also for another workspace's plan (``org``: the viewer's workspace)."""
        return await self._plan_seen_by(plan_id, org)

    async def get_task(self, task_id: str, *, org: str | None = None) -> Task:
        task = await self.store.get_task(task_id)
        self.workspaces.check(task.org_id, org, f"no task {task_id}")
        return task

    async def _plan_seen_by(self, plan_id: str, org: str | None) -> Plan:
        plan = await self.store.get_plan(plan_id)
        if self.workspaces.multi and org is not None:
            self.workspaces.check((await self.store.get_task(plan.task_id)).org_id, org, f"no plan {plan_id}")
        return plan

    async def refresh_inventory(self, *, org: str | None = None) -> InventoryRefresh:
        """Re-read the inventory source now (``/ops inventory refresh``); changes nothing but the cached fleet.
        ``org``: the asker's workspace, whose own inventory is re-read when it has one.

        Raises ConfigError with the source's message when it cannot be read; the last good fleet stays."""
        if org is not None and org in self.fleets:
            return await self.fleets[org][0].refresh()
        result = await self.inventory.refresh()
        self._reader = self.reader.with_lexicon(await _lexicon(self.inventory, self.config))  # new services, hosts, tags
        logger.info(
            "inventory refreshed: %d asset(s), %d added, %d removed, %d changed, %d left out",
            result.assets,
            len(result.added),
            len(result.removed),
            len(result.changed),
            len(result.left_out),
        )
        return result

    async def run_status(self, run_id: str, *, org: str | None = None) -> Replay:
        """A run's replay (state, timeline, stats), by id or a unique prefix of 8+ characters; NotFound otherwise
        (also for another workspace's run: ``org`` is the viewer's workspace)."""
        replay = await replay_run(self.store, run_id)
        if self.workspaces.multi and org is not None:
            task_id = (await self.store.get_plan(replay.run.plan_id)).task_id
            self.workspaces.check((await self.store.get_task(task_id)).org_id, org, f"no run {run_id}")
        return replay


@dataclass(frozen=True)
class _Gate:
    verdict: Verdict
    plan_hash: str


def _notification_subscribers(config: Config, store: Store, clock: Clock = SYSTEM_CLOCK) -> list[Any]:
    """Email, webhooks and NATS as outbox subscribers (``notifications`` and ``events`` in the config)."""
    from core import notify

    build = getattr(notify, "build_subscribers", None)
    return list(build(config, store, clock=clock)) if build is not None else []


def retry_policy(config: Config) -> RetryPolicy:
    """Delivery retries from ``notifications.retry`` (attempts, max_backoff)."""
    retry = getattr(config.notifications, "retry", None)
    if retry is None:
        return RetryPolicy()
    return RetryPolicy(attempts=int(retry.attempts), max_backoff=float(retry.max_backoff))


async def _lexicon(inventory: Inventory, config: Config) -> Lexicon:
    """The names asks are read against: the fleet (hosts, services, tags, images) and the data directory's services."""
    return Lexicon.build(await inventory.fleet(), config.inventory.data_dir)


def _notes(*notes: str | None) -> str | None:
    return " ".join(n for n in notes if n) or None


def _already(plan: Plan) -> str:
    if plan.approval is not None:
        return f"This plan was already {plan.approval.decision} by {plan.approval.decided_by}."
    return f"This plan is {plan.state.replace('_', ' ')} and cannot be decided now."


def _addresses_of(inventory: Inventory) -> Callable[[list[str]], Awaitable[dict[str, str]]]:
    """``{address}`` for health URLs: each asset's address from the inventory (assets without one are left out)."""

    async def addresses(asset_ids: list[str]) -> dict[str, str]:
        assets = (await inventory.fleet()).by_id()
        return {a: address for a in asset_ids if a in assets and (address := assets[a].address)}

    return addresses
