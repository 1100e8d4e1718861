"""executor.driver ansible: startup stops on a missing file, a playbook Ansible cannot parse, or no Ansible at all."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from core.ansible import startup
from core.ansible.runner import ansible_available
from core.config import Config, load_config
from core.errors import ConfigError
from core.service import OpsPilot

GOOD = "- hosts: all\n  gather_facts: false\n  tasks:\n    - ansible.builtin.ping: {}\n"
TYPO = "- hosts: all\n  tasks:\n    - name: typo\n      ansible.builtin.cpoy: {dest: /tmp/x}\n"


def write_config(root: Path, ansible: dict[str, Any]) -> Config:
    (root / "inventory.yml").write_text(json.dumps({"all": {"hosts": {"web1": {"ansible_connection": "local"}}}}))
    (root / "site.yml").write_text(GOOD)
    document = {
        "inventory": {"ansible": {"inventory": "inventory.yml"}},
        "executor": {"driver": "ansible", "ansible": {"playbook": "site.yml", **ansible}},
    }
    (root / "conf").mkdir(exist_ok=True)
    (root / "conf" / "opspilot.yaml").write_text(json.dumps(document).replace('"inventory.yml"', '"../inventory.yml"'))
    return load_config(root / "conf" / "opspilot.yaml", env={"DATABASE_URL": f"sqlite:///{root / 'opspilot.db'}"})


def test_playbook_paths_are_relative_to_the_config_file(tmp_path: Path) -> None:
    config = write_config(tmp_path, {"playbook": "../site.yml", "rollback_playbook": "rb.yml", "timeout": "5m"})
    settings = config.executor.ansible

    assert settings.playbook == (tmp_path / "site.yml").resolve()
    assert settings.rollback_playbook == (tmp_path / "conf" / "rb.yml").resolve()
    assert settings.timeout == 300.0


def test_the_ansible_driver_without_a_playbook_is_a_config_error_naming_the_key(tmp_path: Path) -> None:
    (tmp_path / "opspilot.yaml").write_text(json.dumps({"executor": {"driver": "ansible"}}))

    with pytest.raises(ConfigError, match=r"executor\.ansible\.playbook must name the playbook"):
        load_config(tmp_path / "opspilot.yaml", env={})


@pytest.mark.skipif(not ansible_available(), reason="ansible-core and ansible-runner are not installed")
async def test_a_missing_rollback_playbook_stops_startup(tmp_path: Path) -> None:
    config = write_config(tmp_path, {"playbook": "../site.yml", "rollback_playbook": "../rollback.yml"})

    with pytest.raises(ConfigError, match=r"executor\.ansible\.rollback_playbook: .*rollback\.yml does not exist"):
        await OpsPilot.create(config)


@pytest.mark.skipif(not ansible_available(), reason="ansible-core and ansible-runner are not installed")
async def test_a_playbook_failing_the_syntax_check_stops_startup_with_ansibles_message(tmp_path: Path) -> None:
    config = write_config(tmp_path, {"playbook": "../site.yml", "verify_playbook": "../verify.yml"})
    (tmp_path / "verify.yml").write_text(TYPO)

    with pytest.raises(ConfigError) as caught:
        await OpsPilot.create(config)

    message = str(caught.value)
    assert "executor.ansible.verify_playbook" in message and "--syntax-check" in message
    assert "couldn't resolve module/action 'ansible.builtin.cpoy'" in message  # Ansible's own words
    assert not (tmp_path / "opspilot.db").exists()  # stopped before anything was created


async def test_without_ansible_installed_startup_says_how_to_install_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = write_config(tmp_path, {"playbook": "../site.yml"})
    monkeypatch.setattr(startup, "ansible_available", lambda: False)

    with pytest.raises(ConfigError, match=r"pip install 'opspilot\[ansible\]'"):
        await startup.check_ansible_setup(config)
