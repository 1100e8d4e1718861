"""The inventory source port: where the fleet comes from (a fleet file, an Ansible inventory, …).

A source only reads. ``Inventory`` (core/inventory/service.py) caches what it loads, refreshes it and
lays the versions the executor applied over it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping

from core.inventory.fleet import Fleet


class InventorySource(ABC):
    @abstractmethod
    async def load(self) -> Fleet:
        """The fleet as the source describes it now; raises ConfigError with the source's own message when it cannot."""

    @abstractmethod
    def describe(self) -> str:
        """A short human name for logs and replies, e.g. ``fleet file /etc/opspilot/fleet.yaml``."""

    def left_out(self) -> Mapping[str, str]:
        """Hosts the last ``load`` skipped, with the reason (host -> reason); empty for sources that skip none."""
        return {}
