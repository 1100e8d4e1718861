"""The dry-run diff hash and how a check run's hosts are sorted, from per-host results (no Ansible run needed)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from core.ansible.drift import HIDDEN_TASK, diff_hash, read_check
from core.ansible.runner import HostResult, PlaybookRun, TaskChange
from core.errors import ExecutionError

PLAYBOOK = Path("/srv/ansible/site.yml")


def changed(host: str, *changes: tuple[str, list[str]]) -> HostResult:
    return HostResult(host, "changed", [TaskChange(task, diff) for task, diff in changes])


def test_diff_hash_is_sha256_of_canonical_json_of_the_changed_hosts() -> None:
    hosts = {"web2": changed("web2", ("Render config", ["-old", "+néw"])), "web1": HostResult("web1", "ok")}
    canonical = '{"web2":[{"diff":["-old","+néw"],"task":"Render config"}]}'

    assert diff_hash(hosts) == hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def test_diff_hash_ignores_host_order_and_in_sync_hosts_but_not_a_diff_line() -> None:
    a = changed("a", ("t", ["+x"]))
    b = changed("b", ("t", ["+y"]))
    first = diff_hash(PlaybookRun(2, "successful", {"a": a, "b": b}))

    assert first == diff_hash({"b": b, "a": a, "c": HostResult("c", "ok")})
    assert first != diff_hash({"a": a, "b": changed("b", ("t", ["+z"]))})
    assert diff_hash({"a": a, "b": b}, ["a"]) == diff_hash({"a": a})


def test_failed_unreachable_and_missing_hosts_are_listed_apart_with_their_message() -> None:
    run = PlaybookRun(
        4,
        "failed",
        {
            "web1": HostResult("web1", "ok"),
            "web2": changed("web2", ("Render config", ["+a"])),
            "db1": HostResult("db1", "failed", failed_task="Render config", message="Permission denied"),
            "db2": HostResult("db2", "unreachable", message="Connection refused"),
            "web9": HostResult("web9", "changed"),  # counted changed by the stats, the task's result hidden
        },
    )

    check = read_check(run, ["web1", "web2", "db1", "db2", "ghost", "web9"], PLAYBOOK)

    assert [d.host for d in check.drifted] == ["web2", "web9"] and check.in_sync == ["web1"]
    assert check.drifted[1].changed_tasks == [HIDDEN_TASK]
    assert [(f.host, f.status, f.message) for f in check.failed] == [
        ("db1", "failed", "Permission denied"),
        ("db2", "unreachable", "Connection refused"),
        ("ghost", "missing", "no result: the host is not in the Ansible inventory or the playbook does not target it"),
    ]
    dry_run = check.dry_run()
    assert dry_run["hosts_changed"] == 2 and dry_run["playbook"] == "site.yml"
    assert dry_run["hosts_failed"][0] == {
        "host": "db1",
        "status": "failed",
        "message": "Permission denied",
        "task": "Render config",
    }


@pytest.mark.parametrize(
    ("run", "reason"),
    [
        (PlaybookRun(4, "failed", {"a": HostResult("a", "unreachable", message="no route")}), "no host could be checked"),
        (PlaybookRun(1, "timeout", {"a": HostResult("a", "ok")}), "did not finish"),
    ],
)
def test_a_check_that_decides_nothing_raises_instead_of_reporting_no_drift(run: PlaybookRun, reason: str) -> None:
    with pytest.raises(ExecutionError, match=reason):
        read_check(run, ["a", "b"], PLAYBOOK)
