"""Approval rules from the config: first match wins, the legacy list, and errors that stop startup."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.approvals.rules import RuleBook
from core.config import load_config
from core.errors import ConfigError

RULES = """
approvers: [U0LEGACY]
approvals:
  rules:
    - match: {environment: production, risk: [high, critical]}
      approvers: {users: [U0APPROVER1], groups: [S0SRELEADS]}
      required: 2
      allow_self_approval: false
      ttl: 4h
      on_expiry: reject
      run_control: {users: [], groups: [S0SRELEADS]}
    - match: {environment: staging}
      approvers: {users: [U0APPROVER1, U0APPROVER2]}
      required: 1
      allow_self_approval: true
requesters:
  - match: {environment: production}
    users: []
    groups: [S0ENGINEERS]
admins: {users: [U0ADMIN], groups: []}
"""


def _load(tmp_path: Path, text: str):
    path = tmp_path / "opspilot.yaml"
    path.write_text(text, encoding="utf-8")
    return load_config(path, env={})


def test_the_first_rule_that_matches_applies_and_the_legacy_list_comes_last(tmp_path: Path) -> None:
    book = RuleBook.from_config(_load(tmp_path, RULES))
    prod_high = book.rule_for("production", "critical")
    assert prod_high is not None and prod_high.required == 2 and prod_high.approvers.groups == ("S0SRELEADS",)
    assert prod_high.ttl == 4 * 3600
    staging = book.rule_for("staging", "high")
    assert staging is not None and staging.approvers.users == ("U0APPROVER1", "U0APPROVER2")
    assert staging.self_approval_allowed("high"), "configured explicitly"
    legacy = book.rule_for("production", "low")
    assert legacy is not None and legacy.approvers.users == ("U0LEGACY",) and legacy.required == 1
    assert book.admins.users == ("U0ADMIN",)


def test_the_legacy_list_alone_is_one_rule_that_refuses_self_approval_only_for_high_risk(tmp_path: Path) -> None:
    book = RuleBook.from_config(_load(tmp_path, "approvers: [U0APPROVER1, U0APPROVER2]\n"))
    rule = book.rule_for("development", "low")
    assert rule is not None and rule is book.rule_for("production", "critical")
    assert rule.required == 1
    assert rule.self_approval_allowed("low") and rule.self_approval_allowed("medium")
    assert not rule.self_approval_allowed("high") and not rule.self_approval_allowed("critical")


def test_no_rule_and_no_list_means_nobody_may_approve(tmp_path: Path) -> None:
    assert RuleBook.from_config(_load(tmp_path, "org_id: x\n")).rule_for("production", "low") is None


def test_a_catch_all_match_covers_everything(tmp_path: Path) -> None:
    config = _load(tmp_path, "approvals:\n  rules:\n    - match: {}\n      approvers: {groups: [S0OPS]}\n      required: 3\n")
    rule = RuleBook.from_config(config).rule_for(None, None)
    assert rule is not None and rule.required == 3


@pytest.mark.parametrize(
    ("rule", "reason"),
    [
        ("approvers: {users: [U0A]}\n      quorum: 2", "quorum"),
        ("approvers: {users: [U0A], groups: [sre-leads]}", "not a Slack user group ID"),
        ("approvers: {users: [U0A, U0B]}\n      required: 3", "required is 3 but only 2 user(s)"),
        ("approvers: {users: [U0A]}\n      ttl: four hours", "not a duration"),
        ("approvers: {users: [U0A]}\n      on_expiry: ignore", "on_expiry is reject or renotify"),
        ("approvers: {}", "approvers lists nobody"),
    ],
)
def test_a_bad_rule_stops_startup_naming_its_index_and_the_reason(tmp_path: Path, rule: str, reason: str) -> None:
    text = f"approvals:\n  rules:\n    - match: {{}}\n      approvers: {{users: [U0OK]}}\n    - match: {{}}\n      {rule}\n"
    with pytest.raises(ConfigError) as raised:
        _load(tmp_path, text)
    message = str(raised.value)
    assert "approvals.rules.1" in message, message
    assert reason in message, message


def test_a_plan_for_all_environments_is_held_to_the_production_rules() -> None:
    from core.approvals.rules import RuleMatch

    production = RuleMatch.model_validate({"environment": "production", "risk": ["high"]})
    assert production.covers("all", "high") and production.covers(None, "high")
    assert not RuleMatch.model_validate({"environment": "staging"}).covers("all", "high")
