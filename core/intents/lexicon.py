"""Names OpsPilot knows from the inventory and its data sources: services, tags, hosts, images, APIs.

Built from the fleet (asset ids, ``service`` and ``tags`` of assets, golden images, regions, platforms) and from the
data directory (``infra.yaml`` services and the assets they run on, ``logs.yaml`` services, ``apis.yaml`` names), so
"payments" in an ask scopes it to the payments service and the hosts it runs on.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from core.inventory.fleet import Fleet

logger = logging.getLogger(__name__)

# Services people name that a fleet often has under some name; recognised even when the data does not list them.
COMMON_SERVICES = ("api-gateway", "auth", "login", "search", "cart", "orders", "notifications")


@dataclass(frozen=True)
class Lexicon:
    services: frozenset[str] = frozenset()
    service_assets: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    tags: frozenset[str] = frozenset()
    tag_assets: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    asset_ids: frozenset[str] = frozenset()
    asset_environments: Mapping[str, str] = field(default_factory=dict)
    images: frozenset[str] = frozenset()
    apis: frozenset[str] = frozenset()
    platforms: frozenset[str] = frozenset({"aws", "azure", "gcp"})
    roles: frozenset[str] = frozenset()

    @classmethod
    def build(cls, fleet: Fleet | None, data_dir: Path | None) -> Lexicon:
        services: dict[str, set[str]] = {name: set() for name in COMMON_SERVICES}
        tags: dict[str, set[str]] = {}
        assets: dict[str, str] = {}
        images: set[str] = set()
        platforms: set[str] = {"aws", "azure", "gcp"}
        roles: set[str] = set()
        if fleet is not None:
            images |= set(fleet.golden_images)
            for asset in fleet.assets:
                assets[asset.id.lower()] = asset.environment
                platforms.add(asset.platform.lower())
                roles.add(asset.role)
                if asset.service:
                    services.setdefault(asset.service.lower(), set()).add(asset.id)
                for tag in asset.tags:
                    tags.setdefault(tag.lower(), set()).add(asset.id)
        apis: set[str] = set()
        if data_dir is not None:
            for service in _list(_read(data_dir / "infra.yaml").get("services")):
                if isinstance(service, dict) and isinstance(service.get("name"), str):
                    owned = services.setdefault(service["name"].lower(), set())
                    for deployment in _list(service.get("deployments")):
                        if isinstance(deployment, dict):
                            owned |= {a for a in _list(deployment.get("assets")) if isinstance(a, str)}
            for entry in _list(_read(data_dir / "logs.yaml").get("logs")):
                if isinstance(entry, dict) and isinstance(entry.get("service"), str):
                    services.setdefault(entry["service"].lower(), set())
            raw_apis = _read(data_dir / "apis.yaml").get("apis")
            if isinstance(raw_apis, dict):
                apis |= {str(name).lower() for name in raw_apis}
        known = set(assets)
        return cls(
            services=frozenset(services),
            service_assets={name: tuple(sorted(a for a in ids if a.lower() in known)) for name, ids in services.items()},
            tags=frozenset(tags),
            tag_assets={name: tuple(sorted(ids)) for name, ids in tags.items()},
            asset_ids=frozenset(assets),
            asset_environments=assets,
            images=frozenset(images),
            apis=frozenset(apis),
            platforms=frozenset(platforms),
            roles=frozenset(roles),
        )

    def assets_of(self, services: Iterable[str] = (), tags: Iterable[str] = ()) -> list[str]:
        found: set[str] = set()
        for name in services:
            found |= set(self.service_assets.get(name, ()))
        for name in tags:
            found |= set(self.tag_assets.get(name, ()))
        return sorted(found)


def _read(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        logger.warning("intents: cannot read %s for service names: %s", path, exc)
        return {}
    return data if isinstance(data, dict) else {}


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []
