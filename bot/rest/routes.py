"""The REST API under ``/api/v1/ai``: payload → pydantic model → core call → JSON.

Handlers hold no business rules: who may decide, what a state allows and what gets audited are the
service's answers, which are only translated into HTTP statuses here.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Literal, TypeVar

from aiohttp import web
from pydantic import ValidationError

from bot.rest.auth import ENV_NAME, TokenTable, bearer_token, parse_tokens
from bot.rest.errors import ApiError, error_response, from_core_error, from_http_exception
from bot.rest.idempotency import idempotency
from bot.rest.models import DecisionRequest, ExecuteRequest, RequestModel, TaskQuery, explain, query_values
from bot.rest.views import agents_view, outcome_view, plan_view, run_view, task_view, tools_view
from bot.untrusted import structure_problem, text_problem
from core.config import ApiConfig, Config
from core.domain import Task
from core.errors import ConfigError, NotFound, OpsPilotError
from core.intake import Ask
from core.service import OpsPilot

logger = logging.getLogger(__name__)

PREFIX = "/api/v1/ai"  # not /api: the playground's Slack emulator answers /api/{method} on the same server
REALM = 'Bearer realm="opspilot"'
SERVICE = web.AppKey("opspilot_service", OpsPilot)
TOKENS = web.AppKey("opspilot_api_tokens", TokenTable)
SETTINGS = web.AppKey("opspilot_api_settings", ApiConfig)
ACTOR: Any = web.RequestKey("opspilot_api_actor", str) if hasattr(web, "RequestKey") else "opspilot.api.actor"  # aiohttp < 3.12
TEAM: Any = web.RequestKey("opspilot_api_team", object) if hasattr(web, "RequestKey") else "opspilot.api.team"
CONTROL_ACTIONS: dict[str, Literal["pause", "resume", "abort"]] = {"pause": "pause", "resume": "resume", "cancel": "abort"}
CONTROL_STATUS = {"paused": 200, "resumed": 200, "aborted": 200, "not_allowed": 403, "not_found": 404, "invalid": 409}
# A refusal answers 403 with the authorizer's code (core.approvals.authorizer), except already_decided: 409.
DECISION_STATUS = {"approved": 200, "rejected": 200, "voted": 200, "not_found": 404, "already_decided": 409}

M = TypeVar("M", bound=RequestModel)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def rest_routes(app: web.Application, service: OpsPilot, config: Config) -> None:
    """Mount the API under ``/api/v1/ai``. Malformed ``OPSPILOT_API_TOKENS`` stops startup (ConfigError)."""
    app.add_subapp(PREFIX, build_api(service, config))


def build_api(service: OpsPilot, config: Config) -> web.Application:
    # Inside the gate: only authenticated calls reach the Idempotency-Key store (bot/rest/idempotency.py).
    keys = service.idempotency
    api = web.Application(middlewares=[_guard, idempotency(keys, lambda request: request.config_dict[SETTINGS].max_body_bytes)])
    api[SERVICE] = service
    api[TOKENS] = parse_tokens(config.api_tokens)
    unscoped = api[TOKENS].unscoped()
    if config.slack.oauth and unscoped:
        raise ConfigError(
            f"{ENV_NAME}: with OpsPilot installed in many workspaces (OAuth mode) every token must name its workspace, "
            f"e.g. <token>=U0APPROVER1@T0123ABCD; these users' tokens name none: {', '.join(sorted(set(unscoped)))}"
        )
    api[SETTINGS] = config.api
    if api[SETTINGS].enabled and api[TOKENS].configured:
        logger.info("REST API on %s for %d token(s)", PREFIX, len(api[TOKENS]))
    r = api.router
    r.add_post("/execute", execute)
    r.add_get("/tasks", list_tasks)
    r.add_get("/tasks/{task_id}", get_task)
    r.add_post("/tasks/{task_id}/approve", approve)
    r.add_post("/tasks/{task_id}/reject", reject)
    r.add_get("/tasks/{task_id}/executions", task_executions)
    r.add_get("/tasks/{task_id}/audit", task_audit)
    r.add_get("/executions/{run_id}", get_execution)
    r.add_post("/executions/{run_id}/{action:pause|resume|cancel}", control_execution)
    r.add_get("/agents", list_agents)
    r.add_get("/tools", list_tools)
    return api


# -- the gate: enabled, authenticated, errors in one shape ------------------------------------------


@web.middleware
async def _guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    settings, tokens = request.config_dict[SETTINGS], request.config_dict[TOKENS]
    if not settings.enabled:
        return error_response(
            503,
            "api_disabled",
            "The REST API is turned off by `api: {enabled: false}` in the config file; "
            "set it to true, set OPSPILOT_API_TOKENS and restart OpsPilot.",
        )
    if not tokens.configured:
        return error_response(
            503,
            "api_disabled",
            f"The REST API is off because {ENV_NAME} is not set. Set it to token=USER_ID "
            f'pairs, e.g. {ENV_NAME}="<random token>=U0APPROVER1", and restart OpsPilot.',
        )
    token = bearer_token(request.headers.get("Authorization"))
    if token is None:
        return error_response(
            401,
            "unauthorized",
            f"Send the header `Authorization: Bearer <token>` with a token from {ENV_NAME}.",
            headers={"WWW-Authenticate": REALM},
        )
    identity = tokens.identity_for(token)
    if identity is None:
        return error_response(
            401,
            "invalid_token",
            f"That bearer token is not one of {ENV_NAME}; check it, or ask for one.",
            headers={"WWW-Authenticate": f'{REALM}, error="invalid_token"'},
        )
    request[ACTOR], request[TEAM] = identity
    for name, value in request.match_info.items():
        problem = text_problem(value)
        if problem:
            return error_response(400, "bad_request", f"The {name} in the path {problem}; use an id from the API's answers.")
    try:
        return await handler(request)
    except ApiError as exc:
        return exc.response()
    except web.HTTPException as exc:
        return from_http_exception(request, exc)
    except OpsPilotError as exc:
        return from_core_error(exc)
    except Exception:
        logger.exception("REST API %s %s failed", request.method, request.path)
        return error_response(500, "internal_error", "OpsPilot could not complete the call; the server log has the details.")


async def read_body(request: web.Request, model: type[M], *, optional: bool = False) -> M:
    limit = request.config_dict[SETTINGS].max_body_bytes
    too_large = ApiError(
        413, "payload_too_large", f"The body may have at most {limit} bytes; send one small JSON object such as {model.example}."
    )
    if request.content_length is not None and request.content_length > limit:
        raise too_large
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise too_large from None
    if len(raw) > limit:
        raise too_large
    if not raw.strip():
        if optional:
            return model()
        raise ApiError(400, "bad_json", f"The body is empty; send a JSON object such as {model.example}.")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(
            400, "bad_json", f"The body is not valid JSON ({exc}); send a JSON object such as {model.example}."
        ) from None
    except RecursionError:
        raise ApiError(
            400, "bad_request", f"The body nests too deep; send one flat JSON object such as {model.example}."
        ) from None
    if not isinstance(data, dict):
        raise ApiError(400, "bad_json", f"The body must be a JSON object, not {type(data).__name__}; e.g. {model.example}.")
    problem = structure_problem(data)
    if problem:
        raise ApiError(400, "bad_request", f"The body is refused: {problem}; send a JSON object such as {model.example}.")
    try:
        return model.model_validate(data, strict=True)
    except ValidationError as exc:
        raise ApiError(422, "invalid_request", explain(exc, model.example)) from None


def read_query(request: web.Request, model: type[M]) -> M:
    try:
        return model.model_validate(query_values(request.query))
    except ValidationError as exc:
        raise ApiError(400, "invalid_query", explain(exc, model.example)) from None


def _service(request: web.Request) -> OpsPilot:
    return request.config_dict[SERVICE]


def _org(request: web.Request) -> str | None:
    """What the token's caller sees: its workspace in OAuth mode (core/workspaces.py), everything otherwise."""
    return _service(request).workspaces.viewer(request[TEAM])


