"""What a vote is bound to: the SHA-256 of a plan's executable content and of the policies that judged it.

Canonical JSON in the manner of RFC 8785 (sorted keys, no insignificant whitespace, UTF-8): a plan that changes in
any phase, asset, change, health check or rollback condition, a policy file that changes, or a new dry-run diff,
gives another hash, and votes cast for the old one no longer count.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from core.config import PoliciesConfig
from core.domain import Plan
from core.paths import POLICIES_DIR
from core.validation.policy_set import extra_directories
from core.validation.rego_files import is_test_file, policy_files

SHORT = 12  # characters of the hash shown on cards


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")


def plan_content(plan: Plan) -> dict[str, Any]:
    """The parts of a plan that decide what the executor does."""
    payload = plan.payload
    content: dict[str, Any] = {
        "type": plan.type,
        "environment": plan.environment,
        "assets": list(payload.affected_assets),
        "phases": [p.to_document() for p in payload.phases],  # health checks and rollback_if are in here
        "changes": [c.to_document() for c in payload.changes],
        "steps": [s.to_document() for s in payload.steps],
    }
    if payload.dry_run is not None:
        content["dry_run_diff_hash"] = payload.dry_run.diff_hash
    return content


def plan_hash(plan: Plan, policy_bundle_hash: str) -> str:
    document = {"plan": plan_content(plan), "policy_bundle": policy_bundle_hash}
    return hashlib.sha256(canonical_json(document)).hexdigest()


def policy_bundle_hash(config: PoliciesConfig) -> str:
    """SHA-256 over the sorted sources of the policy files in force (tests left out) and ``policies.disable``."""
    sources: set[str] = set()
    for directory in [POLICIES_DIR, *extra_directories(config)]:
        if not directory.is_dir():
            continue
        for path in policy_files(directory, include_tests=False):
            if not is_test_file(path):
                sources.add(path.read_text(encoding="utf-8"))
    document = {"sources": sorted(sources), "disable": sorted(set(config.disable))}
    return hashlib.sha256(canonical_json(document)).hexdigest()


def short(value: str | None) -> str:
    return value[:SHORT] if value else "n/a"
