"""The ansible health probe runs verify_playbook on a phase's hosts: an assertion that fails on a host fails the
check (host, task, message); an unreachable host makes it inconclusive; all passing gives healthy metrics."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.ansible.runner import ansible_available
from core.domain import Phase
from core.executor.health import HealthCheckFailed, HealthInconclusive
from core.executor.health.ansible import AnsibleHealth
from tests.core.ansible.support import Fleet

pytestmark = pytest.mark.skipif(not ansible_available(), reason="ansible-core and ansible-runner are not installed")


async def test_verify_playbook_fails_on_a_failed_assertion_and_is_inconclusive_for_an_unreachable_host(
    tmp_path: Path,
) -> None:
    fleet = Fleet(
        tmp_path,
        hosts=1,
        extra={
            "web-stg-bad": {"fail_verify": True},
            "web-stg-gone": {"ansible_connection": "ssh", "ansible_host": "127.0.0.1", "ansible_port": 1},
        },
    )
    good, bad, gone = fleet.hosts
    for host in (good, bad):
        fleet.config_file(host).parent.mkdir(parents=True)
        fleet.config_file(host).write_text("version = 2.4.1\n")
    probe = AnsibleHealth(fleet.settings(), fleet.inventory)
    phase = Phase(name="Wave 1", assets=[good, bad])

    with pytest.raises(HealthCheckFailed, match=f"{bad}: task 'The config carries the wanted version'") as failed:
        await probe.measure(phase, [good, bad])
    assert not isinstance(failed.value, HealthInconclusive)

    with pytest.raises(HealthInconclusive, match=f"unreachable: {gone}"):
        await probe.measure(phase, [good, gone])

    assert await probe.measure(phase, [good]) == {"http_ok": 100.0, "error_rate": 0.0}
