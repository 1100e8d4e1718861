"""The ``ansible`` driver: one ``ansible-playbook`` run per wave, limited to the wave's hosts.

- Apply: ``executor.ansible.playbook`` with ``--limit`` = the wave's hosts, ``forks`` = ``executor.concurrency`` and
  the extra vars ``executor.ansible.extra_vars`` + ``opspilot_run_id``, ``opspilot_phase``, ``opspilot_action``,
  ``opspilot_attempt`` and ``opspilot_idempotency_keys`` ({host: key}; with one host also ``opspilot_idempotency_key``).
- Revert: ``executor.ansible.rollback_playbook`` on the hosts to revert, or the same playbook with
  ``rollback_extra_vars`` laid over the extra vars.
- Per host: ok / changed -> succeeded with a short summary; failed / unreachable -> the failing task and message.
- Re-check: before a wave is applied, the playbook runs in check mode with diffs on the wave's hosts; a host whose
  changes now hash differently from what the plan recorded (``Change.details.diff_hash``) raises
  :class:`~core.errors.DriftChanged` and nothing is applied (the executor pauses the run). Hosts repeated after a
  crash or a Resume (attempt > 1) and plans without recorded hashes are not re-checked.
- Cancel: when the engine cancels the call (abort, shutdown, a lost lease), the playbook is stopped as a whole and
  the call is cancelled; the wave's rows stay ``running``, which a rollback treats as changed.
- Takeover: before running anything for a run, the driver waits until no playbook of that run still runs on this
  host (see :mod:`core.ansible.processes`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.ansible.processes import RUN_ID_ENV, wait_for_run_processes
from core.ansible.runner import INSTALL_HINT, HostResult, PlaybookRun, ansible_available, run_playbook
from core.errors import ConfigError, DriftChanged, DriverError
from core.executor.drivers.base import Driver, DriverAction, DriverResult

if TYPE_CHECKING:
    from core.config import AnsibleDriverConfig, ExecutorConfig

logger = logging.getLogger(__name__)

HOST_OUTPUT_CAP = 16 * 1024  # the playbook output kept per host (run_assets.output; `opspilot replay --output`)
STOP_WAIT_SECONDS = 10.0  # how long a cancelled call waits for its playbook to stop

PlaybookRunner = Callable[..., Coroutine[Any, Any, PlaybookRun]]


class AnsibleDriver(Driver):
    name = "ansible"
    acts_on_many = True

    def __init__(
        self,
        settings: AnsibleDriverConfig,
        inventory: Path,
        *,
        forks: int = 10,
        runner: PlaybookRunner = run_playbook,
    ) -> None:
        if settings.playbook is None:
            raise ConfigError("executor.ansible.playbook: the ansible driver needs a playbook to run")
        self.settings = settings
        self.playbook: Path = settings.playbook
        self.inventory = inventory
        self.forks = forks
        self.runner = runner

    @classmethod
    def from_config(cls, config: ExecutorConfig, inventory: Path | None) -> AnsibleDriver:
        """Checked now: Ansible installed, the inventory and every configured file present."""
        settings = config.ansible
        if not ansible_available():
            raise ConfigError(f"executor.driver is ansible: {INSTALL_HINT}")
        if inventory is None:
            raise ConfigError(
                "executor.driver is ansible, so inventory.ansible.inventory must name the Ansible inventory the "
                "playbooks run against (a file, a directory or a dynamic inventory script, relative to the config file)"
            )
        if not inventory.exists():
            raise ConfigError(f"inventory.ansible.inventory: {inventory} does not exist")
        for key in ("playbook", "rollback_playbook", "verify_playbook", "vault_password_file"):
            path = getattr(settings, key)
            if key == "playbook" and path is None:
                raise ConfigError("executor.ansible.playbook: the ansible driver needs a playbook to run")
            if path is not None and not Path(path).is_file():
                raise ConfigError(f"executor.ansible.{key}: {path} does not exist (paths are relative to the config file)")
        return cls(settings, inventory, forks=config.concurrency)

    async def perform(self, action: DriverAction) -> DriverResult:
        (outcome,) = await self.perform_many([action])
        if isinstance(outcome, DriverError):
            raise outcome
        return outcome

    async def perform_many(self, actions: list[DriverAction]) -> list[DriverResult | DriverError]:
        if not actions:
            return []
        kinds = {a.action for a in actions}
        if "step" in kinds:
            raise DriverError(
                "the ansible driver runs playbooks on hosts and has no steps; run step plans with the command or http driver"
            )
        if len(kinds) > 1:
            raise DriverError("the ansible driver takes applies and reverts in separate calls")
        if any(a.asset is None for a in actions):
            raise DriverError("the ansible driver needs a host for every action")
        run_id, kind = actions[0].run_id, actions[0].action
        hosts = [a.subject for a in actions]
        left = await wait_for_run_processes(run_id, self.settings.timeout)
        if left:
            raise DriverError(f"a playbook of run {run_id} is still running here (pid {', '.join(map(str, left))})")
        if kind == "apply":
            await self._recheck(actions)
            playbook, extra = self.playbook, dict(self.settings.extra_vars)
        else:
            playbook = self.settings.rollback_playbook or self.playbook
            extra = {**self.settings.extra_vars, **self.settings.rollback_extra_vars}
        extra.update(_opspilot_vars(actions))
        run = await self._run(playbook, hosts, extra, run_id=run_id)
        logger.info(
            "ansible %s of %s on %d host(s) in phase %s: %s", kind, playbook.name, len(hosts), actions[0].phase, run.status
        )
        return [self._outcome(run, action, playbook) for action in actions]

    async def _run(
        self, playbook: Path, hosts: Sequence[str], extra: Mapping[str, Any], *, run_id: str, check: bool = False
    ) -> PlaybookRun:
        """One playbook run; a cancelled caller stops the playbook (as a whole) before the cancel goes on."""
        cancel = asyncio.Event()
        task = asyncio.create_task(
            self.runner(
                playbook,
                inventory=self.inventory,
                limit=list(hosts),
                check=check,
                diff=check,
                extra_vars=extra,
                forks=self.forks,
                vault_password_file=self.settings.vault_password_file,
                timeout=self.settings.timeout,
                cancel=cancel,
                envvars={RUN_ID_ENV: run_id},
            )
        )
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            cancel.set()
            logger.warning("run %s: cancelled; stopping %s on %d host(s)", run_id, playbook.name, len(hosts))
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(task, STOP_WAIT_SECONDS)
            raise

    async def _recheck(self, actions: list[DriverAction]) -> None:
        """Check mode on the wave's first-time hosts; DriftChanged when a host's changes differ from the plan's."""
        from core.ansible.drift import diff_hash  # the plan's hashes come from the same function

        planned = {
            a.subject: str(a.change.details["diff_hash"])
            for a in actions
            if a.attempt == 1 and a.change is not None and a.change.details and a.change.details.get("diff_hash")
        }
        if not planned:
            return
        run = await self._run(self.playbook, list(planned), dict(self.settings.extra_vars), run_id=actions[0].run_id, check=True)
        differences: list[str] = []
        for host, expected in planned.items():
            result = run.hosts.get(host)
            if result is None or result.status in ("failed", "unreachable"):
                continue  # the apply reports these hosts as they are
            if diff_hash(run, [host]) == expected:
                continue
            now = ", ".join(result.changed_tasks) if result.changed else "nothing (already in sync)"
            before = next(a for a in actions if a.subject == host)
            tasks = (before.change.details or {}).get("changed_tasks") if before.change else None
            was = ", ".join(map(str, tasks)) if tasks else "other changes"
            differences.append(f"{host} would now change {now} (the plan showed {was})")
        if differences:
            raise DriftChanged(
                f"the hosts changed since the plan was checked, nothing was applied: {'; '.join(differences[:10])}"
                + (f" and {len(differences) - 10} more" if len(differences) > 10 else "")
                + ". Resume applies the playbook as it is now; Abort stops the run."
            )

    def _outcome(self, run: PlaybookRun, action: DriverAction, playbook: Path) -> DriverResult | DriverError:
        host = action.subject
        result = run.hosts.get(host)
        output = host_output(run.output, host)
        if result is None:
            if run.status in ("timeout", "canceled"):
                return DriverError(f"{playbook.name} {run.status} before {host} was reached", output)
            return DriverError(
                f"no result from {playbook.name}: the host is not in the Ansible inventory or the play does not target it",
                output,
            )
        summary = host_summary(result)
        if result.status in ("failed", "unreachable"):
            return DriverError(
                f"{result.status}: task {result.failed_task!r}: {result.message or result.status}", _join(summary, output)
            )
        if run.status == "timeout":
            return DriverError(f"{playbook.name} timed out after {self.settings.timeout:g}s ({summary})", output)
        left = action.from_version if action.action == "revert" else action.to_version  # a revert goes back to from
        return DriverResult(current=left, output=_join(summary, output))

    async def close(self) -> None:
        return None


