"""A copy of examples/ansible per test (its state folder inside tmp_path), with a ledger the playbooks append to."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import yaml

from core.config import AnsibleDriverConfig

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "examples" / "ansible"


class Fleet:
    """examples/ansible copied to ``tmp_path``; ``hosts`` local hosts plus optional extra hosts with their vars."""

    def __init__(self, tmp_path: Path, hosts: int = 3, extra: dict[str, dict[str, Any]] | None = None) -> None:
        self.dir = tmp_path / "ansible"
        shutil.copytree(EXAMPLE, self.dir, ignore=shutil.ignore_patterns("state"))
        self.ledger = tmp_path / "ledger.log"
        self.ledger.touch()
        inventory = yaml.safe_load((self.dir / "inventory.yml").read_text())
        staging = inventory["all"]["children"]["staging"]
        staging["hosts"] = {f"web-stg-{i:02d}": {} for i in range(1, hosts + 1)} | (extra or {})
        inventory["all"]["vars"]["ledger"] = str(self.ledger)
        self.inventory = self.dir / "inventory.yml"
        self.inventory.write_text(yaml.safe_dump(inventory, sort_keys=False))
        self.hosts = list(staging["hosts"])

    def settings(self, **overrides: Any) -> AnsibleDriverConfig:
        values: dict[str, Any] = {
            "playbook": self.dir / "site.yml",
            "rollback_playbook": self.dir / "rollback.yml",
            "verify_playbook": self.dir / "verify.yml",
        }
        return AnsibleDriverConfig(**(values | overrides))

    def config_file(self, host: str) -> Path:
        return self.dir / "state" / host / "app.conf"

    def entries(self) -> list[list[str]]:
        """Ledger lines split: run, phase, action, host, key."""
        return [line.split() for line in self.ledger.read_text().splitlines() if line.strip()]
