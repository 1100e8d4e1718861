"""Two real ``opspilot serve`` replicas on one PostgreSQL database, behind a "load balancer" (the Slack emulator
sends each request to one or the other): 20 asks and 20 approvals spread over both, one replica SIGKILLed while it
holds runs. Every run finishes exactly once, every thread holds each phase message exactly once, and every webhook
event arrives at least once (no event is missing; duplicates, if a kill cut a delivery, carry the same id).

Slow (about a minute): two processes start, each imports OpsPilot and plans; the lease is 2 s so the survivor takes
the dead replica's runs and deliveries over quickly.
"""

from __future__ import annotations

import asyncio
import collections
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine

from bot.playground.emulator import SlackEmulator
from bot.playground.seeds import APPROVER_1, OPS_CHANNEL, REQUESTER
from core.store.database import normalize_url
from core.store.tables import audit_log, outbox_deliveries, runs, work_items
from tests.support.postgres import POSTGRES_URL, SKIP_REASON, fresh_database

pytestmark = pytest.mark.skipif(not POSTGRES_URL, reason=SKIP_REASON)

OPSPILOT = Path(sys.executable).with_name("opspilot")
SECRET, TOKEN, HOOK_SECRET = "replicas-test-secret", "xoxb-replicas-test", "replicas-hook-secret"
SERVICES = [
    "payments", "checkout", "ledger", "search", "orders", "billing", "catalog", "inventory", "shipping", "auth",
    "profile", "reviews", "cart", "pricing", "invoices", "refunds", "loyalty", "messaging", "reports", "gateway",
]  # fmt: skip
PHASES = 3


def write_world(folder: Path, hook_url: str) -> None:
    assets = [
        {
            "id": f"{name}-stg-{n}",
            "environment": "staging",
            "role": "api-server",
            "service": name,
            "platform": "aws",
            "region": "us-east-1",
            "image": "ubuntu-base",
            "image_version": "2.3.9",
        }
        for name in SERVICES
        for n in range(1, PHASES + 1)
    ]
    (folder / "fleet.yaml").write_text(yaml.safe_dump({"golden_images": {"ubuntu-base": "2.4.1"}, "assets": assets}))
    config = {
        "approvers": [APPROVER_1],
        "inventory": {"path": "fleet.yaml"},
        "executor": {"wait_scale": 0.002, "lease_seconds": 2, "poll_interval": 0.5, "simulate": {"latency_ms": 150}},
        "notifications": {
            "webhooks": [{"url": hook_url, "format": "cloudevents"}],
            "retry": {"attempts": 30, "max_backoff": "2s"},
        },
        "intake": {"poll_interval": 0.3},
    }
    (folder / "opspilot.yaml").write_text(yaml.safe_dump(config))


class Replica:
    def __init__(self, name: str, env: dict[str, str], folder: Path) -> None:
        self.log_path = folder / f"{name}.log"
        self._log = self.log_path.open("w")
        command = [str(OPSPILOT)] if OPSPILOT.exists() else [sys.executable, "-m", "bot.cli"]
        self.process = subprocess.Popen(
            [*command, "serve", "--port", "0"], cwd=folder, env=env, stdout=subprocess.PIPE, stderr=self._log, text=True
        )
        line = self.process.stdout.readline() if self.process.stdout else ""
        assert "health at http://" in line, f"replica {name} did not start: {line!r}\n{self.log_path.read_text()}"
        self.url = line.split("health at ", 1)[1].strip().removesuffix("/health")
        self.events = f"{self.url}/slack/events"

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def stop(self) -> int | None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            code: int | None = self.process.wait(timeout=30)
        else:
            code = None
        self._log.close()
        return code


async def start_receiver() -> tuple[web.AppRunner, str, list[dict]]:
    received: list[dict] = []

    async def hook(request: web.Request) -> web.Response:
        received.append(json.loads(await request.read()))
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}/hook", received


async def until(check, timeout: float, what: str, interval: float = 0.2):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        found = await check()
        if found:
            return found
        await asyncio.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


