"""`/ops inventory refresh` through Slack's protocol: re-reads the Ansible inventory and says what changed."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.playground.emulator import OPS_CHANNEL, OUTSIDER
from core.inventory.sources.ansible import find_ansible_inventory

pytestmark = pytest.mark.skipif(
    find_ansible_inventory() is None, reason="ansible-inventory is not installed (pip install -e '.[test]')"
)

HOSTS = """\
all:
  vars: {golden_images: {base: "2"}, image: base, image_version: "1"}
  children:
    prod:
      hosts:
%s"""


def _hosts(path: Path, *names: str) -> None:
    path.write_text(HOSTS % "".join(f"        {n}:\n" for n in names))


@pytest.fixture
def ansible_config(tmp_path: Path) -> tuple[Path, Path]:
    inventory = tmp_path / "hosts.yml"
    _hosts(inventory, "web-1", "web-2")
    config = tmp_path / "opspilot.yaml"
    config.write_text("inventory:\n  source: ansible\n  ansible:\n    inventory: hosts.yml\n")
    return config, inventory


async def _refresh(world, user: str = OUTSIDER) -> str:
    emu = world.emulator
    before = len(emu.ephemerals(user))
    delivery = await emu.send_slash_command(user, OPS_CHANNEL, "/ops", "inventory  Refresh")
    assert delivery.status == 200
    answer = await emu.wait_for(lambda: emu.ephemerals(user)[before] if len(emu.ephemerals(user)) > before else None)
    return answer.text


async def test_inventory_refresh_answers_privately_with_the_assets_and_what_changed(make_world, ansible_config) -> None:
    config, inventory = ansible_config
    world = await make_world(env={"OPSPILOT_CONFIG": str(config)})
    assert [a.id for a in (await world.service.inventory.fleet()).assets] == ["web-1", "web-2"]

    _hosts(inventory, "web-2", "web-3", "web-4")
    text = await _refresh(world)  # anyone may refresh: it changes nothing but the cached fleet
    assert f"Inventory re-read from Ansible inventory {inventory}: 3 assets." in text
    assert "• 2 added: `web-3`, `web-4`" in text and "• 1 removed: `web-1`" in text
    assert [a.id for a in (await world.service.inventory.fleet()).assets] == ["web-2", "web-3", "web-4"]
    assert not [m for m in world.emulator.messages(OPS_CHANNEL) if "Inventory" in m.text]  # nothing public

    text = await _refresh(world)
    assert "3 assets." in text and "Nothing changed since the last read." in text
    assert not world.emulator.warnings


async def test_inventory_refresh_names_left_out_hosts_and_ansibles_errors(make_world, ansible_config) -> None:
    config, inventory = ansible_config
    world = await make_world(env={"OPSPILOT_CONFIG": str(config)})

    inventory.write_text(inventory.read_text() + "    qa:\n      hosts:\n        odd-1: {env: perf-lab}\n")
    text = await _refresh(world)
    assert "2 assets." in text and "Nothing changed" in text
    assert ":warning: 1 host left out:" in text and "`odd-1`: unknown environment 'perf-lab'" in text

    inventory.write_text("[web\nweb-1\n")
    text = await _refresh(world)
    assert "The inventory could not be re-read, so OpsPilot keeps using the last one." in text
    assert "Ansible cannot read the inventory" in text
    assert [a.id for a in (await world.service.inventory.fleet()).assets] == ["web-1", "web-2"]
