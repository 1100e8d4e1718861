"""End to end through the service with real ansible-core on local-connection hosts: ask, check-mode plan, approve,
canary then waves (one ``--limit``-ed playbook run each), rollback, and a SIGKILL of OpsPilot mid-wave.

Slow (each playbook run takes a few seconds; a rollout of three phases about a minute): the hosts are few and the
plays gather no facts.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.blocks import run_status_card
from core.ansible.processes import run_processes
from core.ansible.runner import ansible_available
from core.config import load_config
from core.domain import Plan, Run
from core.intake import Ask
from core.replay import replay
from core.service import AskOutcome, OpsPilot
from core.store.run_assets import AssetRow
from tests.core.ansible.rollout_support import (
    APPROVER,
    ASK,
    OLD,
    REQUESTER,
    UNREACHABLE,
    ProdFleet,
    compliant_text,
)
from tests.core.executor.crash_support import Worker, until

pytestmark = pytest.mark.skipif(not ansible_available(), reason="ansible-core and ansible-runner are not installed")

RUN_TIMEOUT = 240.0


@dataclass
class Rollout:
    fleet: ProdFleet
    plan: Plan
    run: Run
    rows: list[AssetRow]
    status_text: str
    output_text: str  # `opspilot replay RUN_ID --output`
    again: AskOutcome | None = None


def roll_out(fleet: ProdFleet, *, verify: bool, check_again: bool) -> Rollout:
    """Submit the ask, approve it, wait for the run's end (and optionally ask again) in one service."""
    config = load_config(fleet.write_config(verify=verify), env={"DATABASE_URL": fleet.database_url})

    async def go() -> Rollout:
        service = await OpsPilot.create(config)
        await service.start()
        try:
            outcome = await service.submit(Ask.from_front(ASK, REQUESTER))
            assert outcome.plan is not None, outcome.message
            decided = await service.decide(outcome.plan.id, APPROVER, "approved")
            assert decided.run is not None, decided.message
            await service.executor.wait_idle(RUN_TIMEOUT)
            run = await service.store.get_run(decided.run.id, with_assets=False)
            rows = await service.store.run_assets.rows(run.id)
            card = run_status_card(await service.run_status(run.id))
            output = (await replay(service.store, run.id, outputs=True)).to_text()
            again = await service.submit(Ask.from_front(ASK, REQUESTER)) if check_again else None
            return Rollout(fleet, outcome.plan, run, rows, str(card.blocks), output, again)
        finally:
            await service.close()

    return asyncio.run(go())


@pytest.fixture(scope="module")
def converged(tmp_path_factory: pytest.TempPathFactory) -> Rollout:
    """web-prd-01 compliant, 02 and 03 at an old config, 04 without one, 05 unreachable; with the verify playbook."""
    fleet = ProdFleet(
        tmp_path_factory.mktemp("converged"),
        hosts={f"web-prd-0{i}": {} for i in range(1, 5)} | {"web-prd-05": UNREACHABLE},
        state={"web-prd-01": compliant_text("web-prd-01"), "web-prd-02": OLD, "web-prd-03": OLD, "web-prd-04": None},
    )
    return roll_out(fleet, verify=True, check_again=True)


DRIFTED = ["web-prd-02", "web-prd-03", "web-prd-04"]


def test_the_plan_lists_exactly_the_hosts_check_mode_would_change(converged: Rollout) -> None:
    payload = converged.plan.payload

    assert sorted(payload.affected_assets) == DRIFTED  # web-prd-01 is in sync, web-prd-05 unreachable
    assert sorted(a for phase in payload.phases for a in phase.assets) == DRIFTED
    assert payload.phases[0].name == "Canary" and len(payload.phases) >= 3  # a canary and at least two waves
    assert {c.action for c in payload.changes} == {"ansible_playbook"}
    assert payload.dry_run is not None and payload.dry_run.hosts_changed == 3


def test_an_unreachable_host_is_reported_in_the_dry_run_not_in_the_phases(converged: Rollout) -> None:
    dry_run = converged.plan.payload.dry_run

    assert dry_run is not None
    assert [(h.host, h.status) for h in dry_run.hosts_failed] == [("web-prd-05", "unreachable")]
    assert dry_run.hosts_failed[0].message
    assert not any("web-prd-05" in phase.assets for phase in converged.plan.payload.phases)
    assert "web-prd-05" not in {r.asset_id for r in converged.rows}


def test_the_run_applies_the_canary_then_each_wave_on_exactly_its_hosts(converged: Rollout) -> None:
    run, fleet = converged.run, converged.fleet

    assert run.state == "completed", run.status.reason
    planned = {phase.name: sorted(phase.assets) for phase in converged.plan.payload.phases}
    assert fleet.hosts_by_phase(run.id, "apply") == planned  # one --limit per phase, each host once
    applied = [e.phase for e in fleet.ledger_entries() if e.action == "apply"]
    assert applied == [phase.name for phase in converged.plan.payload.phases]  # the canary first, then the waves in order
    assert {r.asset_id: r.status for r in converged.rows} == dict.fromkeys(DRIFTED, "succeeded")
    keys = {e.host: e.key for e in fleet.ledger_entries()}
    assert keys == {r.asset_id: r.idempotency_key for r in converged.rows}  # the playbook got each host's key
    assert not [e for e in fleet.ledger_entries() if e.action == "revert"]


def test_every_host_is_compliant_after_the_run_and_a_new_check_finds_no_drift(converged: Rollout) -> None:
    fleet = converged.fleet

    for host in ["web-prd-01", *DRIFTED]:
        assert fleet.config_file(host).read_text() == compliant_text(host)
    again = converged.again
    assert again is not None and again.plan is None, again
    assert again.message.startswith("No drift") and "web-prd-05" in again.message


def test_the_output_of_each_host_is_stored_under_its_task_headers(converged: Rollout) -> None:
    outputs = {r.asset_id: r.output or "" for r in converged.rows}

    for host in DRIFTED:
        assert outputs[host].startswith("changed: ") and "TASK [Render the config]" in outputs[host]
        assert f"[{host}]" in outputs[host]
        assert not any(f"[{other}]" in outputs[host] for other in DRIFTED if other != host)


@pytest.fixture(scope="module")
def failed(tmp_path_factory: pytest.TempPathFactory) -> Rollout:
    """web-prd-01 at an old config, 02 without one, 03 marked broken (its playbook fails before any change)."""
    fleet = ProdFleet(
        tmp_path_factory.mktemp("failed"),
        hosts={"web-prd-01": {}, "web-prd-02": {}, "web-prd-03": {"fail_apply": True}},
        state={"web-prd-01": OLD, "web-prd-02": None, "web-prd-03": OLD},
    )
    return roll_out(fleet, verify=False, check_again=False)


def test_a_failing_host_fails_its_wave_and_the_rollback_playbook_restores_every_changed_host(failed: Rollout) -> None:
    run, fleet = failed.run, failed.fleet

    assert run.state == "rolled_back", (run.state, run.status.reason)
    assert "web-prd-03" in (run.status.reason or "")
    last = failed.plan.payload.phases[-1].name
    assert fleet.hosts_by_phase(run.id, "apply") == {
        p.name: sorted(p.assets) for p in failed.plan.payload.phases if p.name != last
    }  # the broken host failed before the ledger task
    reverts = [(e.phase, e.host) for e in fleet.ledger_entries() if e.action == "revert"]
    assert reverts == [("Wave 1", "web-prd-02"), ("Canary", "web-prd-01")]  # newest phase first; the failed host untouched
    assert fleet.contents() == {"web-prd-01": OLD, "web-prd-02": None, "web-prd-03": OLD}  # as before the run
    statuses = {r.asset_id: r.status for r in failed.rows}
    assert statuses == {"web-prd-01": "rolled_back", "web-prd-02": "rolled_back", "web-prd-03": "failed"}


