from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import ConfigError
from core.inventory import AssetQuery, load_fleet
from core.paths import SAMPLE_DATA_DIR


def test_sample_fleet_has_several_environments_roles_and_some_drift() -> None:
    fleet = load_fleet(SAMPLE_DATA_DIR / "fleet.yaml")
    assert len(fleet.assets) >= 80
    assert {a.environment for a in fleet.assets} == {"production", "staging", "development"}
    assert len({a.role for a in fleet.assets}) >= 4
    drifted = [a for a in fleet.assets if fleet.is_drifted(a)]
    assert 0 < len(drifted) < len(fleet.assets)


def test_json_fleet_and_environment_aliases_load(tmp_path: Path) -> None:
    path = tmp_path / "fleet.json"
    path.write_text(
        '{"golden_images": {"img": 2.4}, "assets": [{"id": "a", "environment": "prod", "role": "web-server",'
        ' "platform": "aws", "region": "us-east-1", "image": "img", "image_version": 2.3}]}'
    )
    fleet = load_fleet(path)
    assert fleet.assets[0].environment == "production"
    assert fleet.is_drifted(fleet.assets[0]) and fleet.golden_images["img"] == "2.4"


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (
            "assets: [{id: a, environment: production, role: web, platform: aws, region: r, image: nope, image_version: '1'}]\ngolden_images: {}",
            "no entry in golden_images",
        ),
        (
            "golden_images: {i: '1'}\nassets: [{id: a, environment: moon, role: w, platform: p, region: r, image: i, image_version: '1'}]",
            "unknown environment",
        ),
        (
            "golden_images: {i: '1'}\nassets: ["
            "{id: a, environment: dev, role: w, platform: p, region: r, image: i, image_version: '1'}, "
            "{id: a, environment: dev, role: w, platform: p, region: r, image: i, image_version: '1'}]",
            "more than once",
        ),
        ("- just a list", "must be a mapping"),
        ("golden_images: [", "cannot read fleet file"),
    ],
)
def test_bad_fleet_files_are_explained(tmp_path: Path, content: str, problem: str) -> None:
    path = tmp_path / "fleet.yaml"
    path.write_text(content)
    with pytest.raises(ConfigError, match=problem):
        load_fleet(path)


def test_missing_fleet_file_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"inventory\.path"):
        load_fleet(tmp_path / "nope.yaml")


def test_asset_query_filters_by_every_field() -> None:
    fleet = load_fleet(SAMPLE_DATA_DIR / "fleet.yaml")
    query = AssetQuery(environment="production", roles=["web-server"], platforms=["aws"], regions=["us-west-2"])
    matched = [a for a in fleet.assets if query.matches(a)]
    assert matched and all(a.region == "us-west-2" and a.role == "web-server" for a in matched)
