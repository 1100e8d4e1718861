"""Two worker processes on one PostgreSQL database: a run executes once, and a replica killed mid-phase is replaced.

Needs OPSPILOT_TEST_POSTGRES_URL (each test creates and drops its own database). Slow (about 15-25 s a test): each
test starts two Python processes that import OpsPilot, and the command driver starts one process per asset action.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.core.executor.crash_support import GOLDEN, Worker, World, keys_by_asset, until
from tests.support.postgres import POSTGRES_URL, fresh_database

pytestmark = pytest.mark.skipif(
    not POSTGRES_URL,
    reason="replica tests need PostgreSQL: set OPSPILOT_TEST_POSTGRES_URL (e.g. postgresql://postgres@127.0.0.1:5432/test)",
)
TROUBLE = ("Traceback", "could not claim", "duplicate key", "UniqueViolation", "the worker failed")


@pytest.fixture
async def database_url() -> AsyncIterator[str]:
    """A fresh database for the test, dropped afterwards."""
    async with fresh_database() as url:
        yield url


@pytest.fixture
def workers() -> Iterator[list[Worker]]:
    started: list[Worker] = []
    yield started
    for worker in started:
        worker.kill()


def _start_pair(world: World, workers: list[Worker]) -> tuple[Worker, Worker, str]:
    """B only works; once its worker runs, A submits, approves and works too."""
    b = Worker(world, "work", "b")
    workers.append(b)
    assert b.next() == {"ready": True}
    a = Worker(world, "create", "a")
    workers.append(a)
    return a, b, a.next()["run"]


def test_two_workers_on_one_database_execute_a_run_exactly_once(tmp_path: Path, database_url: str, workers: list[Worker]) -> None:
    world = World(tmp_path, database_url)
    world.write_config(lease="5s", poll="0.2", concurrency=2, sleep_ms=20)
    a, b, run_id = _start_pair(world, workers)

    reports = [a.report(), b.report()]

    for report in reports:
        assert report["run"] == run_id and report["state"] == "completed", report
    assert {asset: row["status"] for asset, row in reports[0]["rows"].items()} == dict.fromkeys(world.initial, "succeeded")
    lines = world.lines()
    applies = [line for line in lines if line.action == "apply"]
    assert sorted(line.asset for line in applies) == sorted(world.initial)  # each asset once
    assert {line.attempt for line in applies} == {1}
    assert all(len(keys) == 1 for keys in keys_by_asset(lines, "apply").values())
    assert {line.pid for line in applies} <= {a.process.pid, b.process.pid}
    assert reports[0]["transitions"].count("run.executing") == 1
    assert reports[0]["transitions"].count("run.completed") == 1
    assert world.versions() == dict.fromkeys(world.initial, GOLDEN)
    for worker in (a, b):
        assert not [word for word in TROUBLE if word in worker.log], worker.log[-4000:]


def test_a_worker_killed_mid_phase_is_replaced_by_the_other_within_the_lease(
    tmp_path: Path, database_url: str, workers: list[Worker]
) -> None:
    lease, poll, slack = 2.0, 0.2, 2.5  # slack: claiming, loading the run and starting the driver's process
    world = World(tmp_path, database_url)
    world.write_config(lease="2s", poll="0.2", concurrency=2, sleep_ms=300)
    a, b, run_id = _start_pair(world, workers)
    by_pid = {a.process.pid: a, b.process.pid: b}

    # Wave 1 (assets 3-8) in flight: kill whichever process is applying it.
    holder_pid = until(lambda: len(lines := world.lines()) >= 4 and lines[-1].pid, 60, "Wave 1 did not start")
    holder = by_pid[holder_pid]
    survivor = b if holder is a else a
    holder.kill()
    killed_at = time.time()
    assert holder.process.returncode == -9
    before = {line.asset for line in world.lines() if line.action == "apply"}
    assert 4 <= len(before) < len(world.initial)

    report = survivor.report()

    assert report["run"] == run_id and report["state"] == "completed", report
    assert {asset: row["status"] for asset, row in report["rows"].items()} == dict.fromkeys(world.initial, "succeeded")
    lines = world.lines()
    first_after = min(line.at for line in lines if line.pid == survivor.process.pid and line.at > killed_at)
    assert first_after - killed_at <= lease + poll + slack, f"took {first_after - killed_at:.1f}s to take the run over"
    assert "took over run" in survivor.log
    keys = keys_by_asset(lines, "apply")
    assert {asset for _, asset in keys} == set(world.initial)
    assert {asset: ks for (_, asset), ks in keys.items() if len(ks) != 1} == {}
    assert {a: r["previous"] for a, r in report["rows"].items()} == world.initial
    assert world.versions() == dict.fromkeys(world.initial, GOLDEN)
    assert report["transitions"].count("run.executing") == 1
    assert not [word for word in TROUBLE if word in survivor.log], survivor.log[-4000:]
