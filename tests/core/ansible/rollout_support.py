"""A production fleet of local hosts for end-to-end rollouts through the service (examples/ansible in tmp_path).

Each host is a folder under ``state/`` reached with the local connection; the playbooks append to a ledger
(``RUN PHASE ACTION HOST KEY``, where PHASE may hold spaces: "Wave 1"). The config is examples/ansible/opspilot.yaml
with ``wait_scale: 0``, approvers and, for the crash test, a short lease.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.core.ansible.support import ROOT, Fleet

APPROVERS = ["U0APPROVER1", "U0APPROVER2"]
REQUESTER = "U0REQUESTER"
APPROVER = "U0APPROVER2"  # not the requester, whatever the approval rules say about that
ASK = "fix drift on prod web servers"
OLD = "version = 2.4.0\n"  # what a drifted host holds before the run
UNREACHABLE = {"ansible_connection": "ssh", "ansible_host": "127.0.0.1", "ansible_port": 1}


def compliant_text(host: str) -> str:
    """examples/ansible/templates/app.conf.j2 rendered for a production web server."""
    return f"# Managed by Ansible ({host}); do not edit by hand.\nenvironment = production\nrole = web-server\nversion = 2.4.1\n"


@dataclass(frozen=True)
class Entry:
    run: str
    phase: str
    action: str
    host: str
    key: str


class ProdFleet(Fleet):
    """``hosts`` maps each production host to its host vars; ``state`` to the app.conf it starts with (None: none)."""

    def __init__(self, tmp_path: Path, hosts: dict[str, dict[str, Any]], state: dict[str, str | None]) -> None:
        super().__init__(tmp_path, hosts=0)
        self.tmp = tmp_path
        inventory = yaml.safe_load(self.inventory.read_text())
        group = inventory["all"]["children"].pop("staging")
        group["vars"]["env"] = "production"
        group["hosts"] = hosts
        inventory["all"]["children"]["production"] = group
        self.inventory.write_text(yaml.safe_dump(inventory, sort_keys=False))
        self.hosts = list(hosts)
        for host, text in state.items():
            self.config_file(host).parent.mkdir(parents=True, exist_ok=True)
            if text is not None:
                self.config_file(host).write_text(text)
        self.database_url = f"sqlite:///{tmp_path / 'opspilot.db'}"

    def write_config(self, *, verify: bool = False, lease: str = "30s", poll: str = "0.2") -> Path:
        ansible: dict[str, Any] = {"playbook": "site.yml", "rollback_playbook": "rollback.yml", "timeout": "2m"}
        executor: dict[str, Any] = {
            "driver": "ansible",
            "concurrency": 5,
            "wait_scale": 0,
            "lease_seconds": lease,
            "poll_interval": poll,
            "ansible": ansible,
        }
        if verify:
            ansible["verify_playbook"] = "verify.yml"
            executor["health"] = {"probe": "ansible"}
        document = {
            "approvers": APPROVERS,
            "inventory": {"source": "ansible", "ansible": {"inventory": "inventory.yml"}},
            "executor": executor,
        }
        path = self.dir / "opspilot.yaml"
        path.write_text(yaml.safe_dump(document, sort_keys=False))
        return path

    def contents(self) -> dict[str, str | None]:
        return {h: (self.config_file(h).read_text() if self.config_file(h).exists() else None) for h in self.hosts}

    def ledger_entries(self) -> list[Entry]:
        out = []
        for line in self.ledger.read_text().splitlines():
            words = line.split()
            if words:
                out.append(Entry(words[0], " ".join(words[1:-3]), words[-3], words[-2], words[-1]))
        return out

    def hosts_by_phase(self, run_id: str, action: str) -> dict[str, list[str]]:
        phases: dict[str, list[str]] = defaultdict(list)
        for entry in self.ledger_entries():
            if entry.run == run_id and entry.action == action:
                phases[entry.phase].append(entry.host)
        return {phase: sorted(hosts) for phase, hosts in phases.items()}

    # What crash_support.Worker needs of a world: a folder, a config and the environment of the process.
    @property
    def config(self) -> Path:
        return self.dir / "opspilot.yaml"

    def env(self, **extra: str) -> dict[str, str]:
        env = {
            k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "ANTHROPIC_", "OPSPILOT_", "DATABASE_URL", "LOG_"))
        }
        env.update(DATABASE_URL=self.database_url, PYTHONPATH=str(ROOT), OPSPILOT_TEST_ASK=ASK, **extra)
        return env

    def describe(self) -> str:
        return json.dumps(self.contents(), indent=1)
