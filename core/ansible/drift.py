"""Drift by check mode: what the configured playbook would change (``--check --diff --limit <hosts>``) is the drift.

- A host with changed tasks has drifted: its changed tasks and a short diff excerpt go into the plan.
- A host that is unreachable, fails in check mode, or has no result at all (not in the inventory, not targeted by
  the playbook) is listed apart, with its message: never silently dropped, never put in the plan.
- A check that reaches no host (every host failed, or the run itself timed out) raises ExecutionError: a failed
  drift check is an error the user sees, never "no drift".
- :func:`diff_hash` fingerprints the changes (SHA-256 over canonical JSON): approvals bind to it, and the driver
  re-checks it before each wave.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.ansible.runner import HostResult, PlaybookRun, run_playbook
from core.errors import ConfigError, ExecutionError

if TYPE_CHECKING:
    from core.config import Config

logger = logging.getLogger(__name__)

EXCERPT_LINES = 8  # diff lines kept per host in the plan
EXCERPT_LINE_CHARS = 160
HIDDEN_TASK = "a task whose result is hidden"
NO_RESULT = "no result: the host is not in the Ansible inventory or the playbook does not target it"


def _canonical(value: object) -> bytes:
    """RFC 8785-style JSON for strings, lists and objects: sorted keys, no whitespace, UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def diff_hash(results: PlaybookRun | Mapping[str, HostResult], hosts: Sequence[str] | None = None) -> str:
    """SHA-256 (hex) of every changed host's changed tasks and diff lines, in canonical JSON.

    ``hosts`` restricts it to some hosts (one wave, or one host: each plan change carries its own host's hash).
    Hosts without changes do not count, so a host that stays in sync does not change the hash."""
    by_host = results.hosts if isinstance(results, PlaybookRun) else results
    wanted = set(hosts) if hosts is not None else None
    document = {
        host: [{"task": change.task, "diff": list(change.diff)} for change in result.changed]
        for host, result in by_host.items()
        if result.status == "changed" and (wanted is None or host in wanted)
    }
    return hashlib.sha256(_canonical(document)).hexdigest()


@dataclass
class DriftedHost:
    host: str
    changed_tasks: list[str]
    diff: list[str]  # a capped excerpt over all its changed tasks
    diff_hash: str


@dataclass
class UncheckedHost:
    host: str
    status: str  # unreachable | failed | missing
    message: str
    task: str | None = None


@dataclass
class DriftCheck:
    playbook: Path
    drifted: list[DriftedHost] = field(default_factory=list)
    in_sync: list[str] = field(default_factory=list)
    failed: list[UncheckedHost] = field(default_factory=list)
    diff_hash: str = ""

    def dry_run(self) -> dict[str, Any]:
        """The plan payload's ``dry_run`` object."""
        return {
            "diff_hash": self.diff_hash,
            "hosts_changed": len(self.drifted),
            "hosts_failed": [
                {"host": f.host, "status": f.status, "message": f.message} | ({"task": f.task} if f.task else {})
                for f in self.failed
            ],
            "playbook": self.playbook.name,
        }


def excerpt(result: HostResult) -> list[str]:
    """A few diff lines of a host's changes, each task's lines under a ``# task`` line."""
    lines: list[str] = []
    for change in result.changed:
        if not change.diff:
            continue
        lines.append(f"# {change.task}"[:EXCERPT_LINE_CHARS])
        lines += [line[:EXCERPT_LINE_CHARS] for line in change.diff]
        if len(lines) >= EXCERPT_LINES:
            break
    return lines[:EXCERPT_LINES]


def read_check(run: PlaybookRun, hosts: Sequence[str], playbook: Path) -> DriftCheck:
    """Sort a check-mode run's hosts into drifted, in sync and failed; ExecutionError when none could be checked."""
    check = DriftCheck(playbook)
    for host in dict.fromkeys(hosts):
        result = run.hosts.get(host)
        if result is None:
            check.failed.append(UncheckedHost(host, "missing", NO_RESULT))
        elif result.status in ("failed", "unreachable"):
            check.failed.append(UncheckedHost(host, result.status, result.message or result.status, result.failed_task))
        elif result.status == "changed" or result.changed:
            tasks = result.changed_tasks or [HIDDEN_TASK]  # counted changed by Ansible's stats, no task seen
            check.drifted.append(DriftedHost(host, tasks, excerpt(result), diff_hash(run, [host])))
        else:
            check.in_sync.append(host)
    check.diff_hash = diff_hash(run, [d.host for d in check.drifted])
    if run.status in ("timeout", "canceled"):
        raise ExecutionError(f"the check run of {playbook.name} did not finish ({run.status}); no drift was decided")
    if hosts and not check.drifted and not check.in_sync:
        first = check.failed[0]
        raise ExecutionError(
            f"no host could be checked with {playbook.name}: all {len(check.failed)} failed or were unreachable "
            f"(first: {first.host}, {first.status}: {first.message})"
        )
    return check


def ansible_inventory(config: Config) -> Path:
    inventory = config.inventory.ansible.inventory
    if inventory is None:
        raise ConfigError(
            "executor.driver is ansible, so inventory.ansible.inventory must name the Ansible inventory the playbooks "
            "run against (a file, a directory or a dynamic inventory script, relative to the config file)"
        )
    return inventory


async def check_drift(config: Config, hosts: Sequence[str]) -> DriftCheck:
    """Run ``executor.ansible.playbook`` in check mode with diffs on ``hosts`` and read the drift from it."""
    settings = config.executor.ansible
    if settings.playbook is None:
        raise ConfigError("executor.ansible.playbook: no playbook is configured, so drift cannot be checked")
    run = await run_playbook(
        settings.playbook,
        inventory=ansible_inventory(config),
        limit=list(hosts),
        check=True,
        diff=True,
        extra_vars=settings.extra_vars,
        forks=config.executor.concurrency,
        vault_password_file=settings.vault_password_file,
        timeout=settings.timeout,
    )
    check = read_check(run, hosts, settings.playbook)
    logger.info(
        "check mode of %s: %d drifted, %d in sync, %d not checked",
        settings.playbook.name,
        len(check.drifted),
        len(check.in_sync),
        len(check.failed),
    )
    return check
