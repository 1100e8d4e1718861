"""Support for the driver tests: one harness per driver, so the contract suite states each behaviour once.

A harness builds its driver for a ``mode`` (what the far side does on apply: ``ok``, ``fail``, ``hang``,
``huge``) and reports the (idempotency key, attempt) pairs the far side saw.
"""

from __future__ import annotations

import asyncio
import json
import sys
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from core.domain import Change, Step
from core.executor.drivers import AssetRef, Driver, DriverAction, idempotency_key
from core.executor.drivers.command import CommandDriver
from core.executor.drivers.http import HttpDriver
from core.executor.drivers.simulate import SimulateDriver
from core.inventory.fleet import Asset, Fleet
from core.signing import verify
from tests.fakes.loopback import LoopbackServer

SECRET = "driver-secret-for-tests"
RUN = "run-123"
ASSET = AssetRef("web-prod-001", address="10.0.0.7", image="ubuntu-22.04", tags=("web", "prod"), service="nginx")
CHANGE = Change(asset_id=ASSET.id, action="set_image_version", from_version="1.0", to_version="2.0", image="ubuntu-22.04")


def apply_action(attempt: int = 1, asset: AssetRef = ASSET, change: Change = CHANGE) -> DriverAction:
    return DriverAction(
        "apply",
        RUN,
        "canary",
        0,
        idempotency_key(RUN, 0, asset.id, "apply"),
        attempt,
        asset=asset,
        change=change,
        from_version="1.0",
        to_version="2.0",
    )


def revert_action() -> DriverAction:
    return DriverAction(
        "revert",
        RUN,
        "canary",
        0,
        idempotency_key(RUN, 0, ASSET.id, "revert"),
        1,
        asset=ASSET,
        change=CHANGE,
        from_version="1.0",
        to_version="2.0",
    )


def step_action(command: str = "echo hello") -> DriverAction:
    step = Step(name="drain", command=command)
    return DriverAction("step", RUN, "prepare", 1, idempotency_key(RUN, 1, step.name, "step"), 1, step=step)


