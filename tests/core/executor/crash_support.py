"""Support for the crash, replica and serve-kill tests: a fleet YAML the fake deploy tool edits, a config with the
``command`` driver, the ledger that tool writes, and worker processes.

The fleet has ``size`` staging web servers at mixed old versions ("2.3.9", "2.2.7", "2.4.0"), golden "2.4.1": the
drift plan is a canary of 2 and waves of 6. The command driver runs ``fake_deploy.py``, which records the new version
in the fleet file (so the inventory, previous states and a rollback all see what the "world" holds) and appends one
ledger line per call.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parents[3]
HERE = Path(__file__).resolve().parent
DEPLOY = HERE / "fake_deploy.py"
WORKER = HERE / "crash_worker.py"
APPROVER = "U0APPROVER1"
OLD_VERSIONS = ("2.3.9", "2.2.7", "2.4.0")
GOLDEN = "2.4.1"
T = TypeVar("T")


def until(check: Callable[[], T], timeout: float, what: str, interval: float = 0.05) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout}s")
        time.sleep(interval)


@dataclass(frozen=True)
class LedgerLine:
    at: float
    pid: int
    run: str
    key: str
    asset: str
    action: str
    attempt: int
    previous: str
    version: str


class World:
    """Files of one test: fleet, ledger, config; the database URL comes from the test."""

    def __init__(self, tmp_path: Path, database_url: str, size: int = 20) -> None:
        self.dir = tmp_path
        self.database_url = database_url
        self.fleet = tmp_path / "fleet.yaml"
        self.ledger = tmp_path / "ledger.txt"
        self.config = tmp_path / "opspilot.yaml"
        self.initial = {f"web-stg-{i:03d}": OLD_VERSIONS[i % len(OLD_VERSIONS)] for i in range(1, size + 1)}
        lines = ["golden_images:", f'  ubuntu-base: "{GOLDEN}"', "assets:"] + [
            f"  - {{id: {asset}, environment: staging, role: web-server, platform: aws, region: us-east-1, "
            f'image: ubuntu-base, image_version: "{version}"}}'
            for asset, version in self.initial.items()
        ]
        self.fleet.write_text("\n".join(lines) + "\n")
        self.ledger.touch()

    def write_config(
        self,
        *,
        lease: str = "2s",
        poll: str = "0.2",
        concurrency: int = 2,
        sleep_ms: int = 20,
        wait_scale: float = 0,
        fail_assets: tuple[str, ...] = (),
    ) -> Path:
        def template(action: str) -> str:
            argv = [
                sys.executable,
                "-S",
                str(DEPLOY),
                str(self.ledger),
                str(self.fleet),
                str(sleep_ms),
                action,
                "{run_id}",
                "{asset}",
                "{to_version}" if action == "apply" else "{from_version}",  # a revert goes back to from_version
                "{key}",
                "{attempt}",
            ]
            return json.dumps(argv)

        self.config.write_text(
            f"approvers: [{APPROVER}]\n"
            f"inventory: {{path: {json.dumps(str(self.fleet))}}}\n"
            "executor:\n"
            "  driver: command\n"
            f"  wait_scale: {wait_scale}\n"
            f"  concurrency: {concurrency}\n"
            f"  lease_seconds: {lease}\n"
            f"  poll_interval: {poll}\n"
            f"  simulate: {{fail_assets: {json.dumps(list(fail_assets))}}}\n"
            f"  command: {{apply: {template('apply')}, revert: {template('revert')}}}\n"
        )
        return self.config

    def env(self, **extra: str) -> dict[str, str]:
        env = {
            k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "ANTHROPIC_", "OPSPILOT_", "DATABASE_URL", "LOG_"))
        }
        env.update(DATABASE_URL=self.database_url, OPSPILOT_CONFIG=str(self.config), PYTHONPATH=str(ROOT), **extra)
        return env

    def lines(self) -> list[LedgerLine]:
        out = []
        for line in self.ledger.read_text().splitlines():
            at, pid, run, key, asset, action, attempt, previous, version = line.split()
            out.append(LedgerLine(float(at), int(pid), run, key, asset, action, int(attempt), previous, version))
        return out

    def versions(self) -> dict[str, str]:
        text = self.fleet.read_text()
        return {m.group(1): m.group(2) for m in re.finditer(r'\{id: ([^,]+),[^\n]*image_version: "([^"]*)"', text)}

    def set_golden(self, version: str) -> None:
        """A new golden image: every asset drifts again (under the deploy tool's lock)."""
        with open(str(self.ledger) + ".lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            text = re.sub(r'ubuntu-base: "[^"]*"', f'ubuntu-base: "{version}"', self.fleet.read_text(), count=1)
            tmp = self.fleet.with_suffix(".tmp")
            tmp.write_text(text)
            os.replace(tmp, self.fleet)


def keys_by_asset(lines: list[LedgerLine], action: str) -> dict[tuple[str, str], set[str]]:
    """(run, asset) -> the idempotency keys it was called with for ``action``."""
    keys: dict[tuple[str, str], set[str]] = defaultdict(set)
    for line in lines:
        if line.action == action:
            keys[(line.run, line.asset)].add(line.key)
    return dict(keys)


class Worker:
    """``crash_worker.py`` in a real process; stdout is read line by line, the log goes to a file."""

    def __init__(self, world: World, mode: str, name: str, **env: str) -> None:
        self.log_path = world.dir / f"{name}.log"
        self._log = self.log_path.open("w")
        self.process = subprocess.Popen(
            [sys.executable, str(WORKER), str(world.config), mode],
            cwd=world.dir,
            env=world.env(**env),
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
        )
        self.said: list[dict[str, Any]] = []

    @property
    def log(self) -> str:
        return self.log_path.read_text()

    def next(self) -> dict[str, Any]:
        """The next JSON line (a blocking read; the worker's own waits are bounded)."""
        line = self.process.stdout.readline()
        assert line, f"the worker ended without saying more (exit {self.process.poll()}):\n{self.log[-4000:]}"
        self.said.append(json.loads(line))
        return self.said[-1]

    def report(self, timeout: float = 90.0) -> dict[str, Any]:
        """Wait for the process to exit 0 and return its final report."""
        out, _ = self.process.communicate(timeout=timeout)
        self._log.close()
        assert self.process.returncode == 0, f"exit {self.process.returncode}:\n{self.log[-4000:]}"
        self.said += [json.loads(line) for line in out.splitlines() if line.strip()]
        return self.said[-1]

    def wait_killed(self, timeout: float = 90.0) -> int:
        self.process.communicate(timeout=timeout)
        self._log.close()
        return self.process.returncode

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()
        if not self._log.closed:
            self._log.close()
