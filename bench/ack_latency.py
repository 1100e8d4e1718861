"""How fast Slack's `/ops` deliveries are acked under load, against a bare Bolt app that only acks, in one run.

600 signed `/ops fix drift on prod web servers` slash commands (each with its own trigger), 50 in flight at a time,
over HTTP on loopback, at:

  (a) a bare Bolt ``AsyncApp`` whose `/ops` listener only acks (aiohttp, Bolt's own adapter);
  (b) ``opspilot serve`` (``--role all``, the default): the ask is recorded and acked, a worker pool in the same
      process plans it, the Slack subscriber posts the card;
  (c) ``opspilot serve --role front`` plus a separate ``opspilot serve --role worker`` on the same database.

Every server runs in its own process; a Slack emulator (``python -m bot.playground``) answers the Web API calls
OpsPilot makes. Before each measured round 50 asks warm the server and the client's 50 keep-alive connections up
(not counted), and OpsPilot is left to plan them and post their cards first. Prints p50/p95/p99/max of the
ack times, their ratios to (a), the number of acks over Slack's 3 s limit, and how long the workers took to plan
every ask. Target: (b) p99 <= 1.5x (a) and no ack over 3 s.

    .venv/bin/python bench/ack_latency.py [--asks 600] [--concurrency 50] [--postgres]

``--postgres`` runs (b) and (c) on a fresh PostgreSQL database (OPSPILOT_TEST_POSTGRES_URL) instead of SQLite.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.playground.seeds import OPS_CHANNEL, REQUESTER, TEAM_ID
from bot.playground.signing import signed_headers

SECRET, TOKEN = "bench-ack-secret", "xoxb-bench-ack"
ASK = "fix drift on prod web servers"
WARMUP = 50  # one ask per connection
SLACK_LIMIT = 3.0
OPSPILOT = Path(sys.executable).with_name("opspilot")


# -- the bare app (run in its own process: `ack_latency.py --bare PORT`) ------------------------------------------


def serve_bare(port: int, api_url: str) -> None:
    from aiohttp import web
    from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
    from slack_bolt.async_app import AsyncAck, AsyncApp
    from slack_sdk.web.async_client import AsyncWebClient

    async def main() -> None:
        bolt = AsyncApp(client=AsyncWebClient(token=TOKEN, base_url=api_url), signing_secret=SECRET)

        @bolt.command("/ops")
        async def ops(ack: AsyncAck) -> None:
            await ack(text="Working on it")

        async def events(request: web.Request) -> web.Response:
            bolt_request = await to_bolt_request(request)
            return await to_aiohttp_response(await bolt.async_dispatch(bolt_request))

        async def health(_: web.Request) -> web.Response:
            return web.json_response({"status": "ok"})

        app = web.Application()
        app.router.add_post("/slack/events", events)
        app.router.add_get("/health", health)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        print(f"bare Bolt app; health at http://127.0.0.1:{port}/health", flush=True)
        await asyncio.Event().wait()

    asyncio.run(main())


# -- processes ------------------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Process:
    name: str
    popen: subprocess.Popen
    url: str

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()


def spawn(name: str, command: Sequence[str], env: dict[str, str], folder: Path) -> Process:
    log = (folder / f"{name}.log").open("w")
    popen = subprocess.Popen(list(command), cwd=folder, env=env, stdout=subprocess.PIPE, stderr=log, text=True)
    line = popen.stdout.readline() if popen.stdout else ""
    if "health at http://" not in line:
        popen.kill()
        raise SystemExit(f"{name} did not start: {line!r}; see {folder / (name + '.log')}")
    return Process(name, popen, line.split("health at ", 1)[1].strip().removesuffix("/health"))


def start_emulator(port: int, env: dict[str, str], folder: Path) -> subprocess.Popen:
    """The Slack emulator answers OpsPilot's Web API calls (cards, thread replies)."""
    command = [sys.executable, "-m", "bot.playground", "--port", str(port)]
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=(folder / "slack.log").open("w"))


def opspilot(role: str, env: dict[str, str], folder: Path) -> Process:
    command = [str(OPSPILOT)] if OPSPILOT.exists() else [sys.executable, "-m", "bot.cli"]
    return spawn(f"opspilot-{role}", [*command, "serve", "--port", "0", "--role", role], env, folder)