def _opspilot_vars(actions: Sequence[DriverAction]) -> dict[str, Any]:
    first = actions[0]
    extra: dict[str, Any] = {
        "opspilot_run_id": first.run_id,
        "opspilot_phase": first.phase,
        "opspilot_action": first.action,
        "opspilot_attempt": max(a.attempt for a in actions),
        "opspilot_idempotency_keys": {a.subject: a.key for a in actions},
    }
    if len(actions) == 1:
        extra["opspilot_idempotency_key"] = first.key
    # The version each host ends on: the change's target, or for a revert the version it had before.
    versions = {a.subject: v for a in actions if (v := a.from_version if a.action == "revert" else a.to_version)}
    if versions:
        extra["opspilot_versions"] = versions
    return extra


def host_summary(result: HostResult) -> str:
    """One line: the host's status, its changed tasks, and the failing task with its message."""
    if result.status in ("failed", "unreachable"):
        return f"{result.status}: task {result.failed_task!r}: {result.message or result.status}"
    if result.changed:
        return f"changed: {', '.join(result.changed_tasks)}"
    return result.status


def host_output(output: str, host: str, cap: int = HOST_OUTPUT_CAP) -> str:
    """The lines of a playbook's output about ``host``, each under its PLAY / TASK header."""
    marker = f"[{host}]"
    kept: list[str] = []
    header: str | None = None
    size = 0
    for line in output.splitlines():
        if line.startswith(("PLAY ", "TASK ", "RUNNING HANDLER ")):
            header = line.rstrip(" *")
            continue
        if marker not in line:
            continue
        for text in ([header] if header else []) + [line]:
            if size + len(text) + 1 > cap:
                return "\n".join(kept)
            kept.append(text)
            size += len(text) + 1
        header = None
    return "\n".join(kept)


def _join(summary: str, output: str) -> str:
    return f"{summary}\n{output}" if output else summary


__all__ = ["AnsibleDriver", "host_output", "host_summary"]