def test_replay_output_shows_each_hosts_apply_then_revert_output_in_phase_order(failed: Rollout) -> None:
    outputs = {r.asset_id: r.output or "" for r in failed.rows}
    apply, revert = outputs["web-prd-01"].split("--- revert ---\n")
    assert "TASK [Render the config]\nchanged: [web-prd-01]" in apply
    assert revert.startswith("changed: ") and "TASK [Restore the previous config]\nchanged: [web-prd-01]" in revert
    assert "TASK [Remove the config there was none before]\nchanged: [web-prd-02]" in outputs["web-prd-02"]
    assert "--- revert ---" not in outputs["web-prd-03"]  # its apply failed: not reverted

    text = failed.output_text.split("\noutput\n", 1)[1]
    headers = [line for line in text.splitlines() if line.startswith("=== ")]
    assert headers == [
        "=== Canary · asset web-prd-01 · rolled_back ===",
        "=== Wave 1 · asset web-prd-02 · rolled_back ===",
        "=== Wave 2 · asset web-prd-03 · failed ===",
    ]
    assert "fatal: [web-prd-03]" in text and "web-prd-03 is marked broken (fail_apply)" in text


def test_status_of_a_failed_ansible_run_names_the_host_the_failing_task_and_its_message(failed: Rollout) -> None:
    text = failed.status_text

    assert "*Failed* (1)" in text and "web-prd-03" in text
    assert "Refuse hosts marked broken" in text and "web-prd-03 is marked broken (fail_apply)" in text


@pytest.fixture
def workers() -> Iterator[list[Worker]]:
    started: list[Worker] = []
    yield started
    for worker in started:
        worker.kill()


def test_sigkill_mid_wave_then_a_restart_finishes_the_run_with_every_host_compliant(
    tmp_path: Path, workers: list[Worker]
) -> None:
    """The Wave 1 host sleeps on its first attempt; OpsPilot is killed during that sleep and a new process resumes."""
    slow = {"apply_delay": "{{ 120 if (opspilot_attempt | default(1) | int) == 1 else 0 }}"}
    fleet = ProdFleet(
        tmp_path,
        hosts={"web-prd-01": {}, "web-prd-02": slow, "web-prd-03": {}},
        state={"web-prd-01": OLD, "web-prd-02": OLD, "web-prd-03": None},
    )
    fleet.write_config(lease="2s")
    first = Worker(fleet, "create", "first")  # type: ignore[arg-type]
    workers.append(first)
    run_id = first.next()["run"]
    until(lambda: "version = 2.4.1" in fleet.config_file("web-prd-02").read_text(), 120, "Wave 1 reaching its host", 0.1)
    assert run_processes(run_id), "the Wave 1 playbook is not running"

    first.kill()
    until(lambda: not run_processes(run_id), 15, "the killed OpsPilot's playbook stopping", 0.1)

    second = Worker(fleet, "work", "second")  # type: ignore[arg-type]
    workers.append(second)
    report = second.report(timeout=RUN_TIMEOUT)

    assert report["run"] == run_id and report["state"] == "completed", report
    assert {h: r["status"] for h, r in report["rows"].items()} == dict.fromkeys(fleet.hosts, "succeeded")
    assert report["rows"]["web-prd-02"]["attempt"] == 2  # repeated after the crash, not re-checked
    assert fleet.contents() == {h: compliant_text(h) for h in fleet.hosts}
    applies = [(e.phase, e.host, e.key) for e in fleet.ledger_entries() if e.action == "apply"]
    assert [(p, h) for p, h, _ in applies] == [("Canary", "web-prd-01"), ("Wave 1", "web-prd-02"), ("Wave 2", "web-prd-03")]
    assert {h: k for _, h, k in applies} == {h: r["key"] for h, r in report["rows"].items()}
    assert not [e for e in fleet.ledger_entries() if e.action == "revert"]
    assert run_processes(run_id) == []
