"""Drift by check mode, with real ansible-core on local-connection hosts (each playbook run takes a few seconds).

The world: web1 is compliant (its files exist as the playbook renders them), web2 lacks its app config, web3 lacks
everything, dead1 is an SSH host on a closed port. The playbook renders an app config, a motd and, with no_log, a
token file holding a secret.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.blocks import plan_card
from core.agents import AgentContext
from core.agents.drift import DriftAgent
from core.ansible.drift import check_drift
from core.ansible.runner import ansible_available
from core.config import Config, load_config
from core.domain import Plan, Task, TaskSpec
from core.errors import ToolError
from core.inventory import AssetQuery
from core.inventory.fleet import Asset
from core.schemas import errors_for
from core.tools import ToolContext, default_registry

pytestmark = pytest.mark.skipif(not ansible_available(), reason="ansible-core and ansible-runner are not installed")

SECRET = "s3cr3t-T0KEN-never-shown"
LOCAL = ("web1", "web2", "web3")
PLAYBOOK = """\
- hosts: all
  gather_facts: false
  tasks:
    - name: Render app config
      ansible.builtin.copy:
        dest: "{{ state_dir }}/app.conf"
        content: "listen {{ port }}\\nworkers 4\\n"
    - name: Render motd
      ansible.builtin.copy:
        dest: "{{ state_dir }}/motd"
        content: "Welcome to {{ inventory_hostname }}\\n"
    - name: Write the API token
      ansible.builtin.copy:
        dest: "{{ state_dir }}/token"
        content: "{{ api_token }}\\n"
      no_log: true
