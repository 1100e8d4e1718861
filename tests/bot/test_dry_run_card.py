"""The plan card of an Ansible plan: the check-mode dry run, escaped for Slack and kept small."""

from __future__ import annotations

import json

from bot.blocks import plan_card
from core.domain import Plan, Task
from core.domain.plan import PlanPayload

HASH = "ab" * 32


def ansible_plan(changes: list[dict], failed: list[dict] | None = None) -> Plan:
    payload = {
        "summary": "Converge drifted hosts",
        "affected_assets": [c["asset_id"] for c in changes],
        "phases": [{"name": "Canary", "assets": [changes[0]["asset_id"]]}],
        "changes": changes,
        "dry_run": {"diff_hash": HASH, "hosts_changed": len(changes), "hosts_failed": failed or [], "playbook": "site.yml"},
    }
    return Plan(
        id="00000000-0000-4000-8000-00000000000a",
        task_id="00000000-0000-4000-8000-00000000000b",
        type="drift_plan",
        environment="staging",
        payload=PlanPayload.model_validate(payload),
    )


def change(host: str, tasks: list[str], diff: list[str]) -> dict:
    return {"asset_id": host, "action": "ansible_playbook", "details": {"changed_tasks": tasks, "diff": diff, "diff_hash": HASH}}


def card_text(plan: Plan) -> str:
    task = Task(id=plan.task_id, user_intent="fix drift")
    return "\n".join(block["text"]["text"] for block in plan_card(task, plan).blocks if isinstance(block.get("text"), dict))


def test_card_escapes_diff_lines_and_failure_messages_for_slack() -> None:
    plan = ansible_plan(
        [change("web1", ["Render <config> & co"], ["+server <!channel> & x > y", "+```end```"])],
        [{"host": "db1", "status": "unreachable", "message": "ssh: <!here> refused & gone"}],
    )

    text = card_text(plan)

    assert "+server &lt;!channel&gt; &amp; x &gt; y" in text
    assert "Render &lt;config&gt; &amp; co: 1 host" in text
    assert "`db1` unreachable: ssh: &lt;!here&gt; refused &amp; gone" in text
    assert "<!channel>" not in text and "<!here>" not in text
    assert text.count("```") == 2  # a diff line cannot close the code block early
    assert f"diff `{HASH[:12]}`" in text and HASH not in text


def test_card_shows_the_top_three_tasks_and_a_capped_excerpt() -> None:
    changes = [
        change(
            f"web{i}",
            ["Render config", "Restart app"] + (["Render motd"] if i < 3 else []) + (["Rare"] if i == 0 else []),
            [f"+line {i}.{n}" for n in range(10)],
        )
        for i in range(6)
    ]

    text = card_text(ansible_plan(changes))

    assert "would change *6 hosts*" in text
    assert "Render config: 6 hosts\n• Restart app: 6 hosts\n• Render motd: 3 hosts" in text
    assert "Rare" not in text  # only the top three
    assert "+line 0.0" in text and "+line 1.0" in text and "+line 2.0" not in text  # 14 lines at most
    assert len(json.dumps(plan_card(Task(id="t", user_intent="x"), ansible_plan(changes)).blocks)) < 12000


def test_a_plan_without_a_dry_run_shows_no_dry_run_section() -> None:
    plan = ansible_plan([change("web1", ["t"], ["+x"])])
    plan.payload.dry_run = None

    assert "Dry run" not in card_text(plan)
