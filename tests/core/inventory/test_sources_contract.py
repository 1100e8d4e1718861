"""Inventory sources: one contract over the fleet file and an Ansible inventory, then what only Ansible does.

The Ansible tests run the real ``ansible-inventory`` (installed with the ``test`` extra), so every
inventory form here is parsed by Ansible itself.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from core.clock import ManualClock
from core.config import load_config
from core.errors import ConfigError
from core.inventory import AnsibleSource, FileSource, Fleet, Inventory, InventorySource
from core.inventory.sources import ansible as ansible_module
from core.inventory.sources.ansible import find_ansible_inventory
from core.service import OpsPilot

pytestmark = pytest.mark.skipif(
    find_ansible_inventory() is None, reason="ansible-inventory is not installed (pip install -e '.[test]')"
)

EXPECTED = [
    {
        "id": "db-stg-1",
        "environment": "staging",
        "role": "database",
        "platform": "gcp",
        "region": "europe-west1",
        "image": "ubuntu-base",
        "image_version": "2.4.1",
        "address": None,
        "tags": (),
        "service": None,
    },
    {
        "id": "web-prod-1",
        "environment": "production",
        "role": "web-server",
        "platform": "aws",
        "region": "us-east-1",
        "image": "ubuntu-base",
        "image_version": "2.3.9",
        "address": "10.0.0.1",
        "tags": ("canary", "edge"),
        "service": "checkout",
    },
]

FLEET_FILE = """\
golden_images: {ubuntu-base: "2.4.1"}
assets:
  - {id: db-stg-1, environment: staging, role: database, platform: gcp, region: europe-west1,
     image: ubuntu-base, image_version: "2.4.1"}
  - {id: web-prod-1, environment: production, role: web-server, platform: aws, region: us-east-1,
     image: ubuntu-base, image_version: "2.3.9", address: 10.0.0.1, tags: [canary, edge], service: checkout}
"""

ANSIBLE_YAML = """\
all:
  vars:
    golden_images: {ubuntu-base: "2.4.1"}
    image: ubuntu-base
  children:
    prod:
      hosts:
        web-prod-1:
          ansible_host: 10.0.0.1
          role: web-server
          platform: aws
          region: us-east-1
          image_version: "2.3.9"
          tags: "canary, edge"
          service: checkout
    staging:
      hosts:
        db-stg-1: {role: database, platform: gcp, region: europe-west1, image_version: "2.4.1"}
