"""``opspilot serve`` SIGKILLed at random moments of a rollout, again and again, then restarted: nothing is lost,
nothing is applied under a second key.

Slow (about a minute): the server process is started eleven times or more, and each start imports OpsPilot. The lease
is the minimum (1 s), so every restart takes the dead server's run over as soon as it is up.
"""

from __future__ import annotations

import json
import random
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.core.executor.crash_support import APPROVER, GOLDEN, World, keys_by_asset, until

OPSPILOT = Path(sys.executable).with_name("opspilot")
ASK = "fix drift on staging web servers"
TOKEN = "sigkill-test-approver-token-0123456789"
KILLS = 10
SEED = 20240611
TERMINAL = ("completed", "rolled_back", "failed")


class Server:
    """``opspilot serve --port 0 --playground`` in a real process; its log goes to a file."""

    def __init__(self, world: World, name: str) -> None:
        env = world.env(OPSPILOT_API_TOKENS=f"{TOKEN}={APPROVER}")
        self.log_path = world.dir / f"{name}.log"
        self._log = self.log_path.open("w")
        command = [str(OPSPILOT)] if OPSPILOT.exists() else [sys.executable, "-m", "bot.cli"]
        self.process = subprocess.Popen(
            [*command, "serve", "--port", "0", "--playground"],
            cwd=world.dir,
            env=env,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
        )
        line = self.process.stdout.readline()  # printed once /health says ok
        assert "http://" in line, f"serve did not start: {line!r}\n{self.log}"
        self.api = line.split("open ", 1)[1].split()[0].rstrip("/") + "/api/v1/ai"

    @property
    def log(self) -> str:
        return self.log_path.read_text()

    def post(self, path: str, body: dict) -> dict:
        request = urllib.request.Request(
            f"{self.api}{path}",
            data=json.dumps(body).encode(),
            method="POST",
            headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as answer:
            return json.loads(answer.read())

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()
        if not self._log.closed:
            self._log.close()

    def terminate(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=30)
        self._log.close()
        return code


@pytest.fixture
def servers() -> Iterator[list[Server]]:
    started: list[Server] = []
    yield started
    for server in started:
        server.kill()


def _database(world: World) -> sqlite3.Connection:
    return sqlite3.connect(world.database_url.removeprefix("sqlite:///"), timeout=30)


def _state(world: World, run_id: str) -> str:
    with _database(world) as db:
        return db.execute("SELECT state FROM runs WHERE id = ?", (run_id,)).fetchone()[0]


def _new_run(world: World, server: Server, golden: str) -> str:
    """A new golden version (every asset drifts again), asked for and approved over the REST API."""
    world.set_golden(golden)
    submitted = server.post("/execute", {"intent": ASK})
    assert submitted["requires_approval"] and len(submitted["plan"]["payload"]["changes"]) == len(world.initial), submitted
    decided = server.post(f"/tasks/{submitted['task']['id']}/approve", {})
    assert decided["decision"] == "approved", decided
    return decided["run"]["id"]


def test_serve_killed_at_random_moments_mid_run_loses_no_asset_and_repeats_only_under_the_same_key(
    tmp_path: Path, servers: list[Server]
) -> None:
    world = World(tmp_path, f"sqlite:///{tmp_path / 'opspilot.db'}")
    world.write_config(lease="1s", poll="0.2", concurrency=2, sleep_ms=40)
    rng = random.Random(SEED)
    goldens = iter([GOLDEN] + [f"2.{minor}.0" for minor in range(5, 40)])
    runs: dict[str, str] = {}  # run id -> the golden version it moves to
    current: str | None = None
    kills = 0
    while kills < KILLS:
        server = Server(world, f"serve-{len(servers)}")
        servers.append(server)
        while True:
            if current is None or _state(world, current) in TERMINAL:
                golden = next(goldens)
                current = _new_run(world, server, golden)
                runs[current] = golden
            run_id, pid = current, server.process.pid
            until(
                lambda: (
                    _state(world, run_id) in TERMINAL or any(line.pid == pid and line.run == run_id for line in world.lines())
                ),
                60,
                f"serve #{len(servers)} did not work on run {run_id}",
            )
            if _state(world, current) not in TERMINAL:
                break
        time.sleep(rng.uniform(0.0, 0.5))  # the kill moment: somewhere in the batch in flight, or between batches
        server.kill()
        assert server.process.returncode == -signal.SIGKILL
        if _state(world, current) not in TERMINAL:
            kills += 1

    last = Server(world, "serve-last")
    servers.append(last)
    until(lambda: _state(world, current) in TERMINAL, 60, f"the last start did not finish run {current}")
    assert last.terminate() == 0, last.log[-3000:]

    assert kills >= KILLS
    lines = world.lines()
    with _database(world) as db:
        for run_id, golden in runs.items():
            assert _state(world, run_id) == "completed", run_id
            statuses = dict(db.execute("SELECT asset_id, status FROM run_assets WHERE run_id = ?", (run_id,)).fetchall())
            assert statuses == dict.fromkeys(world.initial, "succeeded"), run_id
            applied = {line.asset for line in lines if line.run == run_id and line.action == "apply"}
            assert applied == set(world.initial), f"run {run_id}: assets never applied: {set(world.initial) - applied}"
            assert {line.version for line in lines if line.run == run_id} == {golden}
    keys = keys_by_asset(lines, "apply")
    assert {pair: ks for pair, ks in keys.items() if len(ks) != 1} == {}
    assert not [line for line in lines if line.action == "revert"]
    assert world.versions() == dict.fromkeys(world.initial, runs[current])
