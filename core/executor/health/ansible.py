"""The ``ansible`` health probe: ``executor.ansible.verify_playbook`` run on the phase's hosts after the wave.

A failed task on any host (an ``ansible.builtin.assert`` that does not hold) fails the check, naming the host, the
task and its message; an unreachable host makes the verdict inconclusive (nobody knows whether it is healthy).
When every host passes, the metrics are ``http_ok`` 100.0 (a percent, as every probe reports it) and ``error_rate``
0.0, so ``rollback_if`` conditions on them hold only when the plan asks for something stricter.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from core.ansible.processes import RUN_ID_ENV
from core.ansible.runner import run_playbook
from core.domain import Phase
from core.errors import ExecutionError
from core.executor.health.base import HealthCheckFailed, HealthInconclusive, HealthProbe

if TYPE_CHECKING:
    from core.config import AnsibleDriverConfig

logger = logging.getLogger(__name__)


class AnsibleHealth(HealthProbe):
    name = "ansible"

    def __init__(self, settings: AnsibleDriverConfig, inventory: Path, forks: int = 10) -> None:
        if settings.verify_playbook is None:
            raise ExecutionError("the ansible health probe needs executor.ansible.verify_playbook")
        self.settings = settings
        self.playbook: Path = settings.verify_playbook
        self.inventory = inventory
        self.forks = forks

    async def measure(self, phase: Phase, assets: list[str]) -> dict[str, float]:
        if not assets:
            return {"http_ok": 100.0, "error_rate": 0.0}
        run = await run_playbook(
            self.playbook,
            inventory=self.inventory,
            limit=assets,
            extra_vars={**self.settings.extra_vars, "opspilot_phase": phase.name},
            forks=self.forks,
            vault_password_file=self.settings.vault_password_file,
            timeout=self.settings.timeout,
            envvars={RUN_ID_ENV: f"verify:{phase.name}"},
        )
        failed = [r for r in run.hosts.values() if r.status == "failed"]
        if failed:
            named = "; ".join(f"{r.host}: task {r.failed_task!r}: {r.message}" for r in failed[:5])
            raise HealthCheckFailed(f"{self.playbook.name} failed on {len(failed)} host(s): {named}")
        unreachable = [r.host for r in run.hosts.values() if r.status == "unreachable"]
        missing = [a for a in assets if a not in run.hosts]
        if unreachable or missing or run.status in ("timeout", "canceled"):
            parts = [f"unreachable: {', '.join(unreachable[:10])}"] if unreachable else []
            parts += [f"no result: {', '.join(missing[:10])}"] if missing else []
            parts += [f"the run {run.status}"] if run.status in ("timeout", "canceled") else []
            raise HealthInconclusive(f"{self.playbook.name} could not verify every host ({'; '.join(parts)})")
        logger.info("%s passed on %d host(s) of %s", self.playbook.name, len(assets), phase.name)
        return {"http_ok": 100.0, "error_rate": 0.0}
