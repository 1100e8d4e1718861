"""ansible-runner, driven from asyncio: one playbook run, its per-host results, its capped output.

- The run happens in ansible-runner's own thread (``run_async``); this module awaits it without blocking the loop.
- A playbook never outlives OpsPilot: ansible-runner ignores SIGHUP in the playbook and Ansible's workers start
  sessions of their own, so the playbook runs under a guard (:mod:`core.ansible.guard`, put first on ``PATH`` as
  ``ansible-playbook``) that the kernel signals when OpsPilot dies (``PR_SET_PDEATHSIG``) and that stops every
  process below it.
- Cancel (the ``cancel`` event) and ``timeout``: the guard stops the whole playbook (SIGTERM, then SIGKILL after a
  grace period), then ansible-runner reports the run ``canceled`` (``timeout``).
- Per host: ok, changed, failed, unreachable, skipped; the changed tasks; the failing task and its message; short
  diff excerpts. Results of ``no_log`` tasks are never read: Ansible replaces them with a censored marker, and this
  module drops every field of such a result but the task name.
- Nothing that carries a secret is logged: the vault password file is passed by path, never read.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from core.errors import ConfigError, ExecutionError

logger = logging.getLogger(__name__)

HostStatus = Literal["ok", "changed", "failed", "unreachable", "skipped"]
OUTPUT_CAP = 256 * 1024  # the whole run's stdout kept per playbook run
DIFF_LINES = 12  # diff lines kept per changed task
MESSAGE_CAP = 500
INSTALL_HINT = "Ansible is not installed: pip install 'opspilot[ansible]' (ansible-core and ansible-runner)"
CENSORED = "the output has been hidden"
GUARD_STOP_SECONDS = 6.0  # how long a cancel waits for the guard to stop the playbook
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")  # the colors of Ansible's stdout callback


def ansible_available() -> bool:
    try:
        import ansible_runner  # noqa: F401
    except ImportError:
        return False
    return shutil.which("ansible-playbook") is not None or _venv_bin("ansible-playbook") is not None


def _venv_bin(name: str) -> str | None:
    import sys

    candidate = Path(sys.executable).parent / name
    return str(candidate) if candidate.exists() else None


@dataclass
class TaskChange:
    task: str
    diff: list[str] = field(default_factory=list)


@dataclass
class HostResult:
    host: str
    status: HostStatus = "ok"
    changed: list[TaskChange] = field(default_factory=list)
    failed_task: str | None = None
    message: str | None = None
    ran: bool = False  # at least one task ran (not only skipped)

    @property
    def changed_tasks(self) -> list[str]:
        return [c.task for c in self.changed]


@dataclass
class PlaybookRun:
    rc: int
    status: str  # successful | failed | timeout | canceled
    hosts: dict[str, HostResult]
    output: str = ""

    def host(self, name: str) -> HostResult:
        return self.hosts.get(name) or HostResult(name, "skipped")


class _Collector:
    """Reads ansible-runner events (in its thread) into per-host results."""

    def __init__(self) -> None:
        self.hosts: dict[str, HostResult] = {}
        self.output: list[str] = []
        self.size = 0
        self.lock = threading.Lock()
        self.stats: dict[str, Any] | None = None  # the playbook_on_stats event (runner.stats needs events on disk)

    def __call__(self, event: Mapping[str, Any]) -> bool:
        with self.lock:
            stdout = event.get("stdout") or ""
            self._stdout(stdout)
            self._event(event.get("event") or "", event.get("event_data") or {}, stdout)
            if event.get("event") == "playbook_on_stats":
                self.stats = dict(event.get("event_data") or {})
        return False  # nothing for ansible-runner to keep on disk: everything needed is read here

    def _stdout(self, text: str) -> None:
        # Each event's stdout is whole lines without the final line break, colored: one line per event, plain.
        text = _ANSI.sub("", text).replace("\r\n", "\n").strip("\n")
        if text and self.size < OUTPUT_CAP:
            chunk = text[: OUTPUT_CAP - self.size] + "\n"
            self.output.append(chunk)
            self.size += len(chunk)

    def _result(self, data: Mapping[str, Any]) -> HostResult | None:
        host = data.get("host")
        if not isinstance(host, str):
            return None
        return self.hosts.setdefault(host, HostResult(host))

    def _event(self, name: str, data: Mapping[str, Any], stdout: str = "") -> None:
        result = self._result(data)
        if result is None:
            return
        task = str(data.get("task") or data.get("task_action") or "task")
        raw = data.get("res")
        res: Mapping[str, Any] = raw if isinstance(raw, dict) else {}
        censored = CENSORED in str(res.get("censored", ""))
        # A censored (no_log) result keeps no "changed" key; Ansible's own line for it still says "changed: [host]".
        if name == "runner_on_ok" and (res.get("changed") or (censored and "changed: [" in stdout)):
            result.changed.append(TaskChange(task, [] if censored else _diff_lines(res.get("diff"))))
            if result.status == "ok":
                result.status = "changed"
        elif name == "runner_on_failed" and not data.get("ignore_errors"):
            result.status, result.failed_task = "failed", task
            result.message = "output hidden (no_log)" if censored else _message(res)
        elif name == "runner_on_unreachable":
            result.status, result.failed_task = "unreachable", task
            result.message = "output hidden (no_log)" if censored else _message(res)
        elif name == "runner_on_ok":
            result.ran = True

    def finish(self, stats: Mapping[str, Any] | None) -> None:
        """ansible-runner's final stats settle hosts that only ever skipped or were never reached."""
        if not stats:
            return
        for key, status in (("dark", "unreachable"), ("failures", "failed")):
            for host in stats.get(key) or {}:
                result = self.hosts.setdefault(host, HostResult(host))
                if result.status not in ("failed", "unreachable"):
                    result.status = status  # type: ignore[assignment]
        for host in stats.get("ok") or {}:
            self.hosts.setdefault(host, HostResult(host))
        for host, count in (stats.get("changed") or {}).items():
            result = self.hosts.setdefault(host, HostResult(host))
            if count and result.status in ("ok", "skipped"):
                result.status = "changed"


