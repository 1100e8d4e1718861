"""Which playbooks of a run are still running on this machine, found by the run id in their environment.

Every playbook the ansible driver starts carries ``OPSPILOT_RUN_ID=<run id>`` in its environment, and every process
Ansible starts below it inherits it. A worker that takes a run over (after a crash or a lost lease) waits until no
process on this host carries that run id before it runs a playbook of the run, so two playbooks of one run never
overlap. The scan reads ``/proc/<pid>/environ``, which shows only processes of the same user (or all, for root): it
sees playbooks started by OpsPilot processes of the same account on the same host. Playbooks of a replica on another
host are not seen; the guard (:mod:`core.ansible.guard`) stops those when their replica dies.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

RUN_ID_ENV = "OPSPILOT_RUN_ID"
POLL_SECONDS = 0.2


def run_processes(run_id: str, proc: Path = Path("/proc")) -> list[int]:
    """Pids of live processes (not this one) whose environment has ``OPSPILOT_RUN_ID=<run_id>``."""
    needle = f"{RUN_ID_ENV}={run_id}".encode()
    found: list[int] = []
    try:
        entries = os.listdir(proc)
    except OSError:
        return found
    me = os.getpid()
    for entry in entries:
        if not entry.isdigit() or int(entry) == me:
            continue
        try:
            environ = (proc / entry / "environ").read_bytes()
            state = (proc / entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state != "Z" and needle in environ.split(b"\0"):
            found.append(int(entry))
    return found


async def wait_for_run_processes(run_id: str, timeout: float) -> list[int]:
    """Wait until no process of ``run_id`` runs here; returns the pids still running when ``timeout`` passed."""
    deadline = time.monotonic() + timeout
    while True:
        pids = await asyncio.to_thread(run_processes, run_id)
        if not pids or time.monotonic() >= deadline:
            return pids
        await asyncio.sleep(POLL_SECONDS)
