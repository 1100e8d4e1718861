"""The crash matrix: a real process is SIGKILLed at each crash point of a run, the next process resumes it.

Slow (about 15-25 s a case): every case starts two Python processes that import OpsPilot, and the command driver
starts one small process per asset action. The second process takes the run over once the dead one's 2 s lease lapses.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.core.executor.crash_support import GOLDEN, Worker, World, keys_by_asset

TAKEOVER = "took over run"  # the queue's warning when a lapsed lease is claimed


@pytest.fixture
def workers() -> Iterator[list[Worker]]:
    started: list[Worker] = []
    yield started
    for worker in started:
        worker.kill()


def _world(tmp_path: Path, **config: object) -> World:
    world = World(tmp_path, f"sqlite:///{tmp_path / 'opspilot.db'}")
    world.write_config(**config)  # type: ignore[arg-type]
    return world


def _crash(world: World, workers: list[Worker], crash: str) -> str:
    first = Worker(world, "create", "first", OPSPILOT_CRASH_AT=crash)
    workers.append(first)
    run_id = first.next()["run"]
    assert first.wait_killed() == -9, f"{crash} did not kill the process:\n{first.log[-3000:]}"
    return run_id


def _resume(world: World, workers: list[Worker], mode: str = "work") -> tuple[Worker, dict]:
    second = Worker(world, mode, "second")
    workers.append(second)
    return second, second.report()


# (crash point, assets the ledger shows applied when the process died, whether it died holding the run's lease)
CASES = [
    ("before_driver:2", 2, True),  # Wave 1's rows are marked running, the driver not called yet
    ("after_driver:3", 14, True),  # Wave 2 applied, the results not recorded
    ("after_save:2", 8, True),  # Wave 1 recorded, the phase not finished
    ("after_phase:3", 14, False),  # Wave 2 finished and given back
    ("after_run", 20, False),  # completed and given back, not yet announced
]


@pytest.mark.parametrize(("crash", "applied_before", "held"), CASES, ids=[c[0] for c in CASES])
def test_a_run_killed_at_a_crash_point_ends_completed_with_each_asset_applied_under_one_key(
    tmp_path: Path, workers: list[Worker], crash: str, applied_before: int, held: bool
) -> None:
    world = _world(tmp_path)
    run_id = _crash(world, workers, crash)
    assert len({line.asset for line in world.lines() if line.action == "apply"}) == applied_before

    second, report = _resume(world, workers)

    assert report["run"] == run_id and report["state"] == "completed", report
    rows = report["rows"]
    assert set(rows) == set(world.initial)
    assert {a: r["status"] for a, r in rows.items()} == dict.fromkeys(world.initial, "succeeded")
    assert {a: r["previous"] for a, r in rows.items()} == world.initial  # read before the first attempt, kept on repeats
    assert {a: r["current"] for a, r in rows.items()} == dict.fromkeys(world.initial, GOLDEN)
    assert world.versions() == dict.fromkeys(world.initial, GOLDEN)
    lines = world.lines()
    keys = keys_by_asset(lines, "apply")
    assert {asset for _, asset in keys} == set(world.initial)
    assert {asset: ks for (_, asset), ks in keys.items() if len(ks) != 1} == {}
    assert all(keys[(run_id, a)] == {r["key"]} for a, r in rows.items())
    assert not [line for line in lines if line.action == "revert"]
    assert report["transitions"].count("run.executing") == 1 and report["transitions"].count("run.completed") == 1
    assert (TAKEOVER in second.log) == held, second.log[-3000:]
    if crash.startswith("after_driver"):  # the unrecorded wave was called again with the same key, as attempt 2
        repeated = {line.asset for line in lines if line.attempt == 2}
        assert repeated == {f"web-stg-{i:03d}" for i in range(9, 15)}


def test_an_abort_after_a_crash_reverts_every_changed_asset_to_the_version_recorded_before_it(
    tmp_path: Path, workers: list[Worker]
) -> None:
    world = _world(tmp_path)
    run_id = _crash(world, workers, "after_driver:3")  # Wave 2 applied but not recorded: its rows still say running
    applied = {line.asset for line in world.lines() if line.action == "apply"}
    assert len(applied) == 14

    _, report = _resume(world, workers, "abort")

    assert report["run"] == run_id and report["state"] == "rolled_back", report
    assert world.versions() == world.initial
    rows = report["rows"]
    assert {a for a, r in rows.items() if r["status"] == "rolled_back"} == applied
    assert {a for a, r in rows.items() if r["status"] == "pending"} == set(world.initial) - applied
    lines = world.lines()
    reverts = keys_by_asset(lines, "revert")
    assert {asset for _, asset in reverts} == applied
    assert all(len(ks) == 1 for ks in reverts.values())
    assert {line.asset: line.version for line in lines if line.action == "revert"} == {a: world.initial[a] for a in applied}
    assert {asset for _, asset in keys_by_asset(lines, "apply")} == applied  # nothing applied after the abort


def test_a_health_failure_after_a_crash_rolls_every_asset_back_to_its_version_before_the_run(
    tmp_path: Path, workers: list[Worker]
) -> None:
    # Wave 1 is applied, then the process dies before recording it: the restart repeats Wave 1 while the fleet
    # already shows the new version, goes on, and Wave 3's health fails. The rollback must restore the versions read
    # before the first attempt, not the ones the repeat saw.
    world = _world(tmp_path, fail_assets=("web-stg-020",))
    run_id = _crash(world, workers, "after_driver:2")
    assert len({line.asset for line in world.lines() if line.action == "apply"}) == 8

    _, report = _resume(world, workers)

    assert report["run"] == run_id and report["state"] == "rolled_back", report
    assert "Wave 3" in (report["reason"] or ""), report["reason"]
    rows = report["rows"]
    assert rows["web-stg-020"]["phase"] == 3
    assert {a: r["status"] for a, r in rows.items()} == dict.fromkeys(world.initial, "rolled_back")
    assert {a: r["previous"] for a, r in rows.items()} == world.initial
    assert world.versions() == world.initial
    lines = world.lines()
    assert {line.asset for line in lines if line.action == "apply" and line.attempt == 2} == {
        f"web-stg-{i:03d}" for i in range(3, 9)
    }
    for action in ("apply", "revert"):
        keys = keys_by_asset(lines, action)
        assert {asset for _, asset in keys} == set(world.initial), action
        assert all(len(ks) == 1 for ks in keys.values()), action
    assert {line.asset: line.version for line in lines if line.action == "revert"} == world.initial
