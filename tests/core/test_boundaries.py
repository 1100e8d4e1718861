"""core/ is the domain: it never imports the Slack front or any slack_* module."""

from __future__ import annotations

import ast
from pathlib import Path

CORE = Path(__file__).resolve().parents[2] / "core"
FORBIDDEN = ("bot", "slack_sdk", "slack_bolt")


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_core_never_imports_the_slack_front() -> None:
    offenders = {
        str(path.relative_to(CORE.parent)): sorted(_imports(path) & set(FORBIDDEN))
        for path in CORE.rglob("*.py")
        if _imports(path) & set(FORBIDDEN)
    }
    assert offenders == {}