"""

NEW_FLEET_ASSET = (
    "  - {id: web-prod-2, environment: production, role: web-server, platform: aws, region: us-east-1,"
    " image: ubuntu-base, image_version: '2.4.1'}\n"
)
NEW_ANSIBLE_HOST = "        web-prod-2: {role: web-server, platform: aws, region: us-east-1, image_version: '2.4.1'}\n"


class NoStore:
    """Inventory asks the store for applied versions; these tests apply none."""

    async def asset_versions(self) -> dict[str, tuple[str, str]]:
        return {}


def _touch_later(path: Path) -> None:
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))


def _add_host(kind: str, path: Path) -> None:
    if kind == "file":
        path.write_text(FLEET_FILE + NEW_FLEET_ASSET)
        _touch_later(path)
    else:
        text = path.read_text().replace("    staging:\n", NEW_ANSIBLE_HOST + "    staging:\n")
        path.write_text(text)


@pytest.fixture(params=["file", "ansible"])
def described(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, Path, InventorySource]:
    """The same two hosts, described by each source."""
    if request.param == "file":
        path = tmp_path / "fleet.yaml"
        path.write_text(FLEET_FILE)
        return "file", path, FileSource(path)
    path = tmp_path / "hosts.yml"
    path.write_text(ANSIBLE_YAML)
    return "ansible", path, AnsibleSource(path)


def _assets(fleet: Fleet) -> list[dict[str, Any]]:
    return sorted((a.model_dump() for a in fleet.assets), key=lambda a: a["id"])


# -- the contract: every source ---------------------------------------------------------------


async def test_a_source_loads_the_hosts_it_describes_to_the_same_assets(described) -> None:
    _, _, source = described
    fleet = await source.load()
    assert _assets(fleet) == EXPECTED
    assert fleet.golden_images == {"ubuntu-base": "2.4.1"}
    assert [a.id for a in fleet.assets if fleet.is_drifted(a)] == ["web-prod-1"]
    assert source.left_out() == {}


async def test_a_source_describes_itself_by_its_location(described) -> None:
    _, path, source = described
    assert str(path) in source.describe()


async def test_a_missing_source_raises_a_config_error_naming_it(described) -> None:
    _, path, source = described
    path.unlink()
    with pytest.raises(ConfigError, match="not found") as caught:
        await source.load()
    assert str(path) in str(caught.value)


async def test_a_source_sees_an_edit_on_the_next_load(described) -> None:
    kind, path, source = described
    await source.load()
    _add_host(kind, path)
    assert [a.id for a in (await source.load()).assets] == ["db-stg-1", "web-prod-1", "web-prod-2"]


async def test_inventory_refresh_reports_the_hosts_added_and_removed(described) -> None:
    kind, path, source = described
    inventory = Inventory(source, NoStore())  # type: ignore[arg-type]
    first = await inventory.refresh()
    assert (first.assets, first.added, first.removed) == (2, ("db-stg-1", "web-prod-1"), ())
    _add_host(kind, path)
    second = await inventory.refresh()
    assert (second.assets, second.added, second.removed, second.changed) == (3, ("web-prod-2",), (), ())
    assert second.source == source.describe()


def test_inventory_still_takes_a_fleet_file_path(tmp_path: Path) -> None:
    (tmp_path / "fleet.yaml").write_text(FLEET_FILE)
    inventory = Inventory(tmp_path / "fleet.yaml", NoStore())  # type: ignore[arg-type]
    assert isinstance(inventory.source, FileSource) and inventory.source.path == tmp_path / "fleet.yaml"


# -- Ansible: inventory forms -----------------------------------------------------------------


async def test_yaml_inventory_with_group_vars_files_and_field_groups(tmp_path: Path) -> None:
    (tmp_path / "group_vars").mkdir()
    (tmp_path / "group_vars" / "all.yml").write_text("golden_images: {base: '1.1'}\nimage: base\nplatform: vmware\n")
    (tmp_path / "group_vars" / "prod.yml").write_text("region: dc-east\ntags: [pci]\n")
    (tmp_path / "host_vars").mkdir()
    (tmp_path / "host_vars" / "web-1.yml").write_text("image_version: '1.0'\nservice: shop\n")
    (tmp_path / "hosts.yml").write_text(
        "all:\n  children:\n    prod:\n      children:\n        role_web:\n"
        "          hosts:\n            web-1: {ansible_host: 192.0.2.10}\n"
        "            web-2: {image_version: '1.1', platform: aws}\n"
    )
    fleet = await AnsibleSource(tmp_path / "hosts.yml").load()
    web1, web2 = sorted(fleet.assets, key=lambda a: a.id)
    assert web1.model_dump() == {
        "id": "web-1",
        "environment": "production",  # from the group prod
        "role": "web",  # from the group role_web
        "platform": "vmware",  # group_vars/all.yml
        "region": "dc-east",  # group_vars/prod.yml
        "image": "base",
        "image_version": "1.0",  # host_vars/web-1.yml
        "address": "192.0.2.10",
        "tags": ("pci",),
        "service": "shop",
    }
    assert (web2.platform, web2.image_version, web2.address) == ("aws", "1.1", None)  # host vars win over group vars
    assert [a.id for a in fleet.assets if fleet.is_drifted(a)] == ["web-1"]


async def test_ini_inventory(tmp_path: Path) -> None:
    (tmp_path / "hosts.ini").write_text(
        "[web]\n"
        # On a host line Ansible reads 1.10 as a number (1.1); quoted twice it stays text.
        "web-1 ansible_host=10.0.0.5 image_version='\"1.10\"' opspilot_tags=a,b\n"
        "web-2\n\n"
        "[web:vars]\nrole=web-server\n\n"
        "[env_stg:children]\nweb\n\n"
        '[all:vars]\ngolden_images={"base": "1.10"}\nimage=base\nimage_version="1.9"\n'
    )
    source = AnsibleSource(tmp_path / "hosts.ini", mapping={"tags": "opspilot_tags"})
    fleet = await source.load()
    assert {a.id: (a.environment, a.role, a.image_version, a.address, a.tags) for a in fleet.assets} == {
        "web-1": ("staging", "web-server", "1.10", "10.0.0.5", ("a", "b")),
        "web-2": ("staging", "web-server", "1.9", None, ()),
    }


async def test_directory_inventory(tmp_path: Path) -> None:
    inventory = tmp_path / "inventory"
    (inventory / "group_vars").mkdir(parents=True)
    (inventory / "group_vars" / "all.yml").write_text("golden_images: {base: '2'}\nimage: base\nimage_version: '2'\n")
    (inventory / "10-web.yml").write_text("all:\n  children:\n    prod:\n      hosts:\n        web-1:\n")
    (inventory / "20-db.yml").write_text("all:\n  children:\n    dev:\n      hosts:\n        db-1: {role: database}\n")
    fleet = await AnsibleSource(inventory).load()
    assert {a.id: (a.environment, a.role) for a in fleet.assets} == {
        "web-1": ("production", "unknown"),
        "db-1": ("development", "database"),
    }


async def test_dynamic_inventory_script(tmp_path: Path) -> None:
    listing = {
        "_meta": {
            "hostvars": {
                "api-1": {"env": "live", "role": "api", "image": "base", "image_version": "3", "tags": ["blue"]},
                "api-2": {"env": "sandbox", "role": "api", "image": "base", "image_version": "2"},
            }
        },
        "all": {"children": ["api"], "vars": {"golden_images": {"base": "3"}}},
        "api": {"hosts": ["api-1", "api-2"]},
    }
    script = tmp_path / "inventory.py"
    script.write_text(
        f"#!{sys.executable}\nimport json, sys\nprint(json.dumps({listing!r}) if '--list' in sys.argv else '{{}}')\n"
    )
    script.chmod(0o755)
    fleet = await AnsibleSource(script).load()
    assert {a.id: (a.environment, a.tags) for a in fleet.assets} == {
        "api-1": ("production", ("blue",)),
        "api-2": ("development", ()),
    }
    assert fleet.golden_images == {"base": "3"}


# -- Ansible: mapping, environments, defaults, left-out hosts -----------------------------------


def _write(tmp_path: Path, hosts: str, all_vars: str = "golden_images: {base: '1'}") -> Path:
    path = tmp_path / "hosts.yml"
    path.write_text(f"all:\n  vars: {{{all_vars}}}\n  hosts:\n{hosts}")
    return path


async def test_mapping_names_the_variables_each_field_comes_from(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "    app-1: {stage: staging, app_role: worker, cloud: azure, image: base, image_version: '1', env: prod}\n",
    )
    source = AnsibleSource(path, mapping={"environment": "stage", "role": "app_role", "platform": "cloud"})
    (asset,) = (await source.load()).assets
    assert (asset.environment, asset.role, asset.platform) == ("staging", "worker", "azure")


async def test_environments_option_renames_the_environments(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "    a: {env: main, image: base, image_version: '1'}\n"
        "    b: {env: live, image: base, image_version: '1'}\n"
        "    c: {env: qa, image: base, image_version: '1'}\n",
    )
    source = AnsibleSource(path, environments={"production": ["main"], "staging": ["qa"]})
    fleet = await source.load()
    assert {a.id: a.environment for a in fleet.assets} == {"a": "production", "c": "staging"}
    assert "unknown environment 'live'" in source.left_out()["b"]  # no longer a production name


async def test_a_host_in_an_unknown_environment_is_left_out_with_a_warning_naming_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = _write(
        tmp_path,
        "    good-1: {env: prod, image: base, image_version: '1'}\n"
        "    odd-1: {env: perf-lab, image: base, image_version: '1'}\n"
        "    none-1: {image: base, image_version: '1'}\n",
    )
    source = AnsibleSource(path)
    with caplog.at_level(logging.WARNING, logger="core.inventory.sources.ansible"):
        fleet = await source.load()
    assert [a.id for a in fleet.assets] == ["good-1"]
    assert set(source.left_out()) == {"odd-1", "none-1"}
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("odd-1" in w and "perf-lab" in w for w in warnings)
    assert any("none-1" in w and "no environment" in w for w in warnings)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="core.inventory.sources.ansible"):
        await source.load()
    assert not [r for r in caplog.records if "left out" in r.getMessage()]  # warned once, not on every refresh


async def test_a_host_without_fields_gets_the_documented_defaults(tmp_path: Path) -> None:
    path = _write(tmp_path, "    bare-1: {env: dev}\n")
    fleet = await AnsibleSource(path).load()
    (asset,) = fleet.assets
    assert (asset.role, asset.platform, asset.region, asset.image, asset.image_version) == (
        "unknown",
        "ansible",
        "unknown",
        "unknown",
        "unknown",
    )
    assert (asset.tags, asset.service, asset.address) == ((), None, None)
    assert fleet.golden_images == {"base": "1", "unknown": "unknown"} and not fleet.is_drifted(asset)


async def test_a_host_whose_image_has_no_golden_version_is_left_out(tmp_path: Path) -> None:
    path = _write(tmp_path, "    a: {env: prod, image: base, image_version: '1'}\n    b: {env: prod, image: other}\n")
    source = AnsibleSource(path)
    assert [a.id for a in (await source.load()).assets] == ["a"]
    assert "image 'other' has no golden version" in source.left_out()["b"]


async def test_no_host_variable_other_than_the_mapped_ones_reaches_the_asset(tmp_path: Path) -> None:
    path = _write(tmp_path, "    a: {env: prod, image: base, image_version: '1', ansible_password: hunter2}\n")
    (asset,) = (await AnsibleSource(path).load()).assets
    assert "hunter2" not in asset.model_dump_json()


# -- Ansible: failures --------------------------------------------------------------------------


async def test_an_inventory_ansible_cannot_parse_raises_with_ansibles_message(tmp_path: Path) -> None:
    (tmp_path / "hosts.ini").write_text("[web\nweb-1\n")
    with pytest.raises(ConfigError, match="Ansible cannot read the inventory") as caught:
        await AnsibleSource(tmp_path / "hosts.ini").load()
    assert "parse" in str(caught.value) and str(tmp_path / "hosts.ini") in str(caught.value)


async def test_without_ansible_installed_the_error_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ansible_module, "find_ansible_inventory", lambda: None)
    with pytest.raises(ConfigError, match=r"pip install 'opspilot\[ansible\]'"):
        await AnsibleSource(_write(tmp_path, "")).load()


async def test_a_dynamic_inventory_that_hangs_is_stopped_at_the_timeout(tmp_path: Path) -> None:
    script = tmp_path / "slow.py"
    script.write_text(f"#!{sys.executable}\nimport time\ntime.sleep(60)\n")
    script.chmod(0o755)
    with pytest.raises(ConfigError, match="did not finish within 3s"):
        await AnsibleSource(script, timeout=3).load()


def _ansible_config(tmp_path: Path, inventory_text: str | None, extra: str = "") -> Path:
    if inventory_text is not None:
        (tmp_path / "inventory").mkdir(exist_ok=True)
        (tmp_path / "inventory" / "hosts.ini").write_text(inventory_text)
    config = tmp_path / "opspilot.yaml"
    config.write_text(f"inventory:\n  source: ansible\n  ansible:\n    inventory: inventory/hosts.ini\n{extra}")
    return config


def _env(tmp_path: Path) -> dict[str, str]:
    return {"DATABASE_URL": f"sqlite:///{tmp_path / 'opspilot.db'}"}


@pytest.mark.parametrize(
    ("inventory_text", "message"),
    [(None, "Ansible inventory not found"), ("[web\nweb-1\n", "Ansible cannot read the inventory")],
)
async def test_a_missing_or_broken_ansible_inventory_stops_startup(
    tmp_path: Path, inventory_text: str | None, message: str
) -> None:
    config = load_config(_ansible_config(tmp_path, inventory_text), env=_env(tmp_path))
    assert config.inventory.ansible.inventory == tmp_path / "inventory" / "hosts.ini"  # relative to the config file
    with pytest.raises(ConfigError, match=message) as caught:
        await OpsPilot.create(config)
    assert str(tmp_path / "inventory" / "hosts.ini") in str(caught.value)
    assert not (tmp_path / "opspilot.db").exists()


async def test_the_service_starts_on_an_ansible_inventory(tmp_path: Path) -> None:
    text = '[prod]\nweb-1 image=base image_version="1"\n\n[all:vars]\ngolden_images={"base": "2"}\n'
    config = load_config(_ansible_config(tmp_path, text, "    refresh: 10m\n"), env=_env(tmp_path))
    assert config.inventory.ansible.refresh == 600
    service = await OpsPilot.create(config)
    try:
        assert [a.id for a in (await service.inventory.fleet()).assets] == ["web-1"]
        (tmp_path / "inventory" / "hosts.ini").write_text(text.replace("web-1 ", "web-1 image=base\nweb-2 "))
        result = await service.refresh_inventory()
        assert (result.assets, result.added, result.removed) == (2, ("web-2",), ())
    finally:
        await service.close()


def test_config_refuses_source_ansible_without_an_inventory(tmp_path: Path) -> None:
    (tmp_path / "opspilot.yaml").write_text("inventory:\n  source: ansible\n")
    with pytest.raises(ConfigError, match=r"inventory\.ansible\.inventory must name the Ansible inventory"):
        load_config(tmp_path / "opspilot.yaml", env={})


def test_config_refuses_a_name_given_to_two_environments(tmp_path: Path) -> None:
    (tmp_path / "opspilot.yaml").write_text("inventory:\n  ansible:\n    environments: {staging: [prod]}\n")
    with pytest.raises(ConfigError, match="'prod' is listed for both production and staging"):
        load_config(tmp_path / "opspilot.yaml", env={})


# -- refreshing: by interval and on demand ------------------------------------------------------


async def _inventory_on(tmp_path: Path) -> tuple[Path, Inventory, ManualClock]:
    path = _write(tmp_path, "    a: {env: prod, image: base, image_version: '1'}\n")
    clock = ManualClock()
    return path, Inventory(AnsibleSource(path), NoStore(), refresh=300, clock=clock), clock  # type: ignore[arg-type]


async def _ids(read: Callable[[], Awaitable[Fleet]]) -> list[str]:
    return [a.id for a in (await read()).assets]


async def test_the_cached_fleet_is_reloaded_once_older_than_the_refresh_interval(tmp_path: Path) -> None:
    path, inventory, clock = await _inventory_on(tmp_path)
    assert await _ids(inventory.fleet) == ["a"]
    path.write_text(path.read_text() + "    b: {env: prod, image: base, image_version: '1'}\n")
    clock.advance(299)
    assert await _ids(inventory.fleet) == ["a"]  # still cached: Ansible is not run on every ask
    clock.advance(2)
    assert await _ids(inventory.fleet) == ["a", "b"]


async def test_refresh_on_demand_reads_the_inventory_before_the_interval(tmp_path: Path) -> None:
    _, inventory, _ = await _inventory_on(tmp_path)
    await inventory.check()
    _write(tmp_path, "    b: {env: staging, image: base, image_version: '1'}\n")
    result = await inventory.refresh()
    assert (result.assets, result.added, result.removed) == (1, ("b",), ("a",))
    assert await _ids(inventory.fleet) == ["b"]


async def test_a_failed_interval_reload_keeps_the_last_fleet_but_refresh_reports_it(tmp_path: Path) -> None:
    path, inventory, clock = await _inventory_on(tmp_path)
    await inventory.check()
    path.write_text("all:\n  hosts: [\n")
    clock.advance(301)
    assert await _ids(inventory.fleet) == ["a"]
    with pytest.raises(ConfigError, match="Ansible cannot read the inventory"):
        await inventory.refresh()
    assert await _ids(inventory.fleet) == ["a"]


def test_listing_groups_are_followed_through_children() -> None:
    listing = {
        "_meta": {"hostvars": {"h": {"image": "base", "image_version": "1", "golden_images": {"base": "1"}}}},
        "all": {"children": ["env_prod"]},
        "env_prod": {"children": ["role_web"]},
        "role_web": {"children": ["region_eu"]},
        "region_eu": {"hosts": ["h"]},
    }
    fleet, left_out = AnsibleSource("unused").fleet_from_listing(listing)
    assert left_out == {}
    assert json.loads(fleet.assets[0].model_dump_json(include={"environment", "role", "region"})) == {
        "environment": "production",
        "role": "web",
        "region": "eu",
    }
