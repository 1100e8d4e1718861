"""Choosing and checking the driver from the config: the file loads anywhere, the driver is checked at build."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from core.config import ExecutorConfig, load_config
from core.errors import ConfigError, DriverError
from core.executor.drivers import build_driver
from core.executor.drivers.command import CommandDriver
from core.executor.drivers.http import HttpDriver
from core.executor.drivers.simulate import SimulateDriver
from tests.core.executor.drivers.support import ASSET, FakeInventory, apply_action, revert_action

CONTRACT = """
executor:
  driver: {driver}
  simulate: {{latency_ms: 0, fail_assets: [], fail_tags: []}}
  command:
    apply:  ["/opt/fix/remediate", "{{asset}}", "{{to_version}}"]
    revert: ["/opt/fix/remediate", "{{asset}}", "{{from_version}}"]
    step:   ["/bin/sh", "-c", "{{command}}"]
    timeout: 10m
  http:
    url: https://deploy.example.internal/actions
    secret_env: OPSPILOT_DRIVER_SECRET
    status_url: null
    timeout: 10m
"""


def load(tmp_path: Path, driver: str):
    path = tmp_path / "opspilot.yaml"
    path.write_text(CONTRACT.format(driver=driver))
    return load_config(path, env={})


@pytest.mark.parametrize("driver", ["simulate", "command", "http"])
def test_the_documented_yaml_loads_on_a_machine_without_the_programs(tmp_path: Path, driver: str) -> None:
    config = load(tmp_path, driver).executor
    assert config.driver == driver
    assert config.command.apply == ["/opt/fix/remediate", "{asset}", "{to_version}"]
    assert config.command.timeout == 600.0
    assert (config.http.url, config.http.status_url, config.http.timeout) == (
        "https://deploy.example.internal/actions",
        None,
        600.0,
    )


def test_the_default_is_the_simulate_driver() -> None:
    assert isinstance(build_driver(ExecutorConfig(), FakeInventory()), SimulateDriver)


def test_the_command_driver_is_checked_when_it_is_built(tmp_path: Path) -> None:
    config = load(tmp_path, "command").executor
    with pytest.raises(ConfigError, match=r"executor\.command\.apply\[0\]: /opt/fix/remediate is not an executable file"):
        build_driver(config, FakeInventory())
    config.command.apply = config.command.revert = [sys.executable, "-c", "print('{asset}')"]
    driver = build_driver(config, FakeInventory())
    assert isinstance(driver, CommandDriver) and driver.timeout == 600.0


def test_the_http_driver_needs_its_secret_at_build_time(tmp_path: Path) -> None:
    config = load(tmp_path, "http").executor
    with pytest.raises(ConfigError, match="OPSPILOT_DRIVER_SECRET"):
        build_driver(config, FakeInventory(), env={})
    assert isinstance(build_driver(config, FakeInventory(), env={"OPSPILOT_DRIVER_SECRET": "s"}), HttpDriver)


async def test_simulate_takes_latency_and_fail_tags_from_the_config_but_not_the_health_fail_assets() -> None:
    config = ExecutorConfig.model_validate({"simulate": {"latency_ms": 1, "fail_tags": ["prod"], "fail_assets": [ASSET.id]}})
    driver = build_driver(config, FakeInventory())
    assert isinstance(driver, SimulateDriver) and driver.latency_ms == 1
    assert driver.fail_assets == set(), "executor.simulate.fail_assets stays the health probe's knob"
    with pytest.raises(DriverError, match="simulated apply failure") as caught:
        await driver.perform(apply_action())
    assert "fail_tags ['prod']" in caught.value.output


async def test_simulate_records_the_version_and_a_revert_restores_it() -> None:
    inventory = FakeInventory()
    driver = SimulateDriver(inventory)
    await driver.perform(apply_action())
    assert inventory.versions[ASSET.id] == "2.0"
    result = await driver.perform(revert_action())
    assert (result.previous, result.current, inventory.versions[ASSET.id]) == ("2.0", "1.0", "1.0")


@pytest.mark.parametrize("timeout", ["0", "soon", "-5"])
def test_a_bad_timeout_is_refused_when_the_config_loads(timeout: str) -> None:
    with pytest.raises(ValueError, match="timeout"):
        ExecutorConfig.model_validate({"command": {"timeout": timeout}})
