"""SIGTERM and SIGINT stop ``opspilot serve`` cleanly: exit 0, work in flight finished or left resumable."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import TypeVar

import aiohttp
import pytest

from bot.server import start
from core.config import Config, load_config
from core.domain import Run
from core.intake import Ask
from core.service import OpsPilot
from core.store import Database, Store
from core.timeutil import utcnow

ROOT = Path(__file__).resolve().parents[3]
OPSPILOT = Path(sys.executable).with_name("opspilot")
APPROVER = "U0APPROVER1"
ASK = "fix drift on staging web servers"  # four phases of one asset; the canary soaks 10m
T = TypeVar("T")


def until(check: Callable[[], T], timeout: float, what: str) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout}s")
        time.sleep(0.1)


class Server:
    """``opspilot serve --port 0`` in a real process; its log goes to a file so a full pipe never blocks it."""

    def __init__(self, tmp_path: Path, config: Path, database_url: str, name: str) -> None:
        env = {
            k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "ANTHROPIC_", "OPSPILOT_", "DATABASE_URL", "LOG_"))
        }
        env.update(DATABASE_URL=database_url, OPSPILOT_CONFIG=str(config), PYTHONPATH=str(ROOT))
        self.log_path = tmp_path / f"{name}.log"
        self._log = self.log_path.open("w")
        command = [str(OPSPILOT)] if OPSPILOT.exists() else [sys.executable, "-m", "bot.cli"]
        self.process = subprocess.Popen(
            [*command, "serve", "--port", "0", "--playground"],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
        )
        line = self.process.stdout.readline()  # printed once /health says ok
        assert "http://" in line, f"serve did not start: {line!r}\n{self.log}"
        self.url = line.split("open ", 1)[1].split()[0].rstrip("/")

    @property
    def log(self) -> str:
        return self.log_path.read_text()

    def terminate(self, signum: signal.Signals = signal.SIGTERM, timeout: float = 20.0) -> tuple[int, float]:
        began = time.monotonic()
        self.process.send_signal(signum)
        code = self.process.wait(timeout=timeout)
        self._log.close()
        return code, time.monotonic() - began

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._log.close()


@pytest.fixture
def servers() -> Iterator[list[Server]]:
    started: list[Server] = []
    yield started
    for server in started:
        server.kill()


def _write_config(path: Path, *, wait_scale: float, grace: str = "20s") -> Path:
    path.write_text(f"approvers: [{APPROVER}]\nshutdown_grace: {grace}\nexecutor:\n  wait_scale: {wait_scale}\n")
    return path


def _load(config_path: Path, database_url: str) -> Config:
    return load_config(config_path, env={"DATABASE_URL": database_url})


async def _approved_run(config: Config) -> str:
    """An approved, queued run in the database (the scheduler of this process never starts)."""
    service = await OpsPilot.create(config)
    try:
        outcome = await service.submit(Ask.from_front(ASK, "U0REQUESTER"))
        decided = await service.decide(outcome.plan.id, APPROVER, "approved")
        assert decided.run is not None and decided.run.state == "queued"
        return decided.run.id
    finally:
        await service.close()


async def _get_run(database_url: str, run_id: str) -> Run:
    database = Database(database_url)
    try:
        return await Store(database).get_run(run_id)
    finally:
        await database.dispose()


def test_sigterm_on_an_idle_server_exits_0_and_says_it_stopped_cleanly(tmp_path: Path, servers: list[Server]) -> None:
    config = _write_config(tmp_path / "opspilot.yaml", wait_scale=0)
    server = Server(tmp_path, config, f"sqlite:///{tmp_path / 'opspilot.db'}", "idle")
    servers.append(server)
    code, elapsed = server.terminate()
    assert code == 0, server.log
    assert elapsed < 10
    assert "SIGTERM received" in server.log and "OpsPilot stopped cleanly" in server.log


def test_sigint_stops_cleanly_too(tmp_path: Path, servers: list[Server]) -> None:
    config = _write_config(tmp_path / "opspilot.yaml", wait_scale=0)
    server = Server(tmp_path, config, f"sqlite:///{tmp_path / 'opspilot.db'}", "idle")
    servers.append(server)
    code, _ = server.terminate(signal.SIGINT)
    assert code == 0, server.log
    assert "SIGINT received" in server.log and "OpsPilot stopped cleanly" in server.log


def _wait_for_soak(database_url: str, run_id: str) -> Run:
    """Until the canary is done and the run waits out its soak."""
    return until(
        lambda: (run := asyncio.run(_get_run(database_url, run_id))).progress.phases_completed == 1 and run,
        30,
        "the canary did not complete",
    )


def test_sigterm_during_a_long_soak_exits_at_once_and_keeps_the_due_time(tmp_path: Path, servers: list[Server]) -> None:
    database_url = f"sqlite:///{tmp_path / 'opspilot.db'}"
    config = _write_config(tmp_path / "opspilot.yaml", wait_scale=1)  # the canary's soak is a real 10 minutes
    run_id = asyncio.run(_approved_run(_load(config, database_url)))
    server = Server(tmp_path, config, database_url, "soak")
    servers.append(server)
    soaking = _wait_for_soak(database_url, run_id)
    assert soaking.state == "executing" and soaking.progress.next_phase_at > utcnow() + timedelta(minutes=5)

    code, elapsed = server.terminate()
    assert code == 0, server.log
    assert elapsed < 10, f"the soak held shutdown for {elapsed:.1f}s"
    assert "OpsPilot stopped cleanly" in server.log and "1 run(s) unfinished at shutdown" in server.log
    stored = asyncio.run(_get_run(database_url, run_id))
    assert stored.state == "executing" and stored.progress.phases_completed == 1
    assert stored.progress.next_phase_at == soaking.progress.next_phase_at  # the due time survives


def test_a_run_stopped_mid_way_is_finished_by_the_next_start(tmp_path: Path, servers: list[Server]) -> None:
    database_url = f"sqlite:///{tmp_path / 'opspilot.db'}"
    config = _write_config(tmp_path / "opspilot.yaml", wait_scale=0.02)  # soaks of 12s and 6s
    run_id = asyncio.run(_approved_run(_load(config, database_url)))
    first = Server(tmp_path, config, database_url, "first")
    servers.append(first)
    _wait_for_soak(database_url, run_id)
    code, _ = first.terminate()
    assert code == 0, first.log
    assert "OpsPilot stopped cleanly" in first.log
    assert asyncio.run(_get_run(database_url, run_id)).state == "executing"

    second = Server(tmp_path, config, database_url, "second")
    servers.append(second)
    finished = until(
        lambda: (run := asyncio.run(_get_run(database_url, run_id))).state in ("completed", "rolled_back", "failed") and run,
        90,
        "the restarted process did not finish the run",
    )
    assert finished.state == "completed", finished.reason
    assert finished.metrics.assets_changed == 4  # the canary's asset was not applied a second time
    assert [p.status for p in finished.phases] == ["completed"] * 4
    code, _ = second.terminate()
    assert code == 0, second.log


async def test_requests_while_shutting_down_get_503_with_a_reason(config: Config, monkeypatch: pytest.MonkeyPatch) -> None:
    running = await start(config, port=0, mode="playground")
    release = asyncio.Event()
    draining = running.service.drain

    async def slow_drain(grace: float | None = None) -> None:
        await release.wait()  # work in flight that takes a while
        await draining(grace)

    monkeypatch.setattr(running.service, "drain", slow_drain)
    stopping = asyncio.create_task(running.stop())
    try:
        async with aiohttp.ClientSession() as http:
            await asyncio.sleep(0)
            slack = await http.post(f"{running.url}/slack/events", data=b"{}", headers={"Content-Type": "application/json"})
            assert slack.status == 503 and (await slack.json())["error"] == "shutting_down"
            api = await http.get(f"{running.url}/api/v1/ai/tasks")
            assert api.status == 503 and (await api.json())["error"] == "shutting_down"
            health = await http.get(f"{running.url}/health")
            assert health.status == 503 and (await health.json()) == {"status": "stopping"}
    finally:
        release.set()
        await asyncio.wait_for(stopping, 30)
