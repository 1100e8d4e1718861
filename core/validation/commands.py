"""``opspilot policy check PLAN.json`` and ``opspilot policy test``, as functions returning (exit code, text)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from core.config import Config
from core.domain import Plan, TaskSpec
from core.errors import ConfigError, PolicyError
from core.inventory import Fleet
from core.inventory.sources import build_source
from core.schemas import errors_for
from core.validation.base import CheckResult, PlanContext
from core.validation.evaluator import ROOT_PACKAGE
from core.validation.factory import build_evaluator
from core.validation.pipeline import ValidationPipeline
from core.validation.policy import PolicyCheck
from core.validation.policy_set import DISABLED_NOTE, load_policy_set
from core.validation.rego_tests import run_rego_test_files
from core.validation.safety import SafetyCheck

PASS, FAIL = "PASS", "FAIL"


async def policy_check(plan_path: Path, config: Config) -> tuple[int, str]:
    """Schema, policies and safety for a plan file (a plan document, or ``{"task_spec": …, "plan": …}``).

    The quality score is not computed: it needs the run and approval history in the database.
    """
    try:
        document = _read_json(plan_path)
        plan_document, spec_document = _unwrap(document, plan_path)
    except ValueError as exc:
        return 1, str(exc)
    schema_errors = errors_for("plan", plan_document)
    schema = CheckResult("schema", "schema", not schema_errors, tuple(schema_errors))
    try:
        plan = Plan.model_validate(plan_document)
        spec = TaskSpec.model_validate(spec_document) if spec_document is not None else None
    except ValidationError as exc:
        lines = _results_text([schema]) if schema_errors else [f"{plan_path}: not a valid plan document:"]
        problems = [f"  {'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:20]]
        return 1, "\n".join(
            [*lines, *([] if schema_errors else problems), "Fix the schema errors to run the policy and safety checks."]
        )
    try:
        evaluator = build_evaluator(config.policies)
    except (PolicyError, ConfigError) as exc:
        return 1, f"Cannot load the policies: {exc}"
    fleet, inventory_note = await _fleet(config)
    pipeline = ValidationPipeline([PolicyCheck(evaluator, config.policies), SafetyCheck()])
    context = PlanContext(plan=plan, task_spec=spec, requester="cli", fleet=fleet)
    results = [schema, *await pipeline.run(context)]
    failed = [r for r in results if not r.passed]
    header = (
        f"Plan {plan.id} ({plan.type}, {context.environment}, {context.total_assets} assets), "
        f"checked against {evaluator.description}"
    )
    verdict = (
        f"Result: {FAIL}: {len(failed)} of {len(results)} checks failed."
        if failed
        else f"Result: {PASS}: all {len(results)} checks passed (the quality score needs the database and is not computed here)."
    )
    lines = [header, *_results_text(results), *([inventory_note] if inventory_note else []), verdict]
    return (1 if failed else 0), "\n".join(lines)


async def policy_test(config: Config) -> tuple[int, str]:
    """Run every Rego ``test_*`` rule of the policy set (built-ins + ``policies.dir``/``dirs``); the tests
    of a package in ``policies.disable`` (``<package>`` or ``<package>_test``) are skipped and listed.
    Exit 1 on any failure or when there are none."""
    try:
        policies = load_policy_set(config.policies)
        skipped = {f"{ROOT_PACKAGE}.{name}{suffix}" for name in policies.disabled for suffix in ("", "_test")}
        results = run_rego_test_files(policies.all_paths(), skipped)
    except (PolicyError, ConfigError) as exc:
        return 1, f"Cannot load the policies: {exc}"
    directory = policies.description
    if not results:
        return 1, f"No Rego tests in {directory}: add rules named test_* (e.g. in policies/tests/*_test.rego)."
    lines = [f"SKIP  data.{ROOT_PACKAGE}.{name} tests: {DISABLED_NOTE}" for name in policies.disabled]
    for result in results:
        lines.append(f"{PASS if result.passed else FAIL}  {result.path}")
        if result.error:
            lines.append(f"        error: {result.error}")
    failed = sum(not r.passed for r in results)
    lines.append(f"{len(results) - failed} passed, {failed} failed ({directory})")
    return (1 if failed else 0), "\n".join(lines)


def _read_json(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ValueError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: cannot read it: {exc}") from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}") from exc


def _unwrap(document: Any, path: Path) -> tuple[dict[str, Any], Any]:
    """A bare plan, or the ``opspilot plan --json`` output ``{"task_spec": …, "plan": …}``."""
    if not isinstance(document, dict):
        raise ValueError(
            f'{path} must hold a JSON object (a plan, or {{"task_spec": …, "plan": …}}), not {type(document).__name__}'
        )
    if "payload" not in document and "plan" in document:
        plan = document["plan"]
        if not isinstance(plan, dict):
            raise ValueError(f'{path}: "plan" must be a plan object, not {type(plan).__name__ if plan is not None else "null"}')
        return plan, document.get("task_spec")
    return document, None


async def _fleet(config: Config) -> tuple[Fleet | None, str | None]:
    try:
        return await build_source(config.inventory).load(), None  # the fleet file or the Ansible inventory
    except ConfigError as exc:
        return None, f"Inventory: {exc}"


def _results_text(results: list[CheckResult]) -> list[str]:
    lines = []
    for result in results:
        lines.append(f"{'OFF ' if result.disabled else PASS if result.passed else FAIL}  {result.name}")
        lines += [f"        - {m}" for m in result.messages]
        lines += [f"        ! {w}" for w in result.warnings]
    return lines
