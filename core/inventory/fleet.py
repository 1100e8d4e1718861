"""The fleet file (YAML or JSON): golden image versions and the asset list.

    golden_images:
      ubuntu-base: "2.4.1"
    assets:
      - {id: web-prod-001, environment: production, role: web-server, platform: aws,
         region: us-east-1, image: ubuntu-base, image_version: "2.3.9"}

Extra keys on an asset are kept (``labels``, ``services``, …) for agents that want them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from core.errors import ConfigError

ENVIRONMENT_ALIASES = {
    "prod": "production",
    "production": "production",
    "prd": "production",
    "staging": "staging",
    "stage": "staging",
    "stg": "staging",
    "dev": "development",
    "development": "development",
}


class Asset(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    id: str = Field(min_length=1)
    environment: str
    role: str
    platform: str
    region: str
    image: str
    image_version: str
    # What drivers and health checks need: where to reach the asset, how to group it, what it serves.
    address: str | None = None
    tags: tuple[str, ...] = ()
    service: str | None = None

    @field_validator("tags", mode="before")
    @classmethod
    def _tags_as_list(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value

    @field_validator("image_version", mode="before")
    @classmethod
    def _version_as_text(cls, value: object) -> object:
        # YAML reads 2.4 as a float; a version is always text.
        return str(value) if isinstance(value, int | float) else value

    @field_validator("environment")
    @classmethod
    def _known_environment(cls, value: str) -> str:
        normalized = ENVIRONMENT_ALIASES.get(value.strip().lower())
        if normalized is None:
            raise ValueError(f"unknown environment {value!r}; use production, staging or development")
        return normalized


class Fleet(BaseModel):
    model_config = ConfigDict(extra="forbid")

    golden_images: dict[str, str] = Field(default_factory=dict)
    assets: list[Asset] = Field(default_factory=list)

    @field_validator("golden_images", mode="before")
    @classmethod
    def _versions_as_text(cls, value: object) -> object:
        if isinstance(value, dict):
            return {k: str(v) if isinstance(v, int | float) else v for k, v in value.items()}
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Fleet:
        seen: set[str] = set()
        for asset in self.assets:
            if asset.id in seen:
                raise ValueError(f"asset id {asset.id!r} appears more than once")
            seen.add(asset.id)
            if asset.image not in self.golden_images:
                raise ValueError(f"asset {asset.id!r} uses image {asset.image!r} which has no entry in golden_images")
        return self

    def is_drifted(self, asset: Asset) -> bool:
        return asset.image_version != self.golden_images[asset.image]

    def by_id(self) -> dict[str, Asset]:
        return {a.id: a for a in self.assets}


class AssetQuery(BaseModel):
    """A filter over assets; empty lists match everything."""

    environment: str | None = None
    roles: list[str] = Field(default_factory=list)
    platforms: list[str] = Field(default_factory=list)
    regions: list[str] = Field(default_factory=list)
    asset_ids: list[str] = Field(default_factory=list)
    images: list[str] = Field(default_factory=list)

    def matches(self, asset: Asset) -> bool:
        if self.environment not in (None, "all") and asset.environment != self.environment:
            return False
        checks: Iterable[tuple[list[str], str]] = (
            (self.roles, asset.role),
            (self.platforms, asset.platform),
            (self.regions, asset.region),
            (self.asset_ids, asset.id),
            (self.images, asset.image),
        )
        return all(not wanted or value in wanted for wanted, value in checks)


def load_fleet(path: str | Path) -> Fleet:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
        # JSON is YAML too, but the JSON parser reads a 50,000-asset file a hundred times faster.
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except FileNotFoundError as exc:
        raise ConfigError(f"fleet file not found: {path} (inventory.path in the config)") from exc
    except (OSError, UnicodeDecodeError, yaml.YAMLError, json.JSONDecodeError) as exc:
        raise ConfigError(f"cannot read fleet file {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"fleet file {path} must be a mapping with golden_images and assets")
    try:
        return Fleet.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{_where(e['loc'], data)}: {e['msg']}" for e in exc.errors()[:10])
        raise ConfigError(f"fleet file {path} is invalid: {problems}") from exc


def _where(loc: tuple, data: dict) -> str:
    """``assets[3] (id web-prod-004).image_version`` rather than ``assets.3.image_version``."""
    if len(loc) >= 2 and loc[0] == "assets" and isinstance(loc[1], int):
        assets = data.get("assets")
        asset = assets[loc[1]] if isinstance(assets, list) and loc[1] < len(assets) else None
        asset_id = asset.get("id") if isinstance(asset, dict) else None
        where = f"assets[{loc[1]}]" + (f" (id {asset_id})" if asset_id else "")
        return where + "".join(f".{p}" for p in loc[2:])
    return ".".join(str(p) for p in loc) or "fleet"