async def wait_healthy(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        while True:
            try:
                async with session.get(f"{url}/health") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"{url} never became healthy")
            await asyncio.sleep(0.1)


# -- load -----------------------------------------------------------------------------------------------------------


def slash_command(number: int, response_url: str) -> bytes:
    fields = {
        "token": "bench",
        "team_id": TEAM_ID,
        "team_domain": "bench",
        "channel_id": OPS_CHANNEL,
        "channel_name": "ops",
        "user_id": REQUESTER,
        "user_name": "riley",
        "command": "/ops",
        "text": ASK,
        "api_app_id": "A0BENCH",
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": f"{time.time_ns()}.{number}.bench",
    }
    return urlencode(fields).encode()


def client(concurrency: int) -> aiohttp.ClientSession:
    """One session per target: the warm-up opens its ``concurrency`` keep-alive connections, the measured round
    reuses them (Slack keeps its connections too), so connection setup is not what is measured."""
    connector = aiohttp.TCPConnector(limit=concurrency)
    return aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60))


async def fire(
    session: aiohttp.ClientSession, url: str, asks: int, concurrency: int, response_url: str, first: int = 0
) -> list[float]:
    """Ack times (seconds) of ``asks`` signed slash commands, ``concurrency`` in flight."""
    gate = asyncio.Semaphore(concurrency)
    times: list[float] = []
    failures: list[str] = []

    async def one(number: int) -> None:
        body = slash_command(number, response_url)
        async with gate:
            headers = {"Content-Type": "application/x-www-form-urlencoded", **signed_headers(SECRET, body)}
            started = time.perf_counter()
            async with session.post(f"{url}/slack/events", data=body, headers=headers) as response:
                await response.read()
                elapsed = time.perf_counter() - started
                if response.status != 200:
                    failures.append(f"HTTP {response.status}")
        times.append(elapsed)

    await asyncio.gather(*(one(first + n) for n in range(asks)))
    if failures:
        raise SystemExit(f"{len(failures)} deliveries failed at {url}: {failures[:3]}")
    return times


async def planned_after(
    database_url: str, expected: int, started: float, timeout: float = 600.0, delivered: bool = False
) -> float | None:
    """Seconds from the first ask until the workers had planned ``expected`` asks (None: they had not in time);
    ``delivered``: and the outbox had delivered everything (cards posted), so the next round starts idle."""
    from sqlalchemy import func, select

    from core.store import Database
    from core.store.tables import asks, outbox_deliveries

    database = Database(database_url)
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            async with database.engine.connect() as conn:
                done = (await conn.execute(select(func.count()).select_from(asks).where(asks.c.state != "pending"))).scalar()
                waiting = (
                    await conn.execute(
                        select(func.count()).select_from(outbox_deliveries).where(outbox_deliveries.c.status == "pending")
                    )
                ).scalar()
            if int(done or 0) >= expected and (not delivered or not waiting):
                return time.perf_counter() - started
            await asyncio.sleep(0.25)
        return None
    finally:
        await database.dispose()


# -- report ---------------------------------------------------------------------------------------------------------


@dataclass
class Result:
    label: str
    times: list[float]
    planned: float | None = None

    def quantile(self, q: float) -> float:
        ordered = sorted(self.times)
        return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]

    @property
    def figures(self) -> dict[str, float]:
        return {
            "p50": statistics.median(self.times),
            "p95": self.quantile(0.95),
            "p99": self.quantile(0.99),
            "max": max(self.times),
        }

    @property
    def over_limit(self) -> int:
        return sum(1 for t in self.times if t > SLACK_LIMIT)


