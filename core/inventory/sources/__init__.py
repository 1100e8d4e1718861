"""Where the fleet comes from: the port (``base.InventorySource``) and its implementations."""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.inventory.sources.ansible import AnsibleSource
from core.inventory.sources.base import InventorySource
from core.inventory.sources.file import FileSource

if TYPE_CHECKING:
    from core.config import InventoryConfig

__all__ = ["AnsibleSource", "FileSource", "InventorySource", "build_source"]


def build_source(config: InventoryConfig) -> InventorySource:
    """The source ``inventory.source`` names, set up from its section of the config."""
    if config.source == "ansible":
        ansible = config.ansible
        assert ansible.inventory is not None  # InventoryConfig refuses source ansible without one
        return AnsibleSource(
            ansible.inventory,
            mapping=ansible.mapping.model_dump(),
            environments={str(name): aliases for name, aliases in ansible.environments.items()},
            timeout=ansible.timeout,
        )
    return FileSource(config.path)