def _message(res: Mapping[str, Any]) -> str:
    text = res.get("msg") or res.get("stderr") or res.get("reason") or ""
    if not text and res.get("results"):
        text = "; ".join(str(r.get("msg", "")) for r in res["results"] if isinstance(r, dict) and r.get("failed"))
    return str(text).strip()[:MESSAGE_CAP] or "failed"


_TEMPORARY = re.compile(r"ansible-(local|tmp)-|/\.ansible/tmp/")


def _diff_lines(diff: object) -> list[str]:
    """The first lines of a task's diff: Ansible's prepared text, or before/after pairs turned into -/+ lines."""
    items = diff if isinstance(diff, list) else [diff] if diff else []
    lines: list[str] = []
    for item in items:
        if not isinstance(item, dict):
            continue
        if item.get("prepared"):
            lines += str(item["prepared"]).splitlines()
            continue
        # The destination (before_header); a template's after_header is a temporary copy whose name changes on
        # every run, which would make the same change hash differently each time.
        header = str(item.get("before_header") or item.get("after_header") or "")
        if header and not _TEMPORARY.search(header):
            lines.append(f"@@ {header}")
        before = str(item.get("before", "")).splitlines() if isinstance(item.get("before"), str) else []
        after = str(item.get("after", "")).splitlines() if isinstance(item.get("after"), str) else []
        lines += [f"-{line}" for line in before if line not in after]
        lines += [f"+{line}" for line in after if line not in before]
    return [line[:200] for line in lines[:DIFF_LINES]]


