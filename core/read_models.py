"""Read models for the fronts: what a card, the App Home, the REST API and ``/ops audit`` show, in one call each.

Fronts (Slack, REST) ask these instead of reaching into the store, so what they may see is decided here:
the App Home shows a viewer only plans they may approve now (under the approval rules, with group membership),
their own requests, and runs they started, controlled or asked for.

    queries.card_context(plan_id)      → CardContext(task, plan, latest run)
    queries.home_view(user_id)         → HomeView(waiting, requests, runs)
    queries.waiting_for(user_id)       → [WaitingPlan]       (``/ops approvals``)
    queries.audit_of(any_id)           → Timeline | None     (``/ops audit ID``: a task, plan or run id)
    queries.recent_runs(channel)       → [RecentRun]         (``/ops runs``, ``/ops status`` without an id)
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core.approvals.authorizer import Allowed, Authorizer
from core.audit.replay import Timeline, replay
from core.domain import Plan, Run, Task
from core.errors import NotFound
from core.outbox.dispatcher import OutboxStats, outbox_stats
from core.replay import MIN_PREFIX
from core.store import Store
from core.store.installations import Installations
from core.store.message_refs import merge_message_ref
from core.store.rate_limits import RateLimits
from core.store.recent_runs import RecentRun, recent_runs
from core.store.votes import Votes
from core.token_crypto import TokenCipher
from core.workspaces import Workspaces

logger = logging.getLogger(__name__)

HOME_REQUESTS = 10
HOME_RUNS = 10
WAITING_SCAN = 200  # open plans looked at for a viewer's "waiting for you" list
ACTOR_SCAN = 300  # a viewer's newest audit entries searched for runs they started or controlled
_ID = re.compile(r"^[0-9A-Za-z][0-9A-Za-z-]{7,63}$")


@dataclass(frozen=True)
class CardContext:
    task: Task
    plan: Plan
    run: Run | None  # the plan's latest run, if any


@dataclass(frozen=True)
class WaitingPlan:
    """A plan awaiting approval that the viewer may approve now."""

    task: Task
    plan: Plan
    needs: str  # "2 of <!subteam^S0SRELEADS>, <@U0APPROVER1>"
    votes: tuple[str, ...]  # approvals of this version so far
    required: int
    card: dict[str, Any] | None = None  # where the plan's card is (its message ref), if it was posted


@dataclass(frozen=True)
class RequestRow:
    task: Task
    plan: Plan | None  # the newest plan, if any


@dataclass(frozen=True)
class RunRow:
    run: Run
    summary: str  # the plan's summary


@dataclass(frozen=True)
class HomeView:
    user_id: str
    waiting: list[WaitingPlan]
    requests: list[RequestRow]
    runs: list[RunRow]


@dataclass(frozen=True)
class TaskHistory:
    task: Task
    plans: list[Plan]
    runs: list[Run]


class Queries:
    """What fronts read. ``org`` arguments: the viewer's workspace (core/workspaces.py); in OAuth mode another
    workspace's tasks, plans and runs are left out of lists and are not found by id. None: the system (every one)."""

    def __init__(
        self,
        store: Store,
        authorizer: Authorizer,
        votes: Votes,
        plan_hash: Callable[[Plan], str],
        workspaces: Workspaces | None = None,
    ) -> None:
        self.store = store
        self.workspaces = workspaces
        self.authorizer = authorizer
        self.votes = votes
        self.plan_hash = plan_hash
        self._rate_limits = RateLimits(store.database)

    # -- cards --------------------------------------------------------------------------------

    async def delivery_stats(self) -> OutboxStats:
        """The outbox backlog, dead letters and lag (metrics)."""
        return await outbox_stats(self.store.database)

    async def card_context(self, plan_id: str) -> CardContext:
        """NotFound when there is no such plan."""
        plan = await self.store.get_plan(plan_id)
        task = await self.store.get_task(plan.task_id)
        runs = await self.store.runs_for_plan(plan_id, with_assets=False)
        return CardContext(task, plan, runs[-1] if runs else None)

    async def message_ref(self, plan_id: str) -> dict[str, Any] | None:
        """Where the plan's card was posted (``{"front": "slack", "channel": …, "ts": …}``), if it was."""
        return await self.store.message_ref(plan_id)

    async def set_message_ref(self, plan_id: str, ref: dict[str, Any]) -> None:
        await self.store.set_message_ref(plan_id, ref)

    async def update_message_ref(self, plan_id: str, changes: dict[str, Any]) -> dict[str, Any] | None:
        """Change some keys of the message ref (None removes one) under the row's lock; returns the new ref."""
        return await merge_message_ref(self.store.database, plan_id, changes)

    # -- rate limits a front was told about (shared by replicas) -------------------------------

    async def rate_limited_until(self, method: str, channel: str = "") -> datetime | None:
        """The end of the window in which ``method`` must not be called for ``channel``, if one was recorded."""
        return await self._rate_limits.until(method, channel)

    async def record_rate_limit(self, method: str, channel: str, until: datetime, now: datetime) -> None:
        await self._rate_limits.record(method, channel, until, now)

    # -- Slack installations (OAuth mode; tokens sealed with ``cipher``) ----------------------------

    def installations(self, cipher: TokenCipher) -> Installations:
        """The installation and OAuth-state store the Slack front's OAuth adapters use (``bot/oauth``)."""
        return Installations(self.store.database, cipher)

    # -- tasks, plans, runs -----------------------------------------------------------------------

    def _scope(self, org: str | None) -> str | None:
        """The org to filter by: None with one workspace (everyone sees everything) or for the system."""
        return org if self.workspaces is not None and self.workspaces.multi else None

    async def _check(self, task: Task, org: str | None, what: str) -> None:
        if self.workspaces is not None:
            self.workspaces.check(task.org_id, org, what)

    async def recent_tasks(self, limit: int = 20, state: str | None = None, *, org: str | None = None) -> list[Task]:
        return await self.store.recent_tasks(limit=limit, state=state, org_id=self._scope(org))

    async def plans_for_task(self, task_id: str, *, org: str | None = None) -> list[Plan]:
        if self._scope(org) is not None:
            await self._check(await self.store.get_task(task_id), org, f"no task {task_id}")
        return await self.store.plans_for_task(task_id)

    async def task_history(self, task_id: str, *, org: str | None = None) -> TaskHistory:
        """The task, its plans and every run of them (with their assets). NotFound when there is no such task."""
        task = await self.store.get_task(task_id)
        await self._check(task, org, f"no task {task_id}")
        plans = await self.store.plans_for_task(task_id)
        runs = [run for plan in plans for run in await self.store.runs_for_plan(plan.id)]
        return TaskHistory(task, plans, runs)

    async def recent_runs(self, channel: str | None = None, limit: int = 10, *, org: str | None = None) -> list[RecentRun]:
        """The newest runs (at most ``limit``), only those asked for in ``channel`` when it is given."""
        return await recent_runs(self.store.database, channel=channel, limit=limit, org=self._scope(org))

    async def run_with_audit(self, run_id: str, *, org: str | None = None) -> Run:
        """The run with its audit entries; NotFound when there is no such run."""
        run = await self.store.get_run(run_id, with_audit=True)
        if self._scope(org) is not None:
            await self._check(await self.store.get_task(await self._task_of_run(run_id)), org, f"no run {run_id}")
        return run

    # -- audit ----------------------------------------------------------------------------------

    async def audit_timeline(self, task_id: str, *, org: str | None = None) -> Timeline:
        if self._scope(org) is not None:
            await self._check(await self.store.get_task(task_id), org, f"no task {task_id}")
        return await replay(self.store, task_id)

    async def task_id_of(self, any_id: str) -> str | None:
        """The task a task, plan or run id (or a unique run id prefix of 8+ characters) belongs to; None: no such id."""
        if not _ID.match(any_id):
            return None
        for lookup in (self._task_of_task, self._task_of_plan, self._task_of_run):
            try:
                return await lookup(any_id)
            except NotFound:
                continue
        if len(any_id) >= MIN_PREFIX:
            matches = await self.store.run_ids_starting_with(any_id)
            if len(matches) == 1:
                return await self._task_of_run(matches[0])
        return None

    async def audit_of(self, any_id: str, *, org: str | None = None) -> Timeline | None:
        """The audit trail of the task that ``any_id`` (a task, plan or run id) belongs to; None: no such id (or
        another workspace's)."""
        task_id = await self.task_id_of(any_id)
        if task_id is None:
            return None
        if self.workspaces is not None and not self.workspaces.visible((await self.store.get_task(task_id)).org_id, org):
            return None
        return await replay(self.store, task_id)

    async def _task_of_task(self, task_id: str) -> str:
        return (await self.store.get_task(task_id)).id

    async def _task_of_plan(self, plan_id: str) -> str:
        return (await self.store.get_plan(plan_id)).task_id

    async def _task_of_run(self, run_id: str) -> str:
        run = await self.store.get_run(run_id, with_assets=False)
        return (await self.store.get_plan(run.plan_id)).task_id

    # -- what waits for a person ------------------------------------------------------------------

    async def waiting_for(self, user_id: str, limit: int = 20, *, org: str | None = None) -> list[WaitingPlan]:
        """Plans awaiting approval that ``user_id`` may approve now (the authorizer's answer, groups included:
        not their own high-risk asks, not plans they already voted on, not expired ones), newest first."""
        waiting: list[WaitingPlan] = []
        for plan in await self.store.plans_by(state="awaiting_approval", limit=WAITING_SCAN):
            try:
                task = await self.store.get_task(plan.task_id)
            except NotFound:
                continue
            if self.workspaces is not None and not self.workspaces.visible(task.org_id, org):
                continue
            risk = task.task_spec.risk_level if task.task_spec else None
            version = self.plan_hash(plan)
            votes = await self.votes.for_version(plan.id, version)
            verdict = await self.authorizer.authorize(
                user_id,
                "approve",
                plan,
                requester=task.created_by,
                risk=risk,
                voters={v.user_id for v in votes},
                org=task.org_id,
            )
            if not isinstance(verdict, Allowed):
                continue
            rule = verdict.rule
            approvals = tuple(v.user_id for v in votes if v.decision == "approve")
            needs = rule.describe() if rule is not None else "1 approval"
            required = rule.required if rule is not None else 1
            card = await self.store.message_ref(plan.id)
            waiting.append(WaitingPlan(task, plan, needs, approvals, required, card))
            if len(waiting) >= limit:
                break
        return waiting

    async def home_view(self, user_id: str, *, org: str | None = None) -> HomeView:
        """What ``user_id``'s App Home shows: what waits for them, their requests, and their runs."""
        waiting = await self.waiting_for(user_id, org=org)
        requests = []
        run_ids: dict[str, None] = {}
        for task in await self.store.recent_tasks(limit=HOME_REQUESTS, created_by=user_id, org_id=self._scope(org)):
            plans = await self.store.plans_for_task(task.id)
            requests.append(RequestRow(task, plans[-1] if plans else None))
            for plan in plans:
                run_ids.update(dict.fromkeys(r.id for r in await self.store.runs_for_plan(plan.id, with_assets=False)))
        for entry in await self.store.audit_by_actor(user_id, limit=ACTOR_SCAN):
            if entry.entity_type == "run":
                run_ids[entry.entity_id] = None
        runs: list[RunRow] = []
        for run_id in run_ids:
            try:
                run = await self.store.get_run(run_id, with_assets=False)
                plan = await self.store.get_plan(run.plan_id)
                if self._scope(org) is not None:
                    await self._check(await self.store.get_task(plan.task_id), org, f"no run {run_id}")
            except NotFound:
                continue
            runs.append(RunRow(run, plan.payload.summary))
        runs.sort(key=lambda row: row.run.created_at, reverse=True)
        return HomeView(user_id, waiting, requests, runs[:HOME_RUNS])

    # -- the service itself -----------------------------------------------------------------------

    async def readiness(self) -> None:
        """Raises when the database does not answer a trivial query."""
        await self.store.database.ping()

    def database_kind(self) -> str:
        """``sqlite`` or ``postgresql`` (the URL's scheme, never the URL: it may carry a password)."""
        return self.store.database.url.split(":", 1)[0]
