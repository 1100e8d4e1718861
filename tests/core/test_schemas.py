"""The JSON Schemas in schemas/ and the pydantic models agree, and the seed's example documents validate."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from core.domain import Plan, Run, Task, TaskSpec
from core.schemas import errors_for

SEED = Path(__file__).resolve().parents[3] / "shared" / "seeds" / "000_63a436306cf6e0db.txt"


def _seed_examples() -> dict[str, dict]:
    text = SEED.read_text(encoding="utf-8")
    blocks = re.findall(r"### (\w+) Example.*?```json\n(.*?)```", text, flags=re.S)
    return {name.lower(): json.loads(body) for name, body in blocks}


@pytest.mark.skipif(not SEED.exists(), reason="../shared/seeds is not beside the repository")
def test_seed_example_documents_validate_against_our_schemas() -> None:
    examples = _seed_examples()
    assert set(examples) >= {"task", "plan"}
    assert errors_for("task", examples["task"]) == []
    assert errors_for("plan", examples["plan"]) == []
    assert errors_for("task-spec", examples["task"]["task_spec"]) == []


@pytest.mark.skipif(not SEED.exists(), reason="../shared/seeds is not beside the repository")
def test_seed_examples_load_into_the_models_and_dump_back_valid() -> None:
    examples = _seed_examples()
    task = Task.model_validate(examples["task"])
    plan = Plan.model_validate(examples["plan"])
    assert errors_for("task", task.to_document()) == []
    assert errors_for("plan", plan.to_document()) == []


def test_schema_errors_name_the_field_and_the_problem() -> None:
    errors = errors_for(
        "task-spec",
        {
            "task_type": "drift_remediation",
            "goal": "",
            "context": {"environment": "moon"},
            "agents": [],
            "tools_required": [],
            "risk_level": "high",
            "hitl_required": True,
        },
    )
    assert any(e.startswith("context.environment:") for e in errors)
    assert any(e.startswith("goal:") for e in errors)
    assert any(e.startswith("agents:") for e in errors)


def test_run_document_from_the_model_validates() -> None:
    run = Run(id="550e8400-e29b-41d4-a716-446655440000", plan_id="550e8400-e29b-41d4-a716-446655440001", environment="staging")
    assert errors_for("run", run.to_document()) == []


def test_task_spec_model_refuses_unknown_fields_like_the_schema() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        TaskSpec.model_validate(
            {
                "task_type": "drift_remediation",
                "goal": "g",
                "context": {"environment": "staging"},
                "agents": [{"name": "drift_agent"}],
                "risk_level": "low",
                "approve": True,
            }
        )
