"""Fixtures for the validation tests: both policy evaluators, a loopback OPA server, plan builders."""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from core.domain import Plan, PlanPayload
from core.inventory import Fleet, load_fleet
from core.paths import POLICIES_DIR, SAMPLE_DATA_DIR
from core.tools.rollout import build_phases, rules_for
from core.validation import OpaEvaluator, PolicyEvaluator, RegorusEvaluator
from core.validation.rego_files import describe_rego_error, load_engine, policy_files


class OpaStub:
    """Speaks OPA's Data API (``POST /v1/data/<path>`` → ``{"result": …}``), evaluating with regorus.

    Like an OPA server started with ``opa run --server policies/``: tests (``*_test.rego``) are not loaded.
    """

    def __init__(self, directory: Path) -> None:
        self.engine = load_engine(policy_files(directory))
        self.requests: list[dict[str, Any]] = []
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> OpaStub:
        app = web.Application()
        app.router.add_post("/v1/data/{path:.*}", self._data)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _data(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.requests.append({"path": request.match_info["path"], "body": body})
        engine = self.engine.clone()
        engine.set_input_json(json.dumps(body.get("input", {})))
        query = "data." + request.match_info["path"].strip("/").replace("/", ".")
        try:
            answer = json.loads(engine.eval_query_as_json(query))
        except RuntimeError as exc:
            return web.json_response({"code": "internal_error", "message": describe_rego_error(exc)}, status=500)
        results = answer.get("result") or []
        if not results:
            return web.json_response({})
        return web.json_response({"result": results[0]["expressions"][0]["value"]})


EvaluatorFactory = Callable[[Path], Awaitable[PolicyEvaluator]]


@pytest.fixture(params=["regorus", "opa"])
async def make_evaluator(request: pytest.FixtureRequest) -> AsyncIterator[EvaluatorFactory]:
    """Build the evaluator under test over a policy directory: in-process, or remote through a loopback OPA."""
    stubs: list[OpaStub] = []

    async def make(directory: Path = POLICIES_DIR) -> PolicyEvaluator:
        if request.param == "regorus":
            return RegorusEvaluator.from_directory(directory)
        stub = await OpaStub(directory).start()
        stubs.append(stub)
        return OpaEvaluator(stub.url, timeout_seconds=5)

    try:
        yield make
    finally:
        for stub in stubs:
            await stub.stop()


@pytest.fixture
async def start_opa_stub() -> AsyncIterator[Callable[[Path], Awaitable[OpaStub]]]:
    stubs: list[OpaStub] = []

    async def start(directory: Path = POLICIES_DIR) -> OpaStub:
        stubs.append(await OpaStub(directory).start())
        return stubs[-1]

    try:
        yield start
    finally:
        for stub in stubs:
            await stub.stop()


@pytest.fixture
async def opa_stub(start_opa_stub) -> OpaStub:
    return await start_opa_stub()


@pytest.fixture
def policy_copy(tmp_path: Path) -> Path:
    """A writable copy of the shipped policies, for adding a team's own packages."""
    target = tmp_path / "policies"
    shutil.copytree(POLICIES_DIR, target)
    return target


@pytest.fixture(scope="session")
def fleet() -> Fleet:
    return load_fleet(SAMPLE_DATA_DIR / "fleet.yaml")


def fleet_ids(fleet: Fleet, environment: str, role: str | None = None) -> list[str]:
    return [a.id for a in fleet.assets if a.environment == environment and (role is None or a.role == role)]


@pytest.fixture
def make_plan() -> Callable[..., Plan]:
    """A plan over ``assets`` phased the way the rollout tool does it, or with the phases given."""

    def make(
        assets: list[str],
        environment: str = "production",
        *,
        phases: list[dict] | None = None,
        changes: list[dict] | None = None,
        steps: list[dict] | None = None,
        plan_type: str = "drift_plan",
        agent: str = "drift_agent",
    ) -> Plan:
        payload = {
            "summary": f"{plan_type} for {len(assets)} assets",
            "affected_assets": assets,
            "phases": build_phases(assets, rules_for(environment)) if phases is None else phases,
            "changes": changes
            if changes is not None
            else [
                {
                    "asset_id": a,
                    "action": "set_image_version",
                    "image": "ubuntu-base",
                    "from_version": "2.3.9",
                    "to_version": "2.4.1",
                }
                for a in assets
            ],
            "steps": steps or [],
        }
        return Plan(
            id=str(uuid.uuid4()),
            task_id=str(uuid.uuid4()),
            type=plan_type,
            agent=agent,
            environment=environment,
            payload=PlanPayload.model_validate(payload),
        )

    return make


def watched(name: str, assets: list[str]) -> dict:
    return {
        "name": name,
        "assets": assets,
        "health_checks": [{"type": "error_rate", "threshold": "< 1%", "timeout": "5m"}],
        "rollback_if": "error_rate > 1%",
    }


@pytest.fixture
def phase() -> Callable[[str, list[str]], dict]:
    return watched


@pytest.fixture
def prod_web(fleet: Fleet) -> list[str]:
    return fleet_ids(fleet, "production", "web-server")


@pytest.fixture
async def make_service(config) -> AsyncIterator[Callable[..., Awaitable[Any]]]:
    """Start OpsPilot from the test config after the test has adjusted it; stopped after the test."""
    from core.service import OpsPilot

    started: list[OpsPilot] = []

    async def make() -> OpsPilot:
        service = await OpsPilot.create(config)
        await service.start()
        started.append(service)
        return service

    try:
        yield make
    finally:
        for service in started:
            await service.close()