"""
SPEC = TaskSpec.model_validate(
    {
        "task_type": "drift_remediation",
        "goal": "Fix configuration drift on the web servers",
        "context": {"environment": "production", "scope": {"roles": ["web"]}},
        "agents": [{"name": "drift_agent", "priority": 1}],
        "tools_required": ["query_assets", "check_playbook_drift", "generate_patch_plan"],
        "risk_level": "medium",
        "hitl_required": True,
    }
)


class HostList:
    """The fleet port the drift tools read: the inventory hostnames as assets."""

    def __init__(self, hosts: list[str]) -> None:
        self.assets = [
            Asset(id=h, environment="production", role="web", platform="linux", region="eu", image="web", image_version="1")
            for h in hosts
        ]

    async def query(self, query: AssetQuery) -> list[Asset]:
        return [a for a in self.assets if query.matches(a)]


@dataclass
class World:
    root: Path
    config: Config

    def state(self, host: str) -> Path:
        return self.root / "state" / host

    def context(self, hosts: list[str]) -> AgentContext:
        return AgentContext(default_registry(), ToolContext(inventory=HostList(hosts), config=self.config))


def compliant(world: World, host: str, port: int = 8080) -> None:
    state = world.state(host)
    (state / "app.conf").write_text(f"listen {port}\nworkers 4\n")
    (state / "motd").write_text(f"Welcome to {host}\n")
    (state / "token").write_text(f"{SECRET}\n")


def make_world(root: Path) -> World:
    hosts: dict[str, Any] = {}
    for host in LOCAL:
        (root / "state" / host).mkdir(parents=True)
        hosts[host] = {
            "ansible_connection": "local",
            "ansible_python_interpreter": "{{ ansible_playbook_python }}",
            "state_dir": str(root / "state" / host),
        }
    hosts["dead1"] = {"ansible_connection": "ssh", "ansible_host": "127.0.0.1", "ansible_port": 1, "state_dir": "/nonexistent"}
    inventory = {"all": {"hosts": hosts, "vars": {"port": 8080, "api_token": SECRET}}}
    (root / "inventory.yml").write_text(json.dumps(inventory))
    (root / "site.yml").write_text(PLAYBOOK)
    (root / "opspilot.yaml").write_text(
        json.dumps(
            {
                "inventory": {"ansible": {"inventory": "inventory.yml"}},
                "executor": {"driver": "ansible", "ansible": {"playbook": "site.yml", "timeout": "2m"}},
            }
        )
    )
    world = World(root, load_config(root / "opspilot.yaml", env={}))
    compliant(world, "web1")
    compliant(world, "web2")
    (world.state("web2") / "app.conf").unlink()
    return world


@dataclass
class Drafted:
    world: World
    plan: Plan
    message: str


@pytest.fixture(scope="module")
def drafted(tmp_path_factory: pytest.TempPathFactory) -> Drafted:
    """One check-mode run through the drift agent over all four hosts, shared by the tests that read its plan."""
    world = make_world(tmp_path_factory.mktemp("fleet"))
    result = asyncio.run(DriftAgent().draft(SPEC, "00000000-0000-4000-8000-000000000001", world.context([*LOCAL, "dead1"])))
    assert result.plan is not None, result.message
    return Drafted(world, result.plan, result.message)


def test_check_mode_plans_exactly_the_hosts_the_playbook_would_change(drafted: Drafted) -> None:
    payload = drafted.plan.payload

    assert sorted(payload.affected_assets) == ["web2", "web3"]  # web1 is compliant, dead1 unreachable
    assert sorted(a for p in payload.phases for a in p.assets) == ["web2", "web3"]
    assert payload.phases[0].name == "Canary"
    changes = {c.asset_id: c for c in payload.changes}
    assert {c.action for c in changes.values()} == {"ansible_playbook"}
    assert changes["web2"].details["changed_tasks"] == ["Render app config"]
    assert changes["web3"].details["changed_tasks"] == ["Render app config", "Render motd", "Write the API token"]
    assert "+listen 8080" in changes["web2"].details["diff"]  # the diff of the missing file, captured
    assert errors_for("plan", drafted.plan.to_document()) == []


def test_unreachable_host_is_reported_apart_and_left_out_of_the_plan(drafted: Drafted) -> None:
    dry_run = drafted.plan.payload.dry_run

    assert dry_run is not None and dry_run.playbook == "site.yml" and dry_run.hosts_changed == 2
    assert [(h.host, h.status) for h in dry_run.hosts_failed] == [("dead1", "unreachable")]
    assert dry_run.hosts_failed[0].message  # Ansible's own reason
    assert "dead1" not in drafted.plan.payload.affected_assets
    assert "dead1" in drafted.plan.payload.summary


def test_no_log_output_never_reaches_the_plan_or_the_card(drafted: Drafted) -> None:
    task = Task(id=drafted.plan.task_id, user_intent="fix drift", task_spec=SPEC)
    card = plan_card(task, drafted.plan)

    assert SECRET not in json.dumps(drafted.plan.to_document())
    assert SECRET not in json.dumps(card.blocks)
    web3 = next(c for c in drafted.plan.payload.changes if c.asset_id == "web3")
    assert not any("token" in line.lower() and "+" in line for line in web3.details["diff"])


def test_card_shows_hosts_changing_top_tasks_diff_excerpt_and_hash(drafted: Drafted) -> None:
    task = Task(id=drafted.plan.task_id, user_intent="fix drift", task_spec=SPEC)
    text = json.dumps(plan_card(task, drafted.plan).blocks)

    assert "would change *2 hosts*" in text
    assert drafted.plan.payload.dry_run.diff_hash[:12] in text
    assert "Render app config: 2 hosts" in text and "Render motd: 1 host" in text
    assert "+listen 8080" in text  # the excerpt
    assert "dead1" in text and "unreachable" in text


async def test_diff_hash_is_stable_across_check_runs_and_changes_with_a_file(drafted: Drafted) -> None:
    """One more check run: web2 untouched keeps its hash; web3, whose motd now exists with other text, does not."""
    world = drafted.world
    planned = {c.asset_id: c.details["diff_hash"] for c in drafted.plan.payload.changes}
    (world.state("web3") / "motd").write_text("Welcome to somewhere else\n")
    try:
        again = await check_drift(world.config, ["web2", "web3"])
    finally:
        (world.state("web3") / "motd").unlink()
    hashes = {d.host: d.diff_hash for d in again.drifted}

    assert hashes["web2"] == planned["web2"]
    assert hashes["web3"] != planned["web3"]
    assert again.diff_hash != drafted.plan.payload.dry_run.diff_hash
    assert "+Welcome to web3" in next(d for d in again.drifted if d.host == "web3").diff


async def test_a_check_that_reaches_no_host_is_a_failed_drift_check_not_no_drift(tmp_path: Path) -> None:
    world = make_world(tmp_path)

    with pytest.raises(ToolError, match=r"drift check failed, so drift is unknown.*dead1, unreachable"):
        await DriftAgent().draft(SPEC, "00000000-0000-4000-8000-000000000002", world.context(["dead1"]))