def report(results: list[Result], asks: int, concurrency: int) -> None:
    base = results[0].figures
    print(f"\n{asks} signed /ops asks, {concurrency} concurrent, ack times in ms (ratio to the bare Bolt app):")
    header = f"{'':34}" + "".join(f"{k:>18}" for k in ("p50", "p95", "p99", "max")) + f"{'> 3 s':>8}{'all planned':>14}"
    print(header)
    for result in results:
        cells = ""
        for key, value in result.figures.items():
            ratio = value / base[key] if base[key] else float("nan")
            cells += f"{value * 1000:>9.1f} ({ratio:4.2f}x)"
        planned = f"{result.planned:>12.1f}s" if result.planned is not None else f"{'-':>13}"
        print(f"{result.label:34}{cells}{result.over_limit:>8} {planned}")
    ops = results[1].figures["p99"] / base["p99"] if len(results) > 1 else float("nan")
    verdict = "met" if ops <= 1.5 and results[1].over_limit == 0 else "NOT met"
    print(f"target for --role all: p99 <= 1.5x bare and 0 acks over 3 s: {verdict} (p99 ratio {ops:.2f})")


# -- main -----------------------------------------------------------------------------------------------------------


async def run(asks: int, concurrency: int, postgres: bool) -> None:
    folder = Path(tempfile.mkdtemp(prefix="ack-latency-"))
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_BOT_TOKEN": TOKEN,
        "LOG_LEVEL": "WARNING",
    }
    env.pop("SLACK_APP_TOKEN", None)
    slack_port = free_port()
    slack = start_emulator(slack_port, env, folder)
    slack_url = f"http://127.0.0.1:{slack_port}"
    env["SLACK_API_URL"] = f"{slack_url}/api/"
    response_url = f"{slack_url}/response/bench"
    results: list[Result] = []
    dropped: list[str] = []
    try:
        await wait_healthy_emulator(slack_url)

        # (a) the bare app
        bare = spawn("bare", [sys.executable, __file__, "--bare", str(free_port()), env["SLACK_API_URL"]], env, folder)
        try:
            await wait_healthy(bare.url)
            async with client(concurrency) as session:
                await fire(session, bare.url, WARMUP, concurrency, response_url)
                times = await fire(session, bare.url, asks, concurrency, response_url)
            results.append(Result("(a) bare Bolt app, ack only", times))
        finally:
            bare.stop()

        for label, roles in (("(b) OpsPilot --role all", ("all",)), ("(c) OpsPilot front + worker", ("front", "worker"))):
            database_url = await fresh_database(folder, label[1], postgres, dropped)
            run_env = {**env, "DATABASE_URL": database_url}
            processes = [opspilot(role, run_env, folder) for role in roles]
            try:
                front = processes[0]
                async with client(concurrency) as session:
                    await fire(session, front.url, WARMUP, concurrency, response_url)
                    await planned_after(database_url, WARMUP, time.perf_counter(), delivered=True)
                    started = time.perf_counter()
                    times = await fire(session, front.url, asks, concurrency, response_url, first=WARMUP)
                planned = await planned_after(database_url, WARMUP + asks, started)
                results.append(Result(label, times, planned))
            finally:
                for process in reversed(processes):
                    process.stop()
    finally:
        slack.terminate()
        slack.wait(timeout=30)
        for name in dropped:
            from tests.support.postgres import drop_database

            await drop_database(name)
    report(results, asks, concurrency)
    print(f"(logs in {folder})")


async def wait_healthy_emulator(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        while True:
            try:
                async with session.post(f"{url}/api/api.test") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("the Slack emulator did not start")
            await asyncio.sleep(0.1)


async def fresh_database(folder: Path, tag: str, postgres: bool, dropped: list[str]) -> str:
    if not postgres:
        return f"sqlite:///{folder / f'opspilot-{tag}.db'}"
    from tests.support.postgres import POSTGRES_URL, create_database

    if not POSTGRES_URL:
        raise SystemExit("--postgres needs OPSPILOT_TEST_POSTGRES_URL (e.g. postgresql://postgres@127.0.0.1:5432/test)")
    url, name = await create_database("opspilot_bench")
    dropped.append(name)
    return url


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--bare":
        serve_bare(int(sys.argv[2]), sys.argv[3])
        raise SystemExit(0)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--asks", type=int, default=600)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--postgres", action="store_true", help="run OpsPilot on PostgreSQL (OPSPILOT_TEST_POSTGRES_URL)")
    arguments = parser.parse_args()
    asyncio.run(run(arguments.asks, arguments.concurrency, arguments.postgres))