async def run_playbook(
    playbook: Path,
    *,
    inventory: str | Path,
    limit: Sequence[str] | None = None,
    check: bool = False,
    diff: bool = False,
    extra_vars: Mapping[str, Any] | None = None,
    forks: int = 5,
    vault_password_file: Path | None = None,
    timeout: float | None = None,
    cancel: asyncio.Event | None = None,
    envvars: Mapping[str, str] | None = None,
) -> PlaybookRun:
    """Run ``playbook`` (optionally in check mode with diffs) on ``limit`` hosts; raises ExecutionError when Ansible
    could not run at all (not installed, bad inventory); a run with failed hosts returns normally."""
    try:
        import ansible_runner
    except ImportError as exc:
        raise ExecutionError(INSTALL_HINT) from exc
    if limit is not None and not limit:
        return PlaybookRun(0, "successful", {})
    workdir = Path(tempfile.mkdtemp(prefix="opspilot-ansible-"))
    collector = _Collector()
    cmdline = []
    if check:
        cmdline.append("--check")
    if diff:
        cmdline.append("--diff")
    if vault_password_file is not None:
        cmdline += ["--vault-password-file", str(vault_password_file)]
    cancelled = cancel or asyncio.Event()
    loop, finished = asyncio.get_running_loop(), asyncio.Event()
    guard = _Guard(workdir, timeout)
    kwargs: dict[str, Any] = {
        "private_data_dir": str(workdir),
        "playbook": str(playbook),
        "inventory": str(inventory),
        "extravars": dict(extra_vars or {}),
        "forks": max(1, forks),
        "cmdline": " ".join(cmdline) or None,
        "quiet": True,
        "event_handler": collector,
        "finished_callback": lambda _runner: loop.call_soon_threadsafe(finished.set),
        "cancel_callback": lambda: guard.should_stop(cancelled),
        "envvars": {**(envvars or {}), **guard.envvars()},
        "suppress_env_files": True,
        "settings": {"suppress_ansible_output": True, "pexpect_timeout": 1},  # cancel is polled each second
    }
    if limit:
        kwargs["limit"] = ",".join(limit)
    try:
        thread, runner = ansible_runner.run_async(**kwargs)
        while not finished.is_set() and thread.is_alive():  # the callback wakes us; the check covers a thread that died
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(finished.wait(), 0.5)
        await asyncio.to_thread(thread.join)
        collector.finish(collector.stats or getattr(runner, "stats", None))
        status = "timeout" if guard.timed_out else str(getattr(runner, "status", "failed"))
        rc = int(getattr(runner, "rc", 1) or 0)
    except Exception as exc:  # ansible-runner raises plain exceptions for a missing executable or bad arguments
        raise ExecutionError(f"ansible-playbook could not run {playbook}: {exc}") from exc
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    output = "".join(collector.output)
    if status == "failed" and not collector.hosts:
        raise ExecutionError(f"ansible-playbook failed before any host ran: {_last_lines(output)}")
    return PlaybookRun(rc, status, collector.hosts, output)


class _Guard:
    """Runs ``ansible-playbook`` through :mod:`core.ansible.guard` and stops it (whole) on cancel or timeout."""

    def __init__(self, workdir: Path, timeout: float | None) -> None:
        self.real = shutil.which("ansible-playbook") or _venv_bin("ansible-playbook") or "ansible-playbook"
        self.bin = workdir / "guard-bin"
        self.bin.mkdir()
        script = self.bin / "ansible-playbook"
        source = Path(__file__).with_name("guard.py").read_text()
        script.write_text(f"#!{sys.executable}\n{source}")
        script.chmod(0o700)
        self.pidfile = workdir / "guard.pid"
        self.deadline = time.monotonic() + timeout if timeout else None
        self.timed_out = False
        self.stopped = False

    def envvars(self) -> dict[str, str]:
        path = os.pathsep.join([str(self.bin), str(Path(self.real).parent), os.environ.get("PATH", "")])
        return {
            "PATH": path,
            "OPSPILOT_ANSIBLE_PLAYBOOK": self.real,
            "OPSPILOT_PARENT_PID": str(os.getpid()),
            "OPSPILOT_GUARD_PIDFILE": str(self.pidfile),
        }

    def should_stop(self, cancel: asyncio.Event) -> bool:
        """ansible-runner's cancel callback (its thread, polled): stop the guard first, so nothing is left behind."""
        if self.stopped:
            return True
        if self.deadline is not None and time.monotonic() > self.deadline:
            self.timed_out = True
        if not (cancel.is_set() or self.timed_out):
            return False
        self.stopped = True
        self._stop()
        return True

    def _stop(self) -> None:
        try:
            pid = int(self.pidfile.read_text().strip())
            os.kill(pid, signal.SIGTERM)
        except (OSError, ValueError):
            return
        deadline = time.monotonic() + GUARD_STOP_SECONDS
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.05)


def _alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie waiting to be reaped counts as ended)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


async def syntax_check(playbook: Path, inventory: str | Path, key: str) -> None:
    """``ansible-playbook --syntax-check``: a playbook with a syntax error stops startup with Ansible's message."""
    if not await asyncio.to_thread(Path(playbook).is_file):
        raise ConfigError(f"{key}: playbook {playbook} does not exist")
    executable = shutil.which("ansible-playbook") or _venv_bin("ansible-playbook")
    if executable is None:
        raise ConfigError(f"{key}: {INSTALL_HINT}")
    process = await asyncio.create_subprocess_exec(
        executable,
        "--syntax-check",
        "-i",
        str(inventory),
        str(playbook),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    if process.returncode != 0:
        raise ConfigError(
            f"{key}: {playbook} does not pass ansible-playbook --syntax-check: {_last_lines(output.decode(errors='replace'))}"
        )


def _last_lines(text: str, count: int = 6) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return " | ".join(lines[-count:])[:1500] or "no output"