async def _task(request: web.Request) -> Task:
    task_id = request.match_info["task_id"]
    try:
        return await _service(request).get_task(task_id, org=_org(request))
    except NotFound:
        raise ApiError(404, "not_found", f"There is no task {task_id}; GET {PREFIX}/tasks lists the recent ones.") from None


def _json(body: Any, status: int = 200, **headers: str) -> web.Response:
    return web.json_response(body, status=status, headers=headers or None)


# -- asks ---------------------------------------------------------------------------------------------


async def execute(request: web.Request) -> web.Response:
    body = await read_body(request, ExecuteRequest)
    service = _service(request)
    team = {"team": request[TEAM]} if request[TEAM] else {}
    ask = Ask.from_front(body.intent, request[ACTOR], front="api", **team)
    outcome = await (service.dry_run(ask) if body.dry_run else service.submit(ask))
    if outcome.kind == "invalid":
        # An unclear ask: the likeliest readings, so a client can ask the person which one they meant.
        choices: list[dict[str, Any]] = [
            {"agent": c.agent, "label": c.label, "confidence": round(c.confidence, 3)} for c in outcome.choices
        ]
        offered: dict[str, Any] = {"choices": choices} if choices else {}
        raise ApiError(422, "unknown_ask", outcome.message, **offered)
    if outcome.kind == "failed":
        stored = outcome.task.id if outcome.task is not None and not body.dry_run else None
        extra: dict[str, Any] = {"task_id": stored} if stored else {}
        raise ApiError(422, "ask_failed", outcome.message, **extra)
    view = outcome_view(outcome, dry_run=body.dry_run)
    if body.dry_run:
        return _json(view)
    assert outcome.task is not None  # a stored ask that did not fail always has its task
    return _json(view, 201, Location=f"{PREFIX}/tasks/{outcome.task.id}")


