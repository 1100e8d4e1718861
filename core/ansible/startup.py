"""Startup checks for ``executor.driver: ansible``: a mistake stops OpsPilot before the first ask, not during a run."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from core.ansible.drift import ansible_inventory
from core.ansible.runner import INSTALL_HINT, ansible_available, syntax_check
from core.errors import ConfigError

if TYPE_CHECKING:
    from core.config import Config

logger = logging.getLogger(__name__)


async def check_ansible_setup(config: Config) -> None:
    """With the ansible driver: Ansible is installed, every configured file exists, and every playbook passes
    ``ansible-playbook --syntax-check`` (ConfigError with Ansible's own message otherwise). Other drivers: nothing."""
    if config.executor.driver != "ansible":
        return
    settings = config.executor.ansible
    if not ansible_available():
        raise ConfigError(f"executor.driver is ansible: {INSTALL_HINT}")
    inventory = ansible_inventory(config)
    if not await asyncio.to_thread(inventory.exists):
        raise ConfigError(f"inventory.ansible.inventory: {inventory} does not exist")
    playbooks: list[tuple[str, Path]] = [
        (f"executor.ansible.{key}", path)
        for key, path in (
            ("playbook", settings.playbook),
            ("rollback_playbook", settings.rollback_playbook),
            ("verify_playbook", settings.verify_playbook),
        )
        if path is not None
    ]
    files = [*playbooks]
    if settings.vault_password_file is not None:
        files.append(("executor.ansible.vault_password_file", settings.vault_password_file))
    for key, path in files:
        if not await asyncio.to_thread(path.is_file):
            raise ConfigError(f"{key}: {path} does not exist (paths are relative to the config file)")
    for key, path in playbooks:
        await syntax_check(path, inventory, key)
    logger.info("ansible: %d playbook(s) pass the syntax check", len(playbooks))
