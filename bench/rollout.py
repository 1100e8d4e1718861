"""The rollout engine at fleet scale: one run of N assets in 6 phases (a canary of 5, then 5 waves) through a
zero-latency driver, with every state change persisted and the Slack front attached, on SQLite and (when
reachable) PostgreSQL, at 1,000, 10,000 and 50,000 assets side by side.

Prints assets/s, database statements per asset (an ``executemany`` of a batch counts as one statement; the
parameter sets it carried are printed too), and the Slack Web API calls the run made.

    .venv/bin/python bench/rollout.py [--sizes 1000,10000,50000] [--postgres URL] [--concurrency 10]

The plan is stored directly (the planner and the pre-start validation are not what is measured here); the run
goes through the real executor: claim, per-asset batches, health verdicts, the thread replies in Slack.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import event

from bot.playground.emulator import APPROVER_1, APPROVER_2, OPS_CHANNEL, SlackEmulator
from bot.server import start
from core.config import load_config
from core.domain import Change, Phase, Plan, PlanPayload, Task, TaskSpec
from core.executor.drivers import Driver, DriverAction, DriverResult
from tests.support.postgres import fresh_database

SECRET, TOKEN = "bench-secret", "xoxb-bench"
SPEC = TaskSpec.model_validate(
    {
        "task_type": "drift_remediation",
        "goal": "Remediate drift",
        "context": {"environment": "staging"},
        "agents": [{"name": "drift_agent", "priority": 1}],
        "tools_required": ["query_assets"],
        "risk_level": "medium",
        "hitl_required": True,
    }
)


class ZeroLatencyDriver(Driver):
    name = "zero"

    async def perform(self, action: DriverAction) -> DriverResult:
        return DriverResult(previous=action.from_version, current=action.to_version)


def fleet_file(folder: Path, size: int) -> Path:
    assets = [
        {
            "id": f"web-stg-{i:06d}",
            "environment": "staging",
            "role": "web-server",
            "platform": "aws",
            "region": "us-east-1",
            "image": "ubuntu-base",
            "image_version": "2.3.9",
        }
        for i in range(size)
    ]
    path = folder / f"fleet-{size}.json"
    path.write_text(json.dumps({"golden_images": {"ubuntu-base": "2.4.1"}, "assets": assets}))
    return path


def plan_for(task_id: str, size: int) -> Plan:
    ids = [f"web-stg-{i:06d}" for i in range(size)]
    canary, rest = ids[:5], ids[5:]
    wave = -(-len(rest) // 5)
    phases = [Phase(name="Canary", assets=canary, wait_time="0s", rollback_if="error_rate > 2%")]
    phases += [
        Phase(name=f"Wave {n + 1}", assets=rest[n * wave : (n + 1) * wave], wait_time="0s", rollback_if="error_rate > 2%")
        for n in range(5)
    ]
    changes = [
        Change(asset_id=a, action="set_image_version", image="ubuntu-base", from_version="2.3.9", to_version="2.4.1") for a in ids
    ]
    return Plan(
        id=str(uuid.uuid4()),
        task_id=task_id,
        type="drift_plan",
        agent="drift_agent",
        environment="staging",
        payload=PlanPayload(summary=f"fix drift on {size} assets", affected_assets=ids, phases=phases, changes=changes),
    )


async def measure(folder: Path, database_url: str, size: int, concurrency: int) -> dict[str, float]:
    emulator = SlackEmulator(signing_secret=SECRET, bot_token=TOKEN)
    await emulator.start()
    config = load_config(
        env={
            "SLACK_BOT_TOKEN": TOKEN,
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": emulator.api_url,
            "DATABASE_URL": database_url,
        }
    )
    config.approvers = [APPROVER_1, APPROVER_2]
    config.inventory.path = fleet_file(folder, size)
    config.executor.wait_scale = 0.0
    config.executor.concurrency = concurrency
    bot = await start(config, port=0, mode="http")
    service = bot.service
    service.executor.driver = ZeroLatencyDriver()
    service.executor.pre_start_check = None
    statements = {"count": 0, "rows": 0}

    def count(_conn, _cursor, _statement, parameters, _context, executemany) -> None:  # type: ignore[no-untyped-def]
        statements["count"] += 1
        statements["rows"] += len(parameters) if executemany else 1

    try:
        task = Task(
            id=str(uuid.uuid4()),
            org_id="bench",
            created_by="U0BENCH",
            user_intent="bench",
            task_spec=SPEC,
            origin={"front": "slack", "channel": OPS_CHANNEL},
        )
        await service.store.add_task(task, "U0BENCH")
        plan = plan_for(task.id, size)
        await service.store.add_plan(plan, "bench")
        card = await bot.slack.client.chat_postMessage(channel=OPS_CHANNEL, text="card")
        await service.store.set_message_ref(plan.id, {"front": "slack", "channel": OPS_CHANNEL, "ts": card["ts"]})
        calls_before = len(emulator.calls)
        engine = service.store.database.engine.sync_engine
        event.listen(engine, "before_cursor_execute", count)
        started = time.perf_counter()
        run = await service.executor.start(plan, APPROVER_1)
        await service.executor.wait_idle(3600)
        elapsed = time.perf_counter() - started
        event.remove(engine, "before_cursor_execute", count)
        await service.dispatcher.run_until_idle(60)
        stored = await service.store.get_run(run.id, with_assets=False)
        assert stored.state == "completed", (stored.state, stored.status.reason)
        counts = await service.store.run_assets.counts(run.id)
        assert counts == {"succeeded": size}, counts
        slack_calls = len(emulator.calls) - calls_before
    finally:
        await bot.stop()
        await emulator.stop()
    return {
        "seconds": elapsed,
        "assets_per_s": size / elapsed,
        "statements": statements["count"] / size,
        "rows": statements["rows"] / size,
        "slack": slack_calls,
    }


async def main(sizes: list[int], postgres: str | None, concurrency: int) -> None:
    backends: list[tuple[str, str | None]] = [("sqlite", None)]
    if postgres:
        backends.append(("postgresql", postgres))
    print(
        f"zero-latency driver, executor.concurrency {concurrency}, batches of {min(max(concurrency * 25, 250), 1000)} assets "
        "(one transaction marks a batch running, one records its results); SQLite in WAL mode with synchronous=FULL (its default)"
    )
    print(
        f"{'backend':<11} {'assets':>7} {'phases':>6} {'seconds':>8} {'assets/s':>9} {'stmts/asset':>11} {'rows/asset':>10} {'slack calls':>11}"
    )
    for backend, url in backends:
        rates = []
        for size in sizes:
            with tempfile.TemporaryDirectory() as tmp:
                folder = Path(tmp)
                if url is None:
                    figures = await measure(folder, f"sqlite:///{folder / 'bench.db'}", size, concurrency)
                else:
                    async with fresh_database("opspilot_bench", url) as database_url:
                        figures = await measure(folder, database_url, size, concurrency)
            rates.append(figures["assets_per_s"])
            print(
                f"{backend:<11} {size:>7} {6:>6} {figures['seconds']:>8.2f} {figures['assets_per_s']:>9.0f} "
                f"{figures['statements']:>11.3f} {figures['rows']:>10.2f} {figures['slack']:>11.0f}",
                flush=True,
            )
        if len(rates) > 1:
            print(
                f"{backend}: assets/s at {sizes[-1]} / at {sizes[0]} = {rates[-1] / rates[0]:.2f} (1.00 = perfectly linear cost)"
            )


def reachable(url: str | None) -> str | None:
    if not url:
        return None
    import socket

    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    try:
        socket.create_connection((parsed.host or "127.0.0.1", parsed.port or 5432), timeout=1).close()
    except OSError:
        print(f"PostgreSQL at {parsed.host}:{parsed.port or 5432} is not reachable; SQLite only")
        return None
    return url


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000,10000,50000")
    parser.add_argument(
        "--postgres", default=os.environ.get("OPSPILOT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
    )
    parser.add_argument("--concurrency", type=int, default=10)
    args = parser.parse_args()
    asyncio.run(main([int(s) for s in args.sizes.split(",")], reachable(args.postgres), args.concurrency))