async def test_two_replicas_one_killed_mid_run_finish_every_run_once_and_lose_no_message(tmp_path: Path) -> None:
    emulator = SlackEmulator(signing_secret=SECRET, bot_token=TOKEN)
    await emulator.start()
    receiver, hook_url, received = await start_receiver()
    write_world(tmp_path, hook_url)
    async with fresh_database("opspilot_replicas") as url:
        env = {
            **os.environ,
            "SLACK_BOT_TOKEN": TOKEN,
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": emulator.api_url,
            "DATABASE_URL": url,
            "OPSPILOT_CONFIG": str(tmp_path / "opspilot.yaml"),
            "OPSPILOT_WEBHOOK_SECRET": HOOK_SECRET,
            "LOG_LEVEL": "INFO",
        }
        env.pop("SLACK_APP_TOKEN", None)
        engine = create_async_engine(normalize_url(url))
        a = await asyncio.to_thread(Replica, "a", env, tmp_path)
        b = await asyncio.to_thread(Replica, "b", env, tmp_path)
        try:
            # 20 asks, alternately to each replica
            for n, service in enumerate(SERVICES):
                emulator.bot_url = (a, b)[n % 2].events
                ack = await emulator.send_slash_command(REQUESTER, OPS_CHANNEL, "/ops", f"fix drift on {service} in staging")
                assert ack.status == 200

            def cards() -> list:
                return [m for m in emulator.messages(OPS_CHANNEL) if m.blocks and "plan_approve" in json.dumps(m.blocks)]

            await emulator.wait_for(lambda: len(cards()) == len(SERVICES), timeout=60)
            # 20 approvals, alternately to each replica
            for n, card in enumerate(cards()):
                emulator.bot_url = (b, a)[n % 2].events
                click = await emulator.click_button(APPROVER_1, OPS_CHANNEL, card.ts, "plan_approve")
                assert click.status == 200

            async def a_holds_a_run() -> bool:
                async with engine.connect() as conn:
                    owners = (
                        await conn.execute(
                            select(work_items.c.owner).where(work_items.c.kind == "run", work_items.c.owner.is_not(None))
                        )
                    ).scalars()
                    return any(f":{a.process.pid}:" in owner for owner in owners)

            await until(a_holds_a_run, 30, "replica a to hold a run")
            a.kill()  # mid-run: its runs, asks and deliveries are taken over by b after the 2 s lease

            seen: dict = {}

            async def all_finished() -> bool:
                async with engine.connect() as conn:
                    states = (await conn.execute(select(runs.c.state))).scalars().all()
                seen["states"] = collections.Counter(states)
                return len(states) == len(SERVICES) and all(s in ("completed", "rolled_back", "failed") for s in states)

            try:
                await until(all_finished, 120, "every run to finish")
            except AssertionError as exc:
                raise AssertionError(f"{exc}: runs {seen}\n{b.log_path.read_text()[-6000:]}") from None

            async def outbox_drained() -> bool:
                async with engine.connect() as conn:
                    left = (
                        await conn.execute(select(outbox_deliveries.c.id).where(outbox_deliveries.c.status != "delivered"))
                    ).all()
                return not left

            await until(outbox_drained, 60, "every delivery to be delivered")

            async with engine.connect() as conn:
                states = collections.Counter((await conn.execute(select(runs.c.state))).scalars().all())
                finished = collections.Counter(
                    (
                        await conn.execute(
                            select(audit_log.c.entity_id).where(
                                audit_log.c.entity_type == "run", audit_log.c.event == "run.completed"
                            )
                        )
                    ).scalars()
                )
                hooked = (
                    await conn.execute(
                        select(outbox_deliveries.c.event_id).where(outbox_deliveries.c.subscriber.like("webhook:%"))
                    )
                ).scalars()
                webhook_events = set(hooked)
        finally:
            a.kill()
            b.stop()
            a.stop()
            await engine.dispose()
            await receiver.cleanup()
            await emulator.stop()

    # every run finished, once
    assert states == {"completed": len(SERVICES)}, states
    assert len(finished) == len(SERVICES) and set(finished.values()) == {1}

    # every thread holds each phase message exactly once, and one final message
    for card in cards():
        replies = [m.text for m in emulator.thread(OPS_CHANNEL, card.ts)]
        for phase in range(1, PHASES + 1):
            started = [t for t in replies if re.search(rf"Phase {phase}/{PHASES} \*.*\* started", t)]
            completed = [t for t in replies if re.search(rf"Phase {phase}/{PHASES} \*.*\* completed", t)]
            assert len(started) == 1 and len(completed) == 1, (card.ts, replies)
        assert len([t for t in replies if "Run completed" in t]) == 1, replies

    # every webhook event arrived at least once; a repeat (a kill between the POST and its record) has the same id
    ids = collections.Counter(event["id"] for event in received)
    assert set(ids) == webhook_events
    types = {event["id"]: event["type"] for event in received}
    assert collections.Counter(types.values())["task.completed"] == len(SERVICES)
    print(f"webhook events: {len(ids)} distinct, {sum(ids.values()) - len(ids)} repeated after the kill")
