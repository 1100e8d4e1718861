"""The ansible driver against real ansible-core, with local-connection hosts (examples/ansible, copied per test)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest

from core.ansible.drift import diff_hash
from core.ansible.processes import run_processes
from core.ansible.runner import ansible_available, run_playbook
from core.config import ExecutorConfig
from core.domain import Change, Step
from core.errors import ConfigError, DriftChanged, DriverError
from core.executor.drivers import AssetRef, DriverAction, DriverResult, build_driver, idempotency_key
from core.executor.drivers.ansible import AnsibleDriver, host_output
from tests.core.ansible.support import ROOT, Fleet

pytestmark = pytest.mark.skipif(not ansible_available(), reason="ansible-core and ansible-runner are not installed")


def actions(hosts: list[str], kind: str = "apply", run_id: str | None = None, **change: object) -> list[DriverAction]:
    run_id = run_id or str(uuid.uuid4())
    return [
        DriverAction(
            action=kind,  # type: ignore[arg-type]
            run_id=run_id,
            phase="canary",
            phase_index=0,
            key=idempotency_key(run_id, 0, host, kind),  # type: ignore[arg-type]
            attempt=1,
            asset=AssetRef(id=host),
            change=Change(asset_id=host, action="ansible_playbook", **change),  # type: ignore[arg-type]
        )
        for host in hosts
    ]


async def test_a_wave_runs_once_on_exactly_its_hosts_and_a_revert_restores_them(tmp_path: Path) -> None:
    fleet = Fleet(tmp_path, hosts=3)
    first, second, third = fleet.hosts
    fleet.config_file(first).parent.mkdir(parents=True)
    fleet.config_file(first).write_text("version = 2.4.0\n")
    driver = AnsibleDriver(fleet.settings(), fleet.inventory, forks=2)
    wave = actions([first, second])

    results = await driver.perform_many(wave)

    assert all(isinstance(r, DriverResult) for r in results), results
    assert all(r.output.startswith("changed: ") and "Render the config" in r.output for r in results)  # type: ignore[union-attr]
    entries = fleet.entries()
    assert sorted(e[3] for e in entries) == [first, second]  # --limit: the third host was not touched
    assert {e[4] for e in entries} == {a.key for a in wave}  # each host got its own idempotency key
    assert {e[0] for e in entries} == {wave[0].run_id}
    assert "version = 2.4.1" in fleet.config_file(first).read_text()
    assert not fleet.config_file(third).exists()

    reverts = await driver.perform_many(actions([first, second], "revert", run_id=wave[0].run_id))

    assert all(isinstance(r, DriverResult) for r in reverts), reverts
    assert fleet.config_file(first).read_text() == "version = 2.4.0\n"  # the file as it was before the run
    assert not fleet.config_file(second).exists()  # there was none
    assert sorted(e[3] for e in fleet.entries() if e[2] == "revert") == [first, second]


async def test_failed_and_unreachable_hosts_are_reported_with_their_task_and_message(tmp_path: Path) -> None:
    fleet = Fleet(
        tmp_path,
        hosts=1,
        extra={
            "web-stg-broken": {"fail_apply": True},
            "web-stg-gone": {"ansible_connection": "ssh", "ansible_host": "127.0.0.1", "ansible_port": 1},
        },
    )
    good, broken, gone = fleet.hosts
    driver = AnsibleDriver(fleet.settings(), fleet.inventory)

    wave = actions([good, broken, gone])
    ok, failed, unreachable = await driver.perform_many(wave)

    assert isinstance(ok, DriverResult)
    assert isinstance(failed, DriverError)
    assert str(failed).startswith("failed: task 'Refuse hosts marked broken'") and "marked broken" in str(failed)
    assert isinstance(unreachable, DriverError)
    assert str(unreachable).startswith("unreachable: ") and "Connection refused" in str(unreachable)
    again = await driver.perform_many(actions([good], run_id=wave[0].run_id))  # the same run again (a repeat)
    assert isinstance(again[0], DriverResult) and again[0].output.startswith("ok")  # in sync: nothing changed


async def test_before_a_wave_a_host_whose_changes_differ_from_the_plan_stops_it_with_nothing_applied(
    tmp_path: Path,
) -> None:
    fleet = Fleet(tmp_path, hosts=2)
    first, second = fleet.hosts
    for host in fleet.hosts:
        fleet.config_file(host).parent.mkdir(parents=True)
    check = await run_playbook(fleet.dir / "site.yml", inventory=fleet.inventory, limit=fleet.hosts, check=True, diff=True)
    planned = {h: {"changed_tasks": check.hosts[h].changed_tasks, "diff_hash": diff_hash(check, [h])} for h in fleet.hosts}
    fleet.config_file(second).write_text("someone edited this by hand\n")  # the world moved after the plan
    driver = AnsibleDriver(fleet.settings(), fleet.inventory)
    wave = [
        DriverAction(
            **{**a.__dict__, "change": Change(asset_id=a.subject, action="ansible_playbook", details=planned[a.subject])}
        )
        for a in actions([first, second])
    ]

    with pytest.raises(DriftChanged, match=second) as caught:
        await driver.perform_many(wave)

    assert first not in str(caught.value).split(":", 1)[1]
    assert fleet.entries() == []  # nothing applied
    assert fleet.config_file(second).read_text() == "someone edited this by hand\n"
    # A repeat (attempt 2: Resume after the pause) applies the playbook as it is now.
    results = await driver.perform_many([DriverAction(**{**a.__dict__, "attempt": 2}) for a in wave])
    assert all(isinstance(r, DriverResult) for r in results)


async def test_cancel_mid_wave_stops_the_whole_playbook(tmp_path: Path) -> None:
    fleet = Fleet(tmp_path, hosts=2)
    driver = AnsibleDriver(fleet.settings(extra_vars={"apply_delay": 60}), fleet.inventory)
    wave = actions(fleet.hosts)
    run_id = wave[0].run_id
    task = asyncio.create_task(driver.perform_many(wave))
    deadline = time.monotonic() + 30
    while not all(fleet.config_file(h).exists() for h in fleet.hosts):  # the wave has reached its hosts
        assert time.monotonic() < deadline and not task.done(), "the playbook did not reach the hosts"
        await asyncio.sleep(0.1)

    started = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert time.monotonic() - started < 10
    assert run_processes(run_id) == []  # no ansible-playbook, worker or module of the run is left
    assert fleet.entries() == []  # the playbook never got past the delay


async def test_a_playbook_does_not_outlive_a_killed_opspilot(tmp_path: Path) -> None:
    fleet = Fleet(tmp_path, hosts=1)
    run_id = str(uuid.uuid4())
    script = textwrap.dedent(
        f"""
        import asyncio, uuid
        from pathlib import Path
        from core.config import AnsibleDriverConfig
        from core.executor.drivers import AssetRef, DriverAction
        from core.executor.drivers.ansible import AnsibleDriver
        settings = AnsibleDriverConfig(playbook=Path({str(fleet.dir / "site.yml")!r}), extra_vars={{"apply_delay": 120}})
        driver = AnsibleDriver(settings, Path({str(fleet.inventory)!r}))
        action = DriverAction(action="apply", run_id={run_id!r}, phase="canary", phase_index=0, key="k", attempt=1,
                              asset=AssetRef(id={fleet.hosts[0]!r}))
        asyncio.run(driver.perform_many([action]))
        """
    )
    process = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT)
    try:
        deadline = time.monotonic() + 30
        while not fleet.config_file(fleet.hosts[0]).exists():
            assert time.monotonic() < deadline and process.poll() is None, "the playbook did not start"
            await asyncio.sleep(0.1)
        assert run_processes(run_id)  # ansible-playbook, its worker and the module run with the run id
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        deadline = time.monotonic() + 10
        while run_processes(run_id):
            assert time.monotonic() < deadline, f"left running after SIGKILL: {run_processes(run_id)}"
            await asyncio.sleep(0.1)
    finally:
        if process.poll() is None:
            process.kill()


async def test_steps_are_refused_and_build_driver_checks_the_setup(tmp_path: Path) -> None:
    fleet = Fleet(tmp_path, hosts=1)
    driver = AnsibleDriver(fleet.settings(), fleet.inventory)
    step = DriverAction(action="step", run_id="r", phase="p", phase_index=0, key="k", attempt=1, step=Step(name="s"))
    with pytest.raises(DriverError, match="no steps"):
        await driver.perform(step)

    config = ExecutorConfig(driver="ansible", ansible=fleet.settings())
    built = build_driver(config, None, ansible_inventory=fleet.inventory)  # type: ignore[arg-type]
    assert isinstance(built, AnsibleDriver) and built.forks == config.concurrency
    with pytest.raises(ConfigError, match=r"inventory\.ansible\.inventory"):
        build_driver(config, None)  # type: ignore[arg-type]
    missing = ExecutorConfig(driver="ansible", ansible=fleet.settings(rollback_playbook=tmp_path / "nope.yml"))
    with pytest.raises(ConfigError, match=r"executor\.ansible\.rollback_playbook"):
        build_driver(missing, None, ansible_inventory=fleet.inventory)  # type: ignore[arg-type]


def test_host_output_keeps_the_lines_about_one_host_under_their_task() -> None:
    output = "PLAY [x] ***\n\nTASK [Render] ***\nchanged: [a]\nok: [b]\n\nTASK [Other] ***\nfatal: [b]: FAILED! => {}\n"
    assert host_output(output, "b") == "TASK [Render]\nok: [b]\nTASK [Other]\nfatal: [b]: FAILED! => {}"
    assert host_output(output, "a") == "TASK [Render]\nchanged: [a]"