# -- tasks --------------------------------------------------------------------------------------------


async def list_tasks(request: web.Request) -> web.Response:
    query = read_query(request, TaskQuery)
    tasks = await _service(request).queries.recent_tasks(limit=query.limit, state=query.state, org=_org(request))
    return _json({"tasks": [task_view(t) for t in tasks], "count": len(tasks)})


async def get_task(request: web.Request) -> web.Response:
    task = await _task(request)
    history = await _service(request).queries.task_history(task.id, org=_org(request))
    plans, runs = history.plans, history.runs
    return _json({"task": task_view(task), "plans": [plan_view(p) for p in plans], "runs": [run_view(r) for r in runs]})


async def approve(request: web.Request) -> web.Response:
    return await _decide(request, "approved")


async def reject(request: web.Request) -> web.Response:
    return await _decide(request, "rejected")


async def _decide(request: web.Request, decision: Literal["approved", "rejected"]) -> web.Response:
    body = await read_body(request, DecisionRequest, optional=True)
    task = await _task(request)
    service = _service(request)
    plans = await service.queries.plans_for_task(task.id, org=_org(request))
    if not plans:
        why = f": {task.status.reason}" if task.status.reason else ""
        raise ApiError(
            409, "nothing_to_decide", f"Task {task.id} has no plan to approve or reject (it is {task.status.state}{why})."
        )
    # The open plan if there is one, else the newest, whose state the service explains.
    plan = next((p for p in reversed(plans) if p.state == "awaiting_approval"), plans[-1])
    outcome = await service.decide(plan.id, request[ACTOR], decision, body.reason, seen_hash=body.plan_hash, org=_org(request))
    status = DECISION_STATUS.get(outcome.status, 403 if outcome.refused else 409)
    if status != 200:
        undecidable = outcome.plan is not None and outcome.plan.approval is None  # a report, or a plan that failed validation
        code = {403: outcome.status, 404: "not_found"}.get(status, "nothing_to_decide" if undecidable else "already_decided")
        raise ApiError(status, code, outcome.message, plan_id=plan.id)
    return _json(
        {
            "decision": outcome.status,
            "message": outcome.message,
            "votes": outcome.votes,
            "required": outcome.required,
            "plan": plan_view(outcome.plan),
            "run": run_view(outcome.run),
        }
    )


async def task_executions(request: web.Request) -> web.Response:
    task = await _task(request)
    runs = (await _service(request).queries.task_history(task.id, org=_org(request))).runs
    return _json({"task_id": task.id, "executions": [run_view(r) for r in runs]})


async def task_audit(request: web.Request) -> web.Response:
    task = await _task(request)
    timeline = await _service(request).queries.audit_timeline(task.id, org=_org(request))
    return _json(timeline.to_document())


# -- executions ---------------------------------------------------------------------------------------


async def get_execution(request: web.Request) -> web.Response:
    run_id = request.match_info["run_id"]
    try:
        run = await _service(request).queries.run_with_audit(run_id, org=_org(request))
    except NotFound:
        raise ApiError(
            404, "not_found", f"There is no execution {run_id}; GET {PREFIX}/tasks/{{id}}/executions lists a task's executions."
        ) from None
    return _json(run_view(run))


async def control_execution(request: web.Request) -> web.Response:
    run_id, action = request.match_info["run_id"], request.match_info["action"]
    outcome = await _service(request).control_run(run_id, request[ACTOR], CONTROL_ACTIONS[action], org=_org(request))
    status = CONTROL_STATUS.get(outcome.status, 409)
    if status != 200:
        code = {403: "not_allowed", 404: "not_found"}.get(status, "conflict")
        raise ApiError(status, code, outcome.message)
    return _json({"status": outcome.status, "message": outcome.message, "execution": run_view(outcome.run)})


# -- catalogue ----------------------------------------------------------------------------------------


async def list_agents(request: web.Request) -> web.Response:
    return _json(agents_view(_service(request)))


async def list_tools(request: web.Request) -> web.Response:
    return _json(tools_view(_service(request)))
