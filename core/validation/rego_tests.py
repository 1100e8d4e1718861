"""Rego unit tests: every rule named ``test_*`` in the policy files passes when it is true."""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from core.errors import PolicyError
from core.validation.rego_files import describe_rego_error, load_engine, policy_files

_PACKAGE = re.compile(r"^package\s+([A-Za-z_][\w.]*)", re.M)
_TEST_RULE = re.compile(r"^(test_\w+)\b", re.M)


@dataclass(frozen=True)
class RegoTestResult:
    package: str
    name: str
    passed: bool
    error: str | None = None

    @property
    def path(self) -> str:
        return f"data.{self.package}.{self.name}"


def discover_tests(files: list[Path]) -> list[tuple[str, str]]:
    """(package, rule) for every top-level ``test_*`` rule, in file order."""
    found: dict[tuple[str, str], None] = {}
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise PolicyError(f"cannot read policy file {path}: {exc}") from exc
        package = _PACKAGE.search(text)
        if package is None:
            continue
        for rule in _TEST_RULE.findall(text):
            found[(package[1], rule)] = None
    return list(found)


def run_rego_tests(directory: Path) -> list[RegoTestResult]:
    """Raises PolicyError when a file does not load; a test that errors is a failed test."""
    return run_rego_test_files(policy_files(directory, include_tests=True))


def run_rego_test_files(files: list[Path], skip_packages: Collection[str] = ()) -> list[RegoTestResult]:
    """The tests in ``files``, except those in a package of ``skip_packages`` (full names, ``opspilot.x_test``)."""
    engine = load_engine(files)
    engine.set_input_json("{}")
    results = []
    for package, rule in discover_tests(files):
        if package in skip_packages:
            continue
        try:
            value = engine.eval_rule(f"data.{package}.{rule}")
        except RuntimeError as exc:
            results.append(RegoTestResult(package, rule, False, describe_rego_error(exc)))
            continue
        results.append(RegoTestResult(package, rule, value is True))
    return results
