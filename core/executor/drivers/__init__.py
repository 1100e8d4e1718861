"""Drivers carry out the executor's actions (apply, revert, step) behind one port, ``Driver.perform``.

``simulate`` is the embedded default; ``command`` runs a local program per action; ``http`` POSTs the
action to a deployment system; ``ansible`` runs a playbook per wave (docs/ansible.md). See docs/drivers.md.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from core.errors import ConfigError
from core.executor.drivers.base import (
    OUTPUT_CAP,
    Action,
    AssetRef,
    Driver,
    DriverAction,
    DriverResult,
    idempotency_key,
)

if TYPE_CHECKING:
    from core.config import ExecutorConfig
    from core.inventory.service import Inventory

__all__ = [
    "OUTPUT_CAP",
    "Action",
    "AssetRef",
    "Driver",
    "DriverAction",
    "DriverResult",
    "build_driver",
    "idempotency_key",
]


def build_driver(
    config: ExecutorConfig,
    inventory: Inventory,
    env: Mapping[str, str] | None = None,
    *,
    ansible_inventory: Path | None = None,
) -> Driver:
    """The driver ``executor.driver`` names, checked now (templates, programs, URLs, secret, playbooks): ConfigError
    if wrong. ``ansible_inventory`` is ``inventory.ansible.inventory``, which the ansible driver runs against."""
    env = os.environ if env is None else env
    if config.driver == "simulate":
        from core.executor.drivers.simulate import SimulateDriver

        return SimulateDriver(inventory, config.simulate)
    if config.driver == "command":
        from core.executor.drivers.command import CommandDriver

        return CommandDriver.from_config(config.command, env)
    if config.driver == "http":
        from core.executor.drivers.http import HttpDriver

        return HttpDriver.from_config(config.http, env)
    if config.driver == "ansible":
        from core.executor.drivers.ansible import AnsibleDriver

        return AnsibleDriver.from_config(config, ansible_inventory)
    raise ConfigError(f"executor.driver: unknown driver {config.driver!r}; use simulate, command, http or ansible")