async def eventually(check: Callable[[], bool], timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


class FakeInventory:
    def __init__(self) -> None:
        self.versions = {ASSET.id: "1.0"}
        self.recorded: list[tuple[str, str, str, str | None]] = []

    async def fleet(self) -> Fleet:
        assets = [
            Asset(
                id=a,
                environment="production",
                role="web",
                platform="linux",
                region="eu",
                image="ubuntu-22.04",
                image_version=v,
                tags=["web", "prod"],
            )
            for a, v in self.versions.items()
        ]
        return Fleet(golden_images={"ubuntu-22.04": "2.0"}, assets=assets)

    async def record_version(self, asset_id: str, image: str, version: str, run_id: str | None) -> None:
        self.recorded.append((asset_id, image, version, run_id))
        self.versions[asset_id] = version


# --- http: a loopback receiver ---------------------------------------------------------------------


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    signed: bool

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver(LoopbackServer):
    """Answers POST /actions and GET /status/{key} from scripted queues; ``default`` when a queue is empty.

    An answer is ``(status, json_body)``, or ``"close"`` (drop the connection) or ``"hang"``.
    """

    answers: list[Any] = field(default_factory=list)
    status_answers: list[Any] = field(default_factory=list)
    default: Any = (200, {"previous": "1.0", "current": "2.0", "output": "deployed"})
    seen: list[Seen] = field(default_factory=list)
    _release: asyncio.Event = field(default_factory=asyncio.Event)

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/actions", self._handle)
        app.router.add_get("/status/{key}", self._handle)

    async def close(self) -> None:
        self._release.set()
        await super().close()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        signed = verify(SECRET, request.headers.get("X-OpsPilot-Timestamp"), body, request.headers.get("X-OpsPilot-Signature"))
        self.seen.append(Seen(request.method, request.path, dict(request.headers), body, signed))
        if not signed:
            return web.json_response({"error": "bad signature"}, status=401)
        queue = self.answers if request.method == "POST" else self.status_answers
        answer = queue.pop(0) if queue else self.default
        if answer == "close":
            assert request.transport is not None
            request.transport.close()
            return web.Response()
        if answer == "hang":
            await self._release.wait()
            return web.Response(status=503)
        status, payload = answer
        if isinstance(payload, bytes):
            return web.Response(status=status, body=payload)
        return web.json_response(payload, status=status)

    def posts(self) -> list[Seen]:
        return [s for s in self.seen if s.method == "POST"]


# --- command: small Python scripts -----------------------------------------------------------------

AGENT = textwrap.dedent(
    """
    import json, os, signal, subprocess, sys, time
    mode, ledger = sys.argv[1], sys.argv[2]
    env = {k: v for k, v in os.environ.items() if k.startswith("OPSPILOT_")}
    with open(ledger, "a") as f:
        f.write(json.dumps({"argv": sys.argv[3:], "env": env}) + "\\n")
    if mode == "ok":
        print("re-imaging", os.environ["OPSPILOT_ASSET_ID"])
        before, after = os.environ["OPSPILOT_FROM_VERSION"], os.environ["OPSPILOT_TO_VERSION"]
        if os.environ["OPSPILOT_ACTION"] == "revert":
            before, after = after, before
        print(json.dumps({"previous": before, "current": after}))
    elif mode == "fail":
        print("boom: disk full", file=sys.stderr)
        sys.exit(1)
    elif mode in ("hang", "stubborn"):
        if mode == "stubborn":
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        child = subprocess.Popen(["sleep", "60"])
        with open(ledger + ".grandchild", "w") as f:
            f.write(str(child.pid))
        time.sleep(60)
    elif mode == "huge":
        out = sys.stdout.buffer
        for _ in range(4000):
            out.write(b"\\xff\\xfe ok \\x00 \\xe2\\x82 line of text\\n" * 10)
        out.flush()
    """
)


@dataclass
class Harness:
    """Builds one kind of driver for a mode and says what the far side saw."""

    kind: str
    tmp_path: Path
    inventory: FakeInventory = field(default_factory=FakeInventory)
    receiver: Receiver | None = None
    drivers: list[Driver] = field(default_factory=list)

    @property
    def failure_text(self) -> str:
        return {"simulate": "injected failure", "command": "boom: disk full", "http": "boom: disk full"}[self.kind]

    def build(self, mode: str = "ok", *, timeout: float = 10.0) -> Driver:
        driver = getattr(self, f"_{self.kind}")(mode, timeout)
        self.drivers.append(driver)
        return driver

    def seen_keys(self) -> list[tuple[str, int]]:
        if self.kind == "simulate":
            return [(key, attempt) for d in self.drivers if isinstance(d, SimulateDriver) for key, attempt, _ in d.ledger]
        if self.kind == "command":
            return [(e["env"]["OPSPILOT_IDEMPOTENCY_KEY"], int(e["env"]["OPSPILOT_ATTEMPT"])) for e in self.ledger()]
        assert self.receiver is not None
        return [(s.headers["Idempotency-Key"], s.json["attempt"]) for s in self.receiver.posts()]

    # simulate

    def _simulate(self, mode: str, timeout: float) -> Driver:
        assert mode in ("ok", "fail"), f"simulate has no {mode} mode"
        return SimulateDriver(self.inventory, fail_assets=[ASSET.id] if mode == "fail" else [])

    # command

    @property
    def ledger_path(self) -> Path:
        return self.tmp_path / "ledger.jsonl"

    def ledger(self) -> list[dict[str, Any]]:
        if not self.ledger_path.exists():
            return []
        return [json.loads(line) for line in self.ledger_path.read_text().splitlines()]

    def _command(self, mode: str, timeout: float) -> Driver:
        script = self.tmp_path / "agent.py"
        script.write_text(AGENT)
        base = [sys.executable, str(script), mode, str(self.ledger_path)]
        return CommandDriver(
            apply=[*base, "{asset}", "{to_version}"],
            revert=[*base, "{asset}", "{from_version}"],
            step=["/bin/sh", "-c", "{command}"],
            timeout=timeout,
            kill_grace=0.3,
        )

    # http

    def _http(self, mode: str, timeout: float) -> Driver:
        assert self.receiver is not None
        self.receiver.default = {
            "ok": (200, {"previous": "1.0", "current": "2.0", "output": "deployed"}),
            "fail": (400, {"error": "boom: disk full"}),
            "hang": "hang",
            "huge": (200, b"\xff\xfe ok \x00 \xe2\x82 line of text\n" * 40000),
        }[mode]
        return HttpDriver(self.receiver.url + "/actions", timeout=timeout, backoff=0.01, env={"OPSPILOT_DRIVER_SECRET": SECRET})
