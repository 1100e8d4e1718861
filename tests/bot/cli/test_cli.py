"""The opspilot command as other tools use it (interface contract)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from core.schemas import errors_for

ROOT = Path(__file__).resolve().parents[3]


def opspilot(*args: str, tmp_path: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    environment = {
        k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "ANTHROPIC_", "OPSPILOT_CONFIG", "DATABASE_URL"))
    }
    environment["DATABASE_URL"] = f"sqlite:///{tmp_path / 'cli.db'}"
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**environment, "PYTHONPATH": str(ROOT)},
        timeout=60,
    )


def test_plan_json_prints_one_object_whose_parts_follow_the_schemas(tmp_path: Path) -> None:
    result = opspilot("plan", "fix drift on prod web servers", "--json", tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert set(document) == {"task_spec", "plan", "message", "intent"}
    assert document["intent"]["agent"] == "drift_agent" and 0.55 <= document["intent"]["confidence"] <= 1
    assert document["intent"]["entities"] == {"environment": "production", "roles": ["web-server"]}
    assert [set(a) for a in document["intent"]["alternatives"]] == [{"agent", "confidence"}] * 3
    assert errors_for("task-spec", document["task_spec"]) == []
    assert errors_for("plan", document["plan"]) == []
    assert document["plan"]["payload"]["phases"][0]["name"] == "Canary"


def test_plan_changes_nothing(tmp_path: Path) -> None:
    opspilot("plan", "fix drift on prod web servers", tmp_path=tmp_path)
    assert not (tmp_path / "cli.db").exists()


def test_plan_text_and_unknown_ask(tmp_path: Path) -> None:
    result = opspilot("plan", "fix drift on prod web servers", tmp_path=tmp_path)
    assert "TaskSpec" in result.stdout and "Canary" in result.stdout
    unknown = opspilot("plan", "bake bread", "--json", tmp_path=tmp_path)
    assert unknown.returncode == 1
    document = json.loads(unknown.stdout)
    assert (document["task_spec"], document["plan"], document["intent"]["agent"]) == (None, None, "none")
    assert "fix drift" in document["message"]


def test_plan_json_reads_entities_and_offers_choices_when_unclear(tmp_path: Path) -> None:
    result = opspilot("plan", "why did the payments service go down last night", "--json", tmp_path=tmp_path)
    intent = json.loads(result.stdout)["intent"]
    assert intent["agent"] == "incident_agent"
    assert intent["entities"]["services"] == ["payments"] and intent["entities"]["time_range"]["text"] == "last night"

    (tmp_path / "strict.yaml").write_text("intents:\n  min_confidence: 0.95\n")
    unclear = opspilot(
        "plan", "payments outage cost", "--json", tmp_path=tmp_path, env={"OPSPILOT_CONFIG": str(tmp_path / "strict.yaml")}
    )
    document = json.loads(unclear.stdout)
    assert unclear.returncode == 1 and document["task_spec"] is None
    assert {c["agent"] for c in document["choices"][:2]} == {"incident_agent", "cost_agent"}


def test_db_upgrade_creates_the_schema(tmp_path: Path) -> None:
    result = opspilot("db", "upgrade", tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "cli.db").exists()


def test_bad_config_file_is_reported_without_a_traceback(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("approvers: U1\n")
    result = opspilot(
        "plan", "fix drift on prod web servers", tmp_path=tmp_path, env={"OPSPILOT_CONFIG": str(tmp_path / "bad.yaml")}
    )
    assert result.returncode == 2
    assert "approvers" in result.stderr and "Traceback" not in result.stderr
